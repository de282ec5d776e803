#include <fstream>
#include <iterator>

#include <gtest/gtest.h>

#include "dicom/preflight.h"

namespace eden::dicom {
namespace {

std::vector<uint8_t> ReadCorpus(const std::string& name) {
  std::ifstream in(std::string(PYDICOM_TEST_FILES) + "/" + name, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

/// Part 10 header (preamble, DICM, meta group with a transfer syntax) + `dataset`.
std::vector<uint8_t> Part10(const std::string& transfer_syntax, const std::vector<uint8_t>& dataset) {
  std::vector<uint8_t> out(128, 0);
  out.insert(out.end(), {'D', 'I', 'C', 'M'});
  std::string ts = transfer_syntax;
  if (ts.size() % 2) ts.push_back('\0');
  out.insert(out.end(), {0x02, 0x00, 0x10, 0x00, 'U', 'I', static_cast<uint8_t>(ts.size()), 0x00});
  out.insert(out.end(), ts.begin(), ts.end());
  out.insert(out.end(), dataset.begin(), dataset.end());
  return out;
}

TEST(Preflight, AcceptsRealFilesOfEveryEncoding) {
  for (const char* name : {"CT_small.dcm", "MR_small_implicit.dcm", "MR_small_bigendian.dcm", "SC_rgb_rle.dcm",
                           "JPEG2000.dcm", "image_dfl.dcm", "rtplan.dcm", "ExplVR_BigEndNoMeta.dcm"}) {
    auto bytes = ReadCorpus(name);
    ASSERT_FALSE(bytes.empty()) << name;
    EXPECT_TRUE(PreflightCheck(bytes).has_value()) << name;
  }
}

TEST(Preflight, TruncatedRealFileIsTruncated) {
  auto bytes = ReadCorpus("CT_small.dcm");
  bytes.resize(bytes.size() - 100);
  auto r = PreflightCheck(bytes);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), ErrorCode::kTruncated);
}

TEST(Preflight, HugeDeclaredLengthIsCaughtBeforeAnyAllocation) {
  // (0010,0010) PN with a 4-byte length of 0xFFFFFFF0 in implicit VR: gigabytes promised.
  auto bytes = Part10("1.2.840.10008.1.2", {0x10, 0x00, 0x10, 0x00, 0xF0, 0xFF, 0xFF, 0xFF, 'A', 'B'});
  auto r = PreflightCheck(bytes);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), ErrorCode::kTruncated);
}

TEST(Preflight, HugeLengthNestedInASequenceIsCaught) {
  // (0008,1115) SQ, undefined length; one undefined-length item holding a value that lies.
  std::vector<uint8_t> ds = {0x08, 0x00, 0x15, 0x11, 'S',  'Q',  0,    0,    0xFF, 0xFF, 0xFF,
                             0xFF, 0xFE, 0xFF, 0x00, 0xE0, 0xFF, 0xFF, 0xFF, 0xFF, 0x08, 0x00,
                             0x50, 0x11, 'U',  'T',  0,    0,    0x00, 0x00, 0x00, 0x70};
  auto r = PreflightCheck(Part10("1.2.840.10008.1.2.1", ds));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), ErrorCode::kTruncated);
}

TEST(Preflight, ImplicitDataUnderExplicitHeaderIsMalformed) {
  auto r = PreflightCheck(ReadCorpus("SC_rgb_jpeg.dcm"));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), ErrorCode::kMalformed);
}

TEST(Preflight, DeepNestingIsMalformed) {
  std::vector<uint8_t> ds;
  for (int i = 0; i < 40; ++i) {
    ds.insert(ds.end(), {0x08, 0x00, 0x15, 0x11, 'S', 'Q', 0, 0, 0xFF, 0xFF, 0xFF, 0xFF});
    ds.insert(ds.end(), {0xFE, 0xFF, 0x00, 0xE0, 0xFF, 0xFF, 0xFF, 0xFF});
  }
  auto r = PreflightCheck(Part10("1.2.840.10008.1.2.1", ds), 32);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), ErrorCode::kMalformed);
}

}  // namespace
}  // namespace eden::dicom
