// The worker's in-process parts that need no Redis: running a task under a time limit.
#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "celery/protocol.h"
#include "celery/worker.h"

namespace eden::celery {
namespace {

using namespace std::chrono_literals;

/// What a task saw, shared with the test (kept alive by the task's own copy).
struct Probe {
  std::atomic<bool> started{false}, release{false}, finished{false}, saw_abandoned{false};
};

TEST(RunWithTimeLimit, AbandonsATaskPastItsLimitWhichThenSeesItIsAbandoned) {
  auto probe = std::make_shared<Probe>();
  TaskOutcome outcome;
  {
    // The registry entry goes out of scope before the task ends: the abandoned thread must own
    // what it runs (a reference here was a use after free at shutdown).
    TaskFunction fn = [probe](const TaskMessage& m) {
      probe->started = true;
      while (!probe->release) std::this_thread::sleep_for(1ms);
      probe->saw_abandoned = TaskAbandoned();
      probe->finished = true;
      return TaskOutcome{true, "\"" + m.id + "\"", "", "", std::nullopt, std::nullopt};
    };
    TaskMessage msg;
    msg.id = "t-1";
    outcome = RunWithTimeLimit(std::move(fn), std::move(msg), 0.05);
  }
  EXPECT_FALSE(outcome.ok);
  EXPECT_EQ(outcome.exc_type, "TimeLimitExceeded");
  EXPECT_EQ(outcome.exc_message, "TimeLimitExceeded(0.05,)");
  EXPECT_FALSE(TaskAbandoned());  // Only inside the abandoned task.
  probe->release = true;
  for (int i = 0; i < 5000 && !probe->finished; ++i) std::this_thread::sleep_for(1ms);
  ASSERT_TRUE(probe->finished);
  EXPECT_TRUE(probe->saw_abandoned);
}

TEST(RunWithTimeLimit, ATaskWithinItsLimitReturnsItsOwnOutcome) {
  TaskMessage msg;
  msg.id = "t-2";
  auto outcome = RunWithTimeLimit(
      [](const TaskMessage& m) {
        EXPECT_FALSE(TaskAbandoned());
        return TaskOutcome{true, "\"" + m.id + "\"", "", "", std::nullopt, std::nullopt};
      },
      msg, 5.0);
  EXPECT_TRUE(outcome.ok);
  EXPECT_EQ(outcome.result_json, "\"t-2\"");
}

TEST(RunWithTimeLimit, ExceptionsBecomeRuntimeErrorFailures) {
  TaskMessage msg;
  for (double limit : {0.0, 5.0}) {
    auto outcome =
        RunWithTimeLimit([](const TaskMessage&) -> TaskOutcome { throw std::runtime_error("boom"); }, msg, limit);
    EXPECT_FALSE(outcome.ok);
    EXPECT_EQ(outcome.exc_type, "RuntimeError");
    EXPECT_EQ(outcome.exc_message, "boom");
  }
  auto odd = RunTask([](const TaskMessage&) -> TaskOutcome { throw 42; }, msg);
  EXPECT_EQ(odd.exc_type, "RuntimeError");
}

TEST(RandomUuid, IsAVersion4UuidAndUniqueAcrossThreads) {
  std::vector<std::string> ids;
  std::mutex mu;
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      std::vector<std::string> mine;
      for (int i = 0; i < 5000; ++i) mine.push_back(RandomUuid());
      std::lock_guard lock(mu);
      ids.insert(ids.end(), mine.begin(), mine.end());
    });
  }
  for (auto& t : threads) t.join();
  std::set<std::string> unique(ids.begin(), ids.end());
  EXPECT_EQ(unique.size(), ids.size());
  for (const auto& id : {ids.front(), ids.back()}) {
    ASSERT_EQ(id.size(), 36u) << id;
    EXPECT_EQ(id[14], '4') << id;                                          // version 4
    EXPECT_NE(std::string("89ab").find(id[19]), std::string::npos) << id;  // RFC 4122 variant
  }
}

}  // namespace
}  // namespace eden::celery
