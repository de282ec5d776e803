// The command line exactly as eden parses it (cli/commands.h): which source wins for every
// option, and --config files.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/config_file.h"

namespace eden::cli {
namespace {

/// A parsed command line: its app and what it parsed into.
struct Parsed {
  std::unique_ptr<CLI::App> app = std::make_unique<CLI::App>("eden");
  std::unique_ptr<Commands> commands = std::make_unique<Commands>();
  Parsed() { AddCommands(*app, *commands); }
  void Parse(std::vector<std::string> args) {
    args.insert(args.begin(), "eden");
    std::vector<const char*> argv;
    for (const auto& a : args) argv.push_back(a.c_str());
    app->parse(static_cast<int>(argv.size()), argv.data());
  }
  CLI::App& Run() { return *app->get_subcommand("run"); }
};

/// Every environment variable eden's options read, unset for the test and restored after.
class CleanEnvironment : public ::testing::Test {
 protected:
  void SetUp() override {
    Parsed p;
    for (const CLI::App* cmd : p.app->get_subcommands({})) {
      for (const CLI::Option* opt : cmd->get_options()) {
        const std::string& name = opt->get_envname();
        if (name.empty() || saved_.count(name)) continue;
        const char* v = std::getenv(name.c_str());
        saved_[name] = v ? std::optional<std::string>(v) : std::nullopt;
        ::unsetenv(name.c_str());
      }
    }
    dir_ = std::filesystem::temp_directory_path() / ("eden-cli-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override {
    for (const auto& [name, value] : saved_) {
      if (value) {
        ::setenv(name.c_str(), value->c_str(), 1);
      } else {
        ::unsetenv(name.c_str());
      }
    }
    std::filesystem::remove_all(dir_);
  }
  std::string Write(const std::string& name, const std::string& text) {
    const auto path = dir_ / name;
    std::ofstream(path) << text;
    return path.string();
  }
  std::map<std::string, std::optional<std::string>> saved_;
  std::filesystem::path dir_;
};

/// Two valid values for an option (the environment's and the flag's).
std::pair<std::string, std::string> ValuesFor(const CLI::Option& opt) {
  const std::string& name = opt.get_lnames().front();
  if (name == "log-level") return {"DEBUG", "ERROR"};
  if (name == "progress") return {"plain", "none"};
  if (name == "db-sslmode") return {"require", "disable"};
  if (name == "deid") return {"off", "basic"};
  if (name == "burned-in") return {"keep", "exclude"};
  if (name == "deid-option") return {"clean-descriptors", "retain-modified-dates"};
  if (name == "split") return {"train=0.5,test=0.5", "a=0.9,b=0.1"};
  if (name == "package") return {"webdataset", "llava"};
  if (name == "render") return {"mimic", "display"};
  if (name == "metrics-port") return {"9101", "9102"};
  if (name == "metrics-linger") return {"5", "30"};
  if (name == "every") return {"1h", "30m"};
  if (name == "lease") return {"60", "120"};
  if (opt.get_type_name() == "INT" || opt.get_type_name() == "UINT") return {"7", "9"};
  return {"env-" + name, "flag-" + name};
}

TEST_F(CleanEnvironment, FlagsBeatTheEnvironmentForEveryOptionOfRun) {
  Parsed probe;
  size_t checked = 0;
  for (const CLI::Option* opt : probe.Run().get_options()) {
    if (opt->get_envname().empty() || opt->get_lnames().empty()) continue;
    const std::string flag = "--" + opt->get_lnames().front();
    const auto [env_value, flag_value] = ValuesFor(*opt);
    SCOPED_TRACE(flag + " / " + opt->get_envname());

    Parsed none;
    none.Parse({"run"});
    // A flag (--incremental) takes no value: the environment says "true".
    const bool is_flag = opt->get_items_expected_max() == 0;
    const std::vector<std::string> with_flag =
        is_flag ? std::vector<std::string>{"run", flag} : std::vector<std::string>{"run", flag, flag_value};
    Parsed flag_only;
    flag_only.Parse(with_flag);
    ::setenv(opt->get_envname().c_str(), is_flag ? "true" : env_value.c_str(), 1);
    Parsed env_only;
    env_only.Parse({"run"});
    Parsed both;
    both.Parse(with_flag);
    ::unsetenv(opt->get_envname().c_str());

    // The bound settings, not just CLI11's record of the option: that is where a subcommand
    // sharing the settings let the environment overwrite the flag.
    const std::string shown_flag = config::Show(flag_only.commands->run);
    EXPECT_EQ(config::Show(both.commands->run), shown_flag);
    EXPECT_EQ(both.commands->run.database.password, flag_only.commands->run.database.password);
    const bool env_used = config::Show(env_only.commands->run) != config::Show(none.commands->run) ||
                          env_only.commands->run.database.password != none.commands->run.database.password;
    EXPECT_TRUE(env_used) << "the environment variable was not read";
    ++checked;
  }
  EXPECT_GE(checked, 15u);  // Database, selection, output, GCS, broker, URL policy...
}

TEST_F(CleanEnvironment, TheIssuesExamplesTakeTheFlag) {
  ::setenv("EDEN_OUTPUT", "/tmp/A", 1);
  ::setenv("EDEN_STUDIES", "2", 1);
  ::setenv("SOURCE_DATABASE_PASS", "from-env", 1);
  ::setenv("SOURCE_DATABASE_PORT", "6543", 1);
  ::setenv("SOURCE_DATABASE_HOST", "env-host", 1);
  Parsed p;
  p.Parse({"run", "-o", "/tmp/B", "--studies", "1", "--db-password", "wrong", "--db-port", "1", "--db-host", "h"});
  const auto& s = p.commands->run;
  EXPECT_EQ(s.output.destination, "/tmp/B");
  EXPECT_EQ(s.selection.studies, 1);
  EXPECT_EQ(s.database.password, "wrong");
  EXPECT_EQ(s.database.port, 1);
  EXPECT_EQ(s.database.host, "h");
  Parsed show;
  show.Parse({"config", "show", "--studies", "1"});
  EXPECT_EQ(show.commands->show.selection.studies, 1);
}

TEST_F(CleanEnvironment, ConfigFileSitsBelowFlagsAndTheEnvironment) {
  const std::string file = Write("eden.toml", "studies = 5\noutput = \"/tmp/from-config\"\nseed = \"cfg\"\n");
  ::setenv("EDEN_STUDIES", "3", 1);
  Parsed p;
  p.Parse({"run", "--config", file, "--seed", "flag"});               // --config after the subcommand.
  EXPECT_EQ(p.commands->run.selection.studies, 3);                    // environment > config
  EXPECT_EQ(p.commands->run.output.destination, "/tmp/from-config");  // config > default
  EXPECT_EQ(p.commands->run.selection.seed, "flag");                  // flag > config
  Parsed before;
  before.Parse({"--config", file, "run"});  // and before it
  EXPECT_EQ(before.commands->run.output.destination, "/tmp/from-config");
}

TEST_F(CleanEnvironment, ConfigFileTakesSectionsAndTheSeedsNames) {
  const std::string file = Write("eden.toml",
                                 "SOURCE_DATABASE_HOST = \"pacs.example\"\n"
                                 "page_size = 50\n"
                                 "[worker]\nconcurrency = 3\n"
                                 "[run]\nquality = 90\n");
  Parsed p;
  p.Parse({"run", "--config", file});
  EXPECT_EQ(p.commands->run.database.host, "pacs.example");
  EXPECT_EQ(p.commands->run.selection.page_size, 50);
  EXPECT_EQ(p.commands->run.convert.quality, 90);
}

TEST_F(CleanEnvironment, UnknownConfigKeysAreErrorsThatNameTheClosestKey) {
  const std::string file = Write("eden.toml", "studis = 4\n");
  Parsed p;
  try {
    p.Parse({"run", "--config", file});
    FAIL() << "an unknown key was accepted";
  } catch (const CLI::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("did you mean 'studies'"), std::string::npos) << e.what();
  }
}

TEST_F(CleanEnvironment, ConfigShowPrintsAFileThatLoadsBack) {
  Parsed show;
  show.Parse({"config", "show", "--studies", "3", "--seed", "x y \"z\"", "--all-studies", "--allow-url",
              "https://a.example/,https://b.example/", "--db-password", "secret", "-q", "90", "--fresh"});
  const std::string text = ConfigFileText(*show.app->get_subcommand("config")->get_subcommand("show"));
  EXPECT_EQ(text.find("secret"), std::string::npos) << text;
  Parsed run;
  run.Parse({"run", "--config", Write("shown.toml", text), "--db-password", "secret"});
  EXPECT_EQ(config::Show(run.commands->run), config::Show(show.commands->show));
  EXPECT_TRUE(run.commands->run.selection.all_studies);
  EXPECT_EQ(run.commands->run.fetch.allow_urls, (std::vector<std::string>{"https://a.example/", "https://b.example/"}));
}

}  // namespace
}  // namespace eden::cli
