#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace eden::web {

/// Everything the dashboard shows, gathered by `eden dashboard` from the run's journal and the
/// broker. Plain data: the page is a pure function of it.
struct DashboardView {
  std::string title = "eden";
  std::string generated_at;  ///< UTC ISO 8601.
  int refresh_s = 5;

  // The run (from its journal).
  bool journal_found = false;
  std::string journal, journal_error;
  bool frozen = false;
  std::string frozen_at, query, deid;
  size_t total = 0, stored = 0, failed = 0, excluded = 0, pending = 0;
  double rate_per_s = 0;  ///< Over the last minute.
  std::optional<double> eta_s;
  std::string last_update;
  std::map<std::string, size_t> failed_by_code;
  struct FailureExample {
    std::string instance_id, code, message, when;
  };
  std::vector<FailureExample> latest_failures;
  /// Outcomes per interval from the first outcome to the last (throughput over time).
  std::string timeline_start;
  double timeline_width_s = 0;
  std::vector<size_t> timeline;

  // The dataset (stored instances).
  size_t images = 0, studies = 0;
  unsigned long long dicom_bytes = 0, jpg_bytes = 0;

  // The workers (from the broker); broker empty: not asked.
  std::string broker;  ///< Redacted URL.
  std::string broker_error;
  struct Worker {
    std::string node;
    bool answered = false;
    int active = 0;
    long long processed = 0;
    std::vector<std::string> active_tasks;  ///< Task names with their age, e.g. "eden.process_instance (3 s)".
  };
  std::vector<Worker> workers;
  std::vector<std::pair<std::string, long long>> queues;
  long long unacked = 0;
};

/// The HTML page: server-rendered, no script; charts are inline SVG. Every text from the view is
/// HTML-escaped. Elements carry ids (stored, failed, pending, total, progress-bar...) for scripts
/// and tests. Pure.
std::string RenderDashboard(const DashboardView& view);

/// The same numbers as JSON (`/status.json`). Pure.
std::string DashboardJson(const DashboardView& view);
/// Only the broker part, {url, error, queues, unacked, workers} (`eden status --broker --json`). Pure.
std::string BrokerJson(const DashboardView& view);

/// `<`, `>`, `&`, `"`, `'` escaped. Pure.
std::string HtmlEscape(std::string_view text);

}  // namespace eden::web
