#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace eden {

/// Standard base64 (RFC 4648 §4) with padding.
std::string Base64Encode(std::string_view bytes);
/// base64url (RFC 4648 §5) without padding, as JWTs use it (RFC 7515 §2).
std::string Base64UrlEncode(std::string_view bytes);
/// Standard base64; nullopt on any invalid character, bad padding or length.
std::optional<std::string> Base64Decode(std::string_view text);

}  // namespace eden
