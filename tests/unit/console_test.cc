// The console at scale (cli/progress.h, cli/console_observer.h): a 100,000-row run prints a
// page, not a line per row or per page; failures are printed once, capped; on a terminal one
// line per phase is redrawn in place.
#include <cstdio>
#include <cstdlib>
#include <string>

#include <gtest/gtest.h>

#include "cli/console_observer.h"
#include "cli/progress.h"

namespace eden::cli {
namespace {

/// A FILE* whose text the test reads back.
class Captured {
 public:
  Captured() : file_(open_memstream(&data_, &size_)) {}
  ~Captured() {
    std::fclose(file_);
    std::free(data_);
  }
  std::FILE* file() { return file_; }
  std::string text() {
    std::fflush(file_);
    return std::string(data_, size_);
  }

 private:
  char* data_ = nullptr;
  size_t size_ = 0;
  std::FILE* file_;
};

size_t Count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + what.size())) ++n;
  return n;
}

using pipeline::Step;

pipeline::InstanceOutcome Outcome(size_t i, bool stored) {
  pipeline::InstanceOutcome o;
  o.instance_id = "id-" + std::to_string(i);
  o.stored = stored;
  o.dicom_bytes = 1000;
  if (!stored) {
    o.Fail(Step::kDownload, Error(i % 2 ? ErrorCode::kNotFound : ErrorCode::kCorruptPixelData, "HTTP 404"));
  }
  return o;
}

