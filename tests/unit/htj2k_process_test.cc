// HTJ2K through OpenJPH in its own process (dicom/htj2k_process.h): the same samples as
// OpenJPEG in-process, at full and reduced resolution; inputs that crash OpenJPH 0.9.0 (found by
// fuzzing it, tests/data/htj2k/README.md) cost only the helper; the helper's answer is checked.
#include "dicom/htj2k_process.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "dicom/htj2k_protocol.h"
#include "dicom/openjpeg_codec.h"

namespace eden::dicom {
namespace {

constexpr uint64_t kMaxBytes = 64u << 20;

std::vector<uint8_t> ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

imaging::PixelFormat Format(uint32_t rows, uint32_t cols, uint16_t spp, uint16_t bits) {
  imaging::PixelFormat f;
  f.rows = rows;
  f.cols = cols;
  f.samples_per_pixel = spp;
  f.bits_allocated = bits;
  f.bits_stored = bits;
  f.high_bit = static_cast<uint16_t>(bits - 1);
  return f;
}

struct Case {
  const char* file;
  imaging::PixelFormat format;
};

const Case kValid[] = {
    {"ct_small_12bit.j2c", Format(128, 128, 1, 16)},  // 12-bit greyscale, 3 levels
    {"sc_rgb_64x64.j2c", Format(64, 64, 3, 8)},       // RGB with the reversible colour transform
};

TEST(Htj2kProcess, DecodesTheSameSamplesAsOpenJpegAtFullAndReducedResolution) {
  for (const Case& c : kValid) {
    const auto codestream = ReadFile(std::filesystem::path(HTJ2K_DATA) / c.file);
    ASSERT_FALSE(codestream.empty()) << c.file;
    for (uint32_t min_side : {0u, c.format.rows / 2, c.format.rows / 4}) {  // Full, 1 and 2 levels down.
      SCOPED_TRACE(std::string(c.file) + " min_longest_side " + std::to_string(min_side));
      auto helper = DecodeHtj2kInHelper(HTJ2K_HELPER, codestream, c.format, kMaxBytes, min_side);
      ASSERT_TRUE(helper.has_value()) << helper.error().message();
      auto openjpeg = DecodeJpeg2000(codestream, c.format, kMaxBytes, min_side);
      ASSERT_TRUE(openjpeg.has_value()) << openjpeg.error().message();
      EXPECT_EQ(helper->format.rows, openjpeg->format.rows);
      EXPECT_EQ(helper->format.cols, openjpeg->format.cols);
      EXPECT_EQ(helper->format.bits_stored, openjpeg->format.bits_stored);
      EXPECT_EQ(helper->format.is_signed, openjpeg->format.is_signed);
      if (min_side > 0) {
        EXPECT_LT(helper->format.rows, c.format.rows);
      }
      ASSERT_EQ(helper->bytes.size(), openjpeg->bytes.size());
      EXPECT_TRUE(std::equal(helper->bytes.begin(), helper->bytes.end(), openjpeg->bytes.begin()));
    }
  }
}

TEST(Htj2kProcess, InputsThatCrashOpenJphCostOnlyTheHelper) {
  // Each crashed OpenJPH 0.9.0 in-process (heap overflow reading QCC, assertion aborts in packet
  // headers, an unbounded allocation). Here each must come back as an error, in this process.
  int inputs = 0, killed = 0;
  for (const auto& entry : std::filesystem::directory_iterator(std::filesystem::path(HTJ2K_DATA) / "openjph-crashes")) {
    const auto data = ReadFile(entry.path());
    ASSERT_GT(data.size(), 6u);
    // The fuzz targets' geometry header (fuzz/targets.cc SplitCodecInput).
    imaging::PixelFormat f = Format(1u + (uint32_t{data[0]} | uint32_t{data[1]} << 8) % 1024u,
                                    1u + (uint32_t{data[2]} | uint32_t{data[3]} << 8) % 1024u, (data[4] & 1) ? 3 : 1,
                                    (data[4] & 2) ? 16 : 8);
    f.bits_stored = static_cast<uint16_t>(1 + data[5] % f.bits_allocated);
    f.is_signed = (data[4] & 4) != 0;
    const std::span<const uint8_t> codestream(data.data() + 6, data.size() - 6);
    auto frame = DecodeHtj2kInHelper(HTJ2K_HELPER, codestream, f, 16u << 20, 0);
    ASSERT_FALSE(frame.has_value()) << entry.path();
    EXPECT_EQ(frame.error().code(), ErrorCode::kCorruptPixelData) << entry.path();
    // Killed by a signal; under AddressSanitizer the overflow and the huge allocation are reported
    // and end in exit 1 instead.
    const std::string& message = frame.error().message();
    EXPECT_TRUE(message.find("signal") != std::string::npos || message == "HTJ2K helper found no frame") << message;
    killed += message.find("signal") != std::string::npos ? 1 : 0;
    ++inputs;
  }
  EXPECT_EQ(inputs, 8);
  EXPECT_GE(killed, 5);  // The assertion aborts (SIGABRT) in every build.
}

TEST(Htj2kProcess, NoHelperOrAHelperThatAnswersNothingIsAnError) {
  const auto codestream = ReadFile(std::filesystem::path(HTJ2K_DATA) / "ct_small_12bit.j2c");
  auto none = DecodeHtj2kInHelper("", codestream, kValid[0].format, kMaxBytes, 0);
  ASSERT_FALSE(none.has_value());
  EXPECT_EQ(none.error().code(), ErrorCode::kUnavailable);
  auto missing = DecodeHtj2kInHelper("/nonexistent/eden-htj2k", codestream, kValid[0].format, kMaxBytes, 0);
  ASSERT_FALSE(missing.has_value());
  auto silent = DecodeHtj2kInHelper("/bin/true", codestream, kValid[0].format, kMaxBytes, 0);  // exit 0, no answer
  ASSERT_FALSE(silent.has_value());
  EXPECT_EQ(silent.error().code(), ErrorCode::kCorruptPixelData);
  auto refused = DecodeHtj2kInHelper("/bin/false", codestream, kValid[0].format, kMaxBytes, 0);
  ASSERT_FALSE(refused.has_value());
  // The size DICOM declares differs from the codestream's: the helper refuses, exit 1.
  auto wrong_size = DecodeHtj2kInHelper(HTJ2K_HELPER, codestream, Format(127, 128, 1, 16), kMaxBytes, 0);
  ASSERT_FALSE(wrong_size.has_value());
  EXPECT_EQ(wrong_size.error().message(), "HTJ2K helper found no frame");
}

std::vector<uint8_t> Answer(uint32_t rows, uint32_t cols, uint32_t stored, uint64_t sample_bytes, size_t actual) {
  htj2k::AnswerHeader h{};
  std::memcpy(h.magic, htj2k::kMagic, sizeof h.magic);
  h.rows = rows;
  h.cols = cols;
  h.bits_stored = stored;
  h.sample_bytes = sample_bytes;
  std::vector<uint8_t> out(sizeof h + actual, 0x5A);
  std::memcpy(out.data(), &h, sizeof h);
  return out;
}

TEST(Htj2kProcess, TheHelpersAnswerIsCheckedAgainstWhatWasAsked) {
  const imaging::PixelFormat asked = Format(10, 8, 1, 16);
  auto ok = ReadHtj2kAnswer(Answer(5, 4, 12, 40, 40), asked);  // One level down.
  ASSERT_TRUE(ok.has_value()) << ok.error().message();
  EXPECT_EQ(ok->format.rows, 5u);
  EXPECT_EQ(ok->format.cols, 4u);
  EXPECT_EQ(ok->format.bits_stored, 12);
  EXPECT_EQ(ok->format.high_bit, 11);
  EXPECT_EQ(ok->bytes.size(), 40u);
  EXPECT_EQ(ok->bytes[0], 0x5A);

  EXPECT_FALSE(ReadHtj2kAnswer(Answer(11, 8, 12, 176, 176), asked));  // Taller than the image.
  EXPECT_FALSE(ReadHtj2kAnswer(Answer(0, 8, 12, 0, 0), asked));       // Empty.
  EXPECT_FALSE(ReadHtj2kAnswer(Answer(5, 4, 17, 40, 40), asked));     // Precision beyond the cells.
  EXPECT_FALSE(ReadHtj2kAnswer(Answer(5, 4, 12, 40, 39), asked));     // Samples cut short.
  EXPECT_FALSE(ReadHtj2kAnswer(Answer(5, 4, 12, 38, 40), asked));     // Count disagrees with layout.
  auto unsigned_magic = Answer(5, 4, 12, 40, 40);
  unsigned_magic[0] = 'X';
  EXPECT_FALSE(ReadHtj2kAnswer(unsigned_magic, asked));
  EXPECT_FALSE(ReadHtj2kAnswer(std::span<const uint8_t>(unsigned_magic.data(), 10), asked));
}

}  // namespace
}  // namespace eden::dicom
