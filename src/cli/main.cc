// eden: turns a PACS into training data for vision-language models.
// The composition root: parse the command line, build the adapters, run one command.
#include <malloc.h>

#include <cstdio>
#include <cstdlib>

#include <CLI/CLI.hpp>

#include "cli/commands.h"
#include "cli/config_file.h"
#include "config/settings.h"

namespace {

int Main(int argc, char** argv) {
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
  eden::cli::Commands commands;
  eden::cli::AddCommands(app, commands);

  // A .env in the working directory (or EDEN_ENV_FILE) fills variables the environment lacks:
  // flags > environment > .env > --config file > defaults.
  const char* env_file = std::getenv("EDEN_ENV_FILE");
  const auto dotenv = eden::config::LoadDotEnv(env_file ? env_file : ".env");
  for (const auto& problem : dotenv.errors) std::fprintf(stderr, "eden: %s\n", problem.c_str());

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    std::fputs(eden::cli::Suggestions(app, argc, argv).c_str(), stderr);
    const int rc = app.exit(e);
    return rc == 0 ? 0 : 2;  // Usage errors exit 2, as configuration errors do.
  }
  return eden::cli::RunCommand(app, commands);
}

}  // namespace

int main(int argc, char** argv) {
  // Failures are values everywhere below; an exception reaching here is a bug (or memory running
  // out): say so plainly instead of aborting. The journal keeps what finished; a rerun resumes.
  try {
    return Main(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "eden: internal error: %s\n", e.what());
  } catch (...) {
    std::fprintf(stderr, "eden: internal error: unknown exception\n");
  }
  return 70;  // EX_SOFTWARE
}
