#include "cli/verify_command.h"

#include <algorithm>
#include <filesystem>

#include <fmt/format.h>

#include "cli/run_command.h"
#include "cli/store_factory.h"
#include "config/cli_options.h"
#include "pipeline/verify.h"

namespace eden::cli {

void AddVerifyCommand(CLI::App& app, config::RunSettings& settings) {
  CLI::App* verify = app.add_subcommand(
      "verify",
      "Check every object the dataset's CSV names (present, size, CRC-32C) and report objects it does not name");
  auto& o = settings.output;
  verify
      ->add_option("destination", o.destination,
                   "The output folder, the dataset folder itself, or gs://bucket[/prefix] (default --output)")
      ->each([&o](const std::string&) { o.destination_given = true; });
  verify->add_option("-o,--output", o.destination, "Same as the positional argument")
      ->envname("EDEN_OUTPUT")
      ->each([&o](const std::string&) { o.destination_given = true; });
  verify->add_option("--prefix", o.prefix, "Dataset prefix inside the output")
      ->envname("EDEN_PREFIX")
      ->capture_default_str();
  verify->add_option("--csv-name", o.csv_name, "CSV file name")->capture_default_str();
  verify->add_option("--gcs-bucket", o.gcs_bucket, "With no destination: gs://BUCKET/<prefix>")
      ->envname("GCS_BUCKET_NAME");
  verify->add_option("--gcs-credentials", o.gcs_credentials, "GCS credentials file")->envname("GCS_CREDENTIALS_PATH");
  verify->add_option("--gcs-endpoint", o.gcs_endpoint, "GCS JSON API endpoint")->envname("EDEN_GCS_ENDPOINT");
  verify->add_option("--ca-file", settings.fetch.ca_file, "Extra CA bundle for https");
}

int RunVerify(const config::RunSettings& given) {
  config::RunSettings s = given;
  // The dataset folder itself (its CSV right there): verify it with no prefix.
  const std::string destination = config::EffectiveDestination(s);
  std::error_code ec;
  if (!config::IsGcs(destination) &&
      std::filesystem::exists(std::filesystem::path(destination) / s.output.csv_name, ec)) {
    s.output.prefix.clear();
  }
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
    // No dataset there: nothing to verify (2); a destination that cannot be read: 3.
    fmt::print(stderr, "eden verify: {}\n", report.error().message());
    const ErrorCode code = report.error().code();
    return code == ErrorCode::kNotFound || code == ErrorCode::kInvalidArgument ? 2 : ExitCodeFor(report.error());
  }
  for (const auto& p : report->problems) fmt::print("  {}\n", p);
  for (const auto& uri : report->unnamed_examples) fmt::print("  not in the CSV: {}\n", uri);
  if (report->unnamed > report->unnamed_examples.size()) {
    fmt::print("  ... and {} more objects not in the CSV\n", report->unnamed - report->unnamed_examples.size());
  }
  fmt::print(
      "eden verify: {} rows ({} failed in the run), {} objects named, {} present and matching, {} not named "
      "by the CSV, {} problems\n",
      report->rows, report->failed_rows, report->objects, report->ok, report->unnamed, report->ProblemCount());
  return report->ProblemCount() == 0 ? 0 : 1;
}

}  // namespace eden::cli
