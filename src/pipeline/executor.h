#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <vector>

#include "core/result.h"
#include "pipeline/instance_task.h"

namespace eden::pipeline {

struct ExecutorOptions {
  unsigned download_concurrency = 8;  ///< Downloads in flight (I/O bound).
  unsigned cpu_workers = 0;           ///< Convert threads; 0 = one per core.
  unsigned store_concurrency = 4;     ///< Writes in flight (I/O bound: fsync must not stall the CPU pool).

  /// These options for `rows` rows: no more download threads than rows (at least one).
  ExecutorOptions SizedFor(size_t rows) const;
};

/// Makes the per-thread tools (each thread owns its fetcher and converter).
struct StageFactories {
  std::function<std::unique_ptr<fetch::Fetcher>()> make_fetcher;
  std::function<std::unique_ptr<convert::Converter>()> make_converter;
  /// Empty: de-identification is off (`--deid off`) and the downloaded bytes are stored as they are.
  std::function<std::unique_ptr<deid::Deidentifier>()> make_deidentifier;
};

/// Receives each outcome, on the thread that calls Submit/Finish.
using OutcomeSink = std::function<void(InstanceOutcome&&)>;
/// Asked on that thread after each outcome; once true, no further row is started.
using StopCheck = std::function<bool()>;

/// Where a run's instances are processed: rows go in one at a time, each started row's outcome
/// comes back through the sink on the caller's thread (so the journal and the console need no
/// locks). Two implementations: in this process (MakeInProcessExecutor) and through Celery
/// workers (`eden run --broker`: MakeBatchExecutor over tasks::MakeBrokerDispatcher).
class Executor {
 public:
  virtual ~Executor() = default;
  /// Takes `row`. May deliver outcomes of earlier rows meanwhile (while its input is full).
  /// false once stopped: the row is not taken and no further one will be.
  virtual bool Submit(source::InstanceRow row) = 0;
  /// No more rows: delivers the outcome of every row started, then returns. An error if the
  /// executor itself failed (the broker went away); the outcomes delivered stand.
  virtual Status Finish() = 0;
};

/// One long-lived streaming executor for a whole run: download threads (FetchInstance), CPU
/// threads (ConvertInstance), store threads (StoreInstance), started once, with bounded queues
/// on every edge, the input and the outcomes included: at most 2 x download_concurrency rows
/// queued, download_concurrency + 3 x cpu_workers + 2 x store_concurrency DICOM files in memory,
/// and 2 x store_concurrency + cpu_workers outcomes waiting for the caller (a slow journal holds
/// the stages back instead of piling outcomes up). Once `stop` says true, rows queued but not
/// started are dropped (they stay pending in the journal), rows started finish and are reported.
std::unique_ptr<Executor> MakeInProcessExecutor(const ExecutorOptions& options, const StageFactories& factories,
                                                storage::ObjectStore& store, const DatasetLayout& layout,
                                                const convert::ConvertOptions& convert_options, OutcomeSink on_outcome,
                                                StopCheck stop = {});

/// Runs a batch of rows somewhere else and reports each outcome on the calling thread; once
/// `stop` says true it starts no further row, reports the ones started and returns.
using Dispatcher = std::function<Status(const std::vector<source::InstanceRow>& rows, const OutcomeSink& on_outcome,
                                        const StopCheck& stop)>;

/// An Executor over a batch Dispatcher (the broker's): rows are sent `batch_rows` at a time.
std::unique_ptr<Executor> MakeBatchExecutor(Dispatcher dispatch, OutcomeSink on_outcome, StopCheck stop,
                                            size_t batch_rows = 4096);

/// Every row through a fresh in-process executor (tests, and callers with all rows at hand).
void RunInProcess(const std::vector<source::InstanceRow>& rows, const ExecutorOptions& options,
                  const StageFactories& factories, storage::ObjectStore& store, const DatasetLayout& layout,
                  const convert::ConvertOptions& convert_options, const OutcomeSink& on_outcome,
                  const StopCheck& stop = {});

}  // namespace eden::pipeline
