// eden: turns a PACS into training data for vision-language models.
// The composition root: parse the command line, build the adapters, run one command.
#include <malloc.h>

#include <cstdio>
#include <cstdlib>

#include <CLI/CLI.hpp>

#include "cli/convert_command.h"
#include "cli/run_command.h"
#include "cli/verify_command.h"
#include "cli/version.h"
#include "cli/worker_command.h"
#include "config/settings.h"

int main(int argc, char** argv) {
  // Frames and downloads are 5-30 MB buffers, allocated and freed per image. glibc's defaults
  // hand each back to the kernel and fault it in again next image (7.7 M page faults and 25 s
  // of system time per 1,000 radiographs). Keep them in the process. One arena: in `eden run` a
  // download buffer is allocated on a download thread and freed on a store thread, and glibc
  // unmaps a secondary arena's whole heap once it empties, whatever the trim threshold (1.5 M
  // page faults per 1,000 radiographs with 4 arenas, 0.09 M with one; a few large allocations
  // per image do not contend on its lock). Measured: bench/RESULTS.md.
  mallopt(M_MMAP_THRESHOLD, 64 << 20);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  mallopt(M_ARENA_MAX, 1);

  CLI::App app{"eden: PACS studies -> DICOM + JPEG + report CSV datasets for VLM training"};
  app.set_version_flag("--version", std::string(eden::cli::kVersion));
  app.require_subcommand(1);

  eden::cli::ConvertArgs convert_args;
  eden::cli::AddConvertCommand(app, convert_args);
  // One settings object per subcommand: CLI11 applies the environment to every subcommand's
  // options, so two subcommands bound to one object let the environment of the one not used
  // overwrite the flags of the one used (EDEN_OUTPUT=A eden run -o B wrote to A).
  eden::config::RunSettings run_settings;
  eden::cli::AddRunCommand(app, run_settings);
  eden::config::RunSettings show_settings;
  eden::cli::AddConfigCommand(app, show_settings);
  eden::config::RunSettings verify_settings;
  eden::cli::AddVerifyCommand(app, verify_settings);
  eden::cli::WorkerArgs worker_args;
  eden::cli::AddWorkerCommand(app, worker_args);
  app.set_config("--config", "", "TOML or INI file with option values (below flags and the environment)");

  // A .env in the working directory (or EDEN_ENV_FILE) fills variables the environment lacks:
  // flags > environment > .env > --config file > defaults.
  const char* env_file = std::getenv("EDEN_ENV_FILE");
  const auto dotenv = eden::config::LoadDotEnv(env_file ? env_file : ".env");
  for (const auto& problem : dotenv.errors) std::fprintf(stderr, "eden: %s\n", problem.c_str());

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : 2;  // Usage errors exit 2, as configuration errors do.
  }
  if (app.got_subcommand("convert")) return eden::cli::RunConvert(convert_args);
  if (app.got_subcommand("run")) return eden::cli::RunRun(run_settings);
  if (app.got_subcommand("config")) return eden::cli::RunConfigShow(show_settings);
  if (app.got_subcommand("verify")) return eden::cli::RunVerify(verify_settings);
  if (app.got_subcommand("worker")) return eden::cli::RunWorker(worker_args);
  return 2;
}
