#include "tasks/worker_tasks.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <semaphore>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/crc32c.h"
#include "pipeline/instance_task.h"
#include "storage/local_object_store.h"
#include "storage/mapped_file.h"
#include "tasks/wire.h"

namespace eden::tasks {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using celery::TaskOutcome;

TaskOutcome TypeError(const std::string& message) {
  return {false, "null", "TypeError", message, std::string("builtins"), std::nullopt};
}

TaskOutcome Ok(const json& result) { return {true, result.dump(), "", "", std::nullopt, std::nullopt}; }

/// Positional argument `index`, else keyword `name`; null if neither.
json Arg(const json& args, const json& kwargs, size_t index, const char* name) {
  if (args.is_array() && index < args.size()) return args[index];
  if (kwargs.is_object() && kwargs.contains(name)) return kwargs[name];
  return nullptr;
}

std::string ContentTypeFor(const std::string& path) {
  const std::string ext = fs::path(path).extension().string();
  if (ext == ".dcm") return "application/dicom";
  if (ext == ".jpg" || ext == ".jpeg") return "image/jpeg";
  if (ext == ".csv") return "text/csv";
  if (ext == ".md") return "text/markdown";
  return "application/octet-stream";
}

/// Holds one of the conversion slots for its scope, unless the task is abandoned (past its
/// time limit) while it waits: then it gives up, and an abandoned task never takes a slot.
class SlotHeld {
 public:
  explicit SlotHeld(std::counting_semaphore<>& slots) : slots_(slots) {
    while (!slots_.try_acquire_for(std::chrono::milliseconds(50))) {
      if (celery::TaskAbandoned()) return;
    }
    held_ = !celery::TaskAbandoned();
    if (!held_) slots_.release();
  }
  ~SlotHeld() {
    if (held_) slots_.release();
  }
  bool held() const { return held_; }
  SlotHeld(const SlotHeld&) = delete;
  SlotHeld& operator=(const SlotHeld&) = delete;

 private:
  std::counting_semaphore<>& slots_;
  bool held_ = false;
};

/// The result of a task abandoned at its time limit: nobody reads it (the worker already
/// answered TimeLimitExceeded), so it only has to be cheap.
TaskOutcome Abandoned() {
  return {false, "null", "TimeLimitExceeded", "abandoned", std::string("celery.exceptions"), std::nullopt};
}

/// What every task shares: the adapters, the options, the conversion slots, one converter and
/// one fetcher per worker thread, and one store per destination.
class TaskContext {
 public:
  TaskContext(WorkerTaskOptions options, WorkerAdapters adapters)
      : options_(std::move(options)), adapters_(std::move(adapters)), cpu_(std::max(options_.cpu_slots, 1)) {}

  /// Taken around the CPU-bound part of a task (decode, render, encode).
  std::counting_semaphore<>& Cpu() { return cpu_; }

  convert::Converter& Converter() { return PerThread(converters_, adapters_.make_converter); }
  fetch::Fetcher& Fetcher() { return PerThread(fetchers_, adapters_.make_fetcher); }
  /// This thread's de-identifier, or nullptr when the worker runs with de-identification off.
  deid::Deidentifier* Deidentifier() {
    if (!adapters_.make_deidentifier) return nullptr;
    return &PerThread(deidentifiers_, adapters_.make_deidentifier);
  }

  /// The store for a destination (a folder or gs://bucket[/prefix]), opened once.
  Result<storage::ObjectStore*> Store(const std::string& destination) {
    std::lock_guard lock(mu_);
    auto it = stores_.find(destination);
    if (it != stores_.end()) return it->second.get();
    auto opened = adapters_.open_store(destination);
    if (!opened) return Fail(opened.error());
    auto* raw = opened->get();
    stores_.emplace(destination, std::move(*opened));
    return raw;
  }
  const WorkerTaskOptions& options() const { return options_; }
  void Told(const pipeline::InstanceOutcome& outcome, bool retrying) const {
    if (adapters_.on_outcome) adapters_.on_outcome(outcome, retrying);
  }

 private:
  /// This thread's instance, made on first use. Kept by the context (not thread_local), so a
  /// context never hands out an object another context made.
  template <typename T>
  T& PerThread(std::map<std::thread::id, std::unique_ptr<T>>& made, const std::function<std::unique_ptr<T>()>& make) {
    const auto me = std::this_thread::get_id();
    {
      std::lock_guard lock(mu_);
      auto it = made.find(me);
      if (it != made.end()) return *it->second;
    }
    auto fresh = make();  // Outside the lock: a converter or fetcher can take a while to make.
    std::lock_guard lock(mu_);
    return *made.emplace(me, std::move(fresh)).first->second;
  }

