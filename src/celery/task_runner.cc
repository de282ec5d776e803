// Running one task: exceptions become failures; a time limit abandons a task that runs over.
#include <future>
#include <memory>
#include <thread>

#include <fmt/format.h>

#include "celery/worker.h"

namespace eden::celery {

namespace {
thread_local const std::atomic<bool>* current_task_abandoned = nullptr;
}  // namespace

bool TaskAbandoned() { return current_task_abandoned != nullptr && current_task_abandoned->load(); }

TaskOutcome RunTask(const TaskFunction& fn, const TaskMessage& msg) {
  try {
    return fn(msg);
  } catch (const std::exception& e) {
    return TaskOutcome{false, "null", "RuntimeError", e.what(), std::string("builtins"), std::nullopt};
  } catch (...) {
    return TaskOutcome{false, "null", "RuntimeError", "unknown exception", std::string("builtins"), std::nullopt};
  }
}

TaskOutcome RunWithTimeLimit(TaskFunction fn, TaskMessage msg, double limit_s) {
  if (limit_s <= 0) return RunTask(fn, msg);
  auto promise = std::make_shared<std::promise<TaskOutcome>>();
  auto future = promise->get_future();
  auto abandoned = std::make_shared<std::atomic<bool>>(false);
  // The thread owns everything it uses: the worker (and its registry) may be gone before it ends.
  std::thread([promise, abandoned, fn = std::move(fn), msg = std::move(msg)]() {
    current_task_abandoned = abandoned.get();
    promise->set_value(RunTask(fn, msg));
    current_task_abandoned = nullptr;
  }).detach();
  if (future.wait_for(std::chrono::duration<double>(limit_s)) == std::future_status::timeout) {
    abandoned->store(true);
    return TaskOutcome{false,
                       "null",
                       "TimeLimitExceeded",
                       fmt::format("TimeLimitExceeded({:g},)", limit_s),
                       std::string("celery.exceptions"),
                       std::nullopt};
  }
  return future.get();
}

}  // namespace eden::celery
