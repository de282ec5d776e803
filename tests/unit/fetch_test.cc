#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include <fmt/format.h>

#include <gtest/gtest.h>

#include "fetch/http_fetcher.h"
#include "http/retry.h"
#include "http/status.h"
#include "http/url.h"

namespace eden::fetch {
namespace {

using http::BackoffDelayMs;
using http::IsRetryableHttpStatus;
using http::RedactUrl;

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
    std::filesystem::create_directories(dir_ / "pacs");
    std::ofstream(dir_ / "pacs" / "a.bin", std::ios::binary) << std::string(1000, 'x');
    std::ofstream(dir_ / "secret.bin", std::ios::binary) << std::string(10, 's');
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string Url(const std::string& name) const { return "file://" + (dir_ / "pacs" / name).string(); }
  /// Options whose policy allows files under dir_/pacs/.
  FetchOptions Allowed() const {
    FetchOptions o;
    o.policy = UrlPolicy::Make({"file://" + (dir_ / "pacs").string() + "/"}).value();
    return o;
  }
  std::filesystem::path dir_;
};

TEST_F(FileFetch, FileUrlsAreRefusedByDefault) {
  auto r = MakeCurlFetcher({})->Fetch(Url("a.bin"));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), ErrorCode::kForbiddenUrl);
  EXPECT_EQ(ErrorCodeName(r.error().code()), "forbidden_url");
}

TEST_F(FileFetch, AnAllowedFolderAdmitsOnlyItsOwnFiles) {
  auto f = MakeCurlFetcher(Allowed());
  ASSERT_TRUE(f->Fetch(Url("a.bin")).has_value());
  // A missing file outside the folder is refused, not looked for (no probing of the disk).
  auto probe = f->Fetch("file://" + (dir_ / "nothing-here.bin").string());
  ASSERT_FALSE(probe.has_value());
  EXPECT_EQ(probe.error().code(), ErrorCode::kForbiddenUrl);
  // Out of the folder by "..", by an escaped "..", and by a symbolic link inside it.
  std::filesystem::create_symlink(dir_ / "secret.bin", dir_ / "pacs" / "link.bin");
  std::filesystem::create_directories(dir_ / "pacsx");
  std::ofstream(dir_ / "pacsx" / "a.bin") << "beside, not inside";
  for (const std::string& url : {Url("../secret.bin"), Url("%2E%2E/secret.bin"), Url("link.bin"),
                                 "file://" + (dir_ / "pacsx").string() + "/a.bin", std::string("file:///etc/passwd")}) {
    auto r = f->Fetch(url);
    ASSERT_FALSE(r.has_value()) << url;
    EXPECT_EQ(r.error().code(), ErrorCode::kForbiddenUrl) << url;
  }
}

TEST_F(FileFetch, ReadsAFileUrl) {
  auto f = MakeCurlFetcher(Allowed());
  auto bytes = f->Fetch(Url("a.bin"));
  ASSERT_TRUE(bytes.has_value()) << bytes.error().ToString();
  EXPECT_EQ(bytes->size(), 1000u);
}

TEST_F(FileFetch, MissingFileIsNotFoundWithoutRetries) {
  int sleeps = 0;
  auto f = MakeCurlFetcher(Allowed(), [&](long) { ++sleeps; });
  auto r = f->Fetch(Url("missing.bin"));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(sleeps, 0);
}

TEST_F(FileFetch, SizeCapRefusesLargeBodies) {
  FetchOptions o = Allowed();
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
    EXPECT_EQ(r.error().code(), ErrorCode::kForbiddenUrl) << url;
  }
}

TEST(UrlPolicy, WebPrefixesNarrowHttpAndRespectHostBoundaries) {
  auto p = UrlPolicy::Make({"http://pacs.local:8042/instances/"});
  ASSERT_TRUE(p.has_value());
  EXPECT_TRUE(p->Check("http://pacs.local:8042/instances/1/file").has_value());
  EXPECT_TRUE(p->Check("HTTP://PACS.LOCAL:8042/instances/1/file").has_value());
  for (const char* url : {"http://pacs.local:8043/instances/1/file", "http://pacs.local:8042/other",
                          "http://pacs.local.evil.example:8042/instances/1", "https://pacs.local:8042/instances/1",
                          "http://user@evil.example/instances/"}) {
    auto r = p->Check(url);
    ASSERT_FALSE(r.has_value()) << url;
    EXPECT_EQ(r.error().code(), ErrorCode::kForbiddenUrl) << url;
  }
  auto host_only = UrlPolicy::Make({"https://pacs.local"});
  ASSERT_TRUE(host_only.has_value());
  EXPECT_TRUE(host_only->Check("https://pacs.local/x").has_value());
  EXPECT_FALSE(host_only->Check("https://pacs.localhost/x").has_value());
  // A file:// prefix alone leaves the web open.
  auto files = UrlPolicy::Make({"file:///tmp/"});
  ASSERT_TRUE(files.has_value());
  EXPECT_TRUE(files->Check("https://anywhere.example/x.dcm").has_value());
}

