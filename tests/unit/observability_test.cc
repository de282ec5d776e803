// Metrics registry and text format, the HTTP access rules and server, the dashboard page, and
// the Sentry envelope, scrubbing, sampling and rate limits.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/base64.h"
#include "metrics/registry.h"
#include "pipeline/instance_metrics.h"
#include "pipeline/instance_task.h"
#include "sentry/envelope.h"
#include "sentry/reporter.h"
#include "web/access.h"
#include "web/dashboard.h"
#include "web/http_server.h"

namespace eden {
namespace {

// ---- metrics -----------------------------------------------------------------------------------
TEST(Metrics, RendersHelpTypeAndSortedEscapedSeries) {
  metrics::Registry r;
  r.DeclareCounter("eden_things_total", "Things.\nSecond line \\ here.");
  r.Add("eden_things_total", {{"code", "b"}}, 2);
  r.Add("eden_things_total", {{"code", "a\"q\\\n"}});
  r.Add("eden_things_total", {{"code", "b"}}, 0.5);
  const std::string text = r.Render();
  EXPECT_EQ(text,
            "# HELP eden_things_total Things.\\nSecond line \\\\ here.\n"
            "# TYPE eden_things_total counter\n"
            "eden_things_total{code=\"a\\\"q\\\\\\n\"} 1\n"
            "eden_things_total{code=\"b\"} 2.5\n");
  EXPECT_DOUBLE_EQ(r.Value("eden_things_total", {{"code", "b"}}), 2.5);
}

TEST(Metrics, CountersNeverGoDownGaugesDo) {
  metrics::Registry r;
  r.DeclareCounter("c_total", "c");
  r.DeclareGauge("g", "g");
  r.Add("c_total", {}, 5);
  r.Add("c_total", {}, -3);  // Refused.
  r.Set("c_total", {}, 4);   // A counter read from elsewhere may not go down...
  EXPECT_EQ(r.Value("c_total"), 5);
  r.Set("c_total", {}, 7);  // ...but up.
  EXPECT_EQ(r.Value("c_total"), 7);
  r.Set("g", {}, 3);
  r.Add("g", {}, -1);
  EXPECT_EQ(r.Value("g"), 2);
  r.Add("undeclared_total", {}, 1);  // Ignored, not a crash.
  r.Observe("g", {}, 1);             // Wrong type: ignored.
  EXPECT_EQ(r.Render().find("undeclared"), std::string::npos);
  EXPECT_NE(r.Render().find("g 2\n"), std::string::npos);
}

TEST(Metrics, HistogramBucketsAreCumulativeWithInfSumAndCount) {
  metrics::Registry r;
  r.DeclareHistogram("h_seconds", "h", {1, 0.1, 10});  // Unsorted on purpose.
  for (double v : {0.05, 0.1, 0.5, 5.0, 50.0}) r.Observe("h_seconds", {}, v);
  const std::string text = r.Render();
  EXPECT_NE(text.find("h_seconds_bucket{le=\"0.1\"} 2\n"), std::string::npos) << text;  // le is inclusive.
  EXPECT_NE(text.find("h_seconds_bucket{le=\"1\"} 3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("h_seconds_bucket{le=\"10\"} 4\n"), std::string::npos) << text;
  EXPECT_NE(text.find("h_seconds_bucket{le=\"+Inf\"} 5\n"), std::string::npos) << text;
  EXPECT_NE(text.find("h_seconds_sum 55.65\n"), std::string::npos) << text;
  EXPECT_NE(text.find("h_seconds_count 5\n"), std::string::npos) << text;
  EXPECT_EQ(r.Value("h_seconds"), 5);
}

TEST(Metrics, CollectorsRunAtEachRender) {
  metrics::Registry r;
  r.DeclareGauge("depth", "d");
  int calls = 0;
  r.AddCollector([&calls](metrics::Registry& reg) { reg.Set("depth", {{"queue", "celery"}}, ++calls); });
  EXPECT_NE(r.Render().find("depth{queue=\"celery\"} 1\n"), std::string::npos);
  EXPECT_NE(r.Render().find("depth{queue=\"celery\"} 2\n"), std::string::npos);
}

TEST(Metrics, ValuesAreWrittenAsTheFormatReadsThem) {
  EXPECT_EQ(metrics::FormatValue(3), "3");
  EXPECT_EQ(metrics::FormatValue(0.25), "0.25");
  EXPECT_EQ(metrics::FormatValue(1.0 / 0.0), "+Inf");
  EXPECT_EQ(metrics::FormatValue(-1.0 / 0.0), "-Inf");
  EXPECT_EQ(metrics::FormatValue(0.0 / 0.0), "NaN");
  EXPECT_EQ(metrics::FormatValue(1e20), "1e+20");
}

TEST(Metrics, InstanceOutcomesAreCountedByOutcomeCodeAndStep) {
  metrics::Registry r;
  pipeline::InstanceMetrics m(r);
  pipeline::InstanceOutcome stored;
  stored.instance_id = "1.2.3.4.5";
  stored.stored = stored.downloaded = true;
  stored.dicom_bytes = 100;
  stored.jpg_bytes = 40;
  stored.fetch_ms = 20;
  stored.convert_ms = 5;
  m.Record(stored);
  pipeline::InstanceOutcome failed;
  failed.instance_id = "1.2.3.4.6";
  failed.Fail(pipeline::Step::kDownload, Error(ErrorCode::kNotFound, "HTTP 404"));
  m.Record(failed);
  EXPECT_EQ(r.Value("eden_instances_total", {{"outcome", "stored"}}), 1);
  EXPECT_EQ(r.Value("eden_instances_total", {{"outcome", "failed"}}), 1);
  EXPECT_EQ(r.Value("eden_instance_failures_total", {{"code", "not_found"}, {"step", "download"}}), 1);
  EXPECT_EQ(r.Value("eden_stored_bytes_total", {{"kind", "dicom"}}), 100);
  EXPECT_EQ(r.Value("eden_stored_bytes_total", {{"kind", "jpeg"}}), 40);
  EXPECT_EQ(r.Value("eden_download_seconds"), 1);
  EXPECT_EQ(r.Render().find("1.2.3.4"), std::string::npos);  // No id in any label.
}

/// Answers after `retries` transient failures (as CurlFetcher counts them).
class RetryingFetcher final : public fetch::Fetcher {
 public:
  Result<Bytes> Fetch(const std::string&) override {
    retries_ += 2;
    return Bytes();  // Empty: not DICOM, but downloaded.
  }
  uint64_t retries() const override { return retries_; }

 private:
  uint64_t retries_ = 5;  // From earlier downloads: not this instance's.
};

TEST(Metrics, DownloadRetriesOfEachInstanceAreCounted) {
  RetryingFetcher fetcher;
  source::InstanceRow row;
  row.instance_id = "i1";
  row.file_url = "http://pacs/i1";
  const pipeline::Fetched f = pipeline::FetchInstance(row, fetcher);
  EXPECT_EQ(f.fetch_retries, 2u);
  metrics::Registry r;
  pipeline::InstanceMetrics m(r);
  pipeline::InstanceOutcome o;
  o.fetch_retries = 3;
  o.Fail(pipeline::Step::kDownload, Error(ErrorCode::kUnavailable, "HTTP 503 after 4 attempts"));
  m.Record(o);
  EXPECT_EQ(r.Value("eden_retries_total", {{"what", "download"}}), 3);
}

// ---- web: access and the server ----------------------------------------------------------------
TEST(WebAccess, BasicAuthMatchesOnlyTheExactCredentials) {
  const web::Credentials c{"ops", "p:ss word"};
  EXPECT_TRUE(web::BasicAuthMatches("Basic " + Base64Encode("ops:p:ss word"), c));
  EXPECT_TRUE(web::BasicAuthMatches("basic " + Base64Encode("ops:p:ss word"), c));  // Scheme is case-free.
  EXPECT_FALSE(web::BasicAuthMatches("Basic " + Base64Encode("ops:p:ss wor"), c));
  EXPECT_FALSE(web::BasicAuthMatches("Basic " + Base64Encode("ops:p:ss words"), c));
  EXPECT_FALSE(web::BasicAuthMatches("Bearer " + Base64Encode("ops:p:ss word"), c));
  EXPECT_FALSE(web::BasicAuthMatches("Basic !!!", c));
  EXPECT_FALSE(web::BasicAuthMatches("", c));
}

TEST(WebAccess, ANonLoopbackAddressNeedsCredentials) {
  EXPECT_TRUE(web::IsLoopback("127.0.0.1"));
  EXPECT_TRUE(web::IsLoopback("127.3.2.1"));
  EXPECT_TRUE(web::IsLoopback("::1"));
  EXPECT_TRUE(web::IsLoopback("localhost"));
  EXPECT_FALSE(web::IsLoopback("0.0.0.0"));
  EXPECT_FALSE(web::IsLoopback("127.0.0.1.evil.example"));
  EXPECT_FALSE(web::IsLoopback("10.0.0.5"));
  EXPECT_TRUE(web::CheckExposure("127.0.0.1", {}));
  auto refused = web::CheckExposure("0.0.0.0", {});
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(refused.error().message().find("EDEN_DASHBOARD_USER"), std::string::npos);
  EXPECT_TRUE(web::CheckExposure("0.0.0.0", {"u", "p"}));
}

/// One GET over a plain socket: the status line and body.
std::pair<int, std::string> Get(int port, const std::string& path, const std::string& extra_header = "") {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return {0, ""};
  }
  const std::string request = "GET " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + extra_header + "\r\n";
  (void)!::write(fd, request.data(), request.size());
  std::string response;
  char buf[4096];
  ssize_t n = 0;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) response.append(buf, static_cast<size_t>(n));
  ::close(fd);
  const int status = response.size() > 12 ? std::stoi(response.substr(9, 3)) : 0;
  const auto body = response.find("\r\n\r\n");
  return {status, body == std::string::npos ? "" : response.substr(body + 4)};
}

TEST(WebServer, ServesRoutesBehindBasicAuthExceptOpenPaths) {
  std::map<std::string, web::Handler> routes;
  routes["/"] = [](const web::HttpRequest&) { return web::HttpResponse{200, "text/html", "<p>page</p>"}; };
  routes["/healthz"] = [](const web::HttpRequest&) { return web::HttpResponse{200, "text/plain", "ok\n"}; };
  routes["/boom"] = [](const web::HttpRequest&) -> web::HttpResponse { throw std::runtime_error("handler broke"); };
  auto server = web::HttpServer::Start({"127.0.0.1", 0, {"u", "pw"}, {"/healthz"}}, std::move(routes));
  ASSERT_TRUE(server) << server.error().message();
  const int port = (*server)->port();
  ASSERT_GT(port, 0);
  EXPECT_EQ(Get(port, "/").first, 401);
  EXPECT_EQ(Get(port, "/", "Authorization: Basic " + Base64Encode("u:wrong") + "\r\n").first, 401);
  const auto page = Get(port, "/", "Authorization: Basic " + Base64Encode("u:pw") + "\r\n");
  EXPECT_EQ(page.first, 200);
  EXPECT_EQ(page.second, "<p>page</p>");
  EXPECT_EQ(Get(port, "/healthz"), (std::pair<int, std::string>{200, "ok\n"}));
  EXPECT_EQ(Get(port, "/nothing", "Authorization: Basic " + Base64Encode("u:pw") + "\r\n").first, 404);
  EXPECT_EQ(Get(port, "/boom", "Authorization: Basic " + Base64Encode("u:pw") + "\r\n").first, 500);
  EXPECT_EQ(Get(port, "/healthz").first, 200);  // Still serving after a handler threw.
  (*server)->Stop();
  EXPECT_EQ(Get(port, "/healthz").first, 0);  // Nothing listens any more.
}

TEST(WebServer, ABusyPortIsAnError) {
  auto first = web::HttpServer::Start({"127.0.0.1", 0, {}, {}}, {});
  ASSERT_TRUE(first);
  auto second = web::HttpServer::Start({"127.0.0.1", (*first)->port(), {}, {}}, {});
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code(), ErrorCode::kUnavailable);
}

