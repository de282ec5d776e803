// The Celery event stream (task-*/worker-* events on the broker's pub/sub), as Flower reads it.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "celery/worker_impl.h"

namespace eden::celery {

ordered Worker::Impl::EventHead() {
  ordered e;
  e["hostname"] = node;
  e["utcoffset"] = 0;
  e["pid"] = pid;
  e["clock"] = ++clock;
  return e;
}

void Worker::Impl::Publish(RedisConnection& conn, ordered event, const std::string& type) {
  if (!opt.events) return;
  event["timestamp"] = Now();
  event["type"] = type;
  std::string rk = type;
  for (auto& c : rk) c = c == '-' ? '.' : c;
  const std::string channel = fmt::format("/{}.celeryev/{}", broker.db, rk);
  (void)conn.Command({"PUBLISH", channel, EncodeEventEnvelope(node, rk, event.dump())});
}

void Worker::Impl::WorkerEvent(RedisConnection& conn, const std::string& type) {
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

}  // namespace eden::celery
