#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "celery/protocol.h"
#include "core/result.h"

namespace eden::celery {

/// `eden worker` settings (Celery's names where Celery has one).
struct WorkerOptions {
  std::string broker_url = "redis://127.0.0.1:6379/0";
  std::string backend_url;                    ///< Empty: the broker URL.
  std::vector<std::string> queues{"celery"};  ///< BRPOPed in this order, each with its priority bands.
  int concurrency = 1;                        ///< Tasks run at once.
  std::string hostname;                       ///< Node name "name@host"; empty: eden@<hostname>.
  bool events = false;                        ///< -E: task and worker events (what Flower reads).
  int prefetch_multiplier = 4;                ///< Messages reserved = concurrency x this.
  double visibility_timeout_s = 3600;         ///< Unacked messages older than this are restored.
  double time_limit_s = 0;                    ///< Hard limit per task; 0: only the message's own.
  int result_expires_s = 86400;
  size_t max_message_bytes = size_t{16} << 20;
  double heartbeat_s = 2.0;
  bool track_started = false;  ///< Store a STARTED result when a task begins (task_track_started).
  int max_retries = 3;         ///< A task asking to retry is retried this many times, then FAILURE.
};

/// What a task function returns: a JSON result, or an exception for the FAILURE document.
struct TaskOutcome {
  bool ok = true;
  std::string result_json = "null";
  std::string exc_type, exc_message;
  std::optional<std::string> exc_module;  ///< nullopt: the client creates a class of that name.
  /// With !ok: retry in this many seconds (Celery's self.retry(countdown=...)): the worker stores
  /// RETRY, re-sends the message with retries + 1 and an ETA, until max_retries.
  std::optional<double> retry_in_s;
};
using TaskFunction = std::function<TaskOutcome(const TaskMessage&)>;
using TaskRegistry = std::map<std::string, TaskFunction>;

/// Runs `fn(msg)`; an exception becomes a RuntimeError failure (never the worker's end).
TaskOutcome RunTask(const TaskFunction& fn, const TaskMessage& msg);

/// Runs a task under a hard time limit in seconds (<= 0: none, on the calling thread). A thread
/// cannot be killed: past the limit this returns TimeLimitExceeded and abandons the task, which
/// goes on on a detached thread owning copies of `fn` (and so of what it captured) and `msg`;
/// inside it TaskAbandoned() turns true, so it can stop at its next step and free what it holds
/// (a conversion slot); its result is dropped.
TaskOutcome RunWithTimeLimit(TaskFunction fn, TaskMessage msg, double limit_s);

/// True inside a task that RunWithTimeLimit abandoned; false elsewhere.
bool TaskAbandoned();

/// Logging hook: level ("INFO", "WARNING", "ERROR") and a line without PHI.
using WorkerLog = std::function<void(const char* level, const std::string& line)>;

/// What a worker is doing, for /metrics and /healthz.
struct WorkerStats {
  bool consuming = false;  ///< Connected and polling its queues (false before start, on a broker error, at shutdown).
  int active = 0;          ///< Tasks running.
  int reserved = 0;        ///< Messages taken from the queues and not yet acknowledged.
  long long processed = 0;
  /// Finished tasks by (task name, "succeeded" | "failed" | "retried").
  std::map<std::pair<std::string, std::string>, long long> finished;
};

/// A Celery worker on the wire (docs/worker.md; captures in tests/data/celery): BRPOPs the queues' priority
/// bands, emulates kombu's acks (`unacked`, `unacked_index`, visibility-timeout restore under
/// `unacked_mutex`), acknowledges late (after the result is stored), writes results to the
/// backend (SETEX + PUBLISH), publishes events, answers remote control (ping, active, reserved,
/// scheduled, revoked, registered, stats, active_queues, hello; revoke), holds ETA tasks, and on
/// `stop` shuts down warm: finishes running tasks, puts back what it reserved, worker-offline.
/// A message that cannot be decoded is logged, answered with FAILURE when its task id is known,
/// and removed: it never stops the worker.
class Worker {
 public:
  Worker(WorkerOptions options, TaskRegistry tasks, WorkerLog log);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  /// Runs until `stop` becomes true (a signal handler sets it), then shuts down warm.
  /// kUnavailable if Redis cannot be reached at start.
  Status Run(const std::atomic<bool>& stop);

  const std::string& node() const;
  /// @par Thread-safety
  /// May be called from any thread while Run runs.
  WorkerStats Stats() const;

 private:
  struct Impl;
  Impl* impl_;
};

/// Seconds since the epoch of an ISO-8601 time with offset or Z ("2026-11-24T21:55:36.792378+00:00");
/// nullopt if it is not one. Pure.
std::optional<double> ParseIsoTime(std::string_view text);

}  // namespace eden::celery