// ---- dashboard -----------------------------------------------------------------------------------
TEST(Dashboard, EscapesEveryTextAndShowsTheNumbers) {
  web::DashboardView v;
  v.journal_found = v.frozen = true;
  v.total = 10;
  v.stored = 6;
  v.failed = 1;
  v.pending = 3;
  v.failed_by_code = {{"not_found", 1}};
  v.latest_failures = {{"1.2.3", "not_found", "download: <script>alert(1)</script> & \"x\"", "2026-12-03T01:02:03Z"}};
  v.timeline = {1, 4, 2};
  v.timeline_width_s = 2;
  v.broker = "redis://127.0.0.1:6379/0";
  v.workers = {{"eden@<h>", true, 1, 5, {"eden.process_instance (3 s)"}}};
  v.queues = {{"celery", 7}};
  const std::string html = web::RenderDashboard(v);
  EXPECT_EQ(html.find("<script>"), std::string::npos);
  EXPECT_NE(html.find("&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;x&quot;"), std::string::npos);
  EXPECT_NE(html.find("eden@&lt;h&gt;"), std::string::npos);
  EXPECT_NE(html.find("<b id=\"stored\">6</b>"), std::string::npos);
  EXPECT_NE(html.find("<b id=\"pending\">3</b>"), std::string::npos);
  EXPECT_NE(html.find("style=\"width:60.000%\""), std::string::npos);  // The stored share of the bar.
  EXPECT_NE(html.find("data-queue=\"celery\">7<"), std::string::npos);
  EXPECT_EQ(html.find("<script"), std::string::npos);  // No JavaScript at all.
  const std::string json = web::DashboardJson(v);
  EXPECT_NE(json.find("\"stored\": 6"), std::string::npos);
  EXPECT_NE(json.find("\"counts\": [\n      1,\n      4,\n      2\n    ]"), std::string::npos) << json;
}

