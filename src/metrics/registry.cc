#include "metrics/registry.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

namespace eden::metrics {
namespace {

std::string LabelText(const Labels& labels, const std::string& extra_name = {}, const std::string& extra = {}) {
  std::string out;
  for (const auto& [k, v] : labels) out += fmt::format("{}{}=\"{}\"", out.empty() ? "" : ",", k, EscapeLabelValue(v));
  if (!extra_name.empty()) out += fmt::format("{}{}=\"{}\"", out.empty() ? "" : ",", extra_name, extra);
  return out.empty() ? out : "{" + out + "}";
}

const char* TypeName(Registry::Type t) {
  switch (t) {
    case Registry::Type::kCounter:
      return "counter";
    case Registry::Type::kGauge:
      return "gauge";
    case Registry::Type::kHistogram:
      return "histogram";
  }
  return "untyped";
}

}  // namespace

std::vector<double> SecondsBuckets() { return {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}; }

std::string EscapeLabelValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string EscapeHelp(std::string_view help) {
  std::string out;
  for (char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string FormatValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  if (value == std::floor(value) && std::fabs(value) < 9.007199254740992e15) {
    return fmt::format("{}", static_cast<long long>(value));
  }
  return fmt::format("{}", value);  // Shortest text that reads back to the same double.
}

void Registry::DeclareCounter(const std::string& name, const std::string& help) {
  std::lock_guard lock(mu_);
  auto& f = families_[name];
  f.type = Type::kCounter;
  f.help = help;
}

void Registry::DeclareGauge(const std::string& name, const std::string& help) {
  std::lock_guard lock(mu_);
  auto& f = families_[name];
  f.type = Type::kGauge;
  f.help = help;
}

void Registry::DeclareHistogram(const std::string& name, const std::string& help, std::vector<double> bounds) {
  std::sort(bounds.begin(), bounds.end());
  bounds.erase(std::unique(bounds.begin(), bounds.end()), bounds.end());
  std::lock_guard lock(mu_);
  auto& f = families_[name];
  f.type = Type::kHistogram;
  f.help = help;
  f.bounds = std::move(bounds);
}

Registry::Series* Registry::Find(const std::string& name, const Labels& labels, Type type) {
  auto f = families_.find(name);
  if (f == families_.end() || f->second.type != type) return nullptr;
  auto [it, added] = f->second.series.try_emplace(LabelText(labels));
  if (added) {
    it->second.labels = labels;
    it->second.buckets.assign(f->second.bounds.size(), 0);
  }
  return &it->second;
}

void Registry::Add(const std::string& name, const Labels& labels, double value) {
  std::lock_guard lock(mu_);
  auto f = families_.find(name);
  if (f == families_.end()) return;
  if (f->second.type == Type::kCounter && !(value >= 0)) return;  // Counters only go up.
  if (Series* s = Find(name, labels, f->second.type == Type::kGauge ? Type::kGauge : Type::kCounter)) s->value += value;
}

void Registry::Set(const std::string& name, const Labels& labels, double value) {
  std::lock_guard lock(mu_);
  auto f = families_.find(name);
  if (f == families_.end() || f->second.type == Type::kHistogram) return;
  if (Series* s = Find(name, labels, f->second.type)) {
    // A counter kept elsewhere (read at scrape time) may only go up.
    if (f->second.type == Type::kGauge || value >= s->value) s->value = value;
  }
}

void Registry::Observe(const std::string& name, const Labels& labels, double value) {
  std::lock_guard lock(mu_);
  if (std::isnan(value)) return;
  auto f = families_.find(name);
  if (f == families_.end()) return;
  Series* s = Find(name, labels, Type::kHistogram);
  if (s == nullptr) return;
  const auto& bounds = f->second.bounds;
  const auto i = static_cast<size_t>(std::lower_bound(bounds.begin(), bounds.end(), value) - bounds.begin());
  if (i < bounds.size()) ++s->buckets[i];
  s->sum += value;
  ++s->count;
}

void Registry::AddCollector(std::function<void(Registry&)> collector) {
  std::lock_guard lock(mu_);
  collectors_.push_back(std::move(collector));
}

std::string Registry::Render() {
  std::vector<std::function<void(Registry&)>> collectors;
  {
    std::lock_guard lock(mu_);
    collectors = collectors_;
  }
  for (const auto& c : collectors) c(*this);
  std::lock_guard lock(mu_);
  std::string out;
  for (const auto& [name, f] : families_) {
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, EscapeHelp(f.help), name, TypeName(f.type));
    if (f.series.empty() && f.type == Type::kGauge) out += fmt::format("{} 0\n", name);
    for (const auto& [labels, s] : f.series) {
      if (f.type != Type::kHistogram) {
        out += fmt::format("{}{} {}\n", name, labels, FormatValue(s.value));
        continue;
      }
      uint64_t cumulative = 0;
      for (size_t i = 0; i < f.bounds.size(); ++i) {
        cumulative += s.buckets[i];
        out += fmt::format("{}_bucket{} {}\n", name, LabelText(s.labels, "le", FormatValue(f.bounds[i])), cumulative);
      }
      out += fmt::format("{}_bucket{} {}\n", name, LabelText(s.labels, "le", "+Inf"), s.count);
      out += fmt::format("{}_sum{} {}\n", name, labels, FormatValue(s.sum));
      out += fmt::format("{}_count{} {}\n", name, labels, s.count);
    }
  }
  return out;
}

double Registry::Value(const std::string& name, const Labels& labels) const {
  std::lock_guard lock(mu_);
  auto f = families_.find(name);
  if (f == families_.end()) return 0;
  auto s = f->second.series.find(LabelText(labels));
  if (s == f->second.series.end()) return 0;
  return f->second.type == Type::kHistogram ? static_cast<double>(s->second.count) : s->second.value;
}

}  // namespace eden::metrics
