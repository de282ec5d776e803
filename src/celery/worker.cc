// The worker: consuming from the broker, running tasks on the executor threads, timers, and
// the public Worker API. The rest of Worker::Impl is in worker_acks.cc, worker_events.cc and
// worker_control.cc (worker_impl.h lists what is where).
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
#include "celery/worker_impl.h"
#include "core/thread_group.h"

namespace eden::celery {

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

void Worker::Impl::Receive(RedisConnection& conn, RedisConnection& results, const std::string& key, std::string raw) {
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

void Worker::Impl::ReleaseDue() {
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

TaskOutcome Worker::Impl::Execute(const Delivery& d) {
  double limit = opt.time_limit_s;
  if (d.msg.hard_time_limit_s && *d.msg.hard_time_limit_s > 0 && (limit <= 0 || *d.msg.hard_time_limit_s < limit)) {
    limit = *d.msg.hard_time_limit_s;
  }
  return RunWithTimeLimit(tasks.at(d.msg.task), d.msg, limit);
}

void Worker::Impl::ExecutorLoop() {
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
      StoreResult(**results, m.id,
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
      Log("WARNING", fmt::format("task {}[{}] retry {} in {:g} s: {}: {}", m.task, m.id, m.retries + 1, *out.retry_in_s,
                                 out.exc_type, out.exc_message));
    } else {
      StoreFailure(**results, m.id, out.exc_type, out.exc_message, out.exc_module);
      Log("WARNING",
          fmt::format("task {}[{}] failed in {:.3f} s: {}: {}", m.task, m.id, runtime, out.exc_type, out.exc_message));
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

void Worker::Impl::TimerLoop() {
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
    (void)(*conn)->Command({"SADD", "_kombu.binding." + q, fmt::format("{0}{1}{1}{0}", q, kSep)});
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
