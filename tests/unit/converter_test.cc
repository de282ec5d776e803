#include <fstream>
#include <iterator>

#include <gtest/gtest.h>

#include "convert/converter.h"
#include "dicom/dcmtk_decoder.h"
#include "jpeg/turbojpeg_encoder.h"

namespace eden::convert {
namespace {

std::vector<uint8_t> ReadCorpus(const std::string& name) {
  std::ifstream in(std::string(PYDICOM_TEST_FILES) + "/" + name, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

bool IsJpeg(const std::vector<uint8_t>& b) {
  return b.size() > 4 && b[0] == 0xFF && b[1] == 0xD8 && b[b.size() - 2] == 0xFF && b[b.size() - 1] == 0xD9;
}

class ConverterTest : public ::testing::Test {
 protected:
  dicom::DcmtkDecoder decoder_;
  Converter converter_{decoder_, jpeg::MakeTurboJpegEncoder()};
};

TEST_F(ConverterTest, ConvertsFirstFrameByDefault) {
  auto c = converter_.Convert(ReadCorpus("rtdose.dcm"), {});
  ASSERT_TRUE(c.has_value()) << c.error().ToString();
  ASSERT_EQ(c->frames.size(), 1u);
  EXPECT_EQ(c->frames[0].frame, 0u);
  EXPECT_TRUE(IsJpeg(c->frames[0].jpeg));
  EXPECT_EQ(c->info.number_of_frames, 15u);
}

TEST_F(ConverterTest, AllFramesAndChosenFrame) {
  ConvertOptions all;
  all.all_frames = true;
  auto c = converter_.Convert(ReadCorpus("rtdose.dcm"), all);
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->frames.size(), 15u);
  ConvertOptions one;
  one.frame = 14;
  auto last = converter_.Convert(ReadCorpus("rtdose.dcm"), one);
  ASSERT_TRUE(last.has_value());
  EXPECT_EQ(last->frames[0].jpeg, c->frames[14].jpeg);
  one.frame = 15;
  auto past = converter_.Convert(ReadCorpus("rtdose.dcm"), one);
  ASSERT_FALSE(past.has_value());
  EXPECT_EQ(past.error().code(), ErrorCode::kInvalidArgument);
}

TEST_F(ConverterTest, MaxSizeDownscales) {
  ConvertOptions o;
  o.max_size = 100;
  auto c = converter_.Convert(ReadCorpus("JPEG2000.dcm"), o);  // 256 x 1024
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->frames[0].height, 100u);
  EXPECT_EQ(c->frames[0].width, 25u);
}

TEST_F(ConverterTest, ReportsFileWindow) {
  auto c = converter_.Convert(ReadCorpus("MR_small.dcm"), {});
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->frames[0].render.source, imaging::VoiSource::kFileWindow);
  ASSERT_TRUE(c->frames[0].render.window.has_value());
  EXPECT_DOUBLE_EQ(c->frames[0].render.window->center, 600);
  EXPECT_DOUBLE_EQ(c->frames[0].render.window->width, 1600);
}

TEST_F(ConverterTest, NonImageGetsTypedError) {
  auto c = converter_.Convert(ReadCorpus("rtplan.dcm"), {});
  ASSERT_FALSE(c.has_value());
  EXPECT_EQ(c.error().code(), ErrorCode::kNoPixelData);
}

TEST(ParseWindow, AcceptsCentreSlashWidth) {
  auto w = ParseWindow("-600/1500");
  ASSERT_TRUE(w.has_value());
  EXPECT_DOUBLE_EQ(w->center, -600);
  EXPECT_DOUBLE_EQ(w->width, 1500);
  EXPECT_FALSE(ParseWindow("40").has_value());
  EXPECT_FALSE(ParseWindow("a/400").has_value());
  EXPECT_FALSE(ParseWindow("40/0").has_value());
  EXPECT_FALSE(ParseWindow("40/").has_value());
}

}  // namespace
}  // namespace eden::convert
