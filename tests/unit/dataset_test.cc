// Dataset packaging: report sections, patient-level splits, records, tar members.
#include <map>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "dataset/record.h"
#include "dataset/report_sections.h"
#include "dataset/split.h"
#include "dataset/tar.h"

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

TEST(ReportSections, MarkdownBoldLabelsAndLabelsOnTheirOwnLine) {
  const auto r = ParseReport(
      "**History:** Follow-up of known effusion.\n\n"
      "__Findings:__ Heart size is normal.\n\n"
      "IMPRESSION:\nNo acute process.\nStable.\n");
  EXPECT_EQ(r.indication, "Follow-up of known effusion.");
  EXPECT_EQ(r.findings, "Heart size is normal.");
  EXPECT_EQ(r.impression, "No acute process.\nStable.");
  EXPECT_EQ(r.caption, r.impression);
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

TEST(ReportSections, OpenIAndUkStyleReports) {
  // Indiana University chest X-ray collection (OpenI): labels in capitals, one a line.
  auto r = ParseReport(
      "COMPARISON: None.\n"
      "INDICATION: XXXX-year-old male, chest pain.\n"
      "FINDINGS: The cardiomediastinal silhouette is within normal limits for size and contour.\n"
      "IMPRESSION: No active disease.\n");
  EXPECT_EQ(r.comparison, "None.");
  EXPECT_EQ(r.indication, "XXXX-year-old male, chest pain.");
  EXPECT_EQ(r.findings, "The cardiomediastinal silhouette is within normal limits for size and contour.");
  EXPECT_EQ(r.caption, "No active disease.");
  // British style: clinical details / report / opinion; no impression -> opinion is the impression.
  r = ParseReport("Clinical details: SOB.\nReport: Heart size normal. Lungs clear.\nOpinion: Normal chest.");
  EXPECT_EQ(r.indication, "SOB.");
  EXPECT_EQ(r.findings, "Heart size normal. Lungs clear.");
  EXPECT_EQ(r.impression, "Normal chest.");
  // Findings only: the caption falls back to them.
  r = ParseReport("Reason for examination: trauma\n\nFindings:\nNo fracture.\n");
  EXPECT_EQ(r.indication, "trauma");
  EXPECT_EQ(r.caption, "No fracture.");
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

// ---- records -----------------------------------------------------------------------------------

TEST(Record, MetadataLinesHaveEveryKeyNullWhenUnknownAndSurviveBadUtf8) {
  ImageRecord a;
  a.file_name = "images-jpg/x.jpg";
  a.split = "train";
  a.instance_id = "x";
  a.report = "caf\xe9";  // Latin-1, not UTF-8.
  a.sections.caption = "No acute process.";
  const auto j = nlohmann::ordered_json::parse(MetadataJson(a));
  ASSERT_EQ(j.size(), MetadataFeatures().size());
  size_t i = 0;
  for (const auto& [key, value] : j.items()) {
    (void)value;
    EXPECT_EQ(key, MetadataFeatures()[i++].name);  // The card's features, in the same order.
  }
  EXPECT_TRUE(j["rows"].is_null());
  EXPECT_TRUE(j["sex"].is_null());
  EXPECT_EQ(j["caption"], "No acute process.");
  EXPECT_EQ(j["report"], "caf\xef\xbf\xbd");  // U+FFFD
}

TEST(Record, LlavaAsksTheInstructionAndAnswersTheCaption) {
  ImageRecord a;
  a.instance_id = "1.2.3";
  a.file_name = "images-jpg/1.2.3.jpg";
  a.split = "test";
  a.sections.caption = "Small effusion.";
  const auto j = nlohmann::json::parse(LlavaJson(a, "What do you see?"));
  EXPECT_EQ(j["id"], "1.2.3");
  EXPECT_EQ(j["image"], "images-jpg/1.2.3.jpg");
  EXPECT_EQ(j["conversations"][0]["from"], "human");
  EXPECT_EQ(j["conversations"][0]["value"], "<image>\nWhat do you see?");
  EXPECT_EQ(j["conversations"][1]["value"], "Small effusion.");
}

TEST(Record, SampleKeysHaveNoDotAndStayDistinct) {
  EXPECT_EQ(SampleKey("abc-123"), "abc-123");
  EXPECT_EQ(SampleKey("1.2.840"), "1%2E2%2E840");
  EXPECT_NE(SampleKey("a.b"), SampleKey("a%2Eb"));  // '%' is encoded too.
  EXPECT_EQ(SampleKey("a%2Eb"), "a%252Eb");
}

// ---- tar ---------------------------------------------------------------------------------------

TEST(Tar, HeadersAreUstarWithAValidChecksumAndLongNamesGetAGnuRecord) {
  const std::string h = TarHeader("abc.jpg", 1234, 0);
  ASSERT_EQ(h.size(), 512u);
  EXPECT_EQ(h.substr(0, 7), "abc.jpg");
  EXPECT_EQ(h.substr(257, 5), "ustar");
  EXPECT_EQ(h.substr(124, 11), "00000002322");  // 1234 in octal
  unsigned sum = 0;
  for (size_t i = 0; i < 512; ++i) sum += (i >= 148 && i < 156) ? ' ' : static_cast<unsigned char>(h[i]);
  EXPECT_EQ(std::stoul(h.substr(148, 6), nullptr, 8), sum);
  const std::string name(150, 'k');
  const std::string lng = TarHeader(name, 10);
  EXPECT_EQ(lng.size(), 512u * 3);  // LongLink header, the name (151 bytes: one block), the header.
  EXPECT_EQ(lng[156], 'L');
  EXPECT_EQ(lng.substr(512, 150), name);
  EXPECT_EQ(TarMemberBytes(name, 10), lng.size() + 512);
  EXPECT_EQ(TarMemberBytes("a", 0), 512u);
  EXPECT_EQ(TarMemberBytes("a", 512), 1024u);
  EXPECT_EQ(TarMemberBytes("a", 513), 1536u);
  EXPECT_EQ(TarPadding(513).size(), 511u);
  EXPECT_EQ(TarPadding(512).size(), 0u);
  EXPECT_EQ(TarEnd().size(), 1024u);
}

}  // namespace
}  // namespace eden::dataset
