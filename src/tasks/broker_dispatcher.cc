#include "tasks/broker_dispatcher.h"

#include <unistd.h>

#include <filesystem>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "celery/broker_client.h"
#include "tasks/wire.h"
#include "tasks/worker_tasks.h"

namespace eden::tasks {
namespace {

/// The outcome a task's failure (not a result) stands for.
pipeline::InstanceOutcome FromTaskFailure(const std::string& status, const std::string& result) {
  const auto r = nlohmann::json::parse(result, nullptr, false);
  const std::string type = r.is_object() ? r.value("exc_type", status) : status;
  std::string message;
  if (r.is_object() && r.contains("exc_message") && r["exc_message"].is_array() && !r["exc_message"].empty() &&
      r["exc_message"][0].is_string()) {
    message = r["exc_message"][0].get<std::string>();
  }
  pipeline::InstanceOutcome o;
  o.Fail(pipeline::Step::kNone, Error(type == "TimeLimitExceeded" ? ErrorCode::kTimeout : ErrorCode::kInternal,
                                      fmt::format("worker: {} {}: {}", status, type, message)));
  return o;
}

}  // namespace

pipeline::Dispatcher MakeBrokerDispatcher(BrokerDispatch d) {
  if (d.destination.rfind("gs://", 0) != 0) {
    std::error_code ec;  // fs::absolute throws without one (a deleted working directory).
    const auto absolute = std::filesystem::absolute(d.destination, ec);
    if (!ec) d.destination = absolute.lexically_normal().string();
  }
  const std::string options =
      nlohmann::json{
          {"destination", d.destination}, {"prefix", d.prefix}, {"quality", d.quality}, {"max_size", d.max_size},
          {"window", d.window},           {"deid", d.deid},     {"render", d.render}}
          .dump();
  return [d, options](const std::vector<source::InstanceRow>& rows,
                      const std::function<void(pipeline::InstanceOutcome &&)>& on_outcome,
                      const std::function<bool()>& stop) -> Status {
    auto client = celery::BrokerClient::Connect(d.broker, d.result_backend);
    if (!client) return Fail(client.error());
    char host[256] = {};
    ::gethostname(host, sizeof host - 1);
    std::vector<celery::OutgoingTask> tasks;
    tasks.reserve(rows.size());
    for (const auto& row : rows) {
      celery::OutgoingTask t;
      t.id = celery::RandomUuid();
      t.task = kProcessInstanceTask;
      t.args_json = "[" + RowToJson(row) + ", " + options + "]";
      t.queue = d.queue;
      t.origin = fmt::format("eden-run{}@{}", ::getpid(), host);
      tasks.push_back(std::move(t));
    }
    return (*client)->RunTasks(
        tasks, 256,
        [&](size_t index, const std::string& status, const std::string& result) {
          pipeline::InstanceOutcome o;
          if (status != "SUCCESS") {
            o = FromTaskFailure(status, result);
          } else if (auto parsed = OutcomeFromJson(result)) {
            o = std::move(*parsed);
          } else {
            o.Fail(pipeline::Step::kNone, Error(ErrorCode::kInternal, "worker result: " + parsed.error().message()));
          }
          o.instance_id = rows[index].instance_id;
          on_outcome(std::move(o));
        },
        [&d](size_t sent, size_t done) {
          if (d.on_waiting) d.on_waiting(sent, done);
        },
        stop);
  };
}

}  // namespace eden::tasks