// ---- sentry ----------------------------------------------------------------------------------------
TEST(Sentry, DsnGivesTheEnvelopeUrlAndAuthWithoutEchoingTheKey) {
  auto d = sentry::ParseDsn("https://abc123:oldsecret@o1.ingest.example.com:8443/sub/path/42");
  ASSERT_TRUE(d) << d.error().message();
  EXPECT_EQ(d->EnvelopeUrl(), "https://o1.ingest.example.com:8443/sub/path/api/42/envelope/");
  EXPECT_EQ(d->AuthHeader("eden-etl"), "Sentry sentry_version=7, sentry_client=eden-etl, sentry_key=abc123");
  auto plain = sentry::ParseDsn("http://k@127.0.0.1:9000/7");
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->EnvelopeUrl(), "http://127.0.0.1:9000/api/7/envelope/");
  for (const char* bad : {"", "abc123@host/1", "ftp://k@h/1", "https://host/1", "https://k@host", "https://k@host/",
                          "https://k@host/a b"}) {
    auto r = sentry::ParseDsn(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().message().find("k@"), std::string::npos);
  }
}

TEST(Sentry, EnvelopeIsHeaderItemAndPayloadWithItsLength) {
  sentry::Event e;
  e.event_id = std::string(32, 'a');
  e.timestamp = 1.5;
  e.logger = "eden.run";
  e.message = "instance failed: naïve";
  e.tags = {{"error_code", "not_found"}};
  const std::string env = sentry::BuildEnvelope(e, 1764720000.25);
  const auto first = env.find('\n'), second = env.find('\n', first + 1);
  EXPECT_EQ(env.substr(0, first), R"({"event_id":")" + e.event_id + R"(","sent_at":"2025-12-03T00:00:00.250Z"})");
  const std::string item = env.substr(first + 1, second - first - 1);
  const std::string payload = env.substr(second + 1, env.size() - second - 2);
  EXPECT_NE(item.find(R"("type":"event")"), std::string::npos);
  EXPECT_NE(item.find("\"length\":" + std::to_string(payload.size())), std::string::npos) << item;
  EXPECT_NE(payload.find(R"("tags":{"error_code":"not_found"})"), std::string::npos);
  EXPECT_EQ(env.back(), '\n');
}

