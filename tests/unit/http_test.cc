// The one HTTP layer (src/http) and what is built on it, over a scripted transport: the retry
// loop and its policies, the status mapping, the fetcher's redirects and retries, the GCS
// client's 401 refresh and 412 idempotency, and every branch of the resumable upload.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "fetch/http_fetcher.h"
#include "gcs/client.h"
#include "gcs/credentials.h"
#include "gcs/gcs_object_store.h"
#include "gcs/hashes.h"
#include "gcs/resumable_upload.h"
#include "http/retry.h"
#include "http/status.h"
#include "support/fake_gcs.h"
#include "support/scripted_transport.h"

namespace eden {
namespace {

using testing::Response;
using testing::ScriptedTransport;

// ---- RetryLoop and its policies ------------------------------------------------------------

struct LoopRig {
  explicit LoopRig(std::vector<Result<int>> s) : script(std::move(s)) {}
  std::vector<Result<int>> script;
  size_t calls = 0;
  std::vector<long> sleeps;
  std::vector<int> retried_after;
  int refreshes = 0;
  bool refresh_ok = true;

  Result<int> Run(int max_attempts, int* attempts, bool with_refresh = false) {
    http::RetryPolicy policy(max_attempts);
    http::BackoffPolicy backoff(100, 1'000, [] { return 0.5; });
    http::RetryHooks hooks;
    if (with_refresh)
      hooks.refresh = [this] {
        ++refreshes;
        return refresh_ok;
      };
    hooks.on_retry = [this](const Error&, int attempt) { retried_after.push_back(attempt); };
    return http::RetryLoop<int>(
        policy, backoff, [this](long ms) { sleeps.push_back(ms); },
        [this]() -> Result<int> {
          return calls < script.size() ? script[calls++] : Result<int>(Fail(ErrorCode::kInternal, "ran out"));
        },
        attempts, hooks);
  }
};

TEST(RetryLoop, SucceedsAtOnceWithoutWaiting) {
  LoopRig rig({7});
  int attempts = 0;
  auto r = rig.Run(4, &attempts);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(*r, 7);
  EXPECT_EQ(attempts, 1);
  EXPECT_TRUE(rig.sleeps.empty());
}

TEST(RetryLoop, RetriesTransientFailuresWithGrowingBackoff) {
  LoopRig rig({Fail(ErrorCode::kUnavailable, "503"), Fail(ErrorCode::kTimeout, "slow"),
               Fail(ErrorCode::kUnavailable, "503"), 3});
  int attempts = 0;
  auto r = rig.Run(4, &attempts);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(attempts, 4);
  // Full jitter at 0.5 of min(1000, 100 * 2^(n-1)).
  EXPECT_EQ(rig.sleeps, (std::vector<long>{50, 100, 200}));
  EXPECT_EQ(rig.retried_after, (std::vector<int>{1, 2, 3}));
}

TEST(RetryLoop, GivesUpAfterTheLastAttemptWithTheLastError) {
  LoopRig rig({Fail(ErrorCode::kUnavailable, "a"), Fail(ErrorCode::kUnavailable, "b"), Fail(ErrorCode::kTimeout, "c")});
  int attempts = 0;
  auto r = rig.Run(3, &attempts);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), ErrorCode::kTimeout);
  EXPECT_EQ(r.error().message(), "c");
  EXPECT_EQ(attempts, 3);
  EXPECT_EQ(rig.sleeps.size(), 2u);  // No wait after the last attempt.
}

TEST(RetryLoop, PermanentFailuresAreNotRetried) {
  for (ErrorCode code : {ErrorCode::kNotFound, ErrorCode::kInvalidArgument, ErrorCode::kPermissionDenied,
                         ErrorCode::kFailedPrecondition, ErrorCode::kTooLarge, ErrorCode::kUnauthenticated}) {
    LoopRig rig({Fail(code, "no"), 1});
    int attempts = 0;
    auto r = rig.Run(5, &attempts);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code(), code);
    EXPECT_EQ(rig.calls, 1u);
    EXPECT_TRUE(rig.sleeps.empty());
  }
}

TEST(RetryLoop, A401RefreshesOnceAndRetriesAtOnceUncounted) {
  LoopRig rig({Fail(ErrorCode::kUnauthenticated, "401"), 5});
  int attempts = 0;
  auto r = rig.Run(1, &attempts, true);  // Even with one attempt allowed.
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(rig.refreshes, 1);
  EXPECT_EQ(attempts, 1);
  EXPECT_TRUE(rig.sleeps.empty());
}

