#pragma once

#include <CLI/CLI.hpp>

#include "config/settings.h"

namespace eden::cli {

/// `eden verify [DEST]`: checks that every object the dataset's CSV names exists at DEST with
/// its recorded size and CRC-32C.
void AddVerifyCommand(CLI::App& app, config::RunSettings& settings);
int RunVerify(const config::RunSettings& settings);

}  // namespace eden::cli
