#pragma once

#include <string>

#include <CLI/CLI.hpp>

#include "celery/worker.h"
#include "config/settings.h"

namespace eden::cli {

struct WorkerArgs {
  celery::WorkerOptions worker;
  std::string queues = "celery";     ///< Comma-separated.
  config::RunSettings settings;      ///< Download, GCS and conversion settings the tasks use.
  int cpu_slots = 0;                 ///< Conversions at once; 0: one per core.
  int broker_connect_retries = 100;  ///< Tries to reach a broker that is not up yet.
};

/// `eden worker`: a Celery worker over Redis (docs/worker.md).
void AddWorkerCommand(CLI::App& app, WorkerArgs& args);
int RunWorker(WorkerArgs& args);

}  // namespace eden::cli
