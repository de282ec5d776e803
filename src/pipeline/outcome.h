#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "source/pacs_source.h"

namespace eden::pipeline {

/// What happened to one instance: everything the journal and the CSV record about it.
struct InstanceOutcome {
  std::string instance_id;
  bool stored = false;      ///< DICOM and JPEG both stored: done.
  bool downloaded = false;  ///< The DICOM bytes arrived and were stored.
  std::string error_code;   ///< ErrorCodeName, empty when stored.
  std::string error_message;
  std::string dicom_key, jpg_key;
  std::string dicom_uri, jpg_uri;
  std::string dicom_sha256, jpg_sha256;
  std::string dicom_crc32c, jpg_crc32c;  ///< base64 CRC-32C, as GCS reports it: what `eden verify` checks.
  uint64_t dicom_bytes = 0, jpg_bytes = 0;
  uint32_t rows = 0, columns = 0;
  std::string modality, photometric, transfer_syntax, window;
  double fetch_ms = 0, convert_ms = 0, store_ms = 0;
};

/// The steps of the per-instance job, as a failed outcome's error_message names them:
/// "<step>: <reason>" (what the CSV shows, and what OutageDetector reads). Rows rejected before
/// any step (a NULL file_url, an unsafe instance_id) have no step prefix.
namespace step {
inline constexpr std::string_view kDownload = "download";
inline constexpr std::string_view kConvert = "convert";
inline constexpr std::string_view kStoreDicom = "store DICOM";
inline constexpr std::string_view kStoreJpeg = "store JPEG";
}  // namespace step

/// True when `outcome` failed at `step` (its message starts with "<step>: ").
inline bool FailedAt(const InstanceOutcome& outcome, std::string_view step) {
  const std::string_view m = outcome.error_message;
  return m.size() > step.size() + 1 && m.substr(0, step.size()) == step && m.substr(step.size(), 2) == ": ";
}

/// A journal row: the frozen source row and its latest outcome.
struct JournalEntry {
  int64_t seq = 0;  ///< Order of the frozen sample.
  source::InstanceRow row;
  std::string state = "pending";  ///< pending | stored | failed
  int attempts = 0;
  InstanceOutcome outcome;
};

}  // namespace eden::pipeline
