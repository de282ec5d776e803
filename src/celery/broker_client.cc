#include "celery/broker_client.h"

#include <chrono>
#include <map>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace eden::celery {
namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

bool IsFinal(const std::string& status) { return status == "SUCCESS" || status == "FAILURE" || status == "REVOKED"; }

}  // namespace

Result<std::unique_ptr<BrokerClient>> BrokerClient::Connect(const std::string& broker_url,
                                                            const std::string& backend_url) {
  auto b = ParseRedisUrl(broker_url);
  if (!b) return Fail(b.error().WithContext("--broker"));
  auto r = ParseRedisUrl(backend_url.empty() ? broker_url : backend_url);
  if (!r) return Fail(r.error().WithContext("--result-backend"));
  std::unique_ptr<BrokerClient> c(new BrokerClient);
  auto broker = RedisConnection::Connect(*b);
  if (!broker) return Fail(broker.error());
  auto backend = RedisConnection::Connect(*r);
  if (!backend) return Fail(backend.error());
  auto sub = RedisConnection::Connect(*r);
  if (!sub) return Fail(sub.error());
  c->broker_ = std::move(*broker);
  c->backend_ = std::move(*backend);
  c->subscriber_ = std::move(*sub);
  return c;
}

Status BrokerClient::RunTasks(const std::vector<OutgoingTask>& tasks, size_t window, const OnResult& on_result,
                              const OnWait& on_wait, const std::function<bool()>& stop) {
  if (tasks.empty()) return {};
  if (auto ok = subscriber_->Send({"PSUBSCRIBE", "celery-task-meta-*"}); !ok) return ok;
  std::map<std::string, size_t> in_flight;  // task id -> index
  std::set<std::string> declared;
  size_t next = 0, done = 0;
  bool stopped = false;
  auto finish = [&](const std::string& id, const std::string& doc) {
    auto it = in_flight.find(id);
    if (it == in_flight.end()) return;
    const json j = json::parse(doc, nullptr, false);
    if (!j.is_object()) return;
    const std::string status = j.value("status", "");
    if (!IsFinal(status)) return;  // STARTED, RETRY: keep waiting.
    const size_t index = it->second;
    in_flight.erase(it);
    ++done;
    on_result(index, status, j.contains("result") ? j["result"].dump() : "null");
    if (stop && !stopped) stopped = stop();
  };
  auto last_sweep = Clock::now(), last_wait = Clock::now(), last_progress = Clock::now();
  size_t done_before = 0;
  while (done < tasks.size() && !(stopped && in_flight.empty())) {
    // Send up to the window.
    while (!stopped && next < tasks.size() && in_flight.size() < window) {
      const OutgoingTask& t = tasks[next];
      if (declared.insert(t.queue).second) {
        auto ok = broker_->Command({"SADD", "_kombu.binding." + t.queue, t.queue + "\x06\x16\x06\x16" + t.queue});
        if (!ok) return Fail(ok.error());
      }
      auto ok = broker_->Command({"LPUSH", PriorityQueueKey(t.queue, t.priority), EncodeTaskMessage(t)});
      if (!ok) return Fail(ok.error());
      in_flight[t.id] = next++;
    }
    auto msg = subscriber_->Read(std::chrono::milliseconds(250));
    if (!msg) {
      // The subscription died with its connection: resubscribe; the sweep catches what was missed.
      (void)subscriber_->Send({"PSUBSCRIBE", "celery-task-meta-*"});
    } else if (*msg && (*msg)->type == RedisReply::Type::kArray && (*msg)->elements.size() == 4 &&
               (*msg)->elements[0].str == "pmessage") {
      const std::string& channel = (*msg)->elements[2].str;
      finish(channel.substr(std::string("celery-task-meta-").size()), (*msg)->elements[3].str);
    }
    // Results stored before we subscribed, or published while we were reconnecting.
    if (Clock::now() - last_sweep > std::chrono::seconds(2) && !in_flight.empty()) {
      std::vector<std::string> ids;
      std::vector<std::string> mget{"MGET"};
      for (const auto& [id, index] : in_flight) {
        ids.push_back(id);
        mget.push_back("celery-task-meta-" + id);
      }
      auto values = backend_->Command(mget);
      if (values && values->type == RedisReply::Type::kArray) {
        for (size_t i = 0; i < ids.size() && i < values->elements.size(); ++i) {
          if (!values->elements[i].IsNil()) finish(ids[i], values->elements[i].str);
        }
      }
      last_sweep = Clock::now();
    }
    if (done != done_before) {
      done_before = done;
      last_progress = Clock::now();
    }
    if (on_wait && Clock::now() - last_progress > std::chrono::seconds(10) &&
        Clock::now() - last_wait > std::chrono::seconds(10)) {
      on_wait(next, done);
      last_wait = Clock::now();
    }
  }
  (void)subscriber_->Send({"PUNSUBSCRIBE", "celery-task-meta-*"});
  return {};
}

}  // namespace eden::celery