TEST(ProgressText, CountsRateElapsedAndEta) {
  EXPECT_EQ(Thousands(0), "0");
  EXPECT_EQ(Thousands(999), "999");
  EXPECT_EQ(Thousands(1000), "1,000");
  EXPECT_EQ(Thousands(100000), "100,000");
  EXPECT_EQ(Thousands(1234567), "1,234,567");
  EXPECT_EQ(FormatSeconds(0), "0:00");
  EXPECT_EQ(FormatSeconds(65), "1:05");
  EXPECT_EQ(FormatSeconds(3600 + 62), "1:01:02");
  EXPECT_EQ(FormatSeconds(-1), "--:--");
  EXPECT_EQ(FormatBytes(999'949'999), "999.9 MB");
  EXPECT_EQ(FormatBytes(2'350'400'000), "2.35 GB");
  // 12,345 of 100,000 in 10 s: 1,234/s, 71 s to go.
  EXPECT_EQ(ProgressText("extract", 12345, 100000, 10, "stored 12,300"),
            "extract  12,345/100,000  12%  1,234/s  0:10 elapsed  ETA 1:11  stored 12,300");
  EXPECT_EQ(ProgressText("select", 0, 10, 0, ""), "select  0/10  0%  0.0/s  0:00 elapsed  ETA --:--");
  // Finished: no ETA.
  EXPECT_EQ(ProgressText("extract", 8, 8, 4, ""), "extract  8/8  100%  2.0/s  0:04 elapsed");
}

TEST(Progress, PlainLinesComeEveryFivePercent) {
  Captured out;
  double t = 0;
  Progress p(out.file(), /*live=*/false, [&] { return t; });
  p.Start("extract", 100000);
  for (size_t i = 1; i < 100000; ++i) {
    t += 0.001;  // 100 s in all: 5% takes 5 s, so the 10 s rule never fires.
    p.Update(i);
  }
  p.Done(100000);
  const std::string text = out.text();
  EXPECT_EQ(Count(text, "\n"), 20u) << text;  // 19 steps of 5% before the end, then the last line.
  EXPECT_EQ(Count(text, "\r"), 0u);
  EXPECT_NE(text.find("extract  5,000/100,000  5%"), std::string::npos) << text;
  EXPECT_EQ(Count(text, "extract  100,000/100,000  100%"), 1u) << text;
}

TEST(Progress, PlainLinesComeEveryTenSecondsWhenProgressIsSlow) {
  Captured out;
  double t = 0;
  Progress p(out.file(), false, [&] { return t; });
  p.Start("extract", 1000);
  for (size_t i = 1; i <= 35; ++i) {  // One a second: 3.5% in 35 s.
    t += 1;
    p.Update(i);
  }
  const std::string text = out.text();
  EXPECT_EQ(Count(text, "\n"), 3u) << text;  // At 10, 20 and 30 s.
  EXPECT_NE(text.find("extract  10/1,000  1%  1.0/s  0:10 elapsed  ETA 16:30"), std::string::npos) << text;
}

TEST(Progress, APhaseOfFewItemsInUnevenStepsStillPrintsAtMostTwentyLines) {
  Captured out;
  double t = 0;
  Progress p(out.file(), false, [&] { return t; });
  p.Start("select", 52);
  for (size_t rows = 2; rows < 52; rows += 2) p.Update(rows);  // Pages of 2 rows: 5% is 2.6 rows.
  p.Done(52);
  EXPECT_LE(Count(out.text(), "\n"), 20u) << out.text();
}

TEST(Progress, PlainLinesDoNotBunchUpAfterATimedLine) {
  Captured out;
  double t = 0;
  Progress p(out.file(), false, [&] { return t; });
  p.Start("extract", 1000);
  for (size_t i = 1; i <= 100; ++i) {  // 4.9% in the first 10 s, then fast.
    t += i <= 49 ? 0.205 : 0.001;
    p.Update(i);
  }
  // A line at 10 s (49 done); the next comes 5% later (99), not at the 5% mark (50).
  const std::string text = out.text();
  EXPECT_EQ(Count(text, "\n"), 2u) << text;
  EXPECT_NE(text.find("extract  49/1,000"), std::string::npos) << text;
  EXPECT_NE(text.find("extract  99/1,000"), std::string::npos) << text;
}

TEST(Progress, ALiveLineIsRedrawnAtMostTenTimesASecond) {
  Captured out;
  double t = 0;
  Progress p(out.file(), /*live=*/true, [&] { return t; });
  p.Start("extract", 100000);
  for (size_t i = 1; i < 100000; ++i) {
    t += 0.00001;  // 100,000 updates in 1 s.
    p.Update(i);
  }
  p.Done(100000);
  const std::string text = out.text();
  EXPECT_LE(Count(text, "\r\033[K"), 12u);
  EXPECT_GE(Count(text, "\r\033[K"), 10u);
  EXPECT_EQ(Count(text, "\n"), 1u);  // Only the finished line ends with a newline.
  EXPECT_EQ(text.back(), '\n');
}

/// A whole run's console: 100,000 rows selected in 4,000 pages, 100,000 outcomes of which 100
/// fail, then the summary.
std::string ConsoleOfALargeRun(bool live, pipeline::RunSummary& summary) {
  Captured out;
  double t = 0;
  ConsoleObserver console(out.file(), live, /*quiet=*/false, "INFO", [&] { return t; });
  console.OnSelectionStats({.studies = 25000, .series = 25000, .instances = 100000});
  for (int page = 1; page <= 4000; ++page) {
    t += 0.005;
    console.OnPage(page, page * size_t{25});
  }
  console.OnSelected(100000);
  console.OnPhase("extract", 100000);
  for (size_t i = 1; i <= 100000; ++i) {
    t += 0.001;
    const bool fails = i % 1000 == 0;
    if (fails) {
      ++summary.failures_by_code[std::string(Outcome(i, false).ErrorCodeText())];
      summary.failures.push_back({Outcome(i, false).instance_id, "x"});
    }
    console.OnOutcome(Outcome(i, !fails), i, 100000);
  }
  console.OnPhase("finalize", 2);
  summary.total = summary.processed = 100000;
  summary.failed = 100;
  summary.stored = 99900;
  PrintSummary(out.file(), summary);
  return out.text();
}

TEST(ConsoleObserver, ALargeRunPrintsAPageNotALinePerRowOrPage) {
  pipeline::RunSummary summary;
  const std::string text = ConsoleOfALargeRun(false, summary);
  EXPECT_LE(Count(text, "\n  select  "), 21u) << text;
  EXPECT_LE(Count(text, "\n  extract  "), 21u) << text;
  EXPECT_LT(Count(text, "\n"), 120u) << text;
  // The selection's last line says how many pages it took.
  EXPECT_EQ(Count(text, "select  100,000/100,000  100%"), 1u) << text;
  EXPECT_NE(text.find("4,000 pages"), std::string::npos) << text;
  EXPECT_EQ(Count(text, "extract  100,000/100,000  100%"), 1u) << text;
  EXPECT_NE(text.find("instances: 100,000 in the sample, 99,900 stored"), std::string::npos) << text;
}

TEST(ConsoleObserver, FailuresArePrintedOnceAndCapped) {
  pipeline::RunSummary summary;
  const std::string text = ConsoleOfALargeRun(false, summary);
  EXPECT_EQ(Count(text, "  failed id-"), ConsoleObserver::kPrintedFailures) << text;
  EXPECT_EQ(Count(text, "more failures are not printed"), 1u) << text;
  // Each printed failure appears once: the summary counts by reason instead of listing again.
  EXPECT_EQ(Count(text, "id-1000:"), 1u) << text;
  EXPECT_EQ(Count(text, "id-21000"), 0u) << text;
  EXPECT_NE(text.find("failed by reason: corrupt_pixel_data 100"), std::string::npos) << text;
}

TEST(ConsoleObserver, OnATerminalEachPhaseIsOneLineRedrawnInPlace) {
  pipeline::RunSummary summary;
  const std::string text = ConsoleOfALargeRun(true, summary);
  // Selection and extraction each end with one finished line; failures print on lines of their
  // own above the live line (20, then the "more failures" line).
  EXPECT_EQ(Count(text, "\n  select  "), 0u);
  EXPECT_EQ(Count(text, "\r\033[K  select  100,000/100,000  100%"), 1u) << text;
  EXPECT_EQ(Count(text, "\r\033[K  extract  100,000/100,000  100%"), 1u) << text;
  EXPECT_LT(Count(text, "\n"), 80u) << text;
  EXPECT_EQ(Count(text, "  failed id-"), ConsoleObserver::kPrintedFailures) << text;
}

}  // namespace
}  // namespace eden::cli