TEST(RetryLoop, ASecond401IsFinalAndAFailedRefreshStopsAtOnce) {
  LoopRig twice({Fail(ErrorCode::kUnauthenticated, "401"), Fail(ErrorCode::kUnauthenticated, "401 again"), 5});
  int attempts = 0;
  auto r = twice.Run(4, &attempts, true);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().message(), "401 again");
  EXPECT_EQ(twice.refreshes, 1);
  EXPECT_EQ(twice.calls, 2u);

  LoopRig refused({Fail(ErrorCode::kUnauthenticated, "401"), 5});
  refused.refresh_ok = false;
  auto s = refused.Run(4, &attempts, true);
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(refused.calls, 1u);
  EXPECT_EQ(refused.refreshes, 1);
}

TEST(BackoffPolicy, FullJitterCappedAtTheMaximum) {
  http::BackoffPolicy top(200, 10'000, [] { return 0.999999; });
  EXPECT_EQ(top.DelayMs(1), 199);
  EXPECT_EQ(top.DelayMs(2), 399);
  EXPECT_EQ(top.DelayMs(40), 9'999);  // Capped, no overflow.
  http::BackoffPolicy bottom(200, 10'000, [] { return 0.0; });
  EXPECT_EQ(bottom.DelayMs(3), 0);
  http::BackoffPolicy real(200, 10'000);  // Its own generator: always within the cap.
  for (int i = 1; i < 50; ++i) {
    const long d = real.DelayMs(3);
    EXPECT_GE(d, 0);
    EXPECT_LE(d, 800);
  }
}

TEST(HttpStatus, OneMappingForEveryCaller) {
  auto code = [](long s) { return http::ErrorForStatus(s, "GET x").code(); };
  EXPECT_EQ(code(401), ErrorCode::kUnauthenticated);
  EXPECT_EQ(code(403), ErrorCode::kPermissionDenied);
  EXPECT_EQ(code(404), ErrorCode::kNotFound);
  EXPECT_EQ(code(410), ErrorCode::kNotFound);
  EXPECT_EQ(code(412), ErrorCode::kFailedPrecondition);
  for (long s : {408L, 429L, 500L, 502L, 503L, 504L}) EXPECT_EQ(code(s), ErrorCode::kUnavailable) << s;
  for (long s : {300L, 400L, 405L, 418L}) EXPECT_EQ(code(s), ErrorCode::kInvalidArgument) << s;
  EXPECT_EQ(http::ErrorForStatus(503, "GET x", "busy").message(), "GET x: HTTP 503: busy");
}

// ---- The fetcher over a scripted transport -----------------------------------------------------

struct FetchRig {
  std::shared_ptr<ScriptedTransport> transport = std::make_shared<ScriptedTransport>();
  int sleeps = 0;
  std::unique_ptr<fetch::Fetcher> Make(fetch::FetchOptions o = {}) {
    return fetch::MakeHttpFetcher(o, transport, [this](long) { ++sleeps; });
  }
};

TEST(HttpFetcher, RetriesTransientAnswersThenReturnsTheBody) {
  FetchRig rig;
  rig.transport->Reply(503).Error(ErrorCode::kUnavailable, "connection reset").Reply(200, {}, "DICM");
  fetch::FetchOptions o;
  o.max_bytes = 1234;
  auto f = rig.Make(o);
  auto r = f->Fetch("http://pacs/instances/1/file");
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_EQ(std::string(r->begin(), r->end()), "DICM");
  EXPECT_EQ(f->retries(), 2u);
  EXPECT_EQ(rig.sleeps, 2);
  const auto sent = rig.transport->sent();
  ASSERT_EQ(sent.size(), 3u);
  EXPECT_EQ(sent[0].max_response_bytes, 1234u);  // The size cap reaches the transport.
  EXPECT_FALSE(sent[0].file);
}

TEST(HttpFetcher, StatusesMapToTypedFailuresWithoutRetries) {
  const std::vector<std::pair<long, ErrorCode>> cases = {{404, ErrorCode::kNotFound},
                                                         {410, ErrorCode::kNotFound},
                                                         {401, ErrorCode::kUnauthenticated},
                                                         {403, ErrorCode::kPermissionDenied},
                                                         {400, ErrorCode::kInvalidArgument}};
  for (const auto& [status, code] : cases) {
    FetchRig rig;
    rig.transport->Reply(status);
    auto r = rig.Make()->Fetch("http://pacs/x?token=s3cret");
    ASSERT_FALSE(r.has_value()) << status;
    EXPECT_EQ(r.error().code(), code) << status;
    EXPECT_EQ(r.error().message().find("s3cret"), std::string::npos);  // URLs are redacted.
    EXPECT_EQ(rig.sleeps, 0);
    EXPECT_EQ(rig.transport->sent().size(), 1u);
  }
}

TEST(HttpFetcher, TransientFailuresRunOutAfterMaxAttempts) {
  FetchRig rig;
  for (int i = 0; i < 4; ++i) rig.transport->Error(ErrorCode::kTimeout, "timed out");
  auto r = rig.Make()->Fetch("http://pacs/x");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), ErrorCode::kTimeout);
  EXPECT_NE(r.error().message().find("after 4 attempts"), std::string::npos) << r.error().message();
  EXPECT_EQ(rig.sleeps, 3);
  EXPECT_EQ(rig.transport->pending(), 0u);
}

TEST(HttpFetcher, RedirectsAreFollowedHopByHopWithinTheLimit) {
  FetchRig rig;
  rig.transport->Reply(302, {"Location: http://pacs/b"}).Reply(301, {"Location: http://pacs/c"}).Reply(200, {}, "ok");
  auto r = rig.Make()->Fetch("http://pacs/a");
  ASSERT_TRUE(r.has_value());
  const auto sent = rig.transport->sent();
  ASSERT_EQ(sent.size(), 3u);
  EXPECT_EQ(sent[1].url, "http://pacs/b");
  EXPECT_EQ(sent[2].url, "http://pacs/c");

  FetchRig loop;
  for (int i = 0; i < 10; ++i) loop.transport->Reply(302, {"Location: http://pacs/again"});
  auto l = loop.Make()->Fetch("http://pacs/a");
  ASSERT_FALSE(l.has_value());
  EXPECT_EQ(l.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(l.error().message().find("more than 5 redirects"), std::string::npos);
  EXPECT_EQ(loop.transport->sent().size(), 6u);
}

TEST(HttpFetcher, ARedirectOutOfThePolicyIsRefusedBeforeItIsRequested) {
  for (const std::string& location : {std::string("http://evil.example/x"), std::string("file:///etc/passwd")}) {
    FetchRig rig;
    rig.transport->Reply(302, {"Location: " + location});
    fetch::FetchOptions o;
    o.policy = fetch::UrlPolicy::Make({"http://pacs/"}).value();
    auto r = rig.Make(o)->Fetch("http://pacs/a");
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code(), ErrorCode::kForbiddenUrl) << location;
    EXPECT_EQ(rig.transport->sent().size(), 1u) << location;
  }
}

// ---- The resumable upload state machine ------------------------------------------------------

using Action = gcs::ResumableUpload::Action;
constexpr uint64_t kChunk = 256 * 1024;

std::string ObjectJson(const std::string& name, uint64_t size) {
  return R"({"name":")" + name + R"(","bucket":"b","size":")" + std::to_string(size) +
         R"(","generation":"7","crc32c":"AAAAAA==","md5Hash":"x"})";
}

