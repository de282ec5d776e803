#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <span>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/bytes.h"
#include "storage/local_object_store.h"

namespace eden::storage {
namespace {

TEST(ObjectName, RejectsPathsAndOddNames) {
  EXPECT_TRUE(IsSafeObjectName("1.2.840.113619.2.55"));
  EXPECT_TRUE(IsSafeObjectName("3f2a0b9c-uuid"));
  const std::vector<std::string> bad_names = {
      "", ".", "..", "../x", "a/b", "a\\b", std::string("a\0b", 3), "a\nb", std::string(201, 'a')};
  for (const std::string& bad : bad_names) {
    EXPECT_FALSE(IsSafeObjectName(bad)) << bad;
  }
}

class LocalStore : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = std::filesystem::temp_directory_path() / ("eden-store-" + std::to_string(::getpid()));
    std::filesystem::remove_all(root_);
  }
  void TearDown() override { std::filesystem::remove_all(root_); }
  std::filesystem::path root_;
};

TEST_F(LocalStore, PutStatGetRoundTrip) {
  LocalObjectStore store(root_);
  ASSERT_TRUE(store.CheckWritable().has_value());
  const std::vector<uint8_t> bytes = {1, 2, 3, 4};
  ASSERT_TRUE(store.Put("p/images-jpg/a.jpg", bytes, "image/jpeg").has_value());
  auto info = store.Stat("p/images-jpg/a.jpg");
  ASSERT_TRUE(info.has_value() && info->has_value());
  EXPECT_EQ((*info)->size, 4u);
  EXPECT_EQ(*store.Get("p/images-jpg/a.jpg"), bytes);
  auto missing = store.Stat("p/nope");
  ASSERT_TRUE(missing.has_value());
  EXPECT_FALSE(missing->has_value());
  EXPECT_EQ(store.Uri("p/x").rfind("file:///", 0), 0u);
}

TEST_F(LocalStore, LargeObjectsOfAnySizeRoundTripExactly) {
  // Objects from 1 MiB up take the O_DIRECT path: written as they are when they start on a page
  // (a download's Bytes), else through aligned staging; the last block padded, then truncated.
  // Sizes around the block and staging boundaries must come back byte for byte, from a
  // page-aligned buffer, an ordinary one, and one that starts one byte into an aligned buffer.
  LocalObjectStore store(root_);
  ASSERT_TRUE(store.CheckWritable());
  const std::vector<size_t> sizes = {size_t{1} << 20, (size_t{1} << 20) + 1,    (size_t{3} << 20) + 123,
                                     size_t{8} << 20, (size_t{8} << 20) + 4095, (size_t{17} << 20) + 7};
  for (const std::string kind : {"aligned", "vector", "offset"}) {
    for (size_t size : sizes) {
      Bytes aligned(size + 1);
      for (size_t i = 0; i < aligned.size(); ++i) aligned[i] = static_cast<uint8_t>((i * 2654435761u) >> 13);
      ASSERT_EQ(reinterpret_cast<uintptr_t>(aligned.data()) % (size_t{2} << 20), 0u);
      const std::vector<uint8_t> copy(aligned.begin(), aligned.begin() + size);
      std::span<const uint8_t> data = kind == "aligned"  ? std::span<const uint8_t>(aligned).first(size)
                                      : kind == "vector" ? std::span<const uint8_t>(copy)
                                                         : std::span<const uint8_t>(aligned).subspan(1, size);
      const std::vector<uint8_t> expected(data.begin(), data.end());
      const std::string key = "big/" + kind + "-" + std::to_string(size) + ".dcm";
      ASSERT_TRUE(store.Put(key, data, "application/dicom")) << key;
      auto info = store.Stat(key);
      ASSERT_TRUE(info && *info);
      EXPECT_EQ((*info)->size, size) << key;
      auto back = store.Get(key);
      ASSERT_TRUE(back);
      EXPECT_TRUE(*back == expected) << key;
    }
  }
  auto listed = store.List("big/");
  ASSERT_TRUE(listed);
  EXPECT_EQ(listed->size(), 3 * sizes.size());
}

