#include "cli/status_command.h"

#include <cmath>
#include <filesystem>
#include <optional>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/run_command.h"
#include "cli/status_view.h"
#include "cli/store_factory.h"
#include "pipeline/journal.h"
#include "web/dashboard.h"

namespace eden::cli {
namespace {

constexpr int kWindowSeconds = 60;

std::string Duration(double seconds) {
  const auto s = static_cast<long long>(std::llround(seconds));
  return s >= 3600 ? fmt::format("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
                   : fmt::format("{}:{:02}", s / 60, s % 60);
}

}  // namespace

void AddStatusCommand(CLI::App& app, StatusArgs& args) {
  CLI::App* status =
      app.add_subcommand("status", "Where a run is, from its journal: stored, failed by code, pending, rate, ETA");
  auto& o = args.settings.output;
  status->add_option("destination", o.destination, "The run's output folder or gs://bucket[/prefix] (default --output)")
      ->each([&o](const std::string&) { o.destination_given = true; });
  status->add_option("-o,--output", o.destination, "Same as the positional argument")
      ->envname("EDEN_OUTPUT")
      ->each([&o](const std::string&) { o.destination_given = true; });
  status->add_option("--prefix", o.prefix, "Dataset prefix inside the output")
      ->envname("EDEN_PREFIX")
      ->capture_default_str();
  status->add_option("--journal", o.journal, "The run's journal (default: where `eden run` keeps it)");
  status->add_option("--gcs-bucket", o.gcs_bucket, "With no destination: gs://BUCKET/<prefix>")
      ->envname("GCS_BUCKET_NAME");
  status->add_flag("--json", args.json, "Print one JSON object (for scripts)");
  status->add_option("--broker", args.broker, "Also list this broker's queue depths and the workers that answer ping");
  status->add_option("-Q,--queues", args.queues, "Queues to count (default: celery and every queue bound to it)")
      ->delimiter(',');
  status->add_option("--timeout", args.timeout_s, "Seconds to wait for workers' answers")->capture_default_str();
}

namespace {

void PrintBroker(const web::DashboardView& v) {
  fmt::print("broker {}\n", v.broker);
  if (!v.broker_error.empty()) {
    fmt::print("  unreachable: {}\n", v.broker_error);
    return;
  }
  for (const auto& [queue, n] : v.queues) fmt::print("  queue {}: {} waiting\n", queue, n);
  fmt::print("  reserved by workers, not acknowledged: {}\n", v.unacked);
  size_t answered = 0;
  for (const auto& w : v.workers) answered += w.answered ? 1 : 0;
  fmt::print("  workers answering ping: {}\n", answered);
  for (const auto& w : v.workers) {
    std::string running;
    for (const auto& t : w.active_tasks) running += (running.empty() ? "" : ", ") + t;
    fmt::print("  {} {}: {} active, {} processed{}\n", w.node, w.answered ? "online" : "no answer", w.active,
               w.processed, running.empty() ? "" : " (" + running + ")");
  }
}

nlohmann::json BrokerObject(const web::DashboardView& v) { return nlohmann::json::parse(web::BrokerJson(v)); }

}  // namespace

static int RunJournalStatus(const StatusArgs& args, const std::optional<web::DashboardView>& broker) {
  const config::RunSettings& s = args.settings;
  // With --broker and no destination named, a missing journal only leaves its part out.
  const bool journal_optional = broker && !s.output.destination_given && s.output.journal.empty();
  // The journal's path is all that is needed: the destination and its credentials are not opened.
  auto default_journal = DefaultJournal(s);
  if (!default_journal) {
    fmt::print(stderr, "eden status: {}\n", default_journal.error().message());
    return 2;
  }
  const std::filesystem::path path =
      s.output.journal.empty() ? *default_journal : std::filesystem::path(s.output.journal);
  auto journal = pipeline::Journal::OpenForReading(path);
  if (!journal && journal_optional && journal.error().code() == ErrorCode::kNotFound) {
    if (args.json) fmt::print("{}\n", nlohmann::json({{"broker", BrokerObject(*broker)}}).dump(2));
    return 0;
  }
  if (!journal) {
    fmt::print(stderr, "eden status: {}\n", journal.error().message());
    return journal.error().code() == ErrorCode::kNotFound ? 2 : ExitCodeFor(journal.error());
  }
  auto meta = (*journal)->Meta();
  auto progress = (*journal)->ProgressNow(kWindowSeconds);
  if (!meta || !progress) {
    const Error& e = !meta ? meta.error() : progress.error();
    fmt::print(stderr, "eden status: {}\n", e.message());
    return ExitCodeFor(e);
  }
  auto get = [&](const char* k) { return meta->count(k) ? meta->at(k) : std::string(); };
  const auto& p = *progress;
  const double rate = static_cast<double>(p.recent) / kWindowSeconds;
  const bool frozen = meta->count("frozen") > 0;
  if (args.json) {
    nlohmann::json j = {{"journal", path.string()},
                        {"frozen", frozen},
                        {"frozen_at", get("frozen_at")},
                        {"query", get("query")},
                        {"studies", get("studies")},
                        {"deid", get("deid").empty() ? "off" : get("deid")},
                        {"total", p.total},
                        {"stored", p.stored},
                        {"failed", p.failed},
                        {"failed_by_code", p.failed_by_code},
                        {"excluded", p.excluded},
                        {"pending", p.pending},
                        {"rate_per_s", rate},
                        {"eta_s", rate > 0 ? nlohmann::json(static_cast<double>(p.pending) / rate) : nlohmann::json()},
                        {"last_update", p.last_update}};
    if (broker) j["broker"] = BrokerObject(*broker);
    fmt::print("{}\n", j.dump(2));
    return 0;
  }
  fmt::print("eden status: {}\n", path.string());
  if (!frozen) {
    fmt::print("  no sample frozen yet (the run is selecting, or its selection failed)\n");
    return 0;
  }
  fmt::print("  sample: {} instances, frozen {} (query {}, studies {})\n", p.total, get("frozen_at"), get("query"),
             get("studies"));
  std::string codes;
  for (const auto& [code, n] : p.failed_by_code) codes += fmt::format("{}{} {}", codes.empty() ? "" : ", ", code, n);
  fmt::print("  stored {}, failed {}{}, excluded {}, pending {}\n", p.stored, p.failed,
             codes.empty() ? "" : " (" + codes + ")", p.excluded, p.pending);
  if (p.pending == 0) {
    fmt::print("  done: nothing pending (last outcome {})\n", p.last_update.empty() ? "-" : p.last_update);
  } else if (rate > 0) {
    fmt::print("  rate: {:.1f}/s over the last minute; ETA {}\n", rate,
               Duration(static_cast<double>(p.pending) / rate));
  } else {
    fmt::print("  no outcome in the last minute (last {}): the run is stopped, or between phases\n",
               p.last_update.empty() ? "-" : p.last_update);
  }
  return 0;
}

int RunStatus(const StatusArgs& args) {
  std::optional<web::DashboardView> broker;
  if (!args.broker.empty()) {
    broker.emplace();
    GatherBroker(args.broker, args.queues, args.timeout_s, *broker);
  }
  const int rc = RunJournalStatus(args, broker);
  if (!broker) return rc;
  if (!args.json) PrintBroker(*broker);
  if (rc != 0) return rc;
  return broker->broker_error.empty() ? 0 : 3;
}

}  // namespace eden::cli
