#include "celery/worker.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <ctime>
#include <deque>
#include <future>
#include <mutex>
#include <set>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "celery/redis.h"
#include "core/thread_group.h"

namespace eden::celery {
namespace {

using ordered = nlohmann::ordered_json;
using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr const char* kSep = "\x06\x16";
constexpr const char* kReleaseLock =
    "local token = redis.call('get', KEYS[1]) if not token or token ~= ARGV[1] then return 0 end "
    "redis.call('del', KEYS[1]) return 1";

double Now() { return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count(); }

std::string QueueOfKey(const std::string& key) { return key.substr(0, key.find(kSep)); }

std::string HostName() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0) return "localhost";
  return buf;
}

/// One reserved message.
struct Delivery {
  TaskMessage msg;
  std::string raw;  ///< The envelope as popped, for the unacked hash and restores.
  std::string tag;
  std::string queue;
  double eta = 0;  ///< Epoch seconds; 0 = now.
  double received = 0;
};

}  // namespace

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

std::optional<double> ParseIsoTime(std::string_view text) {
  int y, mo, d, h, mi;
  double s;
  char rest[32] = {};
  const std::string t(text.substr(0, 60));
  if (std::sscanf(t.c_str(), "%d-%d-%dT%d:%d:%lf%31s", &y, &mo, &d, &h, &mi, &s, rest) < 6) return std::nullopt;
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  double epoch = static_cast<double>(timegm(&tm)) + s;
  const std::string offset = rest;
  if (!offset.empty() && offset != "Z") {
    int oh = 0, om = 0;
    const char sign = offset[0];
    if ((sign != '+' && sign != '-') || std::sscanf(offset.c_str() + 1, "%d:%d", &oh, &om) < 1) return std::nullopt;
    const double shift = oh * 3600.0 + om * 60.0;
    epoch += sign == '+' ? -shift : shift;
  }
  return epoch;
}

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

  // ---- events -------------------------------------------------------------------------------
  ordered EventHead() {
    ordered e;
    e["hostname"] = node;
    e["utcoffset"] = 0;
    e["pid"] = pid;
    e["clock"] = ++clock;
    return e;
  }
  void Publish(RedisConnection& conn, ordered event, const std::string& type) {
    if (!opt.events) return;
    event["timestamp"] = Now();
    event["type"] = type;
    std::string rk = type;
    for (auto& c : rk) c = c == '-' ? '.' : c;
    const std::string channel = fmt::format("/{}.celeryev/{}", broker.db, rk);
    (void)conn.Command({"PUBLISH", channel, EncodeEventEnvelope(node, rk, event.dump())});
  }
  void WorkerEvent(RedisConnection& conn, const std::string& type) {
    ordered e = EventHead();
    e["freq"] = opt.heartbeat_s;
    {
      std::lock_guard lock(mu);
      e["active"] = active.size();
    }
    e["processed"] = processed.load();
    double load[3] = {0, 0, 0};
    if (::getloadavg(load, 3) != 3) load[0] = load[1] = load[2] = 0;
    e["loadavg"] = {std::round(load[0] * 100) / 100, std::round(load[1] * 100) / 100, std::round(load[2] * 100) / 100};
    e["sw_ident"] = "eden-etl";
    e["sw_ver"] = "0.1";
    e["sw_sys"] = "Linux";
    Publish(conn, std::move(e), type);
  }

  // ---- results and acks ---------------------------------------------------------------------
  void StoreResult(RedisConnection& conn, const std::string& task_id, const std::string& doc) {
    const std::string key = "celery-task-meta-" + task_id;
    auto r = conn.Pipeline(
        {{"MULTI"}, {"SETEX", key, std::to_string(opt.result_expires_s), doc}, {"PUBLISH", key, doc}, {"EXEC"}});
    if (!r) Log("ERROR", fmt::format("task {}: storing the result failed: {}", task_id, r.error().message()));
  }
  void StoreFailure(RedisConnection& conn, const std::string& task_id, const std::string& type,
                    const std::string& message, const std::optional<std::string>& module, bool event = true) {
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
  void Ack(RedisConnection& conn, const std::string& tag) {
    auto r = conn.Pipeline({{"MULTI"}, {"ZREM", "unacked_index", tag}, {"HDEL", "unacked", tag}, {"EXEC"}});
    if (!r) Log("ERROR", fmt::format("ack of {} failed: {}", tag, r.error().message()));
  }
  /// Puts a reserved message back at the head of its queue (kombu's restore).
  void Restore(RedisConnection& conn, const Delivery& d) {
    (void)conn.Pipeline({{"MULTI"},
                         {"ZREM", "unacked_index", d.tag},
                         {"HDEL", "unacked", d.tag},
                         {"RPUSH", d.queue, MarkRedelivered(d.raw)},
                         {"EXEC"}});
  }

  /// kombu's restore_visible: messages unacked for longer than the visibility timeout go back
  /// to their queue (a dead worker's reservations), under the `unacked_mutex` lock.
  void RestoreVisible(RedisConnection& conn) {
    std::string token = RandomUuid();
    token.erase(std::remove(token.begin(), token.end(), '-'), token.end());
    auto lock = conn.Command({"SET", "unacked_mutex", token, "PX", "300000", "NX"});
    if (!lock || lock->IsNil()) return;
    auto due = conn.Command({"ZREVRANGEBYSCORE", "unacked_index",
                             fmt::format("{:.6f}", Now() - opt.visibility_timeout_s), "0", "WITHSCORES"});
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

  // ---- receiving ----------------------------------------------------------------------------
  void Receive(RedisConnection& conn, RedisConnection& results, const std::string& key, std::string raw) {
    const std::string queue = QueueOfKey(key);
    auto decoded = DecodeTaskMessage(raw, opt.max_message_bytes);
    if (!decoded) {
      const auto& f = decoded.error();
      Log("ERROR", fmt::format("discarded a message from queue {}: {}{}", queue, f.error.message(),
                               f.task_id ? " (task " + *f.task_id + ", FAILURE stored)" : ""));
      if (f.task_id)
        StoreFailure(results, *f.task_id, "ValueError", "invalid task message: " + f.error.message(), "builtins");
      return;  // Popped and never reserved: it is gone from the queue, nothing else is.
    }
    Delivery d;
    d.msg = std::move(*decoded);
    d.raw = std::move(raw);
    d.queue = queue;
    d.tag = d.msg.delivery_tag.empty() ? RandomUuid() : d.msg.delivery_tag;
    d.received = Now();
    (void)conn.Pipeline({{"MULTI"},
                         {"ZADD", "unacked_index", fmt::format("{:.6f}", d.received), d.tag},
                         {"HSET", "unacked", d.tag,
                          UnackedEntry(d.raw, d.msg.exchange, d.msg.routing_key.empty() ? queue : d.msg.routing_key)},
                         {"EXEC"}});
    const TaskMessage& m = d.msg;
    if (!tasks.count(m.task)) {
      Log("ERROR", fmt::format("received unregistered task {} [{}]: FAILURE NotRegistered stored, message discarded",
                               m.task, m.id));
      StoreFailure(results, m.id, "NotRegistered", m.task, "celery.exceptions");
      Ack(conn, d.tag);
      return;
    }
    bool is_revoked;
    {
      std::lock_guard lock(mu);
      is_revoked = revoked.count(m.id) > 0;
    }
    const auto expires = m.expires ? ParseIsoTime(*m.expires) : std::nullopt;
    if (is_revoked || (expires && *expires < Now())) {
      const char* why = is_revoked ? "revoked" : "expired";
      Log("INFO", fmt::format("discarding {} task {} [{}]", why, m.task, m.id));
      StoreResult(results, m.id,
                  EncodeResult("REVOKED", ExceptionJson("TaskRevokedError", why, std::string("celery.exceptions")),
                               std::nullopt, m.id, FormatDateDone(std::chrono::system_clock::now())));
      ordered e = EventHead();
      e["uuid"] = m.id;
      e["terminated"] = false;
      e["signum"] = nullptr;
      e["expired"] = !is_revoked;
      Publish(conn, std::move(e), "task-revoked");
      Ack(conn, d.tag);
      return;
    }
    ordered e = EventHead();
    e["uuid"] = m.id;
    e["name"] = m.task;
    e["args"] = PythonRepr(m.args_json);
    e["kwargs"] = PythonRepr(m.kwargs_json);
    e["root_id"] = m.root_id;
    e["parent_id"] = m.parent_id ? ordered(*m.parent_id) : ordered(nullptr);
    e["retries"] = m.retries;
    e["eta"] = m.eta ? ordered(*m.eta) : ordered(nullptr);
    e["expires"] = m.expires ? ordered(*m.expires) : ordered(nullptr);
    Publish(conn, std::move(e), "task-received");
    if (m.eta) {
      if (auto eta = ParseIsoTime(*m.eta)) d.eta = *eta;
    }
    ++reserved;
    std::lock_guard lock(mu);
    if (d.eta > Now()) {
      scheduled.push_back(std::move(d));
    } else {
      ready.push_back(std::move(d));
      cv.notify_one();
    }
  }

  void ReleaseDue() {
    std::lock_guard lock(mu);
    const double now = Now();
    for (auto it = scheduled.begin(); it != scheduled.end();) {
      if (it->eta <= now) {
        ready.push_back(std::move(*it));
        it = scheduled.erase(it);
        cv.notify_one();
      } else {
        ++it;
      }
    }
  }

  // ---- running ------------------------------------------------------------------------------
  TaskOutcome Execute(const Delivery& d) {
    double limit = opt.time_limit_s;
    if (d.msg.hard_time_limit_s && *d.msg.hard_time_limit_s > 0 && (limit <= 0 || *d.msg.hard_time_limit_s < limit)) {
      limit = *d.msg.hard_time_limit_s;
    }
    return RunWithTimeLimit(tasks.at(d.msg.task), d.msg, limit);
  }

  void ExecutorLoop() {
    auto conn = RedisConnection::Connect(broker);
    auto results = RedisConnection::Connect(backend);
    if (!conn || !results) {
      Log("ERROR", "an executor could not connect to Redis");
      return;
    }
    for (;;) {
      Delivery d;
      {
        std::unique_lock lock(mu);
        cv.wait_for(lock, std::chrono::milliseconds(200), [&] { return draining || !ready.empty(); });
        if (draining) return;
        if (ready.empty()) continue;
        d = std::move(ready.front());
        ready.pop_front();
        active[d.msg.id] = d;
        active_start[d.msg.id] = Now();
      }
      const TaskMessage& m = d.msg;
      ordered begun = EventHead();
      begun["uuid"] = m.id;
      Publish(**conn, std::move(begun), "task-started");
      if (opt.track_started) {
        StoreResult(
            **results, m.id,
            EncodeResult("STARTED", ordered({{"pid", pid}, {"hostname", node}}).dump(), std::nullopt, m.id, ""));
      }
      const auto t0 = Clock::now();
      TaskOutcome out = Execute(d);
      const double runtime = std::chrono::duration<double>(Clock::now() - t0).count();
      const char* state = out.ok ? "succeeded" : out.retry_in_s && m.retries < opt.max_retries ? "retried" : "failed";
      if (out.ok) {
        StoreResult(**results, m.id,
                    EncodeResult("SUCCESS", out.result_json, std::nullopt, m.id,
                                 FormatDateDone(std::chrono::system_clock::now())));
        ordered e = EventHead();
        e["uuid"] = m.id;
        e["result"] = PythonRepr(out.result_json);
        e["runtime"] = runtime;
        Publish(**conn, std::move(e), "task-succeeded");
        Log("INFO", fmt::format("task {}[{}] succeeded in {:.3f} s", m.task, m.id, runtime));
      } else if (out.retry_in_s && m.retries < opt.max_retries) {
        // Celery's retry: the same task again later (same id, retries + 1, an ETA), RETRY stored.
        const auto when =
            std::chrono::system_clock::now() + std::chrono::duration_cast<std::chrono::system_clock::duration>(
                                                   std::chrono::duration<double>(*out.retry_in_s));
        const std::string eta = FormatDateDone(when) + "+00:00";
        (void)(*conn)->Command({"LPUSH", PriorityQueueKey(d.queue, m.priority), RetryMessage(d.raw, eta)});
        const std::string traceback =
            fmt::format("{}: {}\nRetry in {:g}s\n", out.exc_type, out.exc_message, *out.retry_in_s);
        StoreResult(
            **results, m.id,
            EncodeResult("RETRY", ExceptionJson(out.exc_type, out.exc_message, out.exc_module), traceback, m.id, ""));
        ordered e = EventHead();
        e["uuid"] = m.id;
        e["exception"] = fmt::format("{}({})", out.exc_type, PythonRepr(json(out.exc_message).dump()));
        e["traceback"] = traceback;
        Publish(**conn, std::move(e), "task-retried");
        Log("WARNING", fmt::format("task {}[{}] retry {} in {:g} s: {}: {}", m.task, m.id, m.retries + 1,
                                   *out.retry_in_s, out.exc_type, out.exc_message));
      } else {
        StoreFailure(**results, m.id, out.exc_type, out.exc_message, out.exc_module);
        Log("WARNING", fmt::format("task {}[{}] failed in {:.3f} s: {}: {}", m.task, m.id, runtime, out.exc_type,
                                   out.exc_message));
      }
      Ack(**conn, d.tag);  // Late acknowledgement: only after the result is stored.
      ++processed;
      --reserved;
      std::lock_guard lock(mu);
      active.erase(m.id);
      active_start.erase(m.id);
      ++total[m.task];
      ++finished[{m.task, state}];
    }
  }

  // ---- remote control -----------------------------------------------------------------------
  ordered RequestInfo(const Delivery& d, std::optional<double> start, bool acknowledged) {
    ordered r;
    r["id"] = d.msg.id;
    r["name"] = d.msg.task;
    r["args"] = ordered::parse(d.msg.args_json, nullptr, false);
    r["kwargs"] = ordered::parse(d.msg.kwargs_json, nullptr, false);
    r["type"] = d.msg.task;
    r["hostname"] = node;
    r["time_start"] = start ? ordered(*start) : ordered(nullptr);
    r["acknowledged"] = acknowledged;
    r["delivery_info"] = {{"exchange", d.msg.exchange},
                          {"routing_key", d.msg.routing_key},
                          {"priority", d.msg.priority},
                          {"redelivered", nullptr}};
    r["worker_pid"] = start ? ordered(pid) : ordered(nullptr);
    return r;
  }

  std::optional<std::string> Control(const PidboxRequest& q) {
    std::lock_guard lock(mu);
    if (q.method == "ping") return R"({"ok": "pong"})";
    if (q.method == "active") {
      ordered list = ordered::array();
      for (const auto& [id, d] : active) list.push_back(RequestInfo(d, active_start[id], false));
      return list.dump();
    }
    if (q.method == "reserved") {
      ordered list = ordered::array();
      for (const auto& d : ready) list.push_back(RequestInfo(d, std::nullopt, false));
      return list.dump();
    }
    if (q.method == "scheduled") {
      ordered list = ordered::array();
      for (const auto& d : scheduled) {
        list.push_back({{"eta", d.msg.eta.value_or("")},
                        {"priority", d.msg.priority},
                        {"request", RequestInfo(d, std::nullopt, false)}});
      }
      return list.dump();
    }
    if (q.method == "revoked") {
      ordered list = ordered::array();
      for (const auto& id : revoked) list.push_back(id);
      return list.dump();
    }
    if (q.method == "registered") {
      ordered list = ordered::array();
      for (const auto& [name, fn] : tasks) list.push_back(name);
      return list.dump();
    }
    if (q.method == "stats") {
      ordered s;
      ordered t = ordered::object();
      for (const auto& [name, n] : total) t[name] = n;
      s["total"] = t;
      s["pid"] = pid;
      s["clock"] = std::to_string(clock.load());
      s["uptime"] = static_cast<long long>(Now() - started);
      s["pool"] = {{"max-concurrency", opt.concurrency},
                   {"processes", {pid}},
                   {"implementation", "eden threads"},
                   {"timeouts", {0, opt.time_limit_s}}};
      s["broker"] = {{"hostname", broker.host},
                     {"port", broker.port},
                     {"virtual_host", std::to_string(broker.db)},
                     {"transport", "redis"}};
      s["prefetch_count"] = opt.concurrency * opt.prefetch_multiplier;
      rusage ru{};
      ::getrusage(RUSAGE_SELF, &ru);
      s["rusage"] = {{"utime", ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6},
                     {"stime", ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6},
                     {"maxrss", ru.ru_maxrss}};
      return s.dump();
    }
    if (q.method == "active_queues") {
      ordered list = ordered::array();
      for (const auto& name : opt.queues) {
        list.push_back({{"name", name},
                        {"exchange", {{"name", name}, {"type", "direct"}, {"durable", true}, {"auto_delete", false}}},
                        {"routing_key", name},
                        {"durable", true},
                        {"exclusive", false},
                        {"auto_delete", false},
                        {"no_ack", false}});
      }
      return list.dump();
    }
    if (q.method == "hello") return fmt::format(R"({{"revoked": {{}}, "clock": {}}})", clock.load());
    if (q.method == "revoke") {
      const json a = json::parse(q.arguments_json, nullptr, false);
      if (a.is_object() && a.contains("task_id")) {
        if (a["task_id"].is_string()) revoked.insert(a["task_id"].get<std::string>());
        if (a["task_id"].is_array()) {
          for (const auto& id : a["task_id"]) {
            if (id.is_string()) revoked.insert(id.get<std::string>());
          }
        }
      }
      return ordered({{"ok", "tasks flagged as revoked"}}).dump();
    }
    return ordered({{"error", fmt::format("KeyError('{}')", q.method)}}).dump();
  }

  void PidboxLoop() {
    auto sub = RedisConnection::Connect(broker);
    auto conn = RedisConnection::Connect(broker);
    if (!sub || !conn) {
      Log("ERROR", "remote control could not connect to Redis");
      return;
    }
    const std::string channel = fmt::format("/{}.celery.pidbox", broker.db);
    bool subscribed = false;
    while (!stopping) {
      if (!subscribed) {
        subscribed = static_cast<bool>((*sub)->Send({"SUBSCRIBE", channel}));
        if (!subscribed) {
          std::this_thread::sleep_for(std::chrono::milliseconds(500));
          continue;
        }
      }
      auto r = (*sub)->Read(std::chrono::milliseconds(300));
      if (!r) {
        subscribed = false;  // Lost: reconnect and subscribe again.
        continue;
      }
      if (!*r || (*r)->type != RedisReply::Type::kArray || (*r)->elements.size() != 3 ||
          (*r)->elements[0].str != "message") {
        continue;
      }
      auto q = DecodePidboxRequest((*r)->elements[2].str);
      if (!q) {
        Log("WARNING", "ignored a remote-control message: " + q.error().message());
        continue;
      }
      if (q->expires && *q->expires < Now()) continue;
      if (!q->destination.empty() &&
          std::find(q->destination.begin(), q->destination.end(), node) == q->destination.end()) {
        continue;
      }
      auto answer = Control(*q);
      if (!answer || q->ticket.empty() || q->reply_routing_key.empty()) continue;
      // The reply queue, through the binding table of the reply exchange (kombu's direct routing).
      std::vector<std::string> targets;
      if (auto members = (*conn)->Command({"SMEMBERS", "_kombu.binding.reply.celery.pidbox"})) {
        for (const auto& m : members->elements) {
          const auto first = m.str.find(kSep);
          if (first == std::string::npos) continue;
          const auto second = m.str.find(kSep, first + 2);
          if (m.str.substr(0, first) == q->reply_routing_key && second != std::string::npos) {
            targets.push_back(m.str.substr(second + 2));
          }
        }
      }
      const std::string reply = EncodePidboxReply(node, *answer, q->ticket, q->reply_routing_key, ++clock);
      for (const auto& t : targets) (void)(*conn)->Command({"LPUSH", t, reply});
    }
  }

  // ---- timers: heartbeats and restores -------------------------------------------------------
  void TimerLoop() {
    auto conn = RedisConnection::Connect(broker);
    if (!conn) return;
    auto next_beat =
        Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(opt.heartbeat_s));
    auto next_restore = Clock::now() + std::chrono::seconds(10);
    const auto restore_every = std::chrono::duration_cast<Clock::duration>(
        std::chrono::duration<double>(std::clamp(opt.visibility_timeout_s / 2, 1.0, 10.0)));
    while (!stopping) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      if (Clock::now() >= next_beat) {
        WorkerEvent(**conn, "worker-heartbeat");
        next_beat += std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(opt.heartbeat_s));
      }
      if (Clock::now() >= next_restore) {
        RestoreVisible(**conn);
        next_restore = Clock::now() + restore_every;
      }
    }
  }
};

