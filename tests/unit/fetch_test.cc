#include <cstdio>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "fetch/curl_fetcher.h"

namespace eden::fetch {
namespace {

TEST(Backoff, GrowsExponentiallyWithinTheCap) {
  EXPECT_EQ(BackoffDelayMs(1, 200, 10000, 0.999999), 199);
  EXPECT_EQ(BackoffDelayMs(2, 200, 10000, 0.999999), 399);
  EXPECT_EQ(BackoffDelayMs(4, 200, 10000, 0.5), 800);
  EXPECT_EQ(BackoffDelayMs(30, 200, 10000, 0.999999), 9999);  // Capped, no overflow.
  EXPECT_EQ(BackoffDelayMs(3, 200, 10000, 0.0), 0);           // Full jitter reaches zero.
}

TEST(Backoff, RetriesOnlyTransientHttpStatuses) {
  for (long s : {408L, 429L, 500L, 502L, 503L, 504L}) EXPECT_TRUE(IsRetryableHttpStatus(s)) << s;
  for (long s : {200L, 301L, 400L, 401L, 403L, 404L, 410L}) EXPECT_FALSE(IsRetryableHttpStatus(s)) << s;
}

class FileFetch : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("eden-fetch-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    std::ofstream(dir_ / "a.bin", std::ios::binary) << std::string(1000, 'x');
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string Url(const std::string& name) const { return "file://" + (dir_ / name).string(); }
  std::filesystem::path dir_;
};

TEST_F(FileFetch, ReadsAFileUrl) {
  auto f = MakeCurlFetcher({});
  auto bytes = f->Fetch(Url("a.bin"));
  ASSERT_TRUE(bytes.has_value()) << bytes.error().ToString();
  EXPECT_EQ(bytes->size(), 1000u);
}

TEST_F(FileFetch, MissingFileIsNotFoundWithoutRetries) {
  int sleeps = 0;
  auto f = MakeCurlFetcher({}, [&](long) { ++sleeps; });
  auto r = f->Fetch(Url("missing.bin"));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(sleeps, 0);
}

TEST_F(FileFetch, SizeCapRefusesLargeBodies) {
  FetchOptions o;
  o.max_bytes = 100;
  auto r = MakeCurlFetcher(o)->Fetch(Url("a.bin"));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), ErrorCode::kTooLarge);
}

TEST_F(FileFetch, UnsupportedSchemesAreRefused) {
  auto f = MakeCurlFetcher({});
  for (const char* url : {"ftp://example.invalid/x.dcm", "gopher://x", "/etc/passwd", ""}) {
    auto r = f->Fetch(url);
    ASSERT_FALSE(r.has_value()) << url;
    EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument) << url;
  }
}

TEST(CurlFetch, ConnectionRefusedIsRetriedThenUnavailable) {
  int sleeps = 0;
  FetchOptions o;
  o.max_attempts = 3;
  auto f = MakeCurlFetcher(o, [&](long) { ++sleeps; });
  auto r = f->Fetch("http://127.0.0.1:1/x.dcm");  // Port 1: nothing listens.
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), ErrorCode::kUnavailable);
  EXPECT_EQ(sleeps, 2);  // Three attempts, two waits.
}

}  // namespace
}  // namespace eden::fetch
