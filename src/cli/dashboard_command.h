#pragma once

#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "config/settings.h"

namespace eden::cli {

/// `eden dashboard [DEST] --port P [--broker URL]`: a web page of the run writing DEST (its
/// journal) and of the workers on the broker, rendered by eden at each request (refreshes every
/// 5 s); `/status.json` has the same numbers. Basic auth from EDEN_DASHBOARD_USER /
/// EDEN_DASHBOARD_PASSWORD (or the seed's FLOWER_USER / FLOWER_PASSWORD); refuses a non-loopback
/// address without them. Runs until SIGINT/SIGTERM.
struct DashboardArgs {
  config::RunSettings settings;  ///< Where the dataset is (folder or gs://, prefix, --journal).
  std::string address = "127.0.0.1";
  int port = 8555;
  std::string broker;  ///< REDIS_URL / --broker; empty: no workers section.
  std::vector<std::string> queues;
  std::string user, password;
  double timeout_s = 0.5;  ///< Wait for workers' answers per page.
};
void AddDashboardCommand(CLI::App& app, DashboardArgs& args);
int RunDashboard(DashboardArgs& args);

}  // namespace eden::cli
