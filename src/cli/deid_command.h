#pragma once

#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "config/settings.h"
#include "core/result.h"
#include "deid/deidentifier.h"

namespace eden::cli {

/// The de-identification a command runs with: nullptr for `--deid off`. Errors (exit 2): no
/// key (the message says how to make one), an unreadable or malformed key, an unknown option.
/// The key's text never appears in a message.
Result<std::shared_ptr<const deid::Config>> MakeDeidConfig(const config::DeidSettings& settings);

/// `eden deid keygen [--out FILE]`.
struct DeidArgs {
  std::string out;  ///< Empty: the key goes to stdout.
};
void AddDeidCommand(CLI::App& app, DeidArgs& args);
int RunDeid(CLI::App& deid_command, DeidArgs& args);

}  // namespace eden::cli
