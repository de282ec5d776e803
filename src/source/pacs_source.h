#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/result.h"

namespace eden::source {

/// One instance to export: the row contract of docs/pacs-source.md. Text may be NULL in the
/// database; NULLs stay nullopt all the way to the CSV (empty field).
struct InstanceRow {
  std::string study_id;
  std::optional<int64_t> series_number;
  std::string instance_id;
  std::optional<int64_t> instance_number;
  std::optional<std::string> file_path;
  std::optional<std::string> file_url;
  std::optional<std::string> report_value;
  std::optional<std::string> field_created_at;
  std::optional<std::string> modality;
  std::optional<std::string> body_part;
  /// The PACS's patient key, when the query returns a `patient_id` column (optional in the row
  /// contract): splits keep a patient's images together by it. Never written to any output.
  std::optional<std::string> patient_id;
};

/// What to select. `base_sql` returns the row contract; eden adds the rest.
struct Selection {
  std::string base_sql;
  std::optional<int64_t> studies = 8;    ///< Random sample size; nullopt = all studies.
  std::string seed = "eden";             ///< Same seed, same sample.
  std::optional<std::string> modality;   ///< One of these modalities ("CR,DX"), in any case.
  std::optional<std::string> body_part;  ///< ILIKE pattern on the row's body part.
};

/// The seed's statistics block.
struct SelectionStats {
  int64_t studies = 0;
  int64_t series = 0;
  int64_t instances = 0;
  int64_t instances_without_url = 0;
  int64_t studies_with_report = 0;
};

/// Reads the PACS database. Errors: kUnavailable (cannot connect: exit 3), kInvalidArgument
/// (the query is wrong: its columns or SQL).
/// @par Thread-safety One source per thread.
class PacsSource {
 public:
  virtual ~PacsSource() = default;
  /// The sampled study ids, in sample order.
  virtual Result<std::vector<std::string>> SelectStudies(const Selection& selection) = 0;
  virtual Result<SelectionStats> Count(const Selection& selection, const std::vector<std::string>& study_ids) = 0;
  /// Up to `limit` rows with instance_id > `after`, by instance_id (keyset pagination, never
  /// OFFSET): of `study_ids` (some of the sampled studies) for a sample, of every study
  /// otherwise (`study_ids` unused).
  virtual Result<std::vector<InstanceRow>> Page(const Selection& selection, const std::vector<std::string>& study_ids,
                                                const std::optional<std::string>& after, int limit) = 0;
};

}  // namespace eden::source
