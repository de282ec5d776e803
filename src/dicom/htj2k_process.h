#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "core/result.h"
#include "dicom/htj2k_protocol.h"
#include "dicom/openjpeg_codec.h"
#include "imaging/types.h"

namespace eden::dicom {

/// The HTJ2K decoder process eden starts (dicom/htj2k_protocol.h): $EDEN_HTJ2K_HELPER when set,
/// else `eden-htj2k` beside the running executable; "" when it is not there or not executable
/// (then HTJ2K frames are decoded by OpenJPEG in-process, ~2.5x slower). Looked up once.
const std::string& Htj2kHelperPath();

/// For people, when Htj2kHelperPath() is "" (a broken install: `eden` copied without
/// `eden-htj2k`): what is missing and what it costs; "" when the helper is there.
std::string MissingHtj2kHelperWarning();

/// Decodes one HTJ2K frame with OpenJPH in a process of its own (`helper`), for the same result
/// as DecodeJpeg2000 would give. Any failure of the helper — refused, corrupt, killed by a
/// signal or a limit, an answer that does not fit what was asked — is an error here, and the
/// caller decodes the frame with OpenJPEG instead; this process is never at risk.
/// @par Thread-safety Safe to call concurrently (one process a call).
Result<Jpeg2000Frame> DecodeHtj2kInHelper(const std::string& helper, std::span<const uint8_t> codestream,
                                          const imaging::PixelFormat& expected, uint64_t max_bytes,
                                          uint32_t min_longest_side);

/// The helper's answer (header + samples) checked against what was asked: size within the
/// image, precision within the cells, as many sample bytes as that layout needs. Pure.
Result<Jpeg2000Frame> ReadHtj2kAnswer(std::span<const uint8_t> answer, const imaging::PixelFormat& expected);

/// ReadHtj2kAnswer's check of the header, for an answer of `answer_size` bytes: the frame's format.
Result<imaging::PixelFormat> CheckHtj2kAnswer(const htj2k::AnswerHeader& header, size_t answer_size,
                                              const imaging::PixelFormat& expected);

}  // namespace eden::dicom
