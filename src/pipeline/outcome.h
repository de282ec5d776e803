#pragma once

#include <cstdint>
#include <optional>
#include <string>

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

/// A journal row: the frozen source row and its latest outcome.
struct JournalEntry {
  int64_t seq = 0;  ///< Order of the frozen sample.
  source::InstanceRow row;
  std::string state = "pending";  ///< pending | stored | failed
  int attempts = 0;
  InstanceOutcome outcome;
};

}  // namespace eden::pipeline
