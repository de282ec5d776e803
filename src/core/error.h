#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace eden {

/// Closed set of failure kinds. The code, not the message, decides what a caller does
/// (retry, record and continue, abort the run).
enum class ErrorCode {
  kInvalidArgument,     ///< Bad user input or configuration.
  kNotDicom,            ///< The bytes are not a DICOM Part 10 (or raw) data set.
  kTruncated,           ///< The data ends before an element or the pixel data does.
  kMalformed,           ///< Structurally broken DICOM (bad VR, bad length, bad attribute value).
  kNoPixelData,         ///< A valid DICOM object that carries no image (SR, RT plan, waveform...).
  kUnsupported,         ///< Valid but not handled (an exotic transfer syntax or photometric).
  kCorruptPixelData,    ///< Pixel data present but the codec could not decode it.
  kTooLarge,            ///< Over a configured size limit.
  kIo,                  ///< Local file system failure.
  kNotFound,            ///< A remote or local object does not exist.
  kUnavailable,         ///< A service is down or answered 5xx; transient.
  kTimeout,             ///< Transient.
  kUnauthenticated,     ///< Credentials missing, rejected or expired (HTTP 401, a refused token grant).
  kPermissionDenied,    ///< Authenticated but not allowed (HTTP 403).
  kFailedPrecondition,  ///< A conditional request's condition did not hold (HTTP 412).
  kForbiddenUrl,        ///< A URL the download policy does not allow (a file:// outside --allow-url).
  kEmptySelection,      ///< The selection matches no study (eden run exits 4).
  kExcluded,            ///< Left out on purpose (de-identification: burned-in text); not a failure.
  kInternal,            ///< A bug in eden; should never reach a user. Stays last (ParseErrorCode).
};

/// Stable, lower-case name of a code, used in JSON output, CSV columns and exit summaries.
std::string_view ErrorCodeName(ErrorCode code);

/// The code whose ErrorCodeName is `name`; nullopt for a name this build does not know.
std::optional<ErrorCode> ParseErrorCode(std::string_view name);

/// An expected failure, carried as a value. Message is human text; it never holds PHI.
class Error {
 public:
  Error(ErrorCode code, std::string message) : code_(code), message_(std::move(message)) {}

  ErrorCode code() const { return code_; }
  const std::string& message() const { return message_; }

  /// True for failures worth retrying (timeouts, 5xx, dropped connections).
  bool IsTransient() const { return code_ == ErrorCode::kUnavailable || code_ == ErrorCode::kTimeout; }

  /// Returns a copy whose message is prefixed with `context` (e.g. the step that failed).
  Error WithContext(std::string_view context) const;

  /// "code: message", one line.
  std::string ToString() const;

 private:
  ErrorCode code_;
  std::string message_;
};

}  // namespace eden
