#include "sentry/reporter.h"

#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include <fmt/format.h>

#include "sentry/envelope.h"

namespace eden::sentry {
namespace {

double Now() { return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count(); }

std::string RandomHex32() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  return fmt::format("{:016x}{:016x}", rng(), rng());
}

class SentryReporter final : public Reporter {
 public:
  SentryReporter(ReporterOptions options, Dsn dsn, Transport transport)
      : options_(std::move(options)),
        dsn_(std::move(dsn)),
        transport_(std::move(transport)),
        limiter_(options_.per_minute, options_.burst),
        thread_([this] { SendLoop(); }) {}

  ~SentryReporter() override {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

  void RunError(std::string_view code, std::string_view message) override {
    Event e = Make("error", Scrub(message));
    e.tags["kind"] = "run";
    e.tags["error_code"] = std::string(code);
    e.fingerprint = fmt::format("run-{}", code);
    Queue(std::move(e));
  }

  void InstanceFailure(std::string_view code, std::string_view step, std::string_view message) override {
    unsigned long long nth = 0;
    {
      std::lock_guard lock(mu_);
      nth = ++failures_[std::string(code)];
    }
    if (!SampleFailure(nth)) return;
    Event e = Make("warning",
                   fmt::format("instance failed{}{}: {}: {}", step.empty() ? "" : " at ", step, code, Scrub(message)));
    e.tags["kind"] = "instance";
    e.tags["error_code"] = std::string(code);
    if (!step.empty()) e.tags["step"] = std::string(step);
    e.tags["failures_of_code"] = std::to_string(nth);
    e.fingerprint = fmt::format("instance-{}-{}", code, step);
    Queue(std::move(e));
  }

  size_t Flush(double timeout_s) override {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, std::chrono::duration<double>(timeout_s), [this] { return queue_.empty() && !sending_; });
    return queue_.size();
  }

  Counts counts() const override {
    std::lock_guard lock(mu_);
    return counts_;
  }

 private:
  Event Make(const char* level, std::string message) const {
    Event e;
    e.event_id = RandomHex32();
    e.timestamp = Now();
    e.level = level;
    e.logger = options_.logger;
    e.message = std::move(message);
    e.release = options_.release;
    e.server_name = options_.server_name;
    e.environment = options_.environment;
    return e;
  }

  void Queue(Event e) {
    {
      std::lock_guard lock(mu_);
      if (queue_.size() >= options_.max_queued || !limiter_.Allow(Now())) {
        ++counts_.dropped;
        return;
      }
      queue_.push_back(std::move(e));
    }
    cv_.notify_all();
  }

  void SendLoop() {
    std::unique_lock lock(mu_);
    for (;;) {
      if (stopping_ && (queue_.empty() || Now() < paused_until_)) return;
      if (queue_.empty()) {
        cv_.wait(lock);
        continue;
      }
      if (const double wait_s = paused_until_ - Now(); wait_s > 0) {
        cv_.wait_for(lock, std::chrono::duration<double>(wait_s));
        continue;
      }
      Event e = std::move(queue_.front());
      queue_.pop_front();
      sending_ = true;
      lock.unlock();
      auto reply = transport_(dsn_.EnvelopeUrl(), dsn_.AuthHeader("eden-etl"), BuildEnvelope(e, Now()));
      lock.lock();
      sending_ = false;
      if (reply && reply->status >= 200 && reply->status < 300) {
        ++counts_.sent;
      } else {
        ++counts_.failed;
        // 429: Sentry asks for a pause; honour it (events meanwhile wait or are dropped).
        if (reply && reply->status == 429) paused_until_ = Now() + std::max(1.0, reply->retry_after_s);
      }
      cv_.notify_all();
    }
  }

  ReporterOptions options_;
  Dsn dsn_;
  Transport transport_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Event> queue_;
  std::map<std::string, unsigned long long> failures_;
  RateLimiter limiter_;
  Counts counts_;
  double paused_until_ = 0;
  bool stopping_ = false, sending_ = false;
  std::thread thread_;  // Last: started once everything above exists.
};

}  // namespace

Result<std::unique_ptr<Reporter>> Reporter::Create(ReporterOptions options, Transport transport) {
  auto dsn = ParseDsn(options.dsn);
  if (!dsn) return Fail(dsn.error());
  return std::unique_ptr<Reporter>(new SentryReporter(std::move(options), std::move(*dsn), std::move(transport)));
}

}  // namespace eden::sentry