TEST_F(LocalStore, WritersShowNothingBeforeCommitAndExactBytesAfter) {
  // The local writer (O_DIRECT through two staging buffers) and the default one (a spool file,
  // then PutFile: what the GCS store uses), with pieces of every size across the 8 MiB stages.
  class Spooling final : public ObjectStore {  // The local store with the base class's writer.
   public:
    explicit Spooling(LocalObjectStore& s) : s_(s) {}
    Status Put(const std::string& k, std::span<const uint8_t> b, const std::string& t) override {
      return s_.Put(k, b, t);
    }
    Result<std::optional<ObjectInfo>> Stat(const std::string& k) override { return s_.Stat(k); }
    Result<std::vector<uint8_t>> Get(const std::string& k) override { return s_.Get(k); }
    Status ForEach(const std::string& p, const Visitor& v) override { return s_.ForEach(p, v); }
    std::string Uri(const std::string& k) const override { return s_.Uri(k); }
    Status Delete(const std::string& k) override { return s_.Delete(k); }
    Status CheckWritable() override { return s_.CheckWritable(); }

   private:
    LocalObjectStore& s_;
  };
  LocalObjectStore local(root_);
  ASSERT_TRUE(local.CheckWritable());
  Spooling spooling(local);
  const std::filesystem::path spool = root_ / "spool.tmp";
  for (ObjectStore* store : {static_cast<ObjectStore*>(&local), static_cast<ObjectStore*>(&spooling)}) {
    std::vector<uint8_t> expected;
    auto writer = store->OpenWriter("shards/train-000000.tar", "application/x-tar", spool);
    ASSERT_TRUE(writer);
    for (size_t piece : {size_t{1}, size_t{511}, size_t{5} << 20, size_t{9} << 20, size_t{4097}, size_t{3} << 20}) {
      std::vector<uint8_t> bytes(piece);
      for (size_t i = 0; i < piece; ++i) bytes[i] = static_cast<uint8_t>((expected.size() + i) * 31 >> 3);
      ASSERT_TRUE((*writer)->Write(bytes));
      expected.insert(expected.end(), bytes.begin(), bytes.end());
    }
    EXPECT_EQ((*writer)->bytes_written(), expected.size());
    auto before = store->Stat("shards/train-000000.tar");
    ASSERT_TRUE(before);
    EXPECT_FALSE(before->has_value()) << "visible before Commit";
    ASSERT_TRUE((*writer)->Commit());
    writer->reset();
    auto back = store->Get("shards/train-000000.tar");
    ASSERT_TRUE(back);
    EXPECT_TRUE(*back == expected);
    EXPECT_FALSE(std::filesystem::exists(spool));
    ASSERT_TRUE(store->Delete("shards/train-000000.tar"));
    // Dropped without Commit: nothing under the key, no temporary left.
    auto dropped = store->OpenWriter("shards/train-000001.tar", "application/x-tar", spool);
    ASSERT_TRUE(dropped);
    ASSERT_TRUE((*dropped)->Write(expected));
    dropped->reset();
    auto none = store->Stat("shards/train-000001.tar");
    ASSERT_TRUE(none);
    EXPECT_FALSE(none->has_value());
    EXPECT_FALSE(std::filesystem::exists(spool));
    for (const auto& entry : std::filesystem::directory_iterator(root_ / "shards")) {
      ADD_FAILURE() << "left behind: " << entry.path();
    }
  }
}

TEST_F(LocalStore, PutReplacesAtomicallyAndLeavesNoTemporaries) {
  LocalObjectStore store(root_);
  ASSERT_TRUE(store.Put("k", std::vector<uint8_t>(10, 1), "x").has_value());
  ASSERT_TRUE(store.Put("k", std::vector<uint8_t>(3, 2), "x").has_value());
  EXPECT_EQ(*store.Get("k"), std::vector<uint8_t>(3, 2));
  for (const auto& e : std::filesystem::recursive_directory_iterator(root_)) {
    EXPECT_EQ(e.path().filename().string().find(".eden-tmp-"), std::string::npos) << e.path();
  }
}

