#include "cli/observability.h"

#include <cstdlib>
#include <span>

#include <fmt/format.h>

#include "cli/version.h"
#include "core/host.h"
#include "http/curl_transport.h"

namespace eden::cli {
namespace {

/// Sentry's envelopes over the libcurl client (certificates verified; no retries: events are
/// best effort, and the reporter backs off on 429).
sentry::Transport CurlTransport() {
  http::TransportOptions options;
  options.connect_timeout_ms = 5'000;
  options.low_speed_timeout_s = 10;
  options.total_timeout_ms = 15'000;
  options.user_agent = "eden-etl/0.1 sentry";
  auto client = http::MakeCurlTransport(options);
  return [client](const std::string& url, const std::string& auth,
                  const std::string& body) -> Result<sentry::TransportReply> {
    http::HttpRequest request;
    request.method = "POST";
    request.url = url;
    request.headers = {"Content-Type: application/x-sentry-envelope", "X-Sentry-Auth: " + auth};
    request.body = std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(body.data()), body.size());
    auto response = client->Send(request);
    if (!response) return Fail(response.error());
    sentry::TransportReply reply{response->status, 0};
    reply.retry_after_s = std::atof(response->Header("retry-after").c_str());
    return reply;
  };
}

}  // namespace

void Observability::Record(const pipeline::InstanceOutcome& o) {
  instances->Record(o);
  if (sentry && o.ToState() == pipeline::State::kFailed && o.error) {
    sentry->InstanceFailure(o.ErrorCodeText(), pipeline::StepName(o.failed_step), o.error->message());
  }
}

void Observability::ReportRunError(const Error& error) {
  if (!sentry) return;
  sentry->RunError(ErrorCodeName(error.code()), error.message());
  sentry->Flush(5);
}

Result<std::unique_ptr<Observability>> StartObservability(const config::ReportSettings& report,
                                                          const std::string& logger, std::function<bool()> healthy) {
  auto o = std::make_unique<Observability>();
  o->instances = std::make_unique<pipeline::InstanceMetrics>(o->registry);
  o->registry.DeclareGauge("eden_build_info", "Always 1; the version is a label.");
  o->registry.Set("eden_build_info", {{"version", std::string(kVersion)}}, 1);
  std::string dsn = report.sentry_dsn;
  if (dsn.empty()) {
    if (const char* old = std::getenv("SENTRY_DNS"); old != nullptr && *old != '\0') {
      fmt::print(stderr, "eden: WARNING: SENTRY_DNS is the seed's misspelling; rename it SENTRY_DSN\n");
      dsn = old;
    }
  }
  if (!dsn.empty()) {
    sentry::ReporterOptions options;
    options.dsn = dsn;
    options.release = fmt::format("eden-etl@{}", kVersion);
    options.server_name = HostName();
    options.environment = report.sentry_environment;
    options.logger = logger;
    auto reporter = sentry::Reporter::Create(std::move(options), CurlTransport());
    if (!reporter) return Fail(reporter.error());
    o->sentry = std::move(*reporter);
  }
  if (report.metrics_port > 0) {
    std::map<std::string, web::Handler> routes;
    Observability* self = o.get();
    routes["/metrics"] = [self](const web::HttpRequest&) {
      return web::HttpResponse{200, "text/plain; version=0.0.4; charset=utf-8", self->registry.Render()};
    };
    routes["/healthz"] = [healthy = std::move(healthy)](const web::HttpRequest&) {
      const bool ok = !healthy || healthy();
      return web::HttpResponse{ok ? 200 : 503, "text/plain; charset=utf-8", ok ? "ok\n" : "not consuming\n"};
    };
    auto server = web::HttpServer::Start({report.metrics_address, report.metrics_port, {}, {}}, std::move(routes));
    if (!server) return Fail(server.error().WithContext("--metrics-port"));
    o->server = std::move(*server);
  }
  return o;
}

ObservedRun::ObservedRun(pipeline::RunObserver& inner, Observability& observability, metrics::Registry& registry)
    : inner_(inner), o_(observability), r_(registry) {
  r_.DeclareGauge("eden_run_sample_instances", "Instances in the run's frozen sample.");
  r_.DeclareGauge("eden_run_pending_instances", "Instances of the sample this run has still to finish.");
  r_.DeclareGauge("eden_run_phase", "1 for the phase the run is in (select, extract, finalize).");
}

void ObservedRun::OnSelected(size_t rows) {
  r_.Set("eden_run_sample_instances", {}, static_cast<double>(rows));
  inner_.OnSelected(rows);
}

void ObservedRun::OnResume(size_t total, size_t already_stored) {
  r_.Set("eden_run_sample_instances", {}, static_cast<double>(total));
  inner_.OnResume(total, already_stored);
}

void ObservedRun::OnPhase(const std::string& name, size_t items) {
  for (const char* phase : {"select", "extract", "finalize"}) {
    r_.Set("eden_run_phase", {{"phase", phase}}, name == phase ? 1 : 0);
  }
  if (name == "extract") r_.Set("eden_run_pending_instances", {}, static_cast<double>(items));
  inner_.OnPhase(name, items);
}

void ObservedRun::OnOutcome(const pipeline::InstanceOutcome& outcome, size_t done, size_t total) {
  o_.Record(outcome);
  r_.Set("eden_run_pending_instances", {}, static_cast<double>(total - done));
  inner_.OnOutcome(outcome, done, total);
}

}  // namespace eden::cli
