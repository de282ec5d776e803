#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "celery/protocol.h"
#include "celery/redis.h"
#include "core/result.h"

namespace eden::celery {

/// The client side `eden run --broker` uses: sends task messages as Python Celery would
/// (LPUSH to the queue's priority band, binding declared) and collects their results from the
/// backend (PSUBSCRIBE celery-task-meta-*, plus a GET sweep for results published before the
/// subscription or missed), keeping at most `window` tasks in flight.
class BrokerClient {
 public:
  static Result<std::unique_ptr<BrokerClient>> Connect(const std::string& broker_url, const std::string& backend_url);

  /// Called once per task as it ends: its index, state (SUCCESS, FAILURE, REVOKED) and `result`.
  using OnResult = std::function<void(size_t index, const std::string& status, const std::string& result_json)>;
  /// Called every 10 s while no result arrives: tasks sent, done.
  using OnWait = std::function<void(size_t sent, size_t done)>;

  /// Once `stop` (asked after each result) says true, sends no further task, waits for the
  /// ones in flight and returns.
  Status RunTasks(const std::vector<OutgoingTask>& tasks, size_t window, const OnResult& on_result,
                  const OnWait& on_wait = {}, const std::function<bool()>& stop = {});

 private:
  BrokerClient() = default;
  std::unique_ptr<RedisConnection> broker_, backend_, subscriber_;
};

}  // namespace eden::celery
