// The tasks `eden worker` runs and the wire forms they exchange (src/tasks), over in-memory
// adapters: a fetcher that serves bytes from a map (or fails as told), the local store in a
// temporary folder, the real DCMTK converter.
#include <atomic>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <thread>

#include <gtest/gtest.h>
#include <unistd.h>
#include <nlohmann/json.hpp>

#include "dicom/dcmtk_decoder.h"
#include "jpeg/turbojpeg_encoder.h"
#include "storage/local_object_store.h"
#include "tasks/wire.h"
#include "tasks/worker_tasks.h"

namespace eden::tasks {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using pipeline::InstanceOutcome;
using pipeline::Step;

std::vector<uint8_t> ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

/// Serves "mem://ct" (pydicom's CT_small.dcm); "mem://down" fails as a PACS that is down,
/// anything else is a 404.
class MapFetcher final : public fetch::Fetcher {
 public:
  explicit MapFetcher(const std::vector<uint8_t>& ct) : ct_(ct) {}
  Result<Bytes> Fetch(const std::string& url) override {
    if (url == "mem://ct") return Bytes(ct_.begin(), ct_.end());
    if (url == "mem://down") return Fail(ErrorCode::kUnavailable, "Couldn't connect to server");
    return Fail(ErrorCode::kNotFound, "HTTP 404");
  }

 private:
  const std::vector<uint8_t>& ct_;
};

class WorkerTasks : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("eden-tasks-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    ct_ = ReadFile("/usr/lib/python3/dist-packages/pydicom/data/test_files/CT_small.dcm");
    ASSERT_FALSE(ct_.empty());
    WorkerAdapters a;
    a.make_converter = [this] {
      ++converters_made_;
      return std::make_unique<convert::Converter>(decoder_, jpeg::MakeTurboJpegEncoder());
    };
    a.make_fetcher = [this] {
      ++fetchers_made_;
      return std::make_unique<MapFetcher>(ct_);
    };
    a.open_store = [this](const std::string& destination) -> Result<std::unique_ptr<storage::ObjectStore>> {
      opened_.push_back(destination);
      if (destination.rfind("gs://", 0) == 0) return Fail(ErrorCode::kUnavailable, "cannot reach the bucket");
      return std::unique_ptr<storage::ObjectStore>(std::make_unique<storage::LocalObjectStore>(destination));
    };
    tasks_ = MakeWorkerTasks({1, "", 2, 5}, std::move(a));
  }
  void TearDown() override { fs::remove_all(dir_); }

  celery::TaskOutcome Process(const std::string& url, int retries = 0, std::string destination = "") {
    source::InstanceRow row;
    row.study_id = "s1";
    row.instance_id = "i-" + std::to_string(++n_);
    row.file_url = url;
    celery::TaskMessage m;
    m.task = kProcessInstanceTask;
    m.retries = retries;
    if (destination.empty()) destination = dir_.string();
    m.args_json = "[" + RowToJson(row) + ", " + json{{"destination", destination}, {"prefix", "p"}}.dump() + "]";
    return tasks_.at(kProcessInstanceTask)(m);
  }

  fs::path dir_;
  std::vector<uint8_t> ct_;
  const dicom::DcmtkDecoder decoder_;
  std::atomic<int> converters_made_{0}, fetchers_made_{0};
  std::vector<std::string> opened_;
  celery::TaskRegistry tasks_;
  int n_ = 0;
};

TEST_F(WorkerTasks, ProcessInstanceStoresBothObjectsAndReturnsTheOutcome) {
  const auto r = Process("mem://ct");
  ASSERT_TRUE(r.ok) << r.exc_type << ": " << r.exc_message;
  auto outcome = OutcomeFromJson(r.result_json);
  ASSERT_TRUE(outcome.has_value());
  EXPECT_TRUE(outcome->stored) << outcome->ErrorText();
  EXPECT_EQ(outcome->instance_id, "i-1");
  EXPECT_EQ(fs::file_size(dir_ / "p/dicom-files/i-1.dcm"), ct_.size());
  EXPECT_EQ(fs::file_size(dir_ / "p/images-jpg/i-1.jpg"), outcome->jpg_bytes);
  EXPECT_EQ(json::parse(r.result_json)["success"], true);
}

TEST_F(WorkerTasks, TheStoreForADestinationIsOpenedOnceAndEachThreadMakesItsOwnFetcher) {
  ASSERT_TRUE(Process("mem://ct").ok);
  ASSERT_TRUE(Process("mem://ct").ok);
  std::thread other([&] { EXPECT_TRUE(Process("mem://ct").ok); });
  other.join();
  EXPECT_EQ(opened_.size(), 1u);
  EXPECT_EQ(fetchers_made_.load(), 2);
  EXPECT_EQ(converters_made_.load(), 2);
}

