#pragma once
// Internal to the celery module: the worker's state and the declarations its files share
// (worker.cc: consuming, running, timers; worker_acks.cc: results, acks, restores;
// worker_events.cc: the event stream; worker_control.cc: remote control; task_runner.cc: running
// one task under a time limit). Not part of the module's interface: include worker.h.

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "celery/protocol.h"
#include "celery/redis.h"
#include "celery/worker.h"
#include "core/host.h"

namespace eden::celery {

using ordered = nlohmann::ordered_json;
using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

inline constexpr const char* kSep = "\x06\x16";
inline constexpr const char* kReleaseLock =
    "local token = redis.call('get', KEYS[1]) if not token or token ~= ARGV[1] then return 0 end "
    "redis.call('del', KEYS[1]) return 1";

inline double Now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

inline std::string QueueOfKey(const std::string& key) { return key.substr(0, key.find(kSep)); }

/// One reserved message.
struct Delivery {
  TaskMessage msg;
  std::string raw;  ///< The envelope as popped, for the unacked hash and restores.
  std::string tag;
  std::string queue;
  double eta = 0;  ///< Epoch seconds; 0 = now.
  double received = 0;
};

struct Worker::Impl {
  WorkerOptions opt;
  TaskRegistry tasks;
  WorkerLog log;
  RedisUrl broker, backend;
  std::string node;
  int pid = static_cast<int>(::getpid());
  double started = Now();

  std::mutex mu;
  std::condition_variable cv;
  std::deque<Delivery> ready;
  std::vector<Delivery> scheduled;
  std::map<std::string, Delivery> active;  // task id -> running
  std::map<std::string, double> active_start;
  std::set<std::string> revoked;
  std::map<std::string, long long> total;  // per task name
  bool draining = false;
  std::atomic<int> reserved{0};
  std::atomic<long long> processed{0};
  std::atomic<long long> clock{0};
  std::atomic<bool> stopping{false};
  std::atomic<bool> consuming{false};
  std::map<std::pair<std::string, std::string>, long long> finished;  // (task, state), under mu

  void Log(const char* level, const std::string& line) {
    if (log) log(level, line);
  }

  // ---- events (worker_events.cc)
  ordered EventHead();
  void Publish(RedisConnection& conn, ordered event, const std::string& type);
  void WorkerEvent(RedisConnection& conn, const std::string& type);

  // ---- results and acks (worker_acks.cc)
  void StoreResult(RedisConnection& conn, const std::string& task_id, const std::string& doc);
  void StoreFailure(RedisConnection& conn, const std::string& task_id, const std::string& type,
                    const std::string& message, const std::optional<std::string>& module, bool event = true);
  void Ack(RedisConnection& conn, const std::string& tag);
  /// Puts a reserved message back at the head of its queue (kombu's restore).
  void Restore(RedisConnection& conn, const Delivery& d);
  /// kombu's restore_visible: messages unacked for longer than the visibility timeout go back
  /// to their queue (a dead worker's reservations), under the `unacked_mutex` lock.
  void RestoreVisible(RedisConnection& conn);

  // ---- receiving (worker.cc)
  void Receive(RedisConnection& conn, RedisConnection& results, const std::string& key, std::string raw);
  void ReleaseDue();

  // ---- running (worker.cc)
  TaskOutcome Execute(const Delivery& d);
  void ExecutorLoop();

  // ---- remote control (worker_control.cc)
  ordered RequestInfo(const Delivery& d, std::optional<double> start, bool acknowledged);
  std::optional<std::string> Control(const PidboxRequest& q);
  void PidboxLoop();

  // ---- timers: heartbeats and restores (worker.cc)
  void TimerLoop();
};

}  // namespace eden::celery
