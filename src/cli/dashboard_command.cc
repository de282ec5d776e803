#include "cli/dashboard_command.h"

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <thread>

#include <fmt/format.h>

#include "cli/run_command.h"
#include "cli/status_view.h"
#include "cli/store_factory.h"
#include "http/url.h"
#include "web/http_server.h"

namespace eden::cli {
namespace {

std::atomic<bool> g_dashboard_stop{false};
extern "C" void OnDashboardSignal(int) { g_dashboard_stop = true; }

std::string EnvOr(const char* name, const char* fallback) {
  if (const char* v = std::getenv(name); v != nullptr && *v != '\0') return v;
  if (const char* v = std::getenv(fallback); v != nullptr && *v != '\0') return v;
  return {};
}

}  // namespace

void AddDashboardCommand(CLI::App& app, DashboardArgs& args) {
  CLI::App* d =
      app.add_subcommand("dashboard", "Serve a web page of the run, its failures, the dataset and the workers");
  auto& o = args.settings.output;
  d->add_option("destination", o.destination, "The run's output folder or gs://bucket[/prefix] (default --output)")
      ->each([&o](const std::string&) { o.destination_given = true; });
  d->add_option("-o,--output", o.destination, "Same as the positional argument")
      ->envname("EDEN_OUTPUT")
      ->each([&o](const std::string&) { o.destination_given = true; });
  d->add_option("--prefix", o.prefix, "Dataset prefix inside the output")
      ->envname("EDEN_PREFIX")
      ->capture_default_str();
  d->add_option("--journal", o.journal, "The run's journal (default: where `eden run` keeps it)");
  d->add_option("--gcs-bucket", o.gcs_bucket, "With no destination: gs://BUCKET/<prefix>")->envname("GCS_BUCKET_NAME");
  d->add_option("--address", args.address, "Address to listen on")
      ->envname("EDEN_DASHBOARD_ADDRESS")
      ->capture_default_str();
  d->add_option("-p,--port", args.port, "Port to listen on (0: any free port)")
      ->envname("EDEN_DASHBOARD_PORT")
      ->check(CLI::Range(0, 65535))
      ->capture_default_str();
  d->add_option("--broker", args.broker, "Redis broker whose workers and queues to show")->envname("REDIS_URL");
  d->add_option("-Q,--queues", args.queues, "Queues to show (default: celery and every queue bound to it)")
      ->delimiter(',');
  d->add_option("--timeout", args.timeout_s, "Seconds to wait for workers' answers per page")->capture_default_str();
}

int RunDashboard(DashboardArgs& args) {
  // Credentials from the environment only (never a flag: it would show in `ps`).
  args.user = EnvOr("EDEN_DASHBOARD_USER", "FLOWER_USER");
  args.password = EnvOr("EDEN_DASHBOARD_PASSWORD", "FLOWER_PASSWORD");
  if (args.user.empty() != args.password.empty()) {
    fmt::print(stderr, "eden dashboard: set both EDEN_DASHBOARD_USER and EDEN_DASHBOARD_PASSWORD, or neither\n");
    return 2;
  }
  const web::Credentials credentials{args.user, args.password};
  if (auto ok = web::CheckExposure(args.address, credentials); !ok) {
    fmt::print(stderr, "eden dashboard: {}\n", ok.error().message());
    return 2;
  }
  auto default_journal = DefaultJournal(args.settings);
  if (!default_journal) {
    fmt::print(stderr, "eden dashboard: {}\n", default_journal.error().message());
    return 2;
  }
  const std::filesystem::path journal =
      args.settings.output.journal.empty() ? *default_journal : std::filesystem::path(args.settings.output.journal);
  auto gather = [&args, journal] {
    web::DashboardView v;
    v.generated_at = UtcNow();
    GatherJournal(journal, v);
    if (!args.broker.empty()) GatherBroker(args.broker, args.queues, args.timeout_s, v);
    return v;
  };
  std::map<std::string, web::Handler> routes;
  routes["/"] = [gather](const web::HttpRequest&) {
    return web::HttpResponse{200, "text/html; charset=utf-8", web::RenderDashboard(gather())};
  };
  routes["/status.json"] = [gather](const web::HttpRequest&) {
    return web::HttpResponse{200, "application/json", web::DashboardJson(gather())};
  };
  routes["/healthz"] = [](const web::HttpRequest&) { return web::HttpResponse{200, "text/plain", "ok\n"}; };
  auto server = web::HttpServer::Start({args.address, args.port, credentials, {"/healthz"}}, std::move(routes));
  if (!server) {
    fmt::print(stderr, "eden dashboard: {}\n", server.error().message());
    return 3;
  }
  struct sigaction stop {};
  stop.sa_handler = OnDashboardSignal;
  sigemptyset(&stop.sa_mask);
  sigaction(SIGINT, &stop, nullptr);
  sigaction(SIGTERM, &stop, nullptr);
  fmt::print("eden dashboard: http://{}:{}/ (journal {}{}{})\n", args.address, (*server)->port(), journal.string(),
             args.broker.empty() ? "" : ", broker " + http::RedactUrl(args.broker),
             credentials.empty() ? "" : ", basic auth");
  std::fflush(stdout);
  while (!g_dashboard_stop) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  (*server)->Stop();
  return 0;
}

}  // namespace eden::cli
