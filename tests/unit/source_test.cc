#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "fake_pacs_source.h"
#include "source/pager.h"

namespace eden::source {
namespace {

/// The fake's rows for a PACS given as instance ids by study.
FakePacsSource Source(const std::map<std::string, std::vector<std::string>>& pacs) {
  std::vector<InstanceRow> rows;
  for (const auto& [study, ids] : pacs) {
    for (const auto& id : ids) {
      InstanceRow row;
      row.study_id = study;
      row.instance_id = id;
      rows.push_back(std::move(row));
    }
  }
  return FakePacsSource(std::move(rows));
}

/// 60 studies with 0 to 6 instances each; instance ids interleave across studies.
std::map<std::string, std::vector<std::string>> Pacs() {
  std::map<std::string, std::vector<std::string>> pacs;
  for (int s = 0; s < 60; ++s) {
    auto& ids = pacs["study-" + std::to_string(s)];
    for (int i = 0; i < s % 7; ++i) ids.push_back("i" + std::to_string((i * 61 + s * 17) % 997 + 1000));
  }
  return pacs;
}

SelectionStats Stats(int64_t studies, int64_t instances) {
  SelectionStats s;
  s.studies = studies;
  s.instances = instances;
  return s;
}

std::vector<InstanceRow> Drain(Pager& pager, int* pages = nullptr) {
  std::vector<InstanceRow> all;
  for (;;) {
    auto page = pager.Next();
    EXPECT_TRUE(page.has_value());
    if (!page || page->empty()) break;
    if (pages) ++*pages;
    all.insert(all.end(), page->begin(), page->end());
  }
  return all;
}

TEST(StudiesPerPageQuery, AboutTwoPagesOfRowsBetween1And256) {
  EXPECT_EQ(StudiesPerPageQuery(Stats(100, 400), 25), 13u);  // 50 rows / 4 a study
  EXPECT_EQ(StudiesPerPageQuery(Stats(10, 5000), 25), 1u);   // 500-slice CTs: one at a time
  EXPECT_EQ(StudiesPerPageQuery(Stats(1000, 10), 25), 50u);  // fewer than one a study
  EXPECT_EQ(StudiesPerPageQuery(Stats(1, 1), 1000), 256u);
  EXPECT_EQ(StudiesPerPageQuery(SelectionStats{}, 25), 50u);  // nothing selected: no division by zero
}

TEST(Pager, ASampleComesWholeAndOnceAFewStudiesAQuery) {
  const auto pacs = Pacs();
  auto source = Source(pacs);
  Selection selection;
  selection.studies = 45;
  std::vector<std::string> sample;
  SelectionStats stats;
  for (int s = 59; s >= 15; --s) {  // 45 studies, not in id order
    sample.push_back("study-" + std::to_string(s));
    stats.instances += static_cast<int64_t>(pacs.at(sample.back()).size());
  }
  stats.studies = 45;
  Pager pager(source, selection, sample, stats, 3);
  int pages = 0;
  const auto rows = Drain(pager, &pages);

  std::multiset<std::string> got, want;
  for (const auto& r : rows) got.insert(r.study_id + "/" + r.instance_id);
  for (const auto& s : sample)
    for (const auto& id : pacs.at(s)) want.insert(s + "/" + id);
  EXPECT_EQ(got, want);  // every row of the sample, once; nothing from outside it
  EXPECT_LE(source.largest_chunk, StudiesPerPageQuery(stats, 3));
  EXPECT_GT(source.largest_chunk, 1u);
  EXPECT_GE(pages, static_cast<int>(want.size() / 3));
  EXPECT_TRUE(pager.Next()->empty()) << "a drained pager must stay drained";
}

TEST(Pager, EveryStudyIsPagedByKeysetWithoutAStudyList) {
  const auto pacs = Pacs();
  auto source = Source(pacs);
  Selection selection;
  selection.studies.reset();
  size_t total = 0;
  for (const auto& [s, ids] : pacs) total += ids.size();
  Pager pager(source, selection, {}, Stats(60, static_cast<int64_t>(total)), 10);
  int pages = 0;
  const auto rows = Drain(pager, &pages);
  EXPECT_EQ(rows.size(), total);
  EXPECT_TRUE(std::is_sorted(rows.begin(), rows.end(),
                             [](const auto& a, const auto& b) { return a.instance_id < b.instance_id; }));
  EXPECT_EQ(source.largest_chunk, 0u);
  EXPECT_EQ(pages, static_cast<int>((total + 9) / 10));
  // One query a page, plus one that finds nothing only when the last page was full.
  EXPECT_EQ(source.calls, pages + (total % 10 == 0 ? 1 : 0));
}

TEST(Pager, ASourceErrorIsReturned) {
  auto source = Source(Pacs());
  source.fail_on_call = 3;
  Selection selection;
  selection.studies.reset();
  Pager pager(source, selection, {}, Stats(60, 150), 5);
  ASSERT_TRUE(pager.Next().has_value());
  ASSERT_TRUE(pager.Next().has_value());
  const auto third = pager.Next();
  ASSERT_FALSE(third.has_value());
  EXPECT_EQ(third.error().code(), ErrorCode::kUnavailable);
}

}  // namespace
}  // namespace eden::source
