#include "cli/config_file.h"

#include <algorithm>
#include <cstdlib>

#include <fmt/format.h>

namespace eden::cli {
namespace {

/// The subcommand that was parsed (deepest), and its path of names from the app.
const CLI::App* UsedCommand(const CLI::App& app, std::vector<std::string>& path) {
  const CLI::App* at = &app;
  for (;;) {
    const auto used = at->get_subcommands();
    if (used.empty()) return at;
    at = used.front();
    path.push_back(at->get_name());
  }
}

size_t EditDistance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = up;
    }
  }
  return row[b.size()];
}

const CLI::Option* FindOption(const CLI::App& command, const std::string& key) {
  std::string name = key;
  std::replace(name.begin(), name.end(), '_', '-');
  for (const CLI::Option* opt : command.get_options()) {
    const auto& lnames = opt->get_lnames();
    if (std::find(lnames.begin(), lnames.end(), name) != lnames.end()) return opt;
    if (!opt->get_envname().empty() && opt->get_envname() == key) return opt;
  }
  return nullptr;
}

std::string Closest(const CLI::App& command, const std::string& key) {
  std::string best;
  size_t best_distance = SIZE_MAX;
  for (const CLI::Option* opt : command.get_options()) {
    for (const std::string& name : opt->get_lnames()) {
      const size_t d = EditDistance(key, name);
      if (d < best_distance) best_distance = d, best = name;
    }
  }
  return best_distance <= std::max<size_t>(2, key.size() / 3) ? best : std::string();
}

/// Secrets are never printed: the database password, the Sentry DSN (it holds a key), and broker
/// URLs that hold one.
bool IsSecret(const std::string& name, const std::vector<std::string>& values) {
  if (name == "db-password" || name == "sentry-dsn") return true;
  if (name != "broker" && name != "result-backend") return false;
  return std::any_of(values.begin(), values.end(), [](const std::string& v) { return v.find('@') != v.npos; });
}

std::string Quote(const std::string& v) {
  std::string out = "\"";
  for (char c : v) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

}  // namespace

std::string Suggestions(const CLI::App& app, int argc, const char* const* argv) {
  std::string out;
  const CLI::App* command = &app;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--") break;
    if (arg.rfind("--", 0) == 0) {
      const std::string name =
          arg.substr(2, arg.find('=') == std::string::npos ? std::string::npos : arg.find('=') - 2);
      if (FindOption(*command, name) || FindOption(app, name)) continue;
      if (const std::string hint = Closest(*command, name); !hint.empty()) {
        out += fmt::format("eden: unknown option --{}: did you mean --{}?\n", name, hint);
      }
      continue;
    }
    if (arg[0] == '-' || command != &app) continue;
    // The first word is the subcommand.
    const CLI::App* found = nullptr;
    std::string best;
    size_t best_distance = SIZE_MAX;
    for (const CLI::App* sub : app.get_subcommands({})) {
      if (sub->get_name() == arg) found = sub;
      const size_t d = EditDistance(arg, sub->get_name());
      if (d < best_distance) best_distance = d, best = sub->get_name();
    }
    if (found) {
      command = found;
    } else if (best_distance <= 2) {
      out += fmt::format("eden: unknown command {}: did you mean {}?\n", arg, best);
      break;
    }
  }
  return out;
}

std::vector<CLI::ConfigItem> ConfigFile::from_config(std::istream& input) const {
  std::vector<std::string> used_path;
  const CLI::App* used = UsedCommand(app_, used_path);
  std::vector<CLI::ConfigItem> out;
  for (CLI::ConfigItem item : CLI::ConfigTOML::from_config(input)) {
    if (item.name == "++" || item.name == "--") continue;  // Section markers.
    // A section for another subcommand: not this run's business.
    if (!item.parents.empty() && item.parents != used_path) continue;
    const CLI::Option* opt = FindOption(*used, item.name);
    if (opt == nullptr || opt->get_lnames().empty() || opt->get_lnames().front() == "config") {
      const std::string hint = Closest(*used, item.name);
      throw CLI::ConfigError(fmt::format("--config: unknown key '{}' for eden {}{}", item.name,
                                         fmt::join(used_path, " "),
                                         hint.empty() ? "" : fmt::format(" (did you mean '{}'?)", hint)));
    }
    if (!opt->get_envname().empty() && std::getenv(opt->get_envname().c_str()) != nullptr) continue;
    item.parents = used_path;
    item.name = opt->get_lnames().front();
    out.push_back(std::move(item));
  }
  return out;
}

std::string ConfigFileText(const CLI::App& command) {
  std::string out = "# eden settings as a --config file (keys are the long flag names). Secrets are not printed.\n";
  for (const CLI::Option* opt : command.get_options()) {
    if (opt->get_lnames().empty()) continue;
    const std::string& name = opt->get_lnames().front();
    if (name == "help" || name == "config") continue;
    if (opt->get_expected_max() == 0) {  // A flag.
      out += fmt::format("{} = {}\n", name, opt->count() > 0 ? "true" : "false");
      continue;
    }
    std::vector<std::string> values = opt->results();
    if (values.empty() && !opt->get_default_str().empty()) values = {opt->get_default_str()};
    if (values.empty()) {
      out += fmt::format("# {} =\n", name);
      continue;
    }
    if (IsSecret(name, values)) {
      out += fmt::format("# {} = (set; not shown)\n", name);
      continue;
    }
    std::vector<std::string> quoted;
    quoted.reserve(values.size());
    for (const auto& v : values) quoted.push_back(Quote(v));
    if (opt->get_expected_max() > 1 || values.size() > 1) {
      out += fmt::format("{} = [{}]\n", name, fmt::join(quoted, ", "));
    } else {
      out += fmt::format("{} = {}\n", name, quoted.front());
    }
  }
  return out;
}

}  // namespace eden::cli
