// The ObjectStore contract (storage/object_store.h), one suite run against every store: the local
// folder, and GCS over the in-memory JSON API (tests/support/fake_gcs). The GCS store against the
// real JSON API test server is the integration suite's (tests/gcs).
#include <gtest/gtest.h>

#include <fstream>
#include <functional>
#include <memory>
#include <string>

#include "gcs/client.h"
#include "gcs/credentials.h"
#include "gcs/gcs_object_store.h"
#include "storage/local_object_store.h"
#include "support/fake_gcs.h"
#include "support/temp_dir.h"

namespace eden::storage {
namespace {

std::span<const uint8_t> Span(const std::string& s) { return {reinterpret_cast<const uint8_t*>(s.data()), s.size()}; }
std::string Text(const std::vector<uint8_t>& v) { return {v.begin(), v.end()}; }

struct StoreUnderTest {
  std::string name;
  std::function<std::unique_ptr<ObjectStore>(const std::filesystem::path& root)> make;
};

class StoreContract : public ::testing::TestWithParam<StoreUnderTest> {
 protected:
  void SetUp() override { store_ = GetParam().make(dir_.path() / "store"); }
  testing::TempDir dir_{"contract"};
  std::unique_ptr<ObjectStore> store_;
};

TEST_P(StoreContract, PutThenGetAndStat) {
  ASSERT_TRUE(store_->CheckWritable().has_value());
  ASSERT_TRUE(store_->Put("p/dicom-files/a.dcm", Span("DICM-a"), "application/dicom").has_value());
  auto got = store_->Get("p/dicom-files/a.dcm");
  ASSERT_TRUE(got.has_value()) << got.error().ToString();
  EXPECT_EQ(Text(*got), "DICM-a");
  auto info = store_->Stat("p/dicom-files/a.dcm");
  ASSERT_TRUE(info.has_value() && info->has_value());
  EXPECT_EQ((*info)->size, 6u);
  auto missing = store_->Stat("p/dicom-files/none.dcm");
  ASSERT_TRUE(missing.has_value());
  EXPECT_FALSE(missing->has_value());
  EXPECT_FALSE(store_->Get("p/dicom-files/none.dcm").has_value());
}

TEST_P(StoreContract, PutIsIdempotentAndReplacesOtherBytes) {
  ASSERT_TRUE(store_->Put("k/x.jpg", Span("one"), "image/jpeg").has_value());
  ASSERT_TRUE(store_->Put("k/x.jpg", Span("one"), "image/jpeg").has_value());
  ASSERT_TRUE(store_->Put("k/x.jpg", Span("two!"), "image/jpeg").has_value());
  EXPECT_EQ(Text(*store_->Get("k/x.jpg")), "two!");
  auto listed = store_->List("k/");
  ASSERT_TRUE(listed.has_value());
  EXPECT_EQ(listed->size(), 1u);
}

TEST_P(StoreContract, ForEachVisitsExactlyThePrefix) {
  for (const char* key : {"a/1.jpg", "a/2.jpg", "a/3.jpg", "a/4.jpg", "a/5.jpg", "ab/6.jpg", "b/7.jpg"}) {
    ASSERT_TRUE(store_->Put(key, Span(key), "image/jpeg").has_value());
  }
  std::map<std::string, uint64_t> seen;
  ASSERT_TRUE(store_->ForEach("a/", [&](const std::string& key, const ObjectInfo& info) { seen[key] = info.size; })
                  .has_value());
  EXPECT_EQ(seen.size(), 5u);  // Across pages (the fake answers 2 per page).
  EXPECT_EQ(seen.count("ab/6.jpg"), 0u);
  EXPECT_EQ(seen["a/3.jpg"], 7u);
}

TEST_P(StoreContract, DeleteRemovesAndAMissingObjectIsNoError) {
  ASSERT_TRUE(store_->Put("d/x", Span("x"), "text/plain").has_value());
  ASSERT_TRUE(store_->Delete("d/x").has_value());
  EXPECT_FALSE(store_->Stat("d/x")->has_value());
  EXPECT_TRUE(store_->Delete("d/x").has_value());
}

TEST_P(StoreContract, AWriterShowsNothingUntilCommit) {
  {
    auto w = store_->OpenWriter("s/shard-000000.tar", "application/x-tar", dir_.path() / "spool-a");
    ASSERT_TRUE(w.has_value()) << w.error().ToString();
    ASSERT_TRUE((*w)->Write(Span("abc")).has_value());
    EXPECT_FALSE(store_->Stat("s/shard-000000.tar")->has_value());
  }  // Dropped without Commit.
  EXPECT_FALSE(store_->Stat("s/shard-000000.tar")->has_value());
  auto w = store_->OpenWriter("s/shard-000001.tar", "application/x-tar", dir_.path() / "spool-b");
  ASSERT_TRUE(w.has_value());
  ASSERT_TRUE((*w)->Write(Span("abc")).has_value());
  ASSERT_TRUE((*w)->Write(Span("def")).has_value());
  EXPECT_EQ((*w)->bytes_written(), 6u);
  ASSERT_TRUE((*w)->Commit().has_value());
  EXPECT_EQ(Text(*store_->Get("s/shard-000001.tar")), "abcdef");
}

TEST_P(StoreContract, PutFileStoresTheFile) {
  const auto file = dir_.path() / "report.csv";
  std::ofstream(file) << "instance_id,report\n1,ok\n";
  ASSERT_TRUE(store_->PutFile("p/name.csv", file, "text/csv").has_value());
  EXPECT_EQ(Text(*store_->Get("p/name.csv")), "instance_id,report\n1,ok\n");
}

TEST_P(StoreContract, ALockHasOneHolderAtATime) {
  auto first = store_->TryLock("p/.eden/scheduler.lock", "first", 60);
  ASSERT_TRUE(first.has_value()) << first.error().ToString();
  ASSERT_NE(*first, nullptr);
  auto second = store_->TryLock("p/.eden/scheduler.lock", "second", 60);
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(*second, nullptr);
  first->reset();  // Released.
  auto third = store_->TryLock("p/.eden/scheduler.lock", "third", 60);
  ASSERT_TRUE(third.has_value());
  EXPECT_NE(*third, nullptr);
}

INSTANTIATE_TEST_SUITE_P(
    Stores, StoreContract,
    ::testing::Values(StoreUnderTest{"Local",
                                     [](const std::filesystem::path& root) -> std::unique_ptr<ObjectStore> {
                                       std::filesystem::create_directories(root);
                                       return std::make_unique<LocalObjectStore>(root);
                                     }},
                      StoreUnderTest{"Gcs",
                                     [](const std::filesystem::path&) -> std::unique_ptr<ObjectStore> {
                                       auto fake = std::make_shared<testing::FakeGcs>("bkt", "http://gcs", 2);
                                       gcs::ClientOptions o;
                                       o.endpoint = "http://gcs";
                                       auto client = std::make_shared<gcs::GcsClient>(
                                           o, gcs::MakeAnonymousCredentials(), [](long) {}, fake);
                                       return std::make_unique<gcs::GcsObjectStore>(client, "bkt");
                                     }}),
    [](const ::testing::TestParamInfo<StoreUnderTest>& param) { return param.param.name; });

}  // namespace
}  // namespace eden::storage
