#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "pipeline/layout.h"
#include "storage/object_store.h"

namespace eden::pipeline {

/// RFC 4180: quoted fields may hold commas, quotes ("") and line breaks; CRLF or LF rows.
/// kInvalidArgument for an unterminated quote.
Result<std::vector<std::vector<std::string>>> ParseCsv(std::string_view text);

/// What `eden verify` found.
struct VerifyReport {
  size_t rows = 0;                            ///< CSV data rows.
  size_t objects = 0;                         ///< Objects the CSV names (DICOM + JPEG of stored rows).
  size_t ok = 0;                              ///< Present with the recorded size and CRC-32C.
  size_t failed_rows = 0;                     ///< Rows the run recorded as failed (no objects to check).
  std::vector<std::string> problems;          ///< One line per missing or differing object.
  size_t unnamed = 0;                         ///< Objects in dicom-files/ or images-jpg/ the CSV does not name.
  std::vector<std::string> unnamed_examples;  ///< The first kListedUnnamed of them (URIs).
  size_t ProblemCount() const { return problems.size() + unnamed; }
};

/// Unnamed objects listed one by one, at most.
inline constexpr size_t kListedUnnamed = 100;

/// Reads the dataset's CSV at the destination and checks every object it names: present, with
/// the recorded size and CRC-32C (from the store's metadata when it keeps one, GCS; else by
/// reading the bytes), plus README-dataset.md, and reports objects in the dataset's folders that
/// the CSV does not name. Errors: the CSV is missing (kNotFound) or unreadable, or the store is
/// unreachable.
Result<VerifyReport> VerifyDataset(storage::ObjectStore& store, const DatasetLayout& layout);

}  // namespace eden::pipeline
