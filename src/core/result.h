#pragma once

#include <tl/expected.hpp>

#include "core/error.h"

namespace eden {

/// The result of an operation that can fail in an expected way. [[nodiscard]]: a result left
/// unread is a compile error (-Werror), so no failure is dropped by accident; `(void)` says
/// "on purpose". Everything else is tl::expected's.
template <typename T>
class [[nodiscard]] Result : public tl::expected<T, Error> {
 public:
  using tl::expected<T, Error>::expected;
  Result() = default;
  Result(tl::expected<T, Error> other) : tl::expected<T, Error>(std::move(other)) {}  // NOLINT: implicit
};

/// Shorthand for returning a failure: `return Fail(ErrorCode::kIo, "...")`.
inline tl::unexpected<Error> Fail(ErrorCode code, std::string message) {
  return tl::unexpected<Error>(Error(code, std::move(message)));
}
inline tl::unexpected<Error> Fail(Error error) { return tl::unexpected<Error>(std::move(error)); }

/// Result of an operation with no value.
using Status = Result<void>;

}  // namespace eden