TEST(Sentry, ScrubRemovesUrlsPathsUidsIdsAndEmails) {
  EXPECT_EQ(sentry::Scrub("download: http://user:pw@pacs.local/instances/abc/file: HTTP 404"),
            "download: <url> HTTP 404");
  EXPECT_EQ(sentry::Scrub("cannot open /srv/pacs/PAT-001/img.dcm (No such file)"), "cannot open <path> (No such file)");
  EXPECT_EQ(sentry::Scrub("uid 1.2.840.113619.2.55.3 of PAT-001, MRN12345, mail jo@example.org"),
            "uid <uid> of PAT-<id>, MRN<id>, mail <email>");
  EXPECT_EQ(sentry::Scrub("born 19700101, HTTP/1.1 503, 3 of 12 rows, element (7FE0,0010)"),
            "born <number>, HTTP/1.1 503, 3 of 12 rows, element (7FE0,0010)");
}

TEST(Sentry, FailuresAreSampledPerCodeAndRateLimited) {
  int sampled = 0;
  for (unsigned long long n = 1; n <= 1000; ++n) sampled += sentry::SampleFailure(n) ? 1 : 0;
  EXPECT_EQ(sampled, 10);  // 1, 2, 4, ..., 512.
  EXPECT_FALSE(sentry::SampleFailure(0));
  sentry::RateLimiter limit(60, 3);  // One a second after a burst of 3.
  EXPECT_TRUE(limit.Allow(100));
  EXPECT_TRUE(limit.Allow(100));
  EXPECT_TRUE(limit.Allow(100));
  EXPECT_FALSE(limit.Allow(100.5));
  EXPECT_TRUE(limit.Allow(101.6));
  EXPECT_FALSE(limit.Allow(101.7));
}