TEST_F(WorkerTasks, ATransientFailureRetriesWithAGrowingCountdownThenIsAResult) {
  auto first = Process("mem://down", 0);
  EXPECT_FALSE(first.ok);
  EXPECT_EQ(first.exc_type, "ConnectionError");
  ASSERT_TRUE(first.retry_in_s.has_value());
  EXPECT_EQ(*first.retry_in_s, 5);
  EXPECT_NE(first.exc_message.find("unavailable: download: Couldn't connect"), std::string::npos) << first.exc_message;
  auto second = Process("mem://down", 1);
  ASSERT_TRUE(second.retry_in_s.has_value());
  EXPECT_EQ(*second.retry_in_s, 10);
  // The last retry (task_retries = 2) gives up: a result that says why.
  auto last = Process("mem://down", 2);
  ASSERT_TRUE(last.ok);
  auto outcome = OutcomeFromJson(last.result_json);
  ASSERT_TRUE(outcome.has_value());
  EXPECT_FALSE(outcome->stored);
  EXPECT_TRUE(outcome->FailedAt(Step::kDownload));
  EXPECT_TRUE(outcome->FailedWith(ErrorCode::kUnavailable));
}

TEST_F(WorkerTasks, APermanentFailureIsAResultAtOnce) {
  auto r = Process("mem://missing", 0);
  ASSERT_TRUE(r.ok);
  EXPECT_FALSE(r.retry_in_s.has_value());
  auto outcome = OutcomeFromJson(r.result_json);
  ASSERT_TRUE(outcome.has_value());
  EXPECT_TRUE(outcome->FailedWith(ErrorCode::kNotFound));
  EXPECT_EQ(json::parse(r.result_json)["error"], "not_found: download: HTTP 404");
}

TEST_F(WorkerTasks, ADestinationThatCannotBeOpenedIsAConnectionErrorNamingIt) {
  auto r = Process("mem://ct", 0, "gs://bucket");
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.exc_type, "ConnectionError");
  EXPECT_NE(r.exc_message.find("cannot reach the bucket"), std::string::npos) << r.exc_message;
}

TEST_F(WorkerTasks, MissingOrMistypedArgumentsAreTypeErrors) {
  celery::TaskMessage m;
  m.args_json = "[]";
  for (const char* task : {"tasks.convert_dicom_to_jpg", "tasks.upload_file_to_gcs", kProcessInstanceTask}) {
    auto r = tasks_.at(task)(m);
    EXPECT_FALSE(r.ok) << task;
    EXPECT_EQ(r.exc_type, "TypeError") << task;
  }
  m.args_json = R"([{"instance_id": 7}, {"destination": "/tmp"}])";
  EXPECT_EQ(tasks_.at(kProcessInstanceTask)(m).exc_type, "TypeError");
  m.args_json = R"(["in.dcm"])";
  m.kwargs_json = R"({"quality": 0})";
  EXPECT_EQ(tasks_.at("tasks.convert_dicom_to_jpg")(m).exc_type, "TypeError");
}

TEST_F(WorkerTasks, ConvertDicomToJpgWritesTheJpegOrSaysWhyNot) {
  const fs::path in = dir_ / "ct.dcm", out = dir_ / "out" / "ct.jpg";
  std::ofstream(in, std::ios::binary).write(reinterpret_cast<const char*>(ct_.data()), ct_.size());
  celery::TaskMessage m;
  m.args_json = json::array({in.string(), out.string()}).dump();
  auto r = tasks_.at("tasks.convert_dicom_to_jpg")(m);
  ASSERT_TRUE(r.ok);
  const json result = json::parse(r.result_json);
  EXPECT_EQ(result["success"], true) << result.dump();
  EXPECT_EQ(result["rows"], 128);
  EXPECT_GT(fs::file_size(out), 0u);
  m.args_json = json::array({(dir_ / "nope.dcm").string()}).dump();
  const json missing = json::parse(tasks_.at("tasks.convert_dicom_to_jpg")(m).result_json);
  EXPECT_EQ(missing["success"], false);
  EXPECT_FALSE(missing["error"].get<std::string>().empty());
}

TEST(Wire, OutcomesKeepTheirStepAndErrorThroughTheResultJson) {
  for (Step step : {Step::kNone, Step::kDownload, Step::kConvert, Step::kStoreDicom, Step::kStoreJpeg}) {
    InstanceOutcome a;
    a.instance_id = "i1";
    a.Fail(step, Error(ErrorCode::kCorruptPixelData, "a reason: with a colon"));
    const json j = json::parse(OutcomeToJson(a));
    EXPECT_EQ(j["step"], std::string(pipeline::StepName(step)));
    EXPECT_EQ(j["success"], false);
    auto back = OutcomeFromJson(OutcomeToJson(a));
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(back->failed_step, step);
    EXPECT_TRUE(back->FailedWith(ErrorCode::kCorruptPixelData));
    EXPECT_EQ(back->ErrorText(), a.ErrorText());
  }
  InstanceOutcome stored;
  stored.instance_id = "i2";
  stored.stored = stored.downloaded = true;
  auto back = OutcomeFromJson(OutcomeToJson(stored));
  ASSERT_TRUE(back.has_value());
  EXPECT_TRUE(back->stored);
  EXPECT_FALSE(back->error.has_value());
  EXPECT_FALSE(OutcomeFromJson("[1, 2]").has_value());
}

}  // namespace
}  // namespace eden::tasks
