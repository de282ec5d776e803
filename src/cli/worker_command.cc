#include "cli/worker_command.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <ctime>
#include <thread>

#include <fmt/format.h>

#include "celery/inspect.h"
#include "cli/deid_command.h"
#include "cli/observability.h"
#include "cli/store_factory.h"
#include "config/cli_options.h"
#include "convert/converter.h"
#include "deid/dcmtk_deidentifier.h"
#include "dicom/dcmtk_decoder.h"
#include "dicom/htj2k_process.h"
#include "fetch/http_fetcher.h"
#include "http/curl_transport.h"
#include "http/url.h"
#include "jpeg/turbojpeg_encoder.h"
#include "tasks/worker_tasks.h"

namespace eden::cli {
namespace {

std::atomic<bool> g_stop{false};

extern "C" void OnSignal(int) { g_stop = true; }

}  // namespace

void AddWorkerCommand(CLI::App& app, WorkerArgs& a) {
  CLI::App* w = app.add_subcommand("worker",
                                   "A Celery worker over Redis: runs eden's tasks for Celery clients and "
                                   "`eden run --broker`");
  auto& o = a.worker;
  o.concurrency = 0;  // Automatic unless given (the library's default is 1).
  w->add_option("--broker", o.broker_url, "Redis broker URL")->envname("REDIS_URL")->capture_default_str();
  w->add_option("--result-backend", o.backend_url, "Redis result backend URL (default: the broker)")
      ->envname("EDEN_RESULT_BACKEND");
  w->add_option("-Q,--queues", a.queues, "Queues to consume, comma-separated")->capture_default_str();
  w->add_option("-c,--concurrency", o.concurrency,
                "Tasks at once (0: two per core, so one task's download and writes overlap another's conversion)")
      ->capture_default_str();
  w->add_option("--cpu-slots", a.cpu_slots, "Conversions at once, whatever the concurrency (0: one per core)")
      ->capture_default_str();
  w->add_option("-n,--hostname", o.hostname, "Node name (default eden@<host>)");
  w->add_flag("-E,--events", o.events, "Send task and worker events (celery events, Flower)");
  w->add_option("--prefetch", o.prefetch_multiplier, "Messages reserved per concurrency slot")->capture_default_str();
  w->add_option("--visibility-timeout", o.visibility_timeout_s,
                "Seconds before another worker restores a message this one reserved and did not ack")
      ->capture_default_str();
  w->add_flag("--track-started", o.track_started, "Store a STARTED result when a task begins");
  w->add_option("--max-retries", a.settings.broker_task_retries,
                "Retries of an instance that failed transiently (PACS or destination down)")
      ->capture_default_str();
  w->add_option("--retry-delay", a.settings.broker_retry_delay_s, "Seconds before retry n is n x this")
      ->capture_default_str();
  w->add_option("--broker-connect-retries", a.broker_connect_retries,
                "Tries to reach a broker that is not up yet, with backoff up to 30 s (Celery's default: 100)")
      ->capture_default_str();
  w->add_option("--time-limit", o.time_limit_s, "Hard time limit per task, seconds (0: only the message's)")
      ->capture_default_str();
  auto& s = a.settings;
  w->add_option("--gcs-bucket", s.output.gcs_bucket, "Default bucket for tasks.upload_file_to_gcs")
      ->envname("GCS_BUCKET_NAME");
  w->add_option("--gcs-credentials", s.output.gcs_credentials, "GCS credentials file")->envname("GCS_CREDENTIALS_PATH");
  w->add_option("--gcs-endpoint", s.output.gcs_endpoint, "GCS JSON API endpoint")->envname("EDEN_GCS_ENDPOINT");
  w->add_option("--connect-timeout", s.fetch.connect_timeout_s, "Download connect timeout, seconds")
      ->capture_default_str();
  w->add_option("--timeout", s.fetch.timeout_s, "Whole-download timeout, seconds")->capture_default_str();
  w->add_option("--retries", s.fetch.retries, "Download retries")->capture_default_str();
  w->add_option("--ca-file", s.fetch.ca_file, "Extra CA bundle for https");
  config::AddAllowUrlOption(*w, s.fetch);
  config::AddLogLevelOption(*w, s.report);
  config::AddObservabilityOptions(*w, s.report);
  config::AddDeidOptions(*w, s.deid);
}

int RunWorker(WorkerArgs& a) {
  auto& o = a.worker;
  o.queues.clear();
  for (size_t start = 0; start <= a.queues.size();) {
    const size_t comma = std::min(a.queues.find(',', start), a.queues.size());
    if (comma > start) o.queues.push_back(a.queues.substr(start, comma - start));
    start = comma + 1;
  }
  if (o.queues.empty()) {
    fmt::print(stderr, "eden worker: --queues names no queue\n");
    return 2;
  }
  o.max_retries = a.settings.broker_task_retries;
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  if (o.concurrency <= 0) o.concurrency = 2 * cores;
  const int cpu_slots = a.cpu_slots > 0 ? a.cpu_slots : cores;
  http::InitialiseCurlOnce();
  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  const std::string level = a.settings.report.log_level;
  const bool quiet_info = level == "WARNING" || level == "ERROR" || level == "CRITICAL";
  auto fetch_options = FetchOptionsFrom(a.settings.fetch);
  if (!fetch_options) {
    fmt::print(stderr, "eden worker: {}\n", fetch_options.error().message());
    return 2;
  }
  auto deid_config = MakeDeidConfig(a.settings.deid);
  if (!deid_config) {
    fmt::print(stderr, "eden worker: {}\n", deid_config.error().message());
    return 2;
  }
  const std::string deid_line = deid::Describe(deid_config->get());
  if (*deid_config) {
    fmt::print(stderr, "eden worker: de-identification {}\n", deid_line);
  } else {
    fmt::print(stderr,
               "eden worker: WARNING: --deid off: instances are stored as they come, patient identity included\n");
  }
  // The tasks over the real adapters: DCMTK + libjpeg-turbo, libcurl, the local or GCS store.
  static const dicom::DcmtkDecoder decoder;
  if (const std::string w = dicom::MissingHtj2kHelperWarning(); !w.empty()) {
    fmt::print(stderr, "eden worker: WARNING: {}\n", w);
  }
  tasks::WorkerAdapters adapters;
  adapters.make_converter = [] { return std::make_unique<convert::Converter>(decoder, jpeg::MakeTurboJpegEncoder()); };
  adapters.make_fetcher = [options = *fetch_options] { return fetch::MakeCurlFetcher(options); };
  if (*deid_config) {
    adapters.make_deidentifier = [config = *deid_config] { return deid::MakeDcmtkDeidentifier(config); };
  }
  adapters.open_store =
      [settings = a.settings](const std::string& destination) -> Result<std::unique_ptr<storage::ObjectStore>> {
    config::RunSettings s = settings;
    s.output.destination = destination;
    auto opened = OpenStore(s);
    if (!opened) return Fail(opened.error());
    return std::move(opened->store);
  };
  // /metrics, /healthz and Sentry; /healthz asks the worker, which exists only below.
  std::atomic<celery::Worker*> running{nullptr};
  auto observability = StartObservability(a.settings.report, "eden.worker", [&running] {
    celery::Worker* w = running.load();
    return w != nullptr && w->Stats().consuming;
  });
  if (!observability) {
    fmt::print(stderr, "eden worker: {}\n", observability.error().message());
    return observability.error().code() == ErrorCode::kInvalidArgument ? 2 : 3;
  }
  Observability& observe = **observability;
  adapters.on_outcome = [&observe](const pipeline::InstanceOutcome& outcome, bool retrying) {
    if (retrying) {
      observe.registry.Add("eden_retries_total", {{"what", "task"}});
    } else {
      observe.Record(outcome);
    }
  };
  auto tasks = tasks::MakeWorkerTasks({cpu_slots, a.settings.output.gcs_bucket, a.settings.broker_task_retries,
                                       a.settings.broker_retry_delay_s, deid_line},
                                      std::move(adapters));
  celery::Worker worker(o, std::move(tasks), [quiet_info](const char* lvl, const std::string& line) {
    if (quiet_info && std::string(lvl) == "INFO") return;
    std::time_t t = std::time(nullptr);
    char when[32];
    std::strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", std::gmtime(&t));
    fmt::print(stderr, "[{} {}] {}\n", when, lvl, line);
  });
  running = &worker;
  // The collector below reads `worker`: the server stops before `worker` goes.
  struct StopServerFirst {
    Observability& o;
    ~StopServerFirst() {
      if (o.server) o.server->Stop();
    }
  } stop_server_first{observe};
  observe.registry.DeclareGauge("eden_worker_consuming", "1 while the worker is connected and polling its queues.");
  observe.registry.DeclareGauge("eden_in_flight_tasks", "Tasks running now.");
  observe.registry.DeclareGauge("eden_reserved_messages", "Messages taken from the queues, not yet acknowledged.");
  observe.registry.DeclareCounter("eden_tasks_total",
                                  "Tasks finished, by task name and state (succeeded, failed, retried).");
  observe.registry.DeclareGauge("eden_queue_depth", "Messages waiting in each queue this worker consumes.");
  observe.registry.AddCollector([&worker, broker = o.broker_url, queues = o.queues](metrics::Registry& r) {
    const celery::WorkerStats st = worker.Stats();
    r.Set("eden_worker_consuming", {}, st.consuming ? 1 : 0);
    r.Set("eden_in_flight_tasks", {}, st.active);
    r.Set("eden_reserved_messages", {}, st.reserved);
    for (const auto& [key, n] : st.finished) {
      r.Set("eden_tasks_total", {{"task", key.first}, {"state", key.second}}, static_cast<double>(n));
    }
    if (auto depths = celery::ReadDepths(broker, queues)) {
      for (const auto& d : depths->queues)
        r.Set("eden_queue_depth", {{"queue", d.queue}}, static_cast<double>(d.messages));
    }
  });
  if (observe.server) {
    fmt::print(stderr, "eden worker: metrics on http://{}:{}/metrics\n", a.settings.report.metrics_address,
               observe.server->port());
  }
  // A broker not up yet (containers starting in any order): retry with backoff, as Celery does
  // (broker_connection_retry_on_startup, 100 tries), saying so each time.
  Status ok = worker.Run(g_stop);
  for (int attempt = 1;
       !ok && ok.error().code() == ErrorCode::kUnavailable && !g_stop && attempt <= a.broker_connect_retries;
       ++attempt) {
    const int wait_s = std::min(30, 1 << std::min(attempt - 1, 5));
    fmt::print(stderr, "eden worker: {}; retrying in {} s ({} of {})\n", ok.error().message(), wait_s, attempt,
               a.broker_connect_retries);
    for (int i = 0; i < wait_s * 10 && !g_stop; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (g_stop) return 0;
    ok = worker.Run(g_stop);
  }
  running = nullptr;
  if (!ok) {
    fmt::print(stderr, "eden worker: {}\n", ok.error().message());
    observe.ReportRunError(ok.error());
    return ok.error().code() == ErrorCode::kInvalidArgument ? 2 : 3;
  }
  return 0;
}

}  // namespace eden::cli
