#include "cli/status_view.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <future>
#include <map>
#include <optional>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "celery/inspect.h"
#include "http/url.h"
#include "pipeline/journal.h"

namespace eden::cli {
namespace {

constexpr int kWindowSeconds = 60;

double NowSeconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

/// Seconds since the epoch of the journal's "YYYY-MM-DDTHH:MM:SS(.fff)Z".
std::optional<double> ParseUtc(const std::string& text) {
  std::tm tm{};
  double seconds = 0;
  if (std::sscanf(text.c_str(), "%d-%d-%dT%d:%d:%lf", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
                  &seconds) != 6) {
    return std::nullopt;
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return static_cast<double>(::timegm(&tm)) + seconds;
}

}  // namespace

std::string UtcNow() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

void GatherJournal(const std::filesystem::path& path, web::DashboardView& v) {
  v.journal = path.string();
  auto journal = pipeline::Journal::OpenForReading(path);
  if (!journal) {
    v.journal_error = journal.error().message();
    return;
  }
  auto meta = (*journal)->Meta();
  auto progress = (*journal)->ProgressNow(kWindowSeconds);
  if (!meta || !progress) {
    v.journal_error = (!meta ? meta.error() : progress.error()).message();
    return;
  }
  v.journal_found = true;
  auto get = [&](const char* k) { return meta->count(k) ? meta->at(k) : std::string(); };
  v.frozen = meta->count("frozen") > 0;
  v.frozen_at = get("frozen_at");
  v.query = get("query");
  v.deid = get("deid").empty() ? "off" : get("deid");
  v.total = progress->total;
  v.stored = progress->stored;
  v.failed = progress->failed;
  v.excluded = progress->excluded;
  v.pending = progress->pending;
  v.failed_by_code = progress->failed_by_code;
  v.last_update = progress->last_update;
  auto timeline = (*journal)->OutcomeTimeline(60);
  // Over the last minute, or since the first outcome when that is sooner (a run 5 s old).
  double window_s = kWindowSeconds;
  if (timeline && !timeline->start.empty()) {
    if (auto first = ParseUtc(timeline->start)) window_s = std::clamp(NowSeconds() - *first, 1.0, window_s);
  }
  v.rate_per_s = static_cast<double>(progress->recent) / window_s;
  if (v.rate_per_s > 0) v.eta_s = static_cast<double>(v.pending) / v.rate_per_s;
  if (auto failures = (*journal)->LatestFailures(10)) {
    for (auto& f : *failures) {
      v.latest_failures.push_back(
          {std::move(f.instance_id), std::move(f.error_code), std::move(f.error_message), std::move(f.updated_at)});
    }
  }
  if (timeline) {
    v.timeline_start = timeline->start;
    v.timeline_width_s = timeline->width_s;
    v.timeline = std::move(timeline->counts);
  }
  if (auto stored = (*journal)->StoredCounts()) {
    v.images = stored->images;
    v.studies = stored->studies;
    v.dicom_bytes = stored->dicom_bytes;
    v.jpg_bytes = stored->jpg_bytes;
  }
}

void GatherBroker(const std::string& broker_url, const std::vector<std::string>& queues, double timeout_s,
                  web::DashboardView& v) {
  using json = nlohmann::json;
  v.broker = http::RedactUrl(broker_url);
  auto depths = celery::ReadDepths(broker_url, queues);
  if (!depths) {
    v.broker_error = depths.error().message();
    return;
  }
  for (const auto& d : depths->queues) v.queues.emplace_back(d.queue, d.messages);
  v.unacked = depths->unacked;
  // The three questions at once: each waits the whole timeout for workers that may answer.
  auto ask = [&](const char* method) {
    return std::async(std::launch::async,
                      [&broker_url, method, timeout_s] { return celery::Broadcast(broker_url, method, timeout_s); });
  };
  auto asked_ping = ask("ping"), asked_active = ask("active"), asked_stats = ask("stats");
  auto pings = asked_ping.get();
  auto active = asked_active.get();
  auto stats = asked_stats.get();
  if (!pings) {
    v.broker_error = pings.error().message();
    return;
  }
  std::map<std::string, web::DashboardView::Worker> workers;
  for (const auto& [node, reply] : *pings) {
    workers[node].node = node;
    workers[node].answered = json::parse(reply, nullptr, false).value("ok", "") == "pong";
  }
  const double now = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  if (active) {
    for (const auto& [node, reply] : *active) {
      auto& w = workers[node];
      w.node = node;
      const json list = json::parse(reply, nullptr, false);
      if (!list.is_array()) continue;
      w.active = static_cast<int>(list.size());
      for (const auto& t : list) {
        std::string line = t.value("name", "?");
        if (t.contains("time_start") && t["time_start"].is_number()) {
          line += fmt::format(" ({:.0f} s)", std::max(0.0, now - t["time_start"].get<double>()));
        }
        w.active_tasks.push_back(std::move(line));
      }
    }
  }
  if (stats) {
    for (const auto& [node, reply] : *stats) {
      auto& w = workers[node];
      w.node = node;
      const json s = json::parse(reply, nullptr, false);
      if (!s.is_object() || !s.contains("total") || !s["total"].is_object()) continue;
      for (const auto& [task, n] : s["total"].items()) w.processed += n.is_number() ? n.get<long long>() : 0;
    }
  }
  for (auto& [node, w] : workers) v.workers.push_back(std::move(w));
}

}  // namespace eden::cli
