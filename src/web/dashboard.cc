#include "web/dashboard.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace eden::web {
namespace {

std::string Bytes(unsigned long long n) {
  const char* units[] = {"B", "KB", "MB", "GB", "TB"};
  double v = static_cast<double>(n);
  int u = 0;
  while (v >= 1000 && u < 4) {
    v /= 1000;
    ++u;
  }
  return u == 0 ? fmt::format("{} B", n) : fmt::format("{:.1f} {}", v, units[u]);
}

std::string Duration(double seconds) {
  const auto s = static_cast<long long>(std::llround(seconds));
  return s >= 3600 ? fmt::format("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
                   : fmt::format("{}:{:02}", s / 60, s % 60);
}

constexpr const char* kStyle = R"css(
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px;color:#1d2733;background:#f6f7f9}
h1{font-size:22px;margin:0 0 4px} h2{font-size:16px;margin:0 0 10px;color:#394b59}
.sub{color:#5c7080;font-size:13px;margin-bottom:18px}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(420px,1fr));gap:16px}
.card{background:#fff;border:1px solid #d8dee4;border-radius:8px;padding:16px}
.nums{display:flex;gap:18px;flex-wrap:wrap;margin:8px 0 12px}
.num b{display:block;font-size:26px} .num span{font-size:12px;color:#5c7080;text-transform:uppercase}
.ok b{color:#1e7b34} .bad b{color:#c23030} .warn b{color:#a66321}
.bar{height:22px;background:#e1e8ed;border-radius:4px;overflow:hidden;display:flex}
.bar div{height:100%} .s{background:#1e7b34} .f{background:#c23030} .x{background:#a66321}
table{border-collapse:collapse;width:100%;font-size:13px;table-layout:fixed}
td,th{text-align:left;padding:4px 6px;border-bottom:1px solid #eef1f4;overflow-wrap:anywhere;vertical-align:top}
th{color:#5c7080;font-weight:600} code{font-size:12px} .muted{color:#8a9ba8}
.up{color:#1e7b34;font-weight:600} .down{color:#c23030;font-weight:600}
)css";

}  // namespace

std::string HtmlEscape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string RenderDashboard(const DashboardView& v) {
  std::string h;
  h += "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">";
  h += fmt::format("<meta http-equiv=\"refresh\" content=\"{}\">", v.refresh_s);
  h += fmt::format("<title>{} dashboard</title><style>{}</style></head><body>", HtmlEscape(v.title), kStyle);
  h += fmt::format("<h1>{} dashboard</h1><div class=\"sub\">updated <span id=\"generated\">{}</span>, every {} s",
                   HtmlEscape(v.title), HtmlEscape(v.generated_at), v.refresh_s);
  if (!v.journal.empty()) h += fmt::format(" &middot; journal <code>{}</code>", HtmlEscape(v.journal));
  h += "</div><div class=\"grid\">";

  // The run.
  h += "<section class=\"card\" id=\"run\"><h2>Run</h2>";
  if (!v.journal_found) {
    h += fmt::format("<p class=\"muted\">No run journal yet{}.</p>",
                     v.journal_error.empty() ? "" : ": " + HtmlEscape(v.journal_error));
  } else if (!v.frozen) {
    h += "<p class=\"muted\">Selecting studies: no sample frozen yet.</p>";
  } else {
    const double total = std::max<double>(1, static_cast<double>(v.total));
    const size_t done = v.stored + v.failed + v.excluded;
    h += "<div class=\"nums\">";
    h += fmt::format("<div class=\"num\"><b id=\"total\">{}</b><span>sample</span></div>", v.total);
    h += fmt::format("<div class=\"num ok\"><b id=\"stored\">{}</b><span>stored</span></div>", v.stored);
    h += fmt::format("<div class=\"num bad\"><b id=\"failed\">{}</b><span>failed</span></div>", v.failed);
    h += fmt::format("<div class=\"num warn\"><b id=\"excluded\">{}</b><span>excluded</span></div>", v.excluded);
    h += fmt::format("<div class=\"num\"><b id=\"pending\">{}</b><span>pending</span></div>", v.pending);
    h += "</div>";
    h += fmt::format(
        "<div class=\"bar\" id=\"progress-bar\" title=\"{:.1f}% done\"><div class=\"s\" style=\"width:{:.3f}%\"></div>"
        "<div class=\"f\" style=\"width:{:.3f}%\"></div><div class=\"x\" style=\"width:{:.3f}%\"></div></div>",
        100.0 * static_cast<double>(done) / total, 100.0 * static_cast<double>(v.stored) / total,
        100.0 * static_cast<double>(v.failed) / total, 100.0 * static_cast<double>(v.excluded) / total);
    h += fmt::format(
        "<p><span id=\"percent\">{:.1f}</span>% done &middot; <span id=\"rate\">{:.1f}</span>/s over the "
        "last minute &middot; ETA <span id=\"eta\">{}</span></p>",
        100.0 * static_cast<double>(done) / total, v.rate_per_s,
        v.pending == 0 ? "done"
        : v.eta_s      ? Duration(*v.eta_s)
                       : "-");
    h += fmt::format(
        "<p class=\"muted\">sample frozen {} &middot; query {} &middot; de-identification {} &middot; "
        "last outcome {}</p>",
        HtmlEscape(v.frozen_at), HtmlEscape(v.query), HtmlEscape(v.deid.empty() ? "off" : v.deid),
        HtmlEscape(v.last_update.empty() ? "-" : v.last_update));
  }
  h += "</section>";

  // Throughput over time.
  h += "<section class=\"card\" id=\"throughput\"><h2>Throughput</h2>";
  if (v.timeline.empty()) {
    h += "<p class=\"muted\">No outcome yet.</p>";
  } else {
    const size_t peak = std::max<size_t>(1, *std::max_element(v.timeline.begin(), v.timeline.end()));
    constexpr double kWidth = 560, kHeight = 140;
    const double bar = kWidth / static_cast<double>(v.timeline.size());
    h += fmt::format(
        "<svg id=\"throughput-chart\" width=\"{}\" height=\"{}\" viewBox=\"0 0 {} {}\" role=\"img\" "
        "aria-label=\"instances per interval\">",
        kWidth, kHeight + 20, kWidth, kHeight + 20);
    for (size_t i = 0; i < v.timeline.size(); ++i) {
      const double bh = kHeight * static_cast<double>(v.timeline[i]) / static_cast<double>(peak);
      h += fmt::format(
          "<rect x=\"{:.2f}\" y=\"{:.2f}\" width=\"{:.2f}\" height=\"{:.2f}\" fill=\"#2b6cb0\"><title>{} "
          "instances</title></rect>",
          static_cast<double>(i) * bar + 0.5, kHeight - bh, std::max(bar - 1, 0.5), bh, v.timeline[i]);
    }
    h += fmt::format(
        "<text x=\"0\" y=\"{}\" font-size=\"11\" fill=\"#5c7080\">from {} &middot; {:g} s per bar &middot; "
        "peak {:.1f}/s</text></svg>",
        kHeight + 15, HtmlEscape(v.timeline_start), v.timeline_width_s,
        static_cast<double>(peak) / std::max(v.timeline_width_s, 1e-9));
  }
  h += "</section>";

  // Failures.
  h += "<section class=\"card\" id=\"failures\"><h2>Failures by error code</h2>";
  if (v.failed_by_code.empty()) {
    h += "<p class=\"muted\">None.</p>";
  } else {
    h += "<table><tr><th>code</th><th>instances</th></tr>";
    for (const auto& [code, n] : v.failed_by_code) {
      h += fmt::format("<tr><td><code>{}</code></td><td class=\"failure-count\" data-code=\"{}\">{}</td></tr>",
                       HtmlEscape(code.empty() ? "(none)" : code), HtmlEscape(code), n);
    }
    h += "</table><h2 style=\"margin-top:14px\">Latest</h2><table><tr><th style=\"width:16%\">when</th>"
         "<th style=\"width:26%\">instance</th><th style=\"width:18%\">code</th><th>error</th></tr>";
    for (const auto& f : v.latest_failures) {
      // The time of day is enough here (the date is in the run's line above).
      const std::string when = f.when.size() > 11 ? f.when.substr(11, 8) : f.when;
      h += fmt::format("<tr><td title=\"{}\">{}</td><td><code>{}</code></td><td><code>{}</code></td><td>{}</td></tr>",
                       HtmlEscape(f.when), HtmlEscape(when), HtmlEscape(f.instance_id), HtmlEscape(f.code),
                       HtmlEscape(f.message));
    }
    h += "</table>";
  }
  h += "</section>";

  // Dataset.
  h += "<section class=\"card\" id=\"dataset\"><h2>Dataset</h2><div class=\"nums\">";
  h += fmt::format("<div class=\"num\"><b id=\"images\">{}</b><span>images</span></div>", v.images);
  h += fmt::format("<div class=\"num\"><b id=\"studies\">{}</b><span>studies</span></div>", v.studies);
  h += fmt::format("<div class=\"num\"><b id=\"dicom-bytes\">{}</b><span>DICOM</span></div>", Bytes(v.dicom_bytes));
  h += fmt::format("<div class=\"num\"><b id=\"jpg-bytes\">{}</b><span>JPEG</span></div>", Bytes(v.jpg_bytes));
  h += "</div></section>";

  // Workers and queues.
  h += "<section class=\"card\" id=\"workers\"><h2>Workers</h2>";
  if (v.broker.empty()) {
    h += "<p class=\"muted\">No broker given (--broker / REDIS_URL): in-process run.</p>";
  } else if (!v.broker_error.empty()) {
    h += fmt::format("<p class=\"down\">Broker {}: {}</p>", HtmlEscape(v.broker), HtmlEscape(v.broker_error));
  } else {
    h += fmt::format("<p class=\"muted\">broker {} &middot; <span id=\"worker-count\">{}</span> answering ping</p>",
                     HtmlEscape(v.broker),
                     std::count_if(v.workers.begin(), v.workers.end(), [](const auto& w) { return w.answered; }));
    h += "<table><tr><th>worker</th><th>state</th><th>active</th><th>processed</th><th>running</th></tr>";
    for (const auto& w : v.workers) {
      std::string running;
      for (const auto& t : w.active_tasks) running += (running.empty() ? "" : ", ") + HtmlEscape(t);
      h += fmt::format(
          "<tr class=\"worker\"><td><code>{}</code></td><td class=\"{}\">{}</td><td>{}</td><td>{}</td>"
          "<td>{}</td></tr>",
          HtmlEscape(w.node), w.answered ? "up" : "down", w.answered ? "online" : "no answer", w.active, w.processed,
          running.empty() ? "-" : running);
    }
    h += "</table><h2 style=\"margin-top:14px\">Queues</h2><table><tr><th>queue</th><th>waiting</th></tr>";
    for (const auto& [q, n] : v.queues) {
      h += fmt::format("<tr><td><code>{}</code></td><td class=\"queue-depth\" data-queue=\"{}\">{}</td></tr>",
                       HtmlEscape(q), HtmlEscape(q), n);
    }
    h += fmt::format("<tr><td class=\"muted\">reserved, not acknowledged</td><td id=\"unacked\">{}</td></tr></table>",
                     v.unacked);
  }
  h += "</section></div></body></html>\n";
  return h;
}

std::string DashboardJson(const DashboardView& v) {
  nlohmann::ordered_json j;
  j["generated_at"] = v.generated_at;
  j["journal"] = v.journal;
  j["journal_found"] = v.journal_found;
  j["frozen"] = v.frozen;
  j["total"] = v.total;
  j["stored"] = v.stored;
  j["failed"] = v.failed;
  j["excluded"] = v.excluded;
  j["pending"] = v.pending;
  j["rate_per_s"] = v.rate_per_s;
  j["eta_s"] = v.eta_s ? nlohmann::ordered_json(*v.eta_s) : nlohmann::ordered_json();
  j["failed_by_code"] = v.failed_by_code;
  j["latest_failures"] = nlohmann::ordered_json::array();
  for (const auto& f : v.latest_failures) {
    j["latest_failures"].push_back(
        {{"instance_id", f.instance_id}, {"code", f.code}, {"message", f.message}, {"when", f.when}});
  }
  j["timeline"] = {{"start", v.timeline_start}, {"width_s", v.timeline_width_s}, {"counts", v.timeline}};
  j["dataset"] = {
      {"images", v.images}, {"studies", v.studies}, {"dicom_bytes", v.dicom_bytes}, {"jpg_bytes", v.jpg_bytes}};
  j["broker"] = nlohmann::ordered_json::parse(BrokerJson(v));
  return j.dump(2);
}

std::string BrokerJson(const DashboardView& v) {
  nlohmann::ordered_json j = {{"url", v.broker}, {"error", v.broker_error}, {"unacked", v.unacked}};
  j["queues"] = nlohmann::ordered_json::object();
  for (const auto& [q, n] : v.queues) j["queues"][q] = n;
  j["workers"] = nlohmann::ordered_json::array();
  for (const auto& w : v.workers) {
    j["workers"].push_back({{"node", w.node},
                            {"answered", w.answered},
                            {"active", w.active},
                            {"processed", w.processed},
                            {"active_tasks", w.active_tasks}});
  }
  return j.dump();
}

}  // namespace eden::web
