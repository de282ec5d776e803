#pragma once

#include <algorithm>
#include <string>
#include <vector>

#include "source/pacs_source.h"

namespace eden::source {

/// A PACS in memory with the real source's keyset semantics: rows of the given studies (of
/// every study when the selection is not a sample) with instance_id > after, by instance_id, at
/// most `limit`. Counts its Page calls and can fail one of them. For unit tests.
class FakePacsSource final : public PacsSource {
 public:
  explicit FakePacsSource(std::vector<InstanceRow> rows) : rows_(std::move(rows)) {
    std::sort(rows_.begin(), rows_.end(), [](const auto& a, const auto& b) { return a.instance_id < b.instance_id; });
  }

  Result<std::vector<std::string>> SelectStudies(const Selection&) override {
    ++sample_queries;
    if (sample_queries_out) ++*sample_queries_out;
    return std::vector<std::string>{};
  }
  Result<SelectionStats> Count(const Selection&, const std::vector<std::string>&) override {
    SelectionStats s;
    s.instances = static_cast<int64_t>(rows_.size());
    return s;
  }

  Result<std::vector<InstanceRow>> Page(const Selection& selection, const std::vector<std::string>& study_ids,
                                        const std::optional<std::string>& after, int limit) override {
    ++calls;
    if (fail_on_call == calls) return Fail(ErrorCode::kUnavailable, "database connection lost");
    largest_chunk = std::max(largest_chunk, study_ids.size());
    std::vector<InstanceRow> page;
    for (const auto& r : rows_) {
      if (page.size() == static_cast<size_t>(limit)) break;
      if (after && r.instance_id <= *after) continue;
      if (selection.studies && std::find(study_ids.begin(), study_ids.end(), r.study_id) == study_ids.end()) continue;
      page.push_back(r);
    }
    return page;
  }

  int calls = 0;
  int sample_queries = 0;             ///< SelectStudies calls (the sampling query).
  int* sample_queries_out = nullptr;  ///< Also counted here, if set (outlives the source).
  int fail_on_call = 0;
  size_t largest_chunk = 0;

 private:
  std::vector<InstanceRow> rows_;
};

}  // namespace eden::source
