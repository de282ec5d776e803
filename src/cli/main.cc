// eden: turns a PACS into training data for vision-language models.
// The composition root: parse the command line, build the adapters, run one command.
#include <CLI/CLI.hpp>

#include "cli/convert_command.h"
#include "cli/version.h"

int main(int argc, char** argv) {
  CLI::App app{"eden: PACS studies -> DICOM + JPEG + report CSV datasets for VLM training"};
  app.set_version_flag("--version", std::string(eden::cli::kVersion));
  app.require_subcommand(1);

  eden::cli::ConvertArgs convert_args;
  eden::cli::AddConvertCommand(app, convert_args);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : 2;  // Usage errors exit 2, as configuration errors do.
  }
  if (app.got_subcommand("convert")) return eden::cli::RunConvert(convert_args);
  return 2;
}