TEST_F(LocalStore, PutFileCopiesTheFileIntoPlaceAndForEachSeesIt) {
  LocalObjectStore store(root_);
  ASSERT_TRUE(store.CheckWritable());
  const auto source = root_.parent_path() / ("eden-store-src-" + std::to_string(::getpid()) + ".csv");
  std::string text;
  for (int i = 0; i < 200'000; ++i) text += "row," + std::to_string(i) + "\r\n";
  std::ofstream(source, std::ios::binary) << text;
  ASSERT_TRUE(store.PutFile("p/data.csv", source, "text/csv")) << "PutFile";
  auto back = store.Get("p/data.csv");
  ASSERT_TRUE(back);
  EXPECT_EQ(std::string(back->begin(), back->end()), text);
  std::map<std::string, uint64_t> seen;
  ASSERT_TRUE(store.ForEach("p/", [&](const std::string& key, const ObjectInfo& info) { seen[key] = info.size; }));
  EXPECT_EQ(seen, (std::map<std::string, uint64_t>{{"p/data.csv", text.size()}}));
  EXPECT_FALSE(store.PutFile("p/other.csv", source.string() + ".missing", "text/csv"));
  EXPECT_FALSE(std::filesystem::exists(root_ / "p" / "other.csv"));
  for (const auto& e : std::filesystem::recursive_directory_iterator(root_)) {
    EXPECT_EQ(e.path().filename().string().find(".eden-tmp-"), std::string::npos) << e.path();
  }
  std::filesystem::remove(source);
}

TEST_F(LocalStore, CheckWritableRemovesTemporariesOfAKilledRun) {
  std::filesystem::create_directories(root_ / "p");
  const std::string dead = "a.jpg.eden-tmp-2147483646-0";  // No process has this pid.
  std::ofstream(root_ / "p" / dead) << "half";
  std::ofstream(root_ / "p" / "b.jpg") << "whole";
  LocalObjectStore store(root_, {"p"});
  ASSERT_TRUE(store.CheckWritable().has_value());
  EXPECT_FALSE(std::filesystem::exists(root_ / "p" / dead));
  EXPECT_TRUE(std::filesystem::exists(root_ / "p" / "b.jpg"));
}

TEST_F(LocalStore, CheckWritableLeavesFilesThatAreNotItsOwn) {
  // Names that only look like ours, ours outside the owned folders, and ours from a process
  // that is still running: all kept.
  const std::string live = "c.jpg.eden-tmp-" + std::to_string(::getppid()) + "-0";
  const std::vector<std::filesystem::path> kept = {root_ / "p" / "notes.tmp-1-2",
                                                   root_ / "p" / "x.eden-tmp-abc",
                                                   root_ / "p" / ".eden-tmp-1-2",
                                                   root_ / "p" / live,
                                                   root_ / "p" / "sub" / "a.jpg.eden-tmp-2147483646-0",
                                                   root_ / "mine" / "a.jpg.eden-tmp-2147483646-0"};
  for (const auto& path : kept) {
    std::filesystem::create_directories(path.parent_path());
    std::ofstream(path) << "user data";
  }
  LocalObjectStore store(root_, {"p"});
  ASSERT_TRUE(store.CheckWritable().has_value());
  for (const auto& path : kept) EXPECT_TRUE(std::filesystem::exists(path)) << path;
  EXPECT_TRUE(LocalObjectStore::IsTempName("a.dcm.eden-tmp-12-3"));
  EXPECT_FALSE(LocalObjectStore::IsTempName("a.dcm.tmp-12-3"));
}

}  // namespace
}  // namespace eden::storage