http::HttpResponse Range(uint64_t committed) {
  return committed == 0 ? Response(308) : Response(308, {"Range: bytes=0-" + std::to_string(committed - 1)});
}

TEST(ResumableUpload, UploadsChunkByChunkToTheEnd) {
  const uint64_t total = 2 * kChunk + 100;
  gcs::ResumableUpload up(total, kChunk, 3, "upload");
  EXPECT_EQ(up.Next().action, Action::kStartSession);
  up.OnSessionStarted(Response(200, {"Location: http://gcs/session/1"}));
  EXPECT_EQ(up.session_url(), "http://gcs/session/1");
  auto s = up.Next();
  EXPECT_EQ(s.action, Action::kSendChunk);
  EXPECT_EQ(s.offset, 0u);
  EXPECT_EQ(s.length, kChunk);
  EXPECT_EQ(up.ContentRange(), "bytes 0-262143/524388");
  up.OnResponse(Range(kChunk));
  s = up.Next();
  EXPECT_EQ(s.offset, kChunk);
  EXPECT_EQ(s.backoff_attempt, 0);
  up.OnResponse(Range(2 * kChunk));
  s = up.Next();
  EXPECT_EQ(s.offset, 2 * kChunk);
  EXPECT_EQ(s.length, 100u);
  EXPECT_EQ(up.ContentRange(), "bytes 524288-524387/524388");
  up.OnResponse(Response(200, {}, ObjectJson("o", total)));
  EXPECT_EQ(up.Next().action, Action::kDone);
  ASSERT_TRUE(up.metadata().has_value());
  EXPECT_EQ(up.metadata()->size, total);
  EXPECT_EQ(up.retries(), 0u);
}

