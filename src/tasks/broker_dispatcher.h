#pragma once

#include <cstddef>
#include <functional>
#include <string>

#include "pipeline/run.h"

namespace eden::tasks {

/// Where `eden run --broker` sends a run's rows, and what each task is told.
struct BrokerDispatch {
  std::string broker;          ///< redis://...
  std::string result_backend;  ///< Empty: the broker.
  std::string queue = "celery";
  std::string destination;  ///< A folder (made absolute: workers may start elsewhere) or gs://bucket.
  std::string prefix;       ///< The dataset prefix inside it.
  int quality = 100;
  int max_size = 0;
  std::string window;              ///< "C/W" or empty.
  std::string deid = "off";        ///< deid::Describe of the run's de-identification (workers must match it).
  std::string render = "display";  ///< "display" | "mimic" (imaging::RenderMode).
  /// Called when no result came for 10 s: `done` of `sent` tasks finished (the caller says
  /// whether a worker is listening).
  std::function<void(size_t sent, size_t done)> on_waiting;
};

/// Sends one eden.process_instance task per row to the broker and turns each result back into
/// an outcome; a task that failed on the worker becomes a failed outcome with its reason
/// (a time limit: timeout; anything else: internal).
pipeline::Dispatcher MakeBrokerDispatcher(BrokerDispatch dispatch);

}  // namespace eden::tasks
