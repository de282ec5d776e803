#pragma once

#include <CLI/CLI.hpp>

#include "config/settings.h"

namespace eden::cli {

/// `eden run` and `eden config show`.
void AddRunCommand(CLI::App& app, config::RunSettings& settings);
void AddConfigCommand(CLI::App& app, config::RunSettings& settings);

/// Exit codes: 0 all stored, 1 some instances failed, 2 bad configuration, 3 the database or
/// the destination unreachable.
int RunRun(const config::RunSettings& settings);
int RunConfigShow(const config::RunSettings& settings);

}  // namespace eden::cli
