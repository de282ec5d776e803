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

/// `eden deid keygen [--out FILE]` and `eden deid check DEST [--identifiers FILE]`.
struct DeidArgs {
  std::string out;               ///< keygen: empty, the key goes to stdout.
  config::RunSettings check;     ///< check: where the dataset is (folder or gs://, prefix, GCS).
  std::string identifiers_file;  ///< check: identifiers to look for, one a line.
};
void AddDeidCommand(CLI::App& app, DeidArgs& args);
int RunDeid(CLI::App& deid_command, DeidArgs& args);

}  // namespace eden::cli
