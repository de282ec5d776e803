// Remote control (celery inspect / control over the pidbox): ping, stats, active, revoke...
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "celery/worker_impl.h"

namespace eden::celery {

ordered Worker::Impl::RequestInfo(const Delivery& d, std::optional<double> start, bool acknowledged) {
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

std::optional<std::string> Worker::Impl::Control(const PidboxRequest& q) {
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

void Worker::Impl::PidboxLoop() {
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

}  // namespace eden::celery
