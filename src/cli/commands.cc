#include "cli/commands.h"

#include <fmt/format.h>

#include "cli/config_file.h"
#include "cli/run_command.h"
#include "cli/verify_command.h"
#include "cli/version.h"

namespace eden::cli {

void AddCommands(CLI::App& app, Commands& c) {
  app.set_version_flag("--version", std::string(kVersion));
  app.require_subcommand(1);
  app.fallthrough();  // --config (the app's) also after the subcommand; subcommands inherit it.
  AddConvertCommand(app, c.convert);
  AddRunCommand(app, c.run);
  AddConfigCommand(app, c.show);
  AddVerifyCommand(app, c.verify);
  AddWorkerCommand(app, c.worker);
  AddDeidCommand(app, c.deid);
  AddStatusCommand(app, c.status);
  AddDashboardCommand(app, c.dashboard);
  app.set_config("--config", "",
                 "TOML file of option values, keys = long flag names (below flags and the environment)");
  app.config_formatter(std::make_shared<ConfigFile>(app));
}

int RunCommand(CLI::App& app, Commands& c) {
  if (app.got_subcommand("convert")) return RunConvert(c.convert);
  if (app.got_subcommand("run")) return RunRun(c.run);
  if (app.got_subcommand("config")) {
    fmt::print("{}", ConfigFileText(*app.get_subcommand("config")->get_subcommand("show")));
    return RunConfigShow(c.show);
  }
  if (app.got_subcommand("verify")) return RunVerify(c.verify);
  if (app.got_subcommand("worker")) return RunWorker(c.worker);
  if (app.got_subcommand("deid")) return RunDeid(*app.get_subcommand("deid"), c.deid);
  if (app.got_subcommand("status")) return RunStatus(c.status);
  if (app.got_subcommand("dashboard")) return RunDashboard(c.dashboard);
  return 2;
}

}  // namespace eden::cli
