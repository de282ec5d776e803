#pragma once

#include <CLI/CLI.hpp>

#include "config/settings.h"
#include "core/error.h"

namespace eden::cli {

/// `eden run` and `eden config show`.
void AddRunCommand(CLI::App& app, config::RunSettings& settings);
void AddConfigCommand(CLI::App& app, config::RunSettings& settings);

/// Exit codes: 0 all stored, 1 some instances failed, 2 bad configuration, 3 the database or
/// the destination unreachable.
int RunRun(const config::RunSettings& settings);
int RunConfigShow(const config::RunSettings& settings);

/// The exit code an aborted run reports: 2 configuration, 3 database or destination
/// unreachable (or credentials refused), 1 anything else.
int ExitCodeFor(const Error& e);

}  // namespace eden::cli