TEST(UrlPolicy, BadPrefixesAreConfigurationErrors) {
  for (const char* prefix : {"ftp://x/", "file:///no/such/folder/eden/", "not a url"}) {
    auto p = UrlPolicy::Make({prefix});
    ASSERT_FALSE(p.has_value()) << prefix;
    EXPECT_EQ(p.error().code(), ErrorCode::kInvalidArgument) << prefix;
  }
  EXPECT_EQ(SplitUrlList(" a, ,b ,"), (std::vector<std::string>{"a", "b"}));
}

TEST(RedactUrl, DropsSecretsKeepsUserAndPath) {
  EXPECT_EQ(RedactUrl("https://u:p@host/path?upload_id=secret#frag"), "https://u@host/path");
  EXPECT_EQ(RedactUrl("http://pacs/instances/a@b/file"), "http://pacs/instances/a@b/file");
  EXPECT_EQ(RedactUrl("redis://eden:s3cret@127.0.0.1:6379/0"), "redis://eden@127.0.0.1:6379/0");
  EXPECT_EQ(RedactUrl("redis://:s3cret@127.0.0.1:6379/0"), "redis://127.0.0.1:6379/0");
  for (const char* url :
       {"https://u:p@host/path?upload_id=secret", "redis://:s3cret@h:1/0", "weird://u:p@x/?y=s3cret"}) {
    const std::string r = RedactUrl(url);
    EXPECT_EQ(r.find("s3cret"), std::string::npos) << r;
    EXPECT_EQ(r.find(":p@"), std::string::npos) << r;
  }
}

/// A one-connection-at-a-time HTTP server on loopback that answers every request with `reply`.
class OneReplyServer {
 public:
  explicit OneReplyServer(std::string reply) : reply_(std::move(reply)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    ::listen(fd_, 8);
    thread_ = std::thread([this] {
      for (;;) {
        const int c = ::accept(fd_, nullptr, nullptr);
        if (c < 0) return;
        char buf[4096];
        (void)::recv(c, buf, sizeof buf, 0);
        ++requests_;
        (void)::send(c, reply_.data(), reply_.size(), MSG_NOSIGNAL);
        ::close(c);
      }
    });
  }
  ~OneReplyServer() {
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
  }
  int port() const { return port_; }
  int requests() const { return requests_; }

 private:
  std::string reply_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<int> requests_{0};
  std::thread thread_;
};

TEST(CurlFetch, RedirectsAreCheckedAgainstThePolicyBeforeTheyAreFollowed) {
  OneReplyServer target("HTTP/1.1 200 OK\r\nContent-Length: 4\r\nConnection: close\r\n\r\nDICM");
  const std::string to_target = fmt::format("http://127.0.0.1:{}/x", target.port());
  for (const std::string& location : {std::string("file:///etc/passwd"), to_target}) {
    OneReplyServer redirect("HTTP/1.1 302 Found\r\nLocation: " + location +
                            "\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    FetchOptions o;
    o.policy = UrlPolicy::Make({fmt::format("http://127.0.0.1:{}/", redirect.port())}).value();
    auto r = MakeCurlFetcher(o)->Fetch(fmt::format("http://127.0.0.1:{}/start", redirect.port()));
    ASSERT_FALSE(r.has_value()) << location;
    EXPECT_EQ(r.error().code(), ErrorCode::kForbiddenUrl) << location;
  }
  EXPECT_EQ(target.requests(), 0);  // Refused before any request reached it.
  // Allowed, the same redirect is followed.
  OneReplyServer redirect("HTTP/1.1 302 Found\r\nLocation: " + to_target +
                          "\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
  auto r = MakeCurlFetcher({})->Fetch(fmt::format("http://127.0.0.1:{}/start", redirect.port()));
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_EQ(std::string(r->begin(), r->end()), "DICM");
  EXPECT_EQ(target.requests(), 1);
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
