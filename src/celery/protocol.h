#pragma once

#include <array>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/base64.h"
#include "core/result.h"

namespace eden::celery {

/// A task message, Celery message protocol v2 with a JSON body, as Python Celery 5.2 and
/// celery-node send it over Redis (captured in tests/data/celery). JSON parts are kept as
/// JSON text, so this header speaks no JSON library.
struct TaskMessage {
  std::string id;
  std::string task;
  std::string root_id;
  std::optional<std::string> parent_id;
  std::optional<std::string> group;
  std::optional<std::string> eta;      ///< ISO-8601 with offset.
  std::optional<std::string> expires;  ///< ISO-8601 with offset.
  int retries = 0;
  std::optional<double> hard_time_limit_s, soft_time_limit_s;
  std::string args_json = "[]";    ///< Positional arguments (a JSON array).
  std::string kwargs_json = "{}";  ///< Keyword arguments (a JSON object).
  std::string embed_json = "{}";   ///< callbacks, errbacks, chain, chord.
  std::string origin;
  std::string reply_to;
  std::string delivery_tag;
  std::string routing_key;
  std::string exchange;
  int priority = 0;
};

/// Why a message could not be decoded, and its task id when the envelope got that far (then a
/// FAILURE result can be stored for it, so a waiting client is not left hanging).
struct DecodeFailure {
  Error error;
  std::optional<std::string> task_id;
};

/// Decodes one list item of a Celery queue. Never throws: anything malformed (not JSON, bad
/// base64, not protocol v2, wrong body shape, pickle, oversize) is a DecodeFailure.
tl::expected<TaskMessage, DecodeFailure> DecodeTaskMessage(std::string_view envelope, size_t max_bytes = 16u << 20);

/// The result-backend document (docs/celery-protocol.md §4), keys in Celery's order: status, result,
/// traceback, children, date_done, [parent_id], [group_id], task_id. `result_json` is JSON text;
/// `date_done` empty means null.
std::string EncodeResult(std::string_view status, std::string_view result_json,
                         const std::optional<std::string>& traceback, std::string_view task_id,
                         std::string_view date_done, const std::optional<std::string>& parent_id = std::nullopt,
                         const std::optional<std::string>& group_id = std::nullopt);

/// The `result` of a FAILURE: {"exc_type", "exc_message": [message], "exc_module"}; a null module
/// makes the Python client create an exception class of that name.
std::string ExceptionJson(std::string_view exc_type, std::string_view message,
                          const std::optional<std::string>& exc_module);

/// `date_done` as Celery writes it: UTC, naive ISO-8601, 6 fraction digits.
std::string FormatDateDone(std::chrono::system_clock::time_point t);

/// The Redis list a message of `priority` goes to: kombu bands 0-2, 3-5, 6-8, 9 map to
/// `queue`, `queue\x06\x163`, `queue\x06\x166`, `queue\x06\x169` (docs/celery-protocol.md §2.4).
std::string PriorityQueueKey(std::string_view queue, int priority);

/// A random UUID4 string (task ids, delivery tags, tickets).
std::string RandomUuid();

/// What `eden run --broker` sends: one task message, protocol v2, JSON body, in the key order
/// Python Celery 5.2 uses (docs/celery-protocol.md §2.2), so Python workers could run it too.
struct OutgoingTask {
  std::string id, task, args_json = "[]", kwargs_json = "{}", queue = "celery", origin;
  int priority = 0;
};
std::string EncodeTaskMessage(const OutgoingTask& task);

/// The envelope of an event (docs/celery-protocol.md §5.1): body = base64 of `body_json`, headers
/// {hostname}, delivery_mode 1, exchange celeryev, routing key = type with '-' -> '.'.
std::string EncodeEventEnvelope(std::string_view hostname, std::string_view routing_key, std::string_view body_json);

/// A remote-control request from `celery inspect` / `celery status` (docs/celery-protocol.md §6.2).
struct PidboxRequest {
  std::string method;
  std::string arguments_json = "{}";
  std::vector<std::string> destination;  ///< Empty: every worker.
  std::string ticket;                    ///< Empty for casts (revoke): no reply.
  std::string reply_routing_key;
  std::optional<double> expires;  ///< headers.expires, epoch seconds.
};
Result<PidboxRequest> DecodePidboxRequest(std::string_view envelope);

/// A reply envelope: body {"<node>": <result>}, headers {ticket, clock}, delivery_mode 1.
std::string EncodePidboxReply(std::string_view node, std::string_view result_json, std::string_view ticket,
                              std::string_view routing_key, long long clock);

/// What `celery inspect <method>` publishes (docs/celery-protocol.md §6): the request envelope on
/// the celery.pidbox fanout, replies wanted on `reply_routing_key` with `ticket`; `expires_at`
/// in epoch seconds (headers.expires).
std::string EncodePidboxRequest(std::string_view method, std::string_view ticket, std::string_view reply_routing_key,
                                double expires_at, long long clock);

/// One worker's answer to a pidbox request.
struct PidboxReply {
  std::string node, result_json, ticket;
};
Result<PidboxReply> DecodePidboxReply(std::string_view envelope);

/// The message Celery's retry sends (docs/celery-protocol.md §4.4): same task id, headers.retries + 1,
/// headers.eta = `eta_iso`, parent_id = the task's id, a new delivery tag (`delivery_tag`, or a
/// random UUID when empty; the fuzz target passes a fixed one so that a run is repeatable).
std::string RetryMessage(std::string_view envelope, std::string_view eta_iso, std::string_view delivery_tag = {});

/// The message as kombu restores it: headers.redelivered and delivery_info.redelivered true.
std::string MarkRedelivered(std::string_view envelope);

/// The value kombu keeps in the `unacked` hash: [message, exchange, routing_key].
std::string UnackedEntry(std::string_view envelope, std::string_view exchange, std::string_view routing_key);
/// Its parts back; nullopt if it is not such an array.
std::optional<std::array<std::string, 3>> ParseUnackedEntry(std::string_view entry);

/// Python's repr() of a JSON value, as Celery's argsrepr / kwargsrepr / event fields show it
/// (['a', 1], {'k': True}, None).
std::string PythonRepr(std::string_view json_text);

}  // namespace eden::celery
