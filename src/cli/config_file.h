#pragma once

#include <memory>
#include <string>

#include <CLI/CLI.hpp>

namespace eden::cli {

/// `--config FILE`: a TOML (or INI) file of option values, below flags and the environment.
/// - Keys are the long flag names (`studies = 8`, `db-host = "pacs"`, `allow-url = ["a", "b"]`),
///   `_` for `-` allowed, or the seed's environment names (`SOURCE_DATABASE_HOST = "pacs"`).
/// - Keys at the top level apply to the subcommand that runs; `[run]`, `[worker]`, `[verify]`,
///   `[config.show]` sections to that subcommand only, so one file can serve several.
/// - A key whose option's environment variable is set (the environment or `.env`) is ignored:
///   flags > environment > .env > --config > defaults.
/// - An unknown key is an error that names the closest known one.
/// `eden config show` prints a file in this format.
class ConfigFile final : public CLI::ConfigTOML {
 public:
  explicit ConfigFile(const CLI::App& app) : app_(app) {}
  std::vector<CLI::ConfigItem> from_config(std::istream& input) const override;

 private:
  const CLI::App& app_;
};

/// For a command line CLI11 refused: "did you mean ..." lines for each mistyped subcommand or
/// long option (the closest known name), empty when there is nothing close.
std::string Suggestions(const CLI::App& app, int argc, const char* const* argv);

/// The settings of `command` (a parsed subcommand) as a config file ConfigFile reads: every
/// option with a long name, unset ones and secrets commented out.
std::string ConfigFileText(const CLI::App& command);

}  // namespace eden::cli
