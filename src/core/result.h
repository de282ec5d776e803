#pragma once

#include <tl/expected.hpp>

#include "core/error.h"

namespace eden {

/// The result of an operation that can fail in an expected way.
template <typename T>
using Result = tl::expected<T, Error>;

/// Shorthand for returning a failure: `return Fail(ErrorCode::kIo, "...")`.
inline tl::unexpected<Error> Fail(ErrorCode code, std::string message) {
  return tl::unexpected<Error>(Error(code, std::move(message)));
}
inline tl::unexpected<Error> Fail(Error error) { return tl::unexpected<Error>(std::move(error)); }

/// Result of an operation with no value.
using Status = Result<void>;

}  // namespace eden
