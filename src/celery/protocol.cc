#include "celery/protocol.h"

#include <algorithm>
#include <array>
#include <ctime>

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

}  // namespace

tl::expected<TaskMessage, DecodeFailure> DecodeTaskMessage(std::string_view envelope, size_t max_bytes) {
  if (envelope.size() > max_bytes) {
    return tl::unexpected<DecodeFailure>(DecodeFailure{
        Error(ErrorCode::kTooLarge, fmt::format("message of {} bytes exceeds {}", envelope.size(), max_bytes)),
        std::nullopt});
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

}  // namespace eden::celery
