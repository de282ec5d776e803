#pragma once

#include "celery/worker.h"
#include "config/settings.h"

namespace eden::cli {

/// The task `eden run --broker` sends, one per instance: args [row, options], result the
/// instance outcome (pipeline/wire.h). The worker runs pipeline::FetchInstance, ConvertInstance
/// and StoreInstance: the same three steps the in-process run places on its pools.
inline constexpr const char* kProcessInstanceTask = "eden.process_instance";

/// The tasks `eden worker` runs (documented in docs/worker.md):
///   tasks.convert_dicom_to_jpg(dicom_path, output_path=None, quality=100, max_size=0, window=None)
///     -> {"success", "output_path", "error", rows, columns, photometric, transfer_syntax}
///   tasks.upload_file_to_gcs(local_path, object_path, bucket=None, content_type=None)
///     -> {"success", "uri", "error", size, crc32c}   (object_path may be gs://bucket/name)
///   eden.process_instance(row, options)  -> the instance outcome, with "success" and "error"
/// A conversion or upload that fails is a result with success false; missing or mistyped
/// arguments raise TypeError (a FAILURE the client's get() re-raises).
/// At most `cpu_slots` tasks convert at once; the rest of a task (download, writes, flush)
/// runs outside that limit, so with more tasks than slots the cores stay busy while some
/// tasks wait on the network or the disk.
/// kInvalidArgument for settings that cannot work (an unusable --allow-url).
Result<celery::TaskRegistry> MakeWorkerTasks(const config::RunSettings& settings, int cpu_slots);

}  // namespace eden::cli