TEST(ResumableUpload, AnEmptyObjectIsOneRequest) {
  gcs::ResumableUpload up(0, kChunk, 3, "upload");
  up.OnSessionStarted(Response(200, {"Location: http://gcs/s"}));
  EXPECT_EQ(up.Next().action, Action::kSendChunk);
  EXPECT_EQ(up.Next().length, 0u);
  EXPECT_EQ(up.ContentRange(), "bytes */0");
  up.OnResponse(Response(200, {}, ObjectJson("o", 0)));
  EXPECT_EQ(up.Next().action, Action::kDone);
}

TEST(ResumableUpload, AFailedChunkAsksWhereTheServerIsAndResumesThere) {
  gcs::ResumableUpload up(3 * kChunk, kChunk, 4, "upload");
  up.OnSessionStarted(Response(200, {"Location: http://gcs/s"}));
  up.OnResponse(Range(kChunk));
  up.OnResponse(Fail(ErrorCode::kUnavailable, "connection reset"));  // Second chunk cut.
  auto s = up.Next();
  EXPECT_EQ(s.action, Action::kQueryStatus);
  EXPECT_EQ(s.backoff_attempt, 1);
  EXPECT_EQ(up.ContentRange(), "bytes */786432");
  up.OnResponse(Range(kChunk + kChunk / 2));  // Half of it arrived: resume from there.
  s = up.Next();
  EXPECT_EQ(s.action, Action::kSendChunk);
  EXPECT_EQ(s.offset, kChunk + kChunk / 2);
  EXPECT_EQ(s.backoff_attempt, 0);
  EXPECT_EQ(up.retries(), 1u);
  EXPECT_EQ(up.resumed(), 1u);
  // A status query with no Range: the server has nothing, start from 0 on the same session.
  up.OnResponse(Fail(ErrorCode::kTimeout, "slow"));
  up.OnResponse(Range(0));
  EXPECT_EQ(up.Next().offset, 0u);
  EXPECT_EQ(up.session_url(), "http://gcs/s");
}

TEST(ResumableUpload, AServerThatKeepsNothingIsGivenUpOn) {
  gcs::ResumableUpload up(2 * kChunk, kChunk, 3, "upload of x");
  up.OnSessionStarted(Response(200, {"Location: http://gcs/s"}));
  up.OnResponse(Range(0));
  EXPECT_EQ(up.Next().backoff_attempt, 1);
  up.OnResponse(Range(0));
  EXPECT_EQ(up.Next().backoff_attempt, 2);
  up.OnResponse(Range(0));
  ASSERT_EQ(up.Next().action, Action::kFailed);
  EXPECT_EQ(up.error()->code(), ErrorCode::kUnavailable);
  EXPECT_NE(up.error()->message().find("keeps no bytes past 0"), std::string::npos);
}

TEST(ResumableUpload, TransientFailuresWithoutProgressRunOut) {
  gcs::ResumableUpload up(2 * kChunk, kChunk, 3, "upload of x");
  up.OnSessionStarted(Response(200, {"Location: http://gcs/s"}));
  up.OnResponse(Fail(ErrorCode::kUnavailable, "503"));
  up.OnResponse(Fail(ErrorCode::kUnavailable, "503"));
  EXPECT_EQ(up.Next().action, Action::kQueryStatus);
  up.OnResponse(Response(503));  // A raw 5xx counts the same as a transport failure.
  ASSERT_EQ(up.Next().action, Action::kFailed);
  EXPECT_NE(up.error()->message().find("after 3 attempts without progress"), std::string::npos);
}

