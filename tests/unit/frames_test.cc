// Frame location and the pure frame helpers (dicom/frames.h) that both DcmtkDecoder paths (the
// input read in place, and DCMTK's copy) share.
#include <gtest/gtest.h>

#include <vector>

#include "dicom/frames.h"

namespace eden::dicom {
namespace {

std::span<const uint8_t> S(const std::vector<uint8_t>& v) { return v; }

TEST(LocateFrame, OneFrameInOneFragmentIsAViewAndInSeveralIsJoined) {
  const std::vector<uint8_t> bot, a{1, 2, 3}, b{4, 5};
  std::vector<uint8_t> scratch;
  const std::vector<std::span<const uint8_t>> one{S(bot), S(a)};
  auto f = LocateFrame(SplitItems(one), 0, 1, scratch);
  ASSERT_TRUE(f.has_value());
  EXPECT_EQ(f->data(), a.data());  // No copy.
  const std::vector<std::span<const uint8_t>> two{S(bot), S(a), S(b)};
  auto g = LocateFrame(SplitItems(two), 0, 1, scratch);
  ASSERT_TRUE(g.has_value());
  EXPECT_EQ(std::vector<uint8_t>(g->begin(), g->end()), (std::vector<uint8_t>{1, 2, 3, 4, 5}));
}

TEST(LocateFrame, AFragmentPerFrameOrTheBasicOffsetTable) {
  const std::vector<uint8_t> a{1, 2, 3}, b{4, 5}, c{6}, d{7, 8};
  std::vector<uint8_t> scratch;
  const std::vector<uint8_t> empty_bot;
  const std::vector<std::span<const uint8_t>> per_frame{S(empty_bot), S(a), S(b)};
  auto f = LocateFrame(SplitItems(per_frame), 1, 2, scratch);
  ASSERT_TRUE(f.has_value());
  EXPECT_EQ(f->data(), b.data());
  // Two frames in four fragments: frame 1 = a + b (offset 0), frame 2 = c + d (offset 3+8 + 2+8 = 21).
  const std::vector<uint8_t> bot{0, 0, 0, 0, 21, 0, 0, 0};
  const std::vector<std::span<const uint8_t>> split{S(bot), S(a), S(b), S(c), S(d)};
  const auto frames = SplitItems(split);
  EXPECT_EQ(frames.offsets, (std::vector<uint32_t>{0, 21}));
  auto first = LocateFrame(frames, 0, 2, scratch);
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(std::vector<uint8_t>(first->begin(), first->end()), (std::vector<uint8_t>{1, 2, 3, 4, 5}));
  auto second = LocateFrame(frames, 1, 2, scratch);
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(std::vector<uint8_t>(second->begin(), second->end()), (std::vector<uint8_t>{6, 7, 8}));
}

TEST(LocateFrame, NoFragmentsOrNoWayToFindTheFrameIsCorruptPixelData) {
  std::vector<uint8_t> scratch;
  const std::vector<uint8_t> bot, a{1};
  const std::vector<std::span<const uint8_t>> none{S(bot)};
  EXPECT_EQ(LocateFrame(SplitItems(none), 0, 1, scratch).error().code(), ErrorCode::kCorruptPixelData);
  // Three frames, two fragments, no table.
  const std::vector<std::span<const uint8_t>> two{S(bot), S(a), S(a)};
  auto r = LocateFrame(SplitItems(two), 2, 3, scratch);
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message().find("cannot locate frame 3 among 2 fragments"), std::string::npos);
  // A table pointing past every fragment.
  const std::vector<uint8_t> far{0, 0, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0};
  const std::vector<std::span<const uint8_t>> lost{S(far), S(a), S(a)};
  EXPECT_FALSE(LocateFrame(SplitItems(lost), 1, 3, scratch).has_value());
}

imaging::PixelFormat Format(uint32_t rows, uint32_t cols, uint16_t bits) {
  imaging::PixelFormat f;
  f.rows = rows;
  f.cols = cols;
  f.samples_per_pixel = 1;
  f.bits_allocated = bits;
  f.bits_stored = bits == 1 ? 1 : bits;
  f.high_bit = static_cast<uint16_t>(f.bits_stored - 1);
  return f;
}

TEST(NativeFrame, LittleEndianIsAViewBigEndianOwIsSwapped) {
  const std::vector<uint8_t> data{1, 2, 3, 4, 5, 6, 7, 8};
  auto le = NativeFrame(data, Format(1, 2, 16), imaging::Photometric::kMonochrome2, false, 1);
  ASSERT_TRUE(le.has_value());
  EXPECT_EQ(le->bytes.data(), data.data() + 4);
  auto be = NativeFrame(data, Format(1, 2, 16), imaging::Photometric::kMonochrome2, true, 0);
  ASSERT_TRUE(be.has_value());
  EXPECT_EQ(std::vector<uint8_t>(be->bytes.begin(), be->bytes.end()), (std::vector<uint8_t>{2, 1, 4, 3}));
  auto be32 = NativeFrame(data, Format(1, 2, 32), imaging::Photometric::kMonochrome2, true, 0);
  ASSERT_TRUE(be32.has_value());
  EXPECT_EQ(std::vector<uint8_t>(be32->bytes.begin(), be32->bytes.end()),
            (std::vector<uint8_t>{4, 3, 2, 1, 8, 7, 6, 5}));
  auto short_data = NativeFrame(data, Format(2, 2, 16), imaging::Photometric::kMonochrome2, false, 1);
  ASSERT_FALSE(short_data.has_value());
  EXPECT_EQ(short_data.error().code(), ErrorCode::kTruncated);
}

TEST(UnpackBitFrame, LeastSignificantBitFirstAcrossFrames) {
  const std::vector<uint8_t> data{0b10110001, 0b00000011};  // 16 pixels: frame 0 = 8, frame 1 = 8.
  auto f0 = UnpackBitFrame(data, Format(2, 4, 1), imaging::Photometric::kMonochrome2, 0);
  ASSERT_TRUE(f0.has_value());
  EXPECT_EQ(std::vector<uint8_t>(f0->bytes.begin(), f0->bytes.end()), (std::vector<uint8_t>{1, 0, 0, 0, 1, 1, 0, 1}));
  EXPECT_EQ(f0->format.bits_allocated, 8);
  auto f1 = UnpackBitFrame(data, Format(2, 4, 1), imaging::Photometric::kMonochrome2, 1);
  ASSERT_TRUE(f1.has_value());
  EXPECT_EQ(std::vector<uint8_t>(f1->bytes.begin(), f1->bytes.end()), (std::vector<uint8_t>{1, 1, 0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(UnpackBitFrame(data, Format(2, 4, 1), imaging::Photometric::kMonochrome2, 2).error().code(),
            ErrorCode::kTruncated);
}

TEST(CheckDecodedFrame, ImpossibleLayoutsAndShortFrames) {
  DecodedFrame frame;
  const std::vector<uint8_t> six(6);
  frame.format = Format(2, 2, 16);
  frame.bytes = six;  // 8 needed.
  EXPECT_EQ(CheckDecodedFrame(frame, 0, true).error().code(), ErrorCode::kCorruptPixelData);
  EXPECT_EQ(CheckDecodedFrame(frame, 0, false).error().code(), ErrorCode::kTruncated);
  frame.format = Format(1, 3, 16);
  EXPECT_TRUE(CheckDecodedFrame(frame, 0, true).has_value());
  frame.format.bits_stored = 17;
  EXPECT_EQ(CheckDecodedFrame(frame, 0, false).error().code(), ErrorCode::kCorruptPixelData);
}

}  // namespace
}  // namespace eden::dicom