  WorkerTaskOptions options_;
  WorkerAdapters adapters_;
  std::counting_semaphore<> cpu_;
  std::mutex mu_;
  std::map<std::thread::id, std::unique_ptr<convert::Converter>> converters_;
  std::map<std::thread::id, std::unique_ptr<deid::Deidentifier>> deidentifiers_;
  std::map<std::thread::id, std::unique_ptr<fetch::Fetcher>> fetchers_;
  std::map<std::string, std::unique_ptr<storage::ObjectStore>> stores_;
};

TaskOutcome ConvertDicomToJpg(TaskContext& ctx, const celery::TaskMessage& m) {
  const json args = json::parse(m.args_json, nullptr, false), kwargs = json::parse(m.kwargs_json, nullptr, false);
  const json in = Arg(args, kwargs, 0, "dicom_path");
  if (!in.is_string()) return TypeError("convert_dicom_to_jpg() needs dicom_path (a string)");
  const json out_arg = Arg(args, kwargs, 1, "output_path");
  if (!out_arg.is_null() && !out_arg.is_string()) return TypeError("output_path must be a string");
  const std::string input = in.get<std::string>();
  const std::string output =
      out_arg.is_string() ? out_arg.get<std::string>() : fs::path(input).replace_extension(".jpg").string();
  convert::ConvertOptions options;
  options.quality = kwargs.is_object() ? kwargs.value("quality", 100) : 100;
  options.max_size = kwargs.is_object() ? kwargs.value("max_size", 0u) : 0u;
  if (options.quality < 1 || options.quality > 100) return TypeError("quality must be between 1 and 100");
  if (kwargs.is_object() && kwargs.contains("window") && kwargs["window"].is_string()) {
    auto w = convert::ParseWindow(kwargs["window"].get<std::string>());
    if (!w) return TypeError(w.error().message());
    options.render.window = *w;
  }
  auto fail = [&](const Error& e) {
    return Ok({{"success", false}, {"output_path", output}, {"error", e.ToString()}});
  };
  auto file = storage::MappedFile::Open(input);
  if (!file) return fail(file.error());
  std::optional<Result<convert::Conversion>> result;
  {
    SlotHeld cpu(ctx.Cpu());
    if (!cpu.held()) return Abandoned();
    result = ctx.Converter().Convert(file->bytes(), options);
  }
  if (!*result) return fail(result->error());
  // The local store's put: temporary name, then rename (a reader never sees half a JPEG).
  const fs::path out_path(output);
  storage::LocalObjectStore folder(out_path.has_parent_path() ? out_path.parent_path() : fs::path("."));
  if (auto ok = folder.Put(out_path.filename().string(), (*result)->frames.front().jpeg, "image/jpeg"); !ok) {
    return fail(ok.error());
  }
  return Ok({{"success", true},
             {"output_path", output},
             {"error", nullptr},
             {"rows", (*result)->info.format.rows},
             {"columns", (*result)->info.format.cols},
             {"photometric", (*result)->info.photometric},
             {"transfer_syntax", (*result)->info.transfer_syntax_uid}});
}

TaskOutcome UploadFileToGcs(TaskContext& ctx, const celery::TaskMessage& m) {
  const json args = json::parse(m.args_json, nullptr, false), kwargs = json::parse(m.kwargs_json, nullptr, false);
  const json local = Arg(args, kwargs, 0, "local_path"), object = Arg(args, kwargs, 1, "object_path");
  if (!local.is_string() || !object.is_string()) {
    return TypeError("upload_file_to_gcs() needs local_path and object_path (strings)");
  }
  std::string bucket = kwargs.is_object() && kwargs.contains("bucket") && kwargs["bucket"].is_string()
                           ? kwargs["bucket"].get<std::string>()
                           : ctx.options().default_bucket;
  std::string key = object.get<std::string>();
  if (key.rfind("gs://", 0) == 0) {
    bucket = key.substr(5, key.find('/', 5) - 5);
    key = key.find('/', 5) == std::string::npos ? "" : key.substr(key.find('/', 5) + 1);
  }
  const std::string uri = "gs://" + bucket + "/" + key;
  auto fail = [&](const std::string& e) { return Ok({{"success", false}, {"uri", uri}, {"error", e}}); };
  if (bucket.empty())
    return fail("no bucket: pass gs://bucket/object, bucket=..., or set GCS_BUCKET_NAME on the worker");
  if (key.empty()) return fail("no object name");
  std::string content_type = ContentTypeFor(key);
  if (kwargs.is_object() && kwargs.contains("content_type") && kwargs["content_type"].is_string()) {
    content_type = kwargs["content_type"].get<std::string>();
  }
  auto file = storage::MappedFile::Open(local.get<std::string>());
  if (!file) return fail(file.error().ToString());
  auto store = ctx.Store("gs://" + bucket);
  if (!store) return fail(store.error().ToString());
  if (auto ok = (*store)->Put(key, file->bytes(), content_type); !ok) return fail(ok.error().ToString());
  return Ok({{"success", true},
             {"uri", uri},
             {"error", nullptr},
             {"size", file->bytes().size()},
             {"crc32c", Crc32cBase64(Crc32c(file->bytes()))}});
}

TaskOutcome ProcessInstanceTask(TaskContext& ctx, const celery::TaskMessage& m) {
  const json args = json::parse(m.args_json, nullptr, false), kwargs = json::parse(m.kwargs_json, nullptr, false);
  const json row_json = Arg(args, kwargs, 0, "row"), options = Arg(args, kwargs, 1, "options");
  if (!row_json.is_object()) return TypeError("process_instance() needs row (an object)");
  if (!options.is_object() || !options.contains("destination") || !options["destination"].is_string()) {
    return TypeError("process_instance() needs options with a destination");
  }
  auto row = RowFromJson(row_json.dump());
  if (!row) return TypeError(row.error().message());
  pipeline::DatasetLayout layout;
  layout.prefix = options.value("prefix", layout.prefix);
  convert::ConvertOptions convert_options;
  convert_options.quality = options.value("quality", 100);
  convert_options.max_size = options.value("max_size", 0u);
  const json render = options.value("render", json("display"));
  if (!render.is_string() || (render != "display" && render != "mimic")) {
    return TypeError("options.render must be \"display\" or \"mimic\"");
  }
  if (render == "mimic") convert_options.render.mode = imaging::RenderMode::kMimic;
  if (options.contains("window") && options["window"].is_string() && !options["window"].get<std::string>().empty()) {
    auto w = convert::ParseWindow(options["window"].get<std::string>());
    if (!w) return TypeError(w.error().message());
    convert_options.render.window = *w;
  }
  auto store = ctx.Store(options["destination"].get<std::string>());
  if (!store) {
    return {false,       "null", "ConnectionError", "destination: " + store.error().message(), std::string("builtins"),
            std::nullopt};
  }
  // One run, one de-identification: a run whose de-identification is not this worker's gets
  // nothing stored (a result, not a retry: another try here would fail the same way).
  const std::string run_deid = options.value("deid", ctx.options().deid);
  if (run_deid != ctx.options().deid) {
    pipeline::InstanceOutcome refused;
    refused.instance_id = row->instance_id;
    refused.Fail(pipeline::Step::kDeidentify,
                 Error(ErrorCode::kFailedPrecondition,
                       fmt::format("the run de-identifies as '{}' but this worker as '{}' (same --deid, options "
                                   "and key on both)",
                                   run_deid, ctx.options().deid)));
    ctx.Told(refused, false);
    return {true, OutcomeToJson(refused), "", "", std::nullopt, std::nullopt};
  }
  // The pipeline's three steps, with only the conversion inside a CPU slot.
  pipeline::Fetched fetched = pipeline::FetchInstance(*row, ctx.Fetcher());
  std::optional<pipeline::Converted> converted;
  {
    SlotHeld cpu(ctx.Cpu());
    if (!cpu.held()) return Abandoned();
    converted =
        pipeline::ConvertInstance(std::move(fetched), ctx.Converter(), ctx.Deidentifier(), layout, convert_options);
  }
  if (celery::TaskAbandoned()) return Abandoned();  // Nothing stored for a result nobody reads.
  auto outcome = pipeline::StoreInstance(std::move(*converted), **store);
  // Durable before the result says so (late ack: the run journals it as stored).
  if (auto ok = (*store)->Flush(); !ok && outcome.stored) {
    outcome.Fail(pipeline::Step::kNone, ok.error().WithContext("flush"));
  }
  // A transient failure (the PACS or the destination down after the client's own retries) is
  // worth another go later: ask the worker to retry; after the last retry it is a result.
  if (!outcome.stored && outcome.error && outcome.error->IsTransient() && m.retries < ctx.options().task_retries) {
    ctx.Told(outcome, true);
    return {false,
            "null",
            "ConnectionError",
            fmt::format("{}: {}", outcome.ErrorCodeText(), outcome.ErrorText()),
            std::string("builtins"),
            ctx.options().retry_delay_s * (m.retries + 1)};
  }
  ctx.Told(outcome, false);
  return {true, OutcomeToJson(outcome), "", "", std::nullopt, std::nullopt};
}

}  // namespace

celery::TaskRegistry MakeWorkerTasks(WorkerTaskOptions options, WorkerAdapters adapters) {
  auto ctx = std::make_shared<TaskContext>(std::move(options), std::move(adapters));
  celery::TaskRegistry r;
  r["tasks.convert_dicom_to_jpg"] = [ctx](const celery::TaskMessage& m) { return ConvertDicomToJpg(*ctx, m); };
  r["tasks.upload_file_to_gcs"] = [ctx](const celery::TaskMessage& m) { return UploadFileToGcs(*ctx, m); };
  r[std::string(kProcessInstanceTask)] = [ctx](const celery::TaskMessage& m) { return ProcessInstanceTask(*ctx, m); };
  return r;
}

}  // namespace eden::tasks