TEST(ResumableUpload, AnExpiredSessionStartsANewOneUntilTheyKeepExpiring) {
  gcs::ResumableUpload up(2 * kChunk, kChunk, 3, "upload");
  up.OnSessionStarted(Response(200, {"Location: http://gcs/s1"}));
  up.OnResponse(Range(kChunk));
  up.OnResponse(Fail(ErrorCode::kNotFound, "404"));
  EXPECT_EQ(up.Next().action, Action::kStartSession);
  up.OnSessionStarted(Response(200, {"Location: http://gcs/s2"}));
  EXPECT_EQ(up.Next().offset, 0u);  // A new session starts from the first byte.
  up.OnResponse(Response(404));
  up.OnSessionStarted(Response(200, {"Location: http://gcs/s3"}));
  up.OnResponse(Fail(ErrorCode::kNotFound, "404"));
  ASSERT_EQ(up.Next().action, Action::kFailed);
  EXPECT_NE(up.error()->message().find("keep expiring"), std::string::npos);
}

TEST(ResumableUpload, A401RefreshesOnceThenAsksForTheStatus) {
  gcs::ResumableUpload up(2 * kChunk, kChunk, 5, "upload");
  up.OnSessionStarted(Response(200, {"Location: http://gcs/s"}));
  up.OnResponse(Fail(ErrorCode::kUnauthenticated, "401"));
  auto s = up.Next();
  EXPECT_TRUE(s.refresh_credentials);
  EXPECT_EQ(s.action, Action::kQueryStatus);
  up.OnResponse(Response(401));
  ASSERT_EQ(up.Next().action, Action::kFailed);
  EXPECT_EQ(up.error()->code(), ErrorCode::kUnauthenticated);
}

