#include "celery/protocol.h"

#include <uuid/uuid.h>

#include <algorithm>
#include <array>
#include <ctime>
#include <random>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace eden::celery {
namespace {

using nlohmann::json;
using ordered = nlohmann::ordered_json;

tl::unexpected<DecodeFailure> Bad(std::string message, std::optional<std::string> id = std::nullopt) {
  return tl::unexpected<DecodeFailure>(DecodeFailure{Error(ErrorCode::kMalformed, std::move(message)), std::move(id)});
}

std::optional<std::string> OptString(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

std::optional<double> OptNumber(const json& j) {
  if (j.is_number()) return j.get<double>();
  return std::nullopt;
}

/// The task id of a message too large to parse, found by scanning its headers for "id": "<uuid-ish>",
/// so the client can still be given a FAILURE. Only characters a task id uses are accepted.
std::optional<std::string> TaskIdWithoutParsing(std::string_view envelope) {
  const auto headers = envelope.find("\"headers\"");
  if (headers == std::string_view::npos) return std::nullopt;
  for (std::string_view key : {"\"id\": \"", "\"id\":\""}) {
    const auto at = envelope.find(key, headers);
    if (at == std::string_view::npos) continue;
    const auto start = at + key.size();
    const auto end = envelope.find('"', start);
    if (end == std::string_view::npos || end - start > 64 || end == start) continue;
    const std::string_view id = envelope.substr(start, end - start);
    if (id.find_first_not_of("0123456789abcdefABCDEF-") != std::string_view::npos) continue;
    return std::string(id);
  }
  return std::nullopt;
}

}  // namespace

tl::expected<TaskMessage, DecodeFailure> DecodeTaskMessage(std::string_view envelope, size_t max_bytes) {
  if (envelope.size() > max_bytes) {
    return tl::unexpected<DecodeFailure>(DecodeFailure{
        Error(ErrorCode::kTooLarge, fmt::format("message of {} bytes exceeds {}", envelope.size(), max_bytes)),
        TaskIdWithoutParsing(envelope)});
  }
  const json e = json::parse(envelope, nullptr, /*allow_exceptions=*/false);
  if (e.is_discarded() || !e.is_object()) return Bad("message is not a JSON object");
  const auto headers_it = e.find("headers");
  if (headers_it == e.end() || !headers_it->is_object()) return Bad("message has no headers (not protocol v2)");
  const json& h = *headers_it;
  TaskMessage m;
  auto id = OptString(h, "id");
  auto task = OptString(h, "task");
  if (!id || id->empty()) return Bad("headers.id missing");
  m.id = *id;
  if (!task || task->empty()) return Bad("headers.task missing", m.id);
  m.task = *task;

  const std::string content_type = OptString(e, "content-type").value_or("application/json");
  if (content_type != "application/json") {
    return Bad(fmt::format("content type {} refused (only application/json)", content_type), m.id);
  }
  const json props = e.value("properties", json::object());
  if (!props.is_object()) return Bad("properties is not an object", m.id);
  const auto body_it = e.find("body");
  if (body_it == e.end() || !body_it->is_string()) return Bad("body missing", m.id);
  std::string body = body_it->get<std::string>();
  const std::string encoding = props.is_object() ? OptString(props, "body_encoding").value_or("") : "";
  if (encoding == "base64") {
    auto decoded = Base64Decode(body);
    if (!decoded) return Bad("body is not valid base64", m.id);
    body = std::move(*decoded);
  } else if (!encoding.empty()) {
    return Bad(fmt::format("body encoding {} not supported", encoding), m.id);
  }
  const json b = json::parse(body, nullptr, false);
  if (b.is_discarded()) return Bad("body is not JSON", m.id);
  if (!b.is_array() || b.size() != 3 || !b[0].is_array() || !b[1].is_object()) {
    return Bad("body is not [args, kwargs, embed]", m.id);
  }
  m.args_json = b[0].dump();
  m.kwargs_json = b[1].dump();
  m.embed_json = b[2].is_object() ? b[2].dump() : "{}";

  m.root_id = OptString(h, "root_id").value_or(m.id);
  m.parent_id = OptString(h, "parent_id");
  m.group = OptString(h, "group");
  m.eta = OptString(h, "eta");
  m.expires = OptString(h, "expires");
  if (auto r = h.find("retries"); r != h.end() && r->is_number_integer()) m.retries = r->get<int>();
  if (auto t = h.find("timelimit"); t != h.end() && t->is_array() && t->size() == 2) {
    m.hard_time_limit_s = OptNumber((*t)[0]);
    m.soft_time_limit_s = OptNumber((*t)[1]);
  }
  m.origin = OptString(h, "origin").value_or("");
  m.reply_to = OptString(props, "reply_to").value_or("");
  m.delivery_tag = OptString(props, "delivery_tag").value_or("");
  if (auto p = props.find("priority"); p != props.end() && p->is_number_integer()) m.priority = p->get<int>();
  if (auto di = props.find("delivery_info"); di != props.end() && di->is_object()) {
    m.routing_key = OptString(*di, "routing_key").value_or("");
    m.exchange = OptString(*di, "exchange").value_or("");
  }
  return m;
}

std::string EncodeResult(std::string_view status, std::string_view result_json,
                         const std::optional<std::string>& traceback, std::string_view task_id,
                         std::string_view date_done, const std::optional<std::string>& parent_id,
                         const std::optional<std::string>& group_id) {
  ordered doc;
  doc["status"] = status;
  doc["result"] = ordered::parse(result_json, nullptr, false);
  if (doc["result"].is_discarded()) doc["result"] = nullptr;
  doc["traceback"] = traceback ? ordered(*traceback) : ordered(nullptr);
  doc["children"] = ordered::array();
  doc["date_done"] = date_done.empty() ? ordered(nullptr) : ordered(date_done);
  if (parent_id) doc["parent_id"] = *parent_id;
  if (group_id) doc["group_id"] = *group_id;
  doc["task_id"] = task_id;
  return doc.dump();
}

std::string ExceptionJson(std::string_view exc_type, std::string_view message,
                          const std::optional<std::string>& exc_module) {
  ordered e;
  e["exc_type"] = exc_type;
  e["exc_message"] = ordered::array({std::string(message)});
  e["exc_module"] = exc_module ? ordered(*exc_module) : ordered(nullptr);
  return e.dump();
}

std::string FormatDateDone(std::chrono::system_clock::time_point t) {
  const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
  const std::time_t seconds = static_cast<std::time_t>(micros / 1'000'000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                     tm.tm_hour, tm.tm_min, tm.tm_sec, micros % 1'000'000);
}

std::string PriorityQueueKey(std::string_view queue, int priority) {
  static constexpr int kSteps[] = {0, 3, 6, 9};
  const int p = std::clamp(priority, 0, 9);
  int band = 0;
  for (int s : kSteps) {
    if (s <= p) band = s;
  }
  if (band == 0) return std::string(queue);
  return fmt::format("{}\x06\x16{}", queue, band);
}

std::string RandomUuid() {
  // libuuid's random (version 4) UUID: 122 bits from the kernel's generator, where a
  // std::mt19937_64 seeded once per thread from random_device offers 2^32 starting points
  // (task ids would collide at scale).
  uuid_t id;
  uuid_generate_random(id);
  char text[37];
  uuid_unparse_lower(id, text);
  return std::string(text);
}

namespace {

void AppendRepr(const ordered& j, std::string& out) {
  if (j.is_null()) {
    out += "None";
  } else if (j.is_boolean()) {
    out += j.get<bool>() ? "True" : "False";
  } else if (j.is_string()) {
    const std::string s = j.get<std::string>();
    const bool use_double = s.find('\'') != std::string::npos && s.find('"') == std::string::npos;
    const char q = use_double ? '"' : '\'';
    out += q;
    for (char c : s) {
      if (c == q || c == '\\') {
        out += '\\';
        out += c;
      } else if (c == '\n') {
        out += "\\n";
      } else {
        out += c;
      }
    }
    out += q;
  } else if (j.is_array()) {
    out += '[';
    for (size_t i = 0; i < j.size(); ++i) {
      if (i) out += ", ";
      AppendRepr(j[i], out);
    }
    out += ']';
  } else if (j.is_object()) {
    out += '{';
    bool first = true;
    for (auto it = j.begin(); it != j.end(); ++it) {
      if (!first) out += ", ";
      first = false;
      AppendRepr(ordered(it.key()), out);
      out += ": ";
      AppendRepr(it.value(), out);
    }
    out += '}';
  } else {
    out += j.dump();
  }
}

ordered Properties(std::string_view exchange, std::string_view routing_key, int delivery_mode) {
  ordered p;
  p["delivery_mode"] = delivery_mode;
  p["delivery_info"] = {{"exchange", exchange}, {"routing_key", routing_key}};
  p["priority"] = 0;
  p["body_encoding"] = "base64";
  p["delivery_tag"] = RandomUuid();
  return p;
}

}  // namespace

std::string PythonRepr(std::string_view json_text) {
  const ordered j = ordered::parse(json_text, nullptr, false);
  if (j.is_discarded()) return std::string(json_text);
  std::string out;
  AppendRepr(j, out);
  return out;
}

std::string EncodeTaskMessage(const OutgoingTask& t) {
  const std::string body = "[" + t.args_json + ", " + t.kwargs_json +
                           R"(, {"callbacks": null, "errbacks": null, "chain": null, "chord": null}])";
  ordered m;
  m["body"] = Base64Encode(body);
  m["content-encoding"] = "utf-8";
  m["content-type"] = "application/json";
  ordered h;
  h["lang"] = "cpp";
  h["task"] = t.task;
  h["id"] = t.id;
  h["shadow"] = nullptr;
  h["eta"] = nullptr;
  h["expires"] = nullptr;
  h["group"] = nullptr;
  h["group_index"] = nullptr;
  h["retries"] = 0;
  h["timelimit"] = ordered::array({nullptr, nullptr});
  h["root_id"] = t.id;
  h["parent_id"] = nullptr;
  h["argsrepr"] = PythonRepr(t.args_json);
  h["kwargsrepr"] = PythonRepr(t.kwargs_json);
  h["origin"] = t.origin;
  h["ignore_result"] = false;
  m["headers"] = h;
  ordered p;
  p["correlation_id"] = t.id;
  p["reply_to"] = "";
  p["delivery_mode"] = 2;
  p["delivery_info"] = {{"exchange", ""}, {"routing_key", t.queue}};
  p["priority"] = t.priority;
  p["body_encoding"] = "base64";
  p["delivery_tag"] = RandomUuid();
  m["properties"] = p;
  return m.dump();
}

std::string EncodeEventEnvelope(std::string_view hostname, std::string_view routing_key, std::string_view body_json) {
  ordered m;
  m["body"] = Base64Encode(body_json);
  m["content-encoding"] = "utf-8";
  m["content-type"] = "application/json";
  m["headers"] = {{"hostname", hostname}};
  m["properties"] = Properties("celeryev", routing_key, 1);
  return m.dump();
}

namespace {

/// A pidbox envelope (request or reply) and its body, base64-decoded when it says so.
Result<std::pair<json, json>> OpenPidboxEnvelope(std::string_view envelope, std::string_view what) {
  json m = json::parse(envelope, nullptr, false);
  if (!m.is_object() || !m.contains("body") || !m["body"].is_string()) {
    return Fail(ErrorCode::kMalformed, fmt::format("{} is not an envelope", what));
  }
  std::string body = m["body"].get<std::string>();
  const json props = m.value("properties", json::object());
  if (props.is_object() && props.value("body_encoding", "") == "base64") {
    auto decoded = Base64Decode(body);
    if (!decoded) return Fail(ErrorCode::kMalformed, fmt::format("{} body is not base64", what));
    body = std::move(*decoded);
  }
  json b = json::parse(body, nullptr, false);
  return std::pair<json, json>{std::move(m), std::move(b)};
}

}  // namespace

Result<PidboxRequest> DecodePidboxRequest(std::string_view envelope) {
  auto opened = OpenPidboxEnvelope(envelope, "pidbox message");
  if (!opened) return Fail(opened.error());
  const json& m = opened->first;
  const json& b = opened->second;
  if (!b.is_object() || !b.contains("method") || !b["method"].is_string()) {
    return Fail(ErrorCode::kMalformed, "pidbox body has no method");
  }
  PidboxRequest r;
  r.method = b["method"].get<std::string>();
  if (b.contains("arguments") && b["arguments"].is_object()) r.arguments_json = b["arguments"].dump();
  if (b.contains("destination") && b["destination"].is_array()) {
    for (const auto& d : b["destination"]) {
      if (d.is_string()) r.destination.push_back(d.get<std::string>());
    }
  }
  if (b.contains("ticket") && b["ticket"].is_string()) r.ticket = b["ticket"].get<std::string>();
  if (b.contains("reply_to") && b["reply_to"].is_object()) {
    r.reply_routing_key = b["reply_to"].value("routing_key", "");
  }
  const json h = m.value("headers", json::object());
  if (h.is_object() && h.contains("expires") && h["expires"].is_number()) r.expires = h["expires"].get<double>();
  return r;
}

std::string EncodePidboxReply(std::string_view node, std::string_view result_json, std::string_view ticket,
                              std::string_view routing_key, long long clock) {
  ordered body;
  body[std::string(node)] = ordered::parse(result_json, nullptr, false);
  ordered m;
  m["body"] = Base64Encode(body.dump());
  m["content-encoding"] = "utf-8";
  m["content-type"] = "application/json";
  m["headers"] = {{"ticket", ticket}, {"clock", clock}};
  m["properties"] = Properties("reply.celery.pidbox", routing_key, 1);
  return m.dump();
}

std::string EncodePidboxRequest(std::string_view method, std::string_view ticket, std::string_view reply_routing_key,
                                double expires_at, long long clock) {
  ordered body;
  body["method"] = method;
  body["arguments"] = ordered::object();
  body["destination"] = nullptr;
  body["pattern"] = nullptr;
  body["matcher"] = nullptr;
  body["ticket"] = ticket;
  body["reply_to"] = {{"exchange", "reply.celery.pidbox"}, {"routing_key", reply_routing_key}};
  ordered m;
  m["body"] = Base64Encode(body.dump());
  m["content-encoding"] = "utf-8";
  m["content-type"] = "application/json";
  m["headers"] = {{"clock", clock}, {"expires", expires_at}};
  m["properties"] = Properties("celery.pidbox", "", 2);
  return m.dump();
}

Result<PidboxReply> DecodePidboxReply(std::string_view envelope) {
  auto opened = OpenPidboxEnvelope(envelope, "pidbox reply");
  if (!opened) return Fail(opened.error());
  const json& m = opened->first;
  const json& b = opened->second;
  if (!b.is_object() || b.size() != 1) return Fail(ErrorCode::kMalformed, "pidbox reply body is not {node: result}");
  PidboxReply r;
  r.node = b.begin().key();
  r.result_json = b.begin().value().dump();
  const json h = m.value("headers", json::object());
  if (h.is_object() && h.contains("ticket") && h["ticket"].is_string()) r.ticket = h["ticket"].get<std::string>();
  return r;
}

std::string RetryMessage(std::string_view envelope, std::string_view eta_iso, std::string_view delivery_tag) {
  ordered m = ordered::parse(envelope, nullptr, false);
  if (!m.is_object() || !m.contains("headers") || !m["headers"].is_object()) return std::string(envelope);
  auto& h = m["headers"];
  h["retries"] = (h.contains("retries") && h["retries"].is_number_integer() ? h["retries"].get<int>() : 0) + 1;
  h["eta"] = eta_iso;
  if (h.contains("id")) h["parent_id"] = h["id"];
  h.erase("redelivered");
  if (m.contains("properties") && m["properties"].is_object()) {
    m["properties"]["delivery_tag"] = delivery_tag.empty() ? RandomUuid() : std::string(delivery_tag);
    if (m["properties"].contains("delivery_info") && m["properties"]["delivery_info"].is_object()) {
      m["properties"]["delivery_info"].erase("redelivered");
    }
  }
  return m.dump();
}

std::string MarkRedelivered(std::string_view envelope) {
  ordered m = ordered::parse(envelope, nullptr, false);
  if (!m.is_object()) return std::string(envelope);
  if (m.contains("headers") && m["headers"].is_object()) m["headers"]["redelivered"] = true;
  if (m.contains("properties") && m["properties"].is_object() && m["properties"].contains("delivery_info") &&
      m["properties"]["delivery_info"].is_object()) {
    m["properties"]["delivery_info"]["redelivered"] = true;
  }
  return m.dump();
}

std::string UnackedEntry(std::string_view envelope, std::string_view exchange, std::string_view routing_key) {
  ordered message = ordered::parse(envelope, nullptr, false);
  if (message.is_discarded()) message = std::string(envelope);
  return ordered::array({message, exchange, routing_key}).dump();
}

std::optional<std::array<std::string, 3>> ParseUnackedEntry(std::string_view entry) {
  const ordered j = ordered::parse(entry, nullptr, false);
  if (!j.is_array() || j.size() != 3 || !j[1].is_string() || !j[2].is_string()) return std::nullopt;
  return std::array<std::string, 3>{j[0].dump(), j[1].get<std::string>(), j[2].get<std::string>()};
}

}  // namespace eden::celery
