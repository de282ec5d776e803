#pragma once

#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace eden::metrics {

/// Label name/value pairs of one series, in the order given. Values are free text (escaped when
/// rendered); by eden's rule a label never carries an id, a path or anything about a patient:
/// only outcomes, steps, error codes, queue and task names.
using Labels = std::vector<std::pair<std::string, std::string>>;

/// Upper bounds, in seconds, for the step-duration histograms (download, convert, store).
std::vector<double> SecondsBuckets();

/// Counters, gauges and histograms by name and labels, rendered as Prometheus text.
/// A family is declared once (name, help, type; a histogram with its bucket bounds); updating an
/// undeclared name, or a family as another type, is ignored (a programming error that must not
/// stop a run). Collectors run at each Render, before the families are written, to set gauges
/// that are read rather than counted (queue depths, store counters).
/// @par Thread-safety
/// Every member may be called from any thread; collectors must not call Render.
class Registry {
 public:
  enum class Type { kCounter, kGauge, kHistogram };

  void DeclareCounter(const std::string& name, const std::string& help);
  void DeclareGauge(const std::string& name, const std::string& help);
  void DeclareHistogram(const std::string& name, const std::string& help, std::vector<double> bounds);

  void Add(const std::string& name, const Labels& labels, double value = 1);  ///< Counter (value >= 0) or gauge.
  /// A gauge; or a counter kept elsewhere and read by a collector (ignored if it would go down).
  void Set(const std::string& name, const Labels& labels, double value);
  void Observe(const std::string& name, const Labels& labels, double value);  ///< Histogram.
  void AddCollector(std::function<void(Registry&)> collector);

  /// The text exposition format: per family `# HELP`, `# TYPE`, then its series sorted by labels;
  /// a histogram as cumulative `_bucket{le=...}` series, `_sum` and `_count`. A gauge with no
  /// series yet is written as one unlabelled 0; other families with none, as HELP and TYPE only.
  std::string Render();

  /// A series' value (a histogram: its count); 0 if there is none. For tests and summaries.
  double Value(const std::string& name, const Labels& labels = {}) const;

 private:
  struct Series {
    Labels labels;
    double value = 0;
    std::vector<uint64_t> buckets;  ///< Not cumulative; one per bound.
    double sum = 0;
    uint64_t count = 0;
  };
  struct Family {
    Type type = Type::kCounter;
    std::string help;
    std::vector<double> bounds;
    std::map<std::string, Series> series;  ///< By rendered label text (so output is sorted).
  };
  Series* Find(const std::string& name, const Labels& labels, Type type);

  mutable std::mutex mu_;
  std::map<std::string, Family> families_;
  std::vector<std::function<void(Registry&)>> collectors_;
};

/// A label value or HELP text escaped as the text format asks (backslash, newline; in label
/// values also the double quote). Pure.
std::string EscapeLabelValue(std::string_view value);
std::string EscapeHelp(std::string_view help);
/// A sample value as the format writes it: integers without a fraction, +Inf, -Inf, NaN.
std::string FormatValue(double value);

}  // namespace eden::metrics