TEST(ResumableUpload, PermanentAndNonsenseAnswersFail) {
  auto started = [] {
    auto up = std::make_unique<gcs::ResumableUpload>(2 * kChunk, kChunk, 5, "upload");
    up->OnSessionStarted(Response(200, {"Location: http://gcs/s"}));
    return up;
  };
  auto a = started();
  a->OnResponse(Response(400, {}, R"({"error":{"message":"Provided MD5 hash doesn't match"}})"));
  ASSERT_EQ(a->Next().action, Action::kFailed);
  EXPECT_EQ(a->error()->code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(a->error()->message().find("MD5"), std::string::npos);
  auto b = started();
  b->OnResponse(Range(3 * kChunk));  // More than was ever sent.
  ASSERT_EQ(b->Next().action, Action::kFailed);
  EXPECT_NE(b->error()->message().find("reports 786432 bytes committed of 524288"), std::string::npos);
  auto c = started();
  c->OnResponse(Response(308, {"Range: bytes=5-9"}));
  ASSERT_EQ(c->Next().action, Action::kFailed);
  auto d = started();
  d->OnResponse(Response(200, {}, "<html>"));
  ASSERT_EQ(d->Next().action, Action::kFailed);
  auto e = started();
  e->OnResponse(Response(412));
  ASSERT_EQ(e->Next().action, Action::kFailed);
  EXPECT_EQ(e->error()->code(), ErrorCode::kFailedPrecondition);
}

TEST(ResumableUpload, SessionsWithoutLocationOrThatCannotStartFail) {
  gcs::ResumableUpload a(10, kChunk, 3, "upload");
  a.OnSessionStarted(Response(200));
  ASSERT_EQ(a.Next().action, Action::kFailed);
  EXPECT_NE(a.error()->message().find("no Location"), std::string::npos);
  gcs::ResumableUpload b(10, kChunk, 3, "upload");
  b.OnSessionStarted(Fail(ErrorCode::kPermissionDenied, "403"));
  ASSERT_EQ(b.Next().action, Action::kFailed);
  EXPECT_EQ(b.error()->code(), ErrorCode::kPermissionDenied);
}

TEST(ResumableUpload, AllBytesCommittedButNoObjectAsksForTheFinalState) {
  gcs::ResumableUpload up(kChunk, kChunk, 2, "upload");
  up.OnSessionStarted(Response(200, {"Location: http://gcs/s"}));
  up.OnResponse(Range(kChunk));  // 308 for the last byte instead of 200.
  EXPECT_EQ(up.Next().action, Action::kQueryStatus);
  up.OnResponse(Response(200, {}, ObjectJson("o", kChunk)));
  EXPECT_EQ(up.Next().action, Action::kDone);
  // And one that never finishes is not asked forever.
  gcs::ResumableUpload stuck(kChunk, kChunk, 2, "upload");
  stuck.OnSessionStarted(Response(200, {"Location: http://gcs/s"}));
  stuck.OnResponse(Range(kChunk));
  stuck.OnResponse(Range(kChunk));
  stuck.OnResponse(Range(kChunk));
  EXPECT_EQ(stuck.Next().action, Action::kFailed);
}

// ---- The GCS client and store over a scripted transport and the in-memory GCS -------------------

/// Tokens "t1", "t2", ...: a new one after each Invalidate.
class CountingCredentials final : public gcs::Credentials {
 public:
  Result<std::string> Authorization() override { return "Bearer t" + std::to_string(generation_); }
  void Invalidate() override { ++generation_; }
  std::string Describe() const override { return "test"; }
  int generation_ = 1;
};

struct ClientRig {
  std::shared_ptr<ScriptedTransport> transport = std::make_shared<ScriptedTransport>();
  std::shared_ptr<CountingCredentials> creds = std::make_shared<CountingCredentials>();
  int sleeps = 0;
  std::shared_ptr<gcs::GcsClient> Make(gcs::ClientOptions o = {}) {
    o.endpoint = "http://gcs";
    return std::make_shared<gcs::GcsClient>(
        o, creds, [this](long) { ++sleeps; }, transport);
  }
};

TEST(GcsClientOverTransport, A401RefreshesTheTokenOnceAndRetriesWithTheNewOne) {
  ClientRig rig;
  rig.transport->Reply(401, {}, R"({"error":{"message":"Invalid Credentials"}})").Reply(200, {}, ObjectJson("a", 3));
  auto meta = rig.Make()->GetObjectMetadata("b", "a");
  ASSERT_TRUE(meta.has_value()) << meta.error().ToString();
  ASSERT_TRUE(meta->has_value());
  const auto sent = rig.transport->sent();
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_EQ(sent[0].Header("Authorization"), "Bearer t1");
  EXPECT_EQ(sent[1].Header("Authorization"), "Bearer t2");
  EXPECT_EQ(rig.sleeps, 0);

  ClientRig twice;
  twice.transport->Reply(401).Reply(401);
  auto r = twice.Make()->GetObjectMetadata("b", "a");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), ErrorCode::kUnauthenticated);
  EXPECT_NE(r.error().message().find("GCS_CREDENTIALS_PATH"), std::string::npos);
  EXPECT_EQ(twice.transport->sent().size(), 2u);
}

TEST(GcsClientOverTransport, TransientAnswersAreRetriedThenReported) {
  ClientRig rig;
  gcs::ClientOptions o;
  o.max_attempts = 3;
  rig.transport->Reply(503).Reply(429).Reply(500);
  auto r = rig.Make(o)->GetObjectMetadata("b", "a");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), ErrorCode::kUnavailable);
  EXPECT_NE(r.error().message().find("(after 3 attempts)"), std::string::npos) << r.error().message();
  EXPECT_EQ(rig.sleeps, 2);
  EXPECT_EQ(rig.Make(o)->stats().retries.load(), 0u);  // Stats are per client.
}

TEST(GcsClientOverTransport, AResumableUploadResumesAfterACutChunk) {
  auto fake = std::make_shared<testing::FakeGcs>("b", "http://gcs");
  std::string data(3 * kChunk + 5, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 131 % 251);
  int chunk_puts = 0;
  fake->set_fault([&](const http::HttpRequest& r) {
    testing::FakeGcs::Fault f;
    if (r.method == "PUT" && !r.body.empty() && ++chunk_puts == 2) {
      f.answer = Result<http::HttpResponse>(Fail(ErrorCode::kUnavailable, "connection reset"));  // Lost, not stored.
    }
    return f;
  });
  gcs::ClientOptions o;
  o.endpoint = "http://gcs";
  o.resumable_threshold = kChunk;
  o.chunk_size = kChunk;
  int sleeps = 0;
  gcs::GcsClient client(
      o, gcs::MakeAnonymousCredentials(), [&](long) { ++sleeps; }, fake);
  const auto bytes = std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(data.data()), data.size());
  auto stored = client.InsertObject("b", "big.dcm", bytes, "application/dicom", gcs::HashObject(bytes), 0);
  ASSERT_TRUE(stored.has_value()) << stored.error().ToString();
  EXPECT_EQ(fake->Get("big.dcm")->bytes, data);
  const auto counts = fake->counts();
  EXPECT_EQ(counts.at("POST resumable"), 1);
  EXPECT_EQ(counts.at("PUT status"), 1);
  EXPECT_EQ(counts.at("PUT chunk"), 4);  // The cut chunk never reached the server; 4 served.
  EXPECT_EQ(client.stats().retries.load(), 1u);
  EXPECT_EQ(sleeps, 1);
}

