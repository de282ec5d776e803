#include "cli/verify_command.h"

#include <fmt/format.h>

#include "cli/run_command.h"
#include "cli/store_factory.h"
#include "config/cli_options.h"
#include "pipeline/verify.h"

namespace eden::cli {

void AddVerifyCommand(CLI::App& app, config::RunSettings& settings) {
  CLI::App* verify =
      app.add_subcommand("verify", "Check that every object the dataset's CSV names exists with its recorded hash");
  verify->add_option("destination", settings.output.destination, "Folder or gs://bucket[/prefix] (default --output)")
      ->each([&settings](const std::string&) { settings.output.destination_given = true; });
  config::AddOutputOptions(*verify, settings.output);
  verify->add_option("--ca-file", settings.fetch.ca_file, "Extra CA bundle for https");
}

int RunVerify(const config::RunSettings& s) {
  auto opened = OpenStore(s);
  if (!opened) {
    fmt::print(stderr, "eden verify: {}\n", opened.error().message());
    return 2;
  }
  pipeline::DatasetLayout layout;
  layout.prefix = opened->prefix;
  layout.csv_name = s.output.csv_name;
  fmt::print("eden verify: {}\n", opened->describe);
  auto report = pipeline::VerifyDataset(*opened->store, layout);
  if (!report) {
    fmt::print(stderr, "eden verify: {}\n", report.error().message());
    return report.error().code() == ErrorCode::kNotFound ? 1 : ExitCodeFor(report.error());
  }
  for (const auto& p : report->problems) fmt::print("  {}\n", p);
  fmt::print("eden verify: {} rows ({} failed in the run), {} objects named, {} present and matching, {} problems\n",
             report->rows, report->failed_rows, report->objects, report->ok, report->problems.size());
  return report->problems.empty() ? 0 : 1;
}

}  // namespace eden::cli
