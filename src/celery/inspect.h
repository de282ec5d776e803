#pragma once

#include <map>
#include <string>
#include <vector>

#include "core/result.h"

namespace eden::celery {

/// Messages waiting in one queue (all four priority bands).
struct QueueDepth {
  std::string queue;
  long long messages = 0;
};

/// What a broker holds: queue depths and the messages reserved by workers but not acknowledged.
struct BrokerDepths {
  std::vector<QueueDepth> queues;
  long long unacked = 0;
};

/// LLEN of every band of `queues`; with none given, of `celery` and every queue bound to the
/// `celery` exchange (kombu's `_kombu.binding.celery`). kUnavailable if Redis cannot be reached.
Result<BrokerDepths> ReadDepths(const std::string& broker_url, std::vector<std::string> queues = {});

/// `celery inspect <method>` as Python Celery does it (docs/celery-protocol.md §6): binds a reply
/// queue, publishes the request on the pidbox channel, collects replies for `timeout_s`, unbinds
/// and deletes the reply queue. Returns node -> the reply's JSON text. Replies with another
/// ticket are ignored.
Result<std::map<std::string, std::string>> Broadcast(const std::string& broker_url, const std::string& method,
                                                     double timeout_s = 1.0);

}  // namespace eden::celery
