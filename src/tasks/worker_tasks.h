#pragma once

#include <functional>
#include <memory>
#include <string>

#include "celery/worker.h"
#include "convert/converter.h"
#include "core/result.h"
#include "deid/deidentifier.h"
#include "fetch/fetcher.h"
#include "pipeline/outcome.h"
#include "storage/object_store.h"

namespace eden::tasks {

/// The task `eden run --broker` sends, one per instance: args [row, options], result the
/// instance outcome (tasks/wire.h). The worker runs pipeline::FetchInstance, ConvertInstance
/// and StoreInstance: the same three steps the in-process run places on its pools.
inline constexpr const char* kProcessInstanceTask = "eden.process_instance";

/// What the tasks are built from. The composition root (`eden worker`) passes DCMTK, libcurl and
/// the local/GCS stores; tests pass in-memory ones.
struct WorkerAdapters {
  /// A converter for one worker thread (each thread makes its own on first use).
  std::function<std::unique_ptr<convert::Converter>()> make_converter;
  /// A fetcher for one worker thread, with the download policy (`--allow-url`) applied.
  std::function<std::unique_ptr<fetch::Fetcher>()> make_fetcher;
  /// A de-identifier for one worker thread; empty when the worker runs with `--deid off`.
  std::function<std::unique_ptr<deid::Deidentifier>()> make_deidentifier;
  /// Opens a destination (a folder or gs://bucket[/prefix]); called once per destination.
  std::function<Result<std::unique_ptr<storage::ObjectStore>>(const std::string& destination)> open_store;
  /// Optional: told of every eden.process_instance outcome, `retrying` true when the task asks
  /// for another try rather than returning it (the worker's /metrics counts them). Any thread.
  std::function<void(const pipeline::InstanceOutcome& outcome, bool retrying)> on_outcome;
};

struct WorkerTaskOptions {
  int cpu_slots = 1;           ///< Conversions at once.
  std::string default_bucket;  ///< upload_file_to_gcs without a bucket (GCS_BUCKET_NAME).
  int task_retries = 3;        ///< Retries of an instance that failed transiently...
  double retry_delay_s = 5;    ///< ...after this many seconds x the retry number.
  /// deid::Describe of the worker's own configuration. An eden.process_instance whose options
  /// carry another "deid" is refused (failed_precondition): one run, one de-identification.
  std::string deid = "off";
};

/// The tasks `eden worker` runs (documented in docs/worker.md):
///   tasks.convert_dicom_to_jpg(dicom_path, output_path=None, quality=100, max_size=0, window=None)
///     -> {"success", "output_path", "error", rows, columns, photometric, transfer_syntax}
///   tasks.upload_file_to_gcs(local_path, object_path, bucket=None, content_type=None)
///     -> {"success", "uri", "error", size, crc32c}   (object_path may be gs://bucket/name)
///   eden.process_instance(row, options)  -> the instance outcome, with "success" and "error"
/// A conversion or upload that fails is a result with success false; missing or mistyped
/// arguments raise TypeError (a FAILURE the client's get() re-raises). An instance that failed
/// transiently (the PACS or the destination down) raises ConnectionError with a countdown until
/// its last retry, then is a result.
/// At most `cpu_slots` tasks convert at once; the rest of a task (download, writes, flush)
/// runs outside that limit, so with more tasks than slots the cores stay busy while some
/// tasks wait on the network or the disk.
celery::TaskRegistry MakeWorkerTasks(WorkerTaskOptions options, WorkerAdapters adapters);

}  // namespace eden::tasks
