#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "pipeline/instance_task.h"

namespace eden::pipeline {

struct ExecutorOptions {
  unsigned download_concurrency = 8;  ///< Downloads in flight (I/O bound).
  unsigned cpu_workers = 0;           ///< Convert threads; 0 = one per core.
  unsigned store_concurrency = 4;     ///< Writes in flight (I/O bound: fsync must not stall the CPU pool).
};

/// Makes the per-thread tools (each thread owns its fetcher and converter).
struct StageFactories {
  std::function<std::unique_ptr<fetch::Fetcher>()> make_fetcher;
  std::function<std::unique_ptr<convert::Converter>()> make_converter;
  /// Empty: de-identification is off (`--deid off`) and the downloaded bytes are stored as they are.
  std::function<std::unique_ptr<deid::Deidentifier>()> make_deidentifier;
};

/// Runs every row through FetchInstance (download pool), ConvertInstance (CPU pool) and
/// StoreInstance (store pool), with bounded queues between them so at most
/// download_concurrency + 2 x cpu_workers + 2 x store_concurrency DICOM files are in memory,
/// however many rows there are. `on_outcome` runs on the calling thread, once per
/// row started, in completion order. `stop`, if given, is asked on the calling thread after
/// each outcome; once it says true no further row is started, the rows already started finish
/// (and are reported), and the call returns.
void RunInProcess(const std::vector<source::InstanceRow>& rows, const ExecutorOptions& options,
                  const StageFactories& factories, storage::ObjectStore& store, const DatasetLayout& layout,
                  const convert::ConvertOptions& convert_options,
                  const std::function<void(InstanceOutcome&&)>& on_outcome, const std::function<bool()>& stop = {});

}  // namespace eden::pipeline
