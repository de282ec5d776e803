#include "cli/run_command.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <thread>

#include <fmt/format.h>

#include "celery/inspect.h"
#include "cli/console_observer.h"
#include "cli/default_query.h"
#include "cli/deid_command.h"
#include "cli/observability.h"
#include "cli/store_factory.h"
#include "config/cli_options.h"
#include "convert/converter.h"
#include "dataset/split.h"
#include "deid/dcmtk_deidentifier.h"
#include "dicom/dcmtk_decoder.h"
#include "dicom/htj2k_process.h"
#include "fetch/http_fetcher.h"
#include "http/curl_transport.h"
#include "http/url.h"
#include "jpeg/turbojpeg_encoder.h"
#include "pipeline/run.h"
#include "source/pg_pacs_source.h"
#include "tasks/broker_dispatcher.h"

namespace eden::cli {
namespace fs = std::filesystem;

void AddRunCommand(CLI::App& app, config::RunSettings& settings) {
  CLI::App* run = app.add_subcommand("run", "Select studies, download, convert, and write the dataset");
  config::AddRunOptions(*run, settings);
}

void AddConfigCommand(CLI::App& app, config::RunSettings& settings) {
  CLI::App* cfg = app.add_subcommand("config", "Inspect the configuration");
  CLI::App* show = cfg->add_subcommand("show", "Print the effective settings (secrets redacted)");
  config::AddRunOptions(*show, settings);
  cfg->require_subcommand(1);
}

int ExitCodeFor(const Error& e) {
  switch (e.code()) {
    case ErrorCode::kInvalidArgument:
      return 2;
    case ErrorCode::kIo:  // The journal, a temporary file or the destination cannot be read or written.
    case ErrorCode::kUnavailable:
    case ErrorCode::kTimeout:
    case ErrorCode::kUnauthenticated:
    case ErrorCode::kPermissionDenied:
      return 3;  // The database or the destination cannot be reached or used.
    default:
      return 1;
  }
}

int RunConfigShow(const config::RunSettings& settings) {
  fmt::print("# effective destination: {}\n", http::RedactUrl(config::EffectiveDestination(settings)));
  const auto problems = config::Validate(settings);
  for (const auto& p : problems) fmt::print(stderr, "problem: {}\n", p);
  return problems.empty() ? 0 : 2;
}

namespace {

/// Ctrl-C (or SIGTERM) during a run: what finished is in the journal (WAL), so stop at once and
/// say how to go on. Only async-signal-safe calls here.
extern "C" void OnRunInterrupted(int) {
  static const char kMessage[] =
      "\neden run: interrupted. What finished is journaled; rerun the same command to resume.\n";
  (void)!::write(STDERR_FILENO, kMessage, sizeof kMessage - 1);
  ::_exit(130);
}

/// SIGINT and SIGTERM call `handler` from now on.
void OnStopSignals(void (*handler)(int)) {
  struct sigaction stop {};
  stop.sa_handler = handler;
  sigemptyset(&stop.sa_mask);
  sigaction(SIGINT, &stop, nullptr);
  sigaction(SIGTERM, &stop, nullptr);
}

std::atomic<bool> g_linger_done{false};
extern "C" void OnLingerSignal(int) { g_linger_done = true; }

/// Keeps /metrics up after the run (the final counts for the last scrape), until SIGINT/SIGTERM.
void LingerForScrapes(double seconds) {
  OnStopSignals(OnLingerSignal);
  std::fflush(stdout);
  const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (!g_linger_done && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

}  // namespace

/// One run (the whole of `eden run` without --every).
int RunOnce(const config::RunSettings& s) {
  struct sigaction interrupted {};
  interrupted.sa_handler = OnRunInterrupted;
  sigemptyset(&interrupted.sa_mask);
  sigaction(SIGINT, &interrupted, nullptr);
  sigaction(SIGTERM, &interrupted, nullptr);
  // 1. Validate everything, report every problem at once.
  auto problems = config::Validate(s);
  std::optional<imaging::Window> window;
  if (!s.convert.window.empty() && s.convert.window.find('/') != std::string::npos) {
    auto w = convert::ParseWindow(s.convert.window);
    if (!w) {
      problems.push_back(w.error().message());
    } else {
      window = *w;
    }
  }
  auto fetch_options = FetchOptionsFrom(s.fetch);
  if (!fetch_options) problems.push_back(fetch_options.error().message());
  auto deid_config = MakeDeidConfig(s.deid);
  if (!deid_config) problems.push_back(deid_config.error().message());
  auto split = dataset::ParseSplit(s.dataset.split);
  if (!split) problems.push_back(split.error().message());
  if (!problems.empty()) {
    fmt::print(stderr, "eden run: configuration problems:\n");
    for (const auto& p : problems) fmt::print(stderr, "  - {}\n", p);
    return 2;
  }

  // 2. Plain options for the pipeline.
  pipeline::RunOptions options;
  options.selection.base_sql = kDefaultQuery;
  if (!s.selection.query_file.empty()) {
    std::ifstream in(s.selection.query_file);
    options.selection.base_sql.assign(std::istreambuf_iterator<char>(in), {});
    options.query_name = s.selection.query_file;
  }
  // --incremental walks every study of the selection: the new ones are those it does not hold.
  if (!s.selection.all_studies && !s.output.incremental)
    options.selection.studies = s.selection.studies;
  else
    options.selection.studies.reset();
  options.incremental = s.output.incremental;
  options.selection.seed = s.selection.seed;
  if (!s.selection.modality.empty()) options.selection.modality = s.selection.modality;
  if (!s.selection.body_part.empty()) options.selection.body_part = s.selection.body_part;
  options.page_size = s.selection.page_size;
  options.fresh = s.output.fresh;
  options.keep_old = s.output.keep_old;
  auto opened = OpenStore(s);
  if (!opened) {
    fmt::print(stderr, "eden run: {}\n", opened.error().message());
    return 2;
  }
  options.journal_path = s.output.journal.empty() ? opened->default_journal : fs::path(s.output.journal);
  // GCS: the journal lives on this machine; a copy in the bucket is the dataset's record, so a
  // run elsewhere (--incremental, a resume) continues from it.
  if (opened->gcs) options.record_key = (opened->prefix.empty() ? "" : opened->prefix + "/") + ".eden/journal.sqlite";
  if (opened->gcs) fmt::print("eden run: journal {} (--journal to choose another)\n", options.journal_path.string());
  options.executor.store_concurrency = static_cast<unsigned>(opened->upload_concurrency);
  options.executor.download_concurrency = static_cast<unsigned>(s.fetch.download_concurrency);
  options.executor.cpu_workers = static_cast<unsigned>(s.convert.threads);
  options.convert.quality = s.convert.quality;
  if (s.dataset.render == "mimic") {
    options.convert.render.mode = imaging::RenderMode::kMimic;
    // The recipe's quality, unless asked for another.
    if (s.convert.quality == 100) options.convert.quality = 95;
  }
  options.convert.max_size = static_cast<uint32_t>(s.convert.max_size);
  options.convert.render.window = window;
  options.layout.prefix = opened->prefix;
  options.layout.csv_name = s.output.csv_name;
  options.deid = deid::Describe(deid_config->get());
  options.packages.split = *split;
  // Keyed by the de-identification key: the assignment cannot be recomputed from a patient id.
  if (*deid_config) options.packages.split_secret = (*deid_config)->key.Derive("dataset-split");
  for (const auto& package : s.dataset.packages) {
    if (package == "webdataset") options.packages.webdataset = true;
    if (package == "llava") options.packages.llava = true;
  }
  options.packages.shard_bytes = config::ParseByteSize(s.dataset.shard_size).value_or(uint64_t{1} << 30);
  options.packages.shard_samples = static_cast<uint64_t>(s.dataset.shard_samples);
  if (!s.dataset.instruction.empty()) options.packages.instruction = s.dataset.instruction;
  options.packages.render = s.dataset.render;

  // 3. The adapters.
  http::InitialiseCurlOnce();
  const dicom::DcmtkDecoder decoder;
  if (const std::string w = dicom::MissingHtj2kHelperWarning(); !w.empty()) {
    fmt::print(stderr, "eden run: WARNING: {}\n", w);
  }
  pipeline::StageFactories factories;
  factories.make_fetcher = [&] { return fetch::MakeCurlFetcher(*fetch_options); };
  factories.make_converter = [&] {
    return std::make_unique<convert::Converter>(decoder, jpeg::MakeTurboJpegEncoder());
  };
  if (*deid_config) {
    factories.make_deidentifier = [config = *deid_config] { return deid::MakeDcmtkDeidentifier(config); };
  }
  auto connect = [&]() -> Result<std::unique_ptr<source::PacsSource>> {
    if (s.database.name.empty() || s.database.user.empty()) {
      return Fail(
          ErrorCode::kInvalidArgument,
          "the database name and user are needed to select studies (SOURCE_DATABASE_NAME, SOURCE_DATABASE_USER)");
    }
    return source::ConnectPg({s.database.host, s.database.port, s.database.name, s.database.user, s.database.password,
                              s.database.sslmode, s.fetch.connect_timeout_s});
  };

  // 4. Run.
  const bool tty = ::isatty(STDOUT_FILENO) != 0;
  const bool bar = s.report.progress == "bar" || (s.report.progress == "auto" && tty);
  ConsoleObserver console(stdout, bar, s.report.progress == "none", s.report.log_level);
  auto observability = StartObservability(s.report, "eden.run");
  if (!observability) {
    fmt::print(stderr, "eden run: {}\n", observability.error().message());
    return ExitCodeFor(observability.error());
  }
  Observability& observe = **observability;
  ObservedRun observer(console, observe, observe.registry);
  if (opened->gcs) {
    observe.registry.DeclareCounter("eden_upload_requests_total", "Requests sent to Google Cloud Storage.");
    observe.registry.AddCollector([gcs = opened->gcs](metrics::Registry& r) {
      const auto& st = gcs->client().stats();
      r.Set("eden_upload_requests_total", {}, static_cast<double>(st.requests.load()));
      r.Set("eden_retries_total", {{"what", "upload"}}, static_cast<double>(st.retries.load()));
    });
  }
  if (observe.server) {
    fmt::print("eden run: metrics on http://{}:{}/metrics\n", s.report.metrics_address, observe.server->port());
  }
  fmt::print("eden run: {}\n", opened->describe);
  if (*deid_config) {
    fmt::print("eden run: de-identification {}\n", options.deid);
  } else {
    fmt::print(stderr,
               "eden run: WARNING: --deid off: the DICOM files and reports are written as they come, patient "
               "identity included; this dataset must not leave the hospital\n");
  }
  pipeline::Dispatcher dispatch;
  if (!s.broker.empty()) {
    fmt::print("eden run: instances go to eden workers through {} (queue {})\n", http::RedactUrl(s.broker),
               s.broker_queue);
    const std::string queue = s.broker_queue;
    observe.registry.DeclareGauge("eden_queue_depth", "Messages waiting in the broker queue the run sends to.");
    observe.registry.AddCollector([broker = s.broker, queue](metrics::Registry& r) {
      if (auto depths = celery::ReadDepths(broker, {queue})) {
        for (const auto& d : depths->queues)
          r.Set("eden_queue_depth", {{"queue", d.queue}}, static_cast<double>(d.messages));
      }
    });
    dispatch = tasks::MakeBrokerDispatcher(
        {s.broker, s.result_backend, s.broker_queue, opened->destination, opened->prefix, options.convert.quality,
         s.convert.max_size, s.convert.window, options.deid, s.dataset.render, [queue](size_t sent, size_t done) {
           fmt::print(stderr,
                      "eden run: no result for 10 s ({} of {} sent tasks done): is an eden worker consuming "
                      "queue {} on this broker?\n",
                      done, sent, queue);
         }});
  }
  auto summary = pipeline::Run(options, connect, *opened->store, factories, observer, dispatch);
  if (!summary) {
    const Error& e = summary.error();
    console.EndLine();
    fmt::print(stderr, "eden run: {}\n", e.message());
    observe.ReportRunError(e);
    if (e.code() == ErrorCode::kEmptySelection) return 4;
    return ExitCodeFor(e);
  }
  if (opened->gcs) {
    const auto& st = opened->gcs->client().stats();
    summary->upload = {{"requests", st.requests.load()},
                       {"retries", st.retries.load()},
                       {"resumed_uploads", st.resumed.load()},
                       {"already_present", opened->gcs->skipped()},
                       {"bytes_sent", st.bytes_sent.load()}};
  }
  if (summary->nothing_new) {
    fmt::print(
        "eden run: nothing new: no study of the selection is missing from the dataset ({} instances, {} "
        "stored); nothing was downloaded or written\n",
        summary->total, summary->stored);
  } else {
    if (s.output.incremental) {
      fmt::print("eden run: {} new studies, {} new instances\n", summary->added_studies, summary->added_instances);
    }
    PrintSummary(stdout, *summary);
  }
  if (!s.report.summary_json.empty()) {
    if (s.report.summary_json == "-") {
      fmt::print("{}\n", SummaryJson(*summary));
    } else {
      std::ofstream out(s.report.summary_json, std::ios::trunc);
      out << SummaryJson(*summary) << "\n";
      out.close();
      if (!out) {
        fmt::print(stderr, "eden run: cannot write the summary to {}: {}\n", s.report.summary_json,
                   std::strerror(errno));
        return std::max(summary->exit_code, 1);
      }
    }
  }
  if (observe.sentry) observe.sentry->Flush(5);
  if (observe.server && s.report.metrics_linger_s > 0) LingerForScrapes(s.report.metrics_linger_s);
  return summary->exit_code;
}

namespace {

std::atomic<bool> g_schedule_stop{false};
extern "C" void OnScheduleSignal(int) { g_schedule_stop = true; }

std::string UtcStamp() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t t = std::chrono::system_clock::to_time_t(now);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  return fmt::format("{}.{:03}Z", buf, ms);
}

/// Sleeps `seconds` or until SIGINT/SIGTERM; false when stopped.
bool SleepUnlessStopped(double seconds) {
  OnStopSignals(OnScheduleSignal);
  const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (!g_schedule_stop && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return !g_schedule_stop;
}

/// `eden run --every D`: an incremental run every D (+-10%), one at a time per destination
/// across machines (ObjectStore::TryLock), until SIGINT/SIGTERM between runs (during a run they
/// stop it as they stop any run: what finished is journaled).
int RunEvery(config::RunSettings s) {
  s.output.incremental = true;
  const double interval_s = *config::ParseDuration(s.output.every);
  auto opened = OpenStore(s);
  if (!opened) {
    fmt::print(stderr, "eden run: {}\n", opened.error().message());
    return 2;
  }
  const std::string lock_key = (opened->prefix.empty() ? "" : opened->prefix + "/") + ".eden/schedule.lock";
  char host[256] = {};
  (void)::gethostname(host, sizeof host - 1);
  std::mt19937_64 rng{std::random_device{}()};
  fmt::print("eden run: every {} ({:g} s, +-10%), incremental, lock {}\n", s.output.every, interval_s,
             opened->store->Uri(lock_key));
  for (int n = 1;; ++n) {
    const std::string holder = fmt::format("{} pid {} since {}", host, ::getpid(), UtcStamp());
    auto lock = opened->store->TryLock(lock_key, holder, s.output.lease_s);
    if (!lock) {
      fmt::print(stderr, "eden run: the schedule lock: {}\n", lock.error().message());
      return ExitCodeFor(lock.error());
    }
    if (!*lock) {
      fmt::print("eden run: scheduled run {} skipped at {}: another scheduler holds {}\n", n, UtcStamp(),
                 opened->store->Uri(lock_key));
    } else {
      // Renewed at a third of the lease, so a live holder never lets it lapse.
      std::atomic<bool> done{false};
      std::thread renew([&] {
        const auto every = std::chrono::duration<double>(s.output.lease_s / 3);
        auto next = std::chrono::steady_clock::now() + every;
        while (!done) {
          std::this_thread::sleep_for(std::chrono::milliseconds(50));
          if (std::chrono::steady_clock::now() < next) continue;
          if (auto ok = (*lock)->Renew(); !ok) fmt::print(stderr, "eden run: WARNING: {}\n", ok.error().message());
          next = std::chrono::steady_clock::now() + every;
        }
      });
      fmt::print("eden run: scheduled run {} started {}\n", n, UtcStamp());
      std::fflush(stdout);
      const int rc = RunOnce(s);
      std::fflush(stdout);
      fmt::print("eden run: scheduled run {} ended {} (exit {})\n", n, UtcStamp(), rc);
      done = true;
      renew.join();
      (*lock)->Release();
      if (rc == 2) return rc;  // A configuration problem will not fix itself.
    }
    std::uniform_real_distribution<double> jitter(0.9, 1.1);
    const double wait_s = interval_s * jitter(rng);
    fmt::print("eden run: next run in {:.0f} s\n", wait_s);
    std::fflush(stdout);
    if (!SleepUnlessStopped(wait_s)) return 0;
  }
}

}  // namespace

int RunRun(const config::RunSettings& s) {
  if (s.output.every.empty()) return RunOnce(s);
  if (auto problems = config::Validate(s); !problems.empty()) return RunOnce(s);  // Reports them.
  return RunEvery(s);
}

}  // namespace eden::cli
