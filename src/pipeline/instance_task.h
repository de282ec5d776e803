#pragma once

#include <optional>
#include <vector>

#include "convert/converter.h"
#include "core/result.h"
#include "deid/deidentifier.h"
#include "fetch/fetcher.h"
#include "pipeline/layout.h"
#include "pipeline/outcome.h"
#include "source/pacs_source.h"
#include "storage/object_store.h"

namespace eden::pipeline {

/// The downloaded bytes of one instance (or why there are none).
struct Fetched {
  source::InstanceRow row;
  Bytes bytes;
  Step failed_step = Step::kNone;  ///< kDownload, or kNone for a row refused before downloading.
  std::optional<Error> error;
  double fetch_ms = 0;
  uint32_t fetch_retries = 0;  ///< Downloads retried after transient failures.
};

/// The per-instance job is three steps, so each executor can place them: the in-process run
/// runs them on three pools, `eden worker` one after another in a task (the conversion inside
/// a CPU slot). Same code, same outcome.

/// Step 1: checks the row (safe instance id, a URL), downloads, checks the bytes are DICOM
/// Part 10. Never throws (an exception, std::bad_alloc included, becomes `error`); failures
/// are in `error`. ConvertInstance and StoreInstance never throw either.
Fetched FetchInstance(const source::InstanceRow& row, fetch::Fetcher& fetcher);

/// A converted instance waiting to be stored.
struct Converted {
  Bytes dicom;
  std::vector<uint8_t> jpeg;  ///< Empty if conversion failed (the outcome says why).
  InstanceOutcome outcome;    ///< Everything but the store results.
};

/// Step 2 (CPU only): de-identifies the DICOM (when `deidentifier` is given), hashes it,
/// converts it in memory, hashes the JPEG. With de-identification, a file that cannot be
/// de-identified fails at kDeidentify and nothing of it is stored; one whose pixels may carry
/// burned-in text is excluded (unless its Config keeps them); the row's report is scrubbed with
/// the file's own header.
Converted ConvertInstance(Fetched fetched, convert::Converter& converter, deid::Deidentifier* deidentifier,
                          const DatasetLayout& layout, const convert::ConvertOptions& options);

/// Step 3 (I/O only): stores the DICOM, then the JPEG, and completes the outcome. A DICOM that
/// downloads but does not convert (an SR, a broken codestream) is kept, and the outcome says why
/// there is no JPEG.
InstanceOutcome StoreInstance(Converted converted, storage::ObjectStore& store);

}  // namespace eden::pipeline
