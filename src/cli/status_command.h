#pragma once

#include <CLI/CLI.hpp>

#include "config/settings.h"

namespace eden::cli {

/// `eden status [DEST] [--json]`: where the run writing DEST is, from its journal (read-only,
/// beside a run that is writing it): the frozen sample, stored, failed by code, excluded,
/// pending, the rate over the last minute and an ETA. Exit 2 when DEST has no journal.
/// With `--broker URL`: also the queue depths and the workers that answer ping, with their
/// active tasks (then a missing journal is not an error).
struct StatusArgs {
  config::RunSettings settings;  ///< Where the dataset is (folder or gs://, prefix, --journal).
  bool json = false;
  std::string broker;
  std::vector<std::string> queues;
  double timeout_s = 1.0;
};
void AddStatusCommand(CLI::App& app, StatusArgs& args);
int RunStatus(const StatusArgs& args);

}  // namespace eden::cli
