#pragma once

#include <functional>
#include <memory>
#include <string>

#include "config/settings.h"
#include "core/result.h"
#include "metrics/registry.h"
#include "pipeline/instance_metrics.h"
#include "pipeline/run.h"
#include "sentry/reporter.h"
#include "web/http_server.h"

namespace eden::cli {

/// What `eden run` and `eden worker` expose to operators: /metrics and /healthz (with
/// --metrics-port), Sentry events (with SENTRY_DSN or the seed's SENTRY_DNS). Both optional.
struct Observability {
  metrics::Registry registry;
  std::unique_ptr<pipeline::InstanceMetrics> instances;
  std::unique_ptr<web::HttpServer> server;   ///< Null without --metrics-port.
  std::unique_ptr<sentry::Reporter> sentry;  ///< Null without a DSN.

  /// Counts an outcome and reports it if it failed.
  void Record(const pipeline::InstanceOutcome& outcome);
  /// A run-level error to Sentry (if configured); then waits up to 5 s for it to go.
  void ReportRunError(const Error& error);
};

/// `logger`: "eden.run" or "eden.worker"; `healthy`: what /healthz answers (empty: always ok).
/// kInvalidArgument for a bad DSN; kUnavailable if the port cannot be bound.
Result<std::unique_ptr<Observability>> StartObservability(const config::ReportSettings& report,
                                                          const std::string& logger,
                                                          std::function<bool()> healthy = {});

/// Sends every event to `inner` and records outcomes in `observability`.
class ObservedRun final : public pipeline::RunObserver {
 public:
  ObservedRun(pipeline::RunObserver& inner, Observability& observability, metrics::Registry& registry);
  void OnSelectionStats(const source::SelectionStats& stats) override { inner_.OnSelectionStats(stats); }
  void OnPage(int page, size_t rows_so_far) override { inner_.OnPage(page, rows_so_far); }
  void OnSelected(size_t rows) override;
  void OnResume(size_t total, size_t already_stored) override;
  void OnPhase(const std::string& name, size_t items) override;
  void OnOutcome(const pipeline::InstanceOutcome& outcome, size_t done, size_t total) override;

 private:
  pipeline::RunObserver& inner_;
  Observability& o_;
  metrics::Registry& r_;
};

}  // namespace eden::cli
