// Dataset packaging: report sections and patient-level splits.
#include <map>
#include <string>

#include <gtest/gtest.h>

#include "dataset/report_sections.h"
#include "dataset/split.h"

namespace eden::dataset {
namespace {

TEST(ReportSections, MimicStyleReport) {
  const auto r = ParseReport(
      "                                 FINAL REPORT\n"
      " EXAMINATION:  CHEST (PA AND LAT)\n"
      " \n"
      " INDICATION:  ___F with new onset ascites  // eval for infection\n"
      " \n"
      " TECHNIQUE:  Chest PA and lateral\n"
      " \n"
      " COMPARISON:  None.\n"
      " \n"
      " FINDINGS: \n"
      " \n"
      " There is no focal consolidation, pleural effusion or pneumothorax.  Bilateral\n"
      " nodular opacities that most likely represent nipple shadows.\n"
      " \n"
      " IMPRESSION: \n"
      " \n"
      " No acute cardiopulmonary process.\n");
  EXPECT_EQ(r.preamble, "FINAL REPORT");
  EXPECT_EQ(r.indication, "___F with new onset ascites  // eval for infection");
  EXPECT_EQ(r.technique, "CHEST (PA AND LAT)\nChest PA and lateral");  // EXAMINATION and TECHNIQUE.
  EXPECT_EQ(r.comparison, "None.");
  EXPECT_EQ(r.findings,
            "There is no focal consolidation, pleural effusion or pneumothorax.  Bilateral\n"
            " nodular opacities that most likely represent nipple shadows.");
  EXPECT_EQ(r.impression, "No acute cardiopulmonary process.");
  EXPECT_EQ(r.caption, r.impression);
}

TEST(ReportSections, SynonymsCaseNumberingAndMarkdown) {
  const auto r = ParseReport(
      "Clinical history: cough.\n"
      "1. Findings: Small left effusion.\n"
      "**Conclusion**: Effusion, otherwise normal.\n"
      "prior studies: 2019 radiograph\n"
      "ADDENDUM: Discussed with the referring team.\n");
  EXPECT_EQ(r.indication, "cough.");
  EXPECT_EQ(r.findings, "Small left effusion.");
  EXPECT_EQ(r.impression, "Effusion, otherwise normal.");
  EXPECT_EQ(r.comparison, "2019 radiograph");
  EXPECT_EQ(r.addendum, "Discussed with the referring team.");  // Not part of the comparison.
  EXPECT_TRUE(r.preamble.empty());
}

TEST(ReportSections, ALabelMidLineIsNotASectionAndNoLabelsMeansTheLastParagraph) {
  const auto r = ParseReport("The heart is normal. No findings: lungs clear.\n\nStable.\nNo change since prior.");
  EXPECT_TRUE(r.findings.empty());
  EXPECT_TRUE(r.comparison.empty());
  EXPECT_EQ(r.preamble, "The heart is normal. No findings: lungs clear.\n\nStable.\nNo change since prior.");
  EXPECT_EQ(r.caption, "Stable. No change since prior.");
  EXPECT_EQ(ParseReport("").caption, "");
  EXPECT_EQ(ParseReport("Findings: only findings here.").caption, "only findings here.");
}

TEST(ReportSections, ASectionMetTwiceIsJoined) {
  const auto r = ParseReport("Impression: one.\nFindings: a.\nImpression: two.\r\n");
  EXPECT_EQ(r.impression, "one.\ntwo.");
  EXPECT_EQ(r.findings, "a.");
}

TEST(Split, ParsesTheDefaultAndRefusesBadSpecs) {
  auto s = ParseSplit("train=0.8,validation=0.1,test=0.1");
  ASSERT_TRUE(s);
  ASSERT_EQ(s->parts.size(), 3u);
  EXPECT_EQ(s->parts[1].first, "validation");
  EXPECT_FALSE(ParseSplit("train=0.8,test=0.1"));   // Sums to 0.9.
  EXPECT_FALSE(ParseSplit("train=0.5,train=0.5"));  // Twice.
  EXPECT_FALSE(ParseSplit("Train=1"));              // Upper case.
  EXPECT_FALSE(ParseSplit("train=x"));              // Not a number.
  EXPECT_FALSE(ParseSplit("train=1,test=0"));       // Zero.
  EXPECT_TRUE(ParseSplit("all=1"));
}

TEST(Split, APatientAlwaysLandsInOnePartAndTheSharesHold) {
  const auto spec = *ParseSplit("train=0.8,validation=0.1,test=0.1");
  std::map<std::string, int> counts;
  for (int p = 0; p < 20000; ++p) {
    const std::string patient = "patient-" + std::to_string(p);
    const std::string part = AssignSplit(spec, "k", patient);
    EXPECT_EQ(part, AssignSplit(spec, "k", patient));  // Stable.
    ++counts[part];
  }
  EXPECT_NEAR(counts["train"] / 20000.0, 0.8, 0.015);
  EXPECT_NEAR(counts["validation"] / 20000.0, 0.1, 0.01);
  EXPECT_NEAR(counts["test"] / 20000.0, 0.1, 0.01);
  // Another secret, another assignment for some patients.
  int moved = 0;
  for (int p = 0; p < 1000; ++p) {
    const std::string patient = "patient-" + std::to_string(p);
    moved += AssignSplit(spec, "k", patient) != AssignSplit(spec, "other", patient);
  }
  EXPECT_GT(moved, 100);
}

}  // namespace
}  // namespace eden::dataset
