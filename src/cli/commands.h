#pragma once

#include <CLI/CLI.hpp>

#include "cli/convert_command.h"
#include "cli/dashboard_command.h"
#include "cli/deid_command.h"
#include "cli/status_command.h"
#include "cli/worker_command.h"
#include "config/settings.h"

namespace eden::cli {

/// What the command line parses into: one settings object per subcommand. (CLI11 applies the
/// environment to every subcommand's options, used or not: two subcommands bound to one object
/// let the one not used overwrite the flags of the one used with the environment.)
struct Commands {
  ConvertArgs convert;
  config::RunSettings run;
  config::RunSettings show;  ///< `eden config show`
  config::RunSettings verify;
  WorkerArgs worker;
  DeidArgs deid;
  StatusArgs status;
  DashboardArgs dashboard;
};

/// Adds every subcommand, its options and `--config` to `app`, bound to `commands`.
void AddCommands(CLI::App& app, Commands& commands);

/// Runs the subcommand `app` parsed; returns the exit code.
int RunCommand(CLI::App& app, Commands& commands);

}  // namespace eden::cli
