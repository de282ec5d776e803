#include "celery/inspect.h"

#include <algorithm>
#include <chrono>
#include <thread>

#include <fmt/format.h>

#include "celery/protocol.h"
#include "celery/redis.h"

namespace eden::celery {
namespace {

constexpr const char* kSep = "\x06\x16";

double Now() { return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count(); }

std::vector<std::string> Bands(const std::string& queue) {
  return {PriorityQueueKey(queue, 0), PriorityQueueKey(queue, 3), PriorityQueueKey(queue, 6),
          PriorityQueueKey(queue, 9)};
}

}  // namespace

Result<BrokerDepths> ReadDepths(const std::string& broker_url, std::vector<std::string> queues) {
  auto url = ParseRedisUrl(broker_url);
  if (!url) return Fail(url.error());
  auto conn = RedisConnection::Connect(*url);
  if (!conn) return Fail(conn.error());
  if (queues.empty()) {
    queues.push_back("celery");
    // Members are "<routing key>\x06\x16<pattern>\x06\x16<queue>".
    if (auto members = (*conn)->Command({"SMEMBERS", "_kombu.binding.celery"})) {
      for (const auto& m : members->elements) {
        const auto last = m.str.rfind(kSep);
        if (last != std::string::npos) queues.push_back(m.str.substr(last + 2));
      }
    }
    std::sort(queues.begin() + 1, queues.end());
    queues.erase(std::unique(queues.begin(), queues.end()), queues.end());
    queues.erase(std::remove(queues.begin() + 1, queues.end(), "celery"), queues.end());
  }
  std::vector<std::vector<std::string>> commands;
  for (const auto& q : queues) {
    for (auto& band : Bands(q)) commands.push_back({"LLEN", std::move(band)});
  }
  commands.push_back({"HLEN", "unacked"});
  auto replies = (*conn)->Pipeline(commands);
  if (!replies) return Fail(replies.error());
  BrokerDepths depths;
  for (size_t i = 0; i < queues.size(); ++i) {
    QueueDepth d{queues[i], 0};
    for (size_t b = 0; b < 4; ++b) d.messages += (*replies)[i * 4 + b].integer;
    depths.queues.push_back(std::move(d));
  }
  depths.unacked = replies->back().integer;
  return depths;
}

Result<std::map<std::string, std::string>> Broadcast(const std::string& broker_url, const std::string& method,
                                                     double timeout_s) {
  auto url = ParseRedisUrl(broker_url);
  if (!url) return Fail(url.error());
  auto conn = RedisConnection::Connect(*url);
  if (!conn) return Fail(conn.error());
  const std::string oid = RandomUuid();
  const std::string reply_queue = oid + ".reply.celery.pidbox";
  const std::string binding = oid + kSep + kSep + reply_queue;
  auto cleanup = [&] {
    std::vector<std::vector<std::string>> commands{{"SREM", "_kombu.binding.reply.celery.pidbox", binding}, {"MULTI"}};
    for (auto& band : Bands(reply_queue)) commands.push_back({"DEL", std::move(band)});
    commands.push_back({"EXEC"});
    (void)(*conn)->Pipeline(commands);
  };
  if (auto ok = (*conn)->Command({"SADD", "_kombu.binding.reply.celery.pidbox", binding}); !ok) return Fail(ok.error());
  const std::string ticket = RandomUuid();
  const std::string request = EncodePidboxRequest(method, ticket, oid, Now() + timeout_s, 1);
  if (auto ok = (*conn)->Command({"PUBLISH", fmt::format("/{}.celery.pidbox", url->db), request}); !ok) {
    cleanup();
    return Fail(ok.error());
  }
  std::map<std::string, std::string> replies;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
  while (std::chrono::steady_clock::now() < deadline) {
    // BRPOP's timeout has a resolution of seconds on Redis 6; poll with RPOP to keep the
    // caller's deadline exact.
    auto r = (*conn)->Command({"RPOP", reply_queue});
    if (!r) {
      cleanup();
      return Fail(r.error());
    }
    if (r->type != RedisReply::Type::kString) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      continue;
    }
    auto reply = DecodePidboxReply(r->str);
    if (reply && reply->ticket == ticket) replies[reply->node] = reply->result_json;
  }
  cleanup();
  return replies;
}

}  // namespace eden::celery