Worker::Worker(WorkerOptions options, TaskRegistry tasks, WorkerLog log) : impl_(new Impl) {
  impl_->opt = std::move(options);
  impl_->tasks = std::move(tasks);
  impl_->log = std::move(log);
  if (impl_->opt.hostname.empty()) impl_->opt.hostname = "eden@" + HostName();
  impl_->node = impl_->opt.hostname;
  if (impl_->opt.concurrency < 1) impl_->opt.concurrency = 1;
  if (impl_->opt.prefetch_multiplier < 1) impl_->opt.prefetch_multiplier = 1;
}

Worker::~Worker() { delete impl_; }

const std::string& Worker::node() const { return impl_->node; }

WorkerStats Worker::Stats() const {
  const Impl& w = *impl_;
  WorkerStats s;
  s.consuming = w.consuming;
  s.reserved = w.reserved;
  s.processed = w.processed;
  std::lock_guard lock(impl_->mu);
  s.active = static_cast<int>(w.active.size());
  s.finished = w.finished;
  return s;
}

Status Worker::Run(const std::atomic<bool>& stop) {
  Impl& w = *impl_;
  auto b = ParseRedisUrl(w.opt.broker_url);
  if (!b) return Fail(b.error().WithContext("--broker"));
  auto r = ParseRedisUrl(w.opt.backend_url.empty() ? w.opt.broker_url : w.opt.backend_url);
  if (!r) return Fail(r.error().WithContext("--result-backend"));
  w.broker = *b;
  w.backend = *r;
  auto conn = RedisConnection::Connect(w.broker);
  if (!conn) return Fail(conn.error());
  auto results = RedisConnection::Connect(w.backend);
  if (!results) return Fail(results.error());

  // Bindings as kombu declares them, then restore what dead workers left reserved.
  std::vector<std::string> keys;
  for (const auto& q : w.opt.queues) {
    (void)(*conn)->Command({"SADD", "_kombu.binding." + q, q + kSep + kSep + q});
  }
  for (int band : {0, 3, 6, 9}) {
    for (const auto& q : w.opt.queues) keys.push_back(PriorityQueueKey(q, band));
  }
  const std::string pidbox_member = std::string(kSep) + kSep + w.node + ".celery.pidbox";
  (void)(*conn)->Command({"SADD", "_kombu.binding.celery.pidbox", pidbox_member});
  w.RestoreVisible(**conn);
  w.WorkerEvent(**conn, "worker-online");
  std::string names;
  for (const auto& [name, fn] : w.tasks) names += (names.empty() ? "" : ", ") + name;
  w.Log("INFO", fmt::format("{} ready: queues {}, concurrency {}, prefetch {}, events {}, tasks: {}", w.node,
                            fmt::join(w.opt.queues, ","), w.opt.concurrency,
                            w.opt.concurrency * w.opt.prefetch_multiplier, w.opt.events ? "on" : "off", names));

  ThreadGroup executors, services;
  executors.Spawn(static_cast<unsigned>(w.opt.concurrency), [&w](unsigned) { w.ExecutorLoop(); });
  services.Spawn(1, [&w](unsigned) { w.PidboxLoop(); });
  services.Spawn(1, [&w](unsigned) { w.TimerLoop(); });

  const int limit = w.opt.concurrency * w.opt.prefetch_multiplier;
  std::vector<std::string> brpop{"BRPOP"};
  brpop.insert(brpop.end(), keys.begin(), keys.end());
  brpop.push_back("1");
  w.consuming = true;
  while (!stop) {
    w.ReleaseDue();
    if (w.reserved >= limit) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      continue;
    }
    // Round-robin between queues, as kombu rotates them between polls.
    if (w.opt.queues.size() > 1) {
      std::rotate(brpop.begin() + 1, brpop.begin() + 2, brpop.end() - 1);
    }
    auto item = (*conn)->Command(brpop);
    w.consuming = static_cast<bool>(item);
    if (!item) {
      w.Log("ERROR", "broker: " + item.error().message());
      std::this_thread::sleep_for(std::chrono::seconds(1));
      continue;
    }
    if (item->type != RedisReply::Type::kArray || item->elements.size() != 2) continue;
    w.Receive(**conn, **results, item->elements[0].str, std::move(item->elements[1].str));
  }

  // Warm shutdown: no new work; reserved but unstarted messages go back; running ones finish.
  w.consuming = false;
  w.Log("INFO", "warm shutdown: finishing running tasks");
  std::vector<Delivery> put_back;
  {
    std::lock_guard lock(w.mu);
    for (auto& d : w.ready) put_back.push_back(std::move(d));
    for (auto& d : w.scheduled) put_back.push_back(std::move(d));
    w.ready.clear();
    w.scheduled.clear();
  }
  for (const auto& d : put_back) w.Restore(**conn, d);
  if (!put_back.empty()) w.Log("INFO", fmt::format("restored {} unacknowledged message(s)", put_back.size()));
  for (;;) {
    {
      std::lock_guard lock(w.mu);
      if (w.active.empty()) {
        w.draining = true;
        break;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  w.cv.notify_all();
  executors.Join();
  w.stopping = true;  // Then the remote-control and timer threads.
  services.Join();
  w.WorkerEvent(**conn, "worker-offline");
  (void)(*conn)->Command({"SREM", "_kombu.binding.celery.pidbox", pidbox_member});
  w.Log("INFO", fmt::format("{} stopped after {} task(s)", w.node, w.processed.load()));
  return {};
}

}  // namespace eden::celery