TEST(Sentry, ReporterSendsThroughTheTransportAndPausesOn429) {
  std::mutex mu;
  std::vector<std::string> bodies;
  std::atomic<long> answer{200};
  sentry::ReporterOptions options;
  options.dsn = "http://key@127.0.0.1:1/5";
  options.release = "eden-etl@test";
  auto reporter =
      sentry::Reporter::Create(options, [&](const std::string& url, const std::string& auth, const std::string& body) {
        EXPECT_EQ(url, "http://127.0.0.1:1/api/5/envelope/");
        EXPECT_NE(auth.find("sentry_key=key"), std::string::npos);
        std::lock_guard lock(mu);
        bodies.push_back(body);
        return Result<sentry::TransportReply>(sentry::TransportReply{answer.load(), 30});
      });
  ASSERT_TRUE(reporter);
  for (int i = 0; i < 5; ++i) (*reporter)->InstanceFailure("not_found", "download", "HTTP 404 for /a/b");
  (*reporter)->InstanceFailure("truncated", "convert", "short");
  EXPECT_EQ((*reporter)->Flush(5), 0u);
  {
    std::lock_guard lock(mu);
    ASSERT_EQ(bodies.size(), 4u);  // not_found 1st, 2nd, 4th; truncated 1st.
    for (const auto& b : bodies) EXPECT_EQ(b.find("/a/b"), std::string::npos) << b;
    EXPECT_NE(bodies[0].find(R"("release":"eden-etl@test")"), std::string::npos);
  }
  answer = 429;
  (*reporter)->RunError("unavailable", "first");  // Answered 429 (Retry-After 30): paused.
  (*reporter)->Flush(5);
  (*reporter)->RunError("unavailable", "second");  // Waits out the pause: still queued.
  EXPECT_EQ((*reporter)->Flush(0.3), 1u);
  std::lock_guard lock(mu);
  EXPECT_EQ(bodies.size(), 5u);
  EXPECT_EQ((*reporter)->counts().failed, 1u);
}

}  // namespace
}  // namespace eden