TEST(GcsObjectStoreOverTransport, AnUploadWhoseAnswerWasLostIsNotDoneTwice) {
  // 412 idempotency: the first insert lands but its answer is lost; the retry, conditional on
  // "absent", gets 412; the store sees the same bytes there and counts it as stored.
  auto fake = std::make_shared<testing::FakeGcs>("b", "http://gcs");
  bool lost = false;
  fake->set_fault([&](const http::HttpRequest& r) {
    testing::FakeGcs::Fault f;
    if (r.method == "POST" && !lost) {
      lost = true;
      f.answer = Result<http::HttpResponse>(Fail(ErrorCode::kUnavailable, "connection reset after the request"));
      f.served_first = true;
    }
    return f;
  });
  gcs::ClientOptions o;
  o.endpoint = "http://gcs";
  auto client = std::make_shared<gcs::GcsClient>(
      o, gcs::MakeAnonymousCredentials(), [](long) {}, fake);
  gcs::GcsObjectStore store(client, "b");
  const std::string body = "DICM bytes";
  const auto bytes = std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(body.data()), body.size());
  ASSERT_TRUE(store.Put("p/x.dcm", bytes, "application/dicom").has_value());
  const int64_t generation = fake->Get("p/x.dcm")->generation;
  auto counts = fake->counts();
  EXPECT_EQ(counts.at("POST multipart"), 2);  // The lost one and the 412.
  EXPECT_EQ(counts.at("GET metadata"), 1);
  // Other bytes under the key: replaced, conditional on the generation seen.
  const std::string other = "other bytes";
  ASSERT_TRUE(store
                  .Put("p/x.dcm",
                       std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(other.data()), other.size()),
                       "application/dicom")
                  .has_value());
  EXPECT_EQ(fake->Get("p/x.dcm")->bytes, other);
  EXPECT_GT(fake->Get("p/x.dcm")->generation, generation);
}

}  // namespace
TEST(GcsObjectStoreOverTransport, UploadsCarryTheCallersCrc32cAndNoMd5AndAWrongOneStoresNothing) {
  // Hash once: PutWithCrc32c sends the CRC-32C the pipeline computed with the bytes, the server
  // checks it; no MD5 is computed or sent (the server computes its own). A CRC that does not
  // match the bytes fails the upload and leaves no object.
  auto fake = std::make_shared<testing::FakeGcs>("b", "http://gcs");
  std::vector<std::string> resources;
  fake->set_fault([&](const http::HttpRequest& r) {
    if (r.method == "POST") resources.emplace_back(reinterpret_cast<const char*>(r.body.data()), r.body.size());
    return testing::FakeGcs::Fault{};
  });
  gcs::ClientOptions o;
  o.endpoint = "http://gcs";
  o.max_attempts = 1;
  auto client = std::make_shared<gcs::GcsClient>(
      o, gcs::MakeAnonymousCredentials(), [](long) {}, fake);
  gcs::GcsObjectStore store(client, "b");
  const std::string body = "123456789";
  const auto bytes = std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(body.data()), body.size());
  ASSERT_TRUE(store.PutWithCrc32c("p/a.jpg", bytes, "image/jpeg", "4waSgw==").has_value());
  ASSERT_EQ(resources.size(), 1u);
  EXPECT_NE(resources[0].find(R"("crc32c":"4waSgw==")"), std::string::npos) << resources[0];
  EXPECT_EQ(resources[0].find("md5Hash"), std::string::npos) << resources[0];
  EXPECT_EQ(fake->Get("p/a.jpg")->bytes, body);

  auto wrong = store.PutWithCrc32c("p/b.jpg", bytes, "image/jpeg", "AAAAAA==");
  ASSERT_FALSE(wrong.has_value());
  EXPECT_FALSE(fake->Get("p/b.jpg").has_value());
  // Put without a CRC computes it: the same as the caller's.
  ASSERT_TRUE(store.Put("p/c.jpg", bytes, "image/jpeg").has_value());
  EXPECT_EQ(fake->Get("p/c.jpg")->crc32c, "4waSgw==");
}

}  // namespace eden
