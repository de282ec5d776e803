// Results in the backend, acknowledgements, and kombu's restores of unacknowledged messages.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "celery/worker_impl.h"

namespace eden::celery {

void Worker::Impl::StoreResult(RedisConnection& conn, const std::string& task_id, const std::string& doc) {
  const std::string key = "celery-task-meta-" + task_id;
  auto r = conn.Pipeline(
      {{"MULTI"}, {"SETEX", key, std::to_string(opt.result_expires_s), doc}, {"PUBLISH", key, doc}, {"EXEC"}});
  if (!r) Log("ERROR", fmt::format("task {}: storing the result failed: {}", task_id, r.error().message()));
}

void Worker::Impl::StoreFailure(RedisConnection& conn, const std::string& task_id, const std::string& type,
                                const std::string& message, const std::optional<std::string>& module, bool event) {
  const std::string traceback = fmt::format("{}: {}\n", type, message);
  StoreResult(conn, task_id,
              EncodeResult("FAILURE", ExceptionJson(type, message, module), traceback, task_id,
                           FormatDateDone(std::chrono::system_clock::now())));
  if (event) {
    ordered e = EventHead();
    e["uuid"] = task_id;
    e["exception"] = fmt::format("{}({})", type, PythonRepr(json(message).dump()));
    e["traceback"] = traceback;
    Publish(conn, std::move(e), "task-failed");
  }
}

void Worker::Impl::Ack(RedisConnection& conn, const std::string& tag) {
  auto r = conn.Pipeline({{"MULTI"}, {"ZREM", "unacked_index", tag}, {"HDEL", "unacked", tag}, {"EXEC"}});
  if (!r) Log("ERROR", fmt::format("ack of {} failed: {}", tag, r.error().message()));
}

/// Puts a reserved message back at the head of its queue (kombu's restore).
void Worker::Impl::Restore(RedisConnection& conn, const Delivery& d) {
  (void)conn.Pipeline({{"MULTI"},
                       {"ZREM", "unacked_index", d.tag},
                       {"HDEL", "unacked", d.tag},
                       {"RPUSH", d.queue, MarkRedelivered(d.raw)},
                       {"EXEC"}});
}

/// kombu's restore_visible: messages unacked for longer than the visibility timeout go back
/// to their queue (a dead worker's reservations), under the `unacked_mutex` lock.
void Worker::Impl::RestoreVisible(RedisConnection& conn) {
  std::string token = RandomUuid();
  token.erase(std::remove(token.begin(), token.end(), '-'), token.end());
  auto lock = conn.Command({"SET", "unacked_mutex", token, "PX", "300000", "NX"});
  if (!lock || lock->IsNil()) return;
  auto due = conn.Command({"ZREVRANGEBYSCORE", "unacked_index", fmt::format("{:.6f}", Now() - opt.visibility_timeout_s),
                           "0", "WITHSCORES"});
  size_t restored = 0;
  if (due && due->type == RedisReply::Type::kArray) {
    for (size_t i = 0; i + 1 < due->elements.size(); i += 2) {
      const std::string& tag = due->elements[i].str;
      if (!conn.Command({"WATCH", "unacked"})) break;
      auto entry = conn.Command({"HGET", "unacked", tag});
      if (!entry || entry->IsNil()) {
        (void)conn.Command({"UNWATCH"});
        (void)conn.Command({"ZREM", "unacked_index", tag});
        continue;
      }
      auto parts = ParseUnackedEntry(entry->str);
      if (!parts) {
        (void)conn.Command({"UNWATCH"});
        (void)conn.Pipeline({{"MULTI"}, {"ZREM", "unacked_index", tag}, {"HDEL", "unacked", tag}, {"EXEC"}});
        continue;
      }
      const std::string queue = (*parts)[2].empty() ? "celery" : (*parts)[2];
      auto r = conn.Pipeline({{"MULTI"},
                              {"ZREM", "unacked_index", tag},
                              {"HDEL", "unacked", tag},
                              {"RPUSH", queue, MarkRedelivered((*parts)[0])},
                              {"EXEC"}});
      if (r) ++restored;
    }
  }
  (void)conn.Command({"EVAL", kReleaseLock, "1", "unacked_mutex", token});
  if (restored)
    Log("WARNING", fmt::format("restored {} unacknowledged message(s) past the visibility timeout", restored));
}

}  // namespace eden::celery
