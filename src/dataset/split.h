#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.h"

namespace eden::dataset {

/// How a dataset is split: named parts and their fractions, in order (`--split
/// train=0.8,validation=0.1,test=0.1`, the default).
struct SplitSpec {
  std::vector<std::pair<std::string, double>> parts;
};

/// Parses "name=fraction,..." : names of lower-case letters, digits, '_' or '-', each once;
/// fractions above 0 that sum to 1 (within 1e-6). kInvalidArgument says what is wrong.
Result<SplitSpec> ParseSplit(std::string_view text);

/// The split of a patient: the first 64 bits of SHA-256("eden-split:" + secret + ":" + patient),
/// as a fraction of 2^64, falls in one part's share of [0, 1) (the parts in their order). The
/// same patient always lands in the same part (all of its studies, series and images together),
/// whatever else the dataset holds; `secret` (a de-identification key's hex, or empty) keys the
/// assignment so that it cannot be recomputed from a patient id alone.
std::string AssignSplit(const SplitSpec& spec, std::string_view secret, std::string_view patient);

}  // namespace eden::dataset
