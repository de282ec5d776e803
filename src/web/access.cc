#include "web/access.h"

#include <fmt/format.h>

#include "core/base64.h"

namespace eden::web {
namespace {

bool SameText(std::string_view a, std::string_view b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ (i < b.size() ? b[i] : 0));
  return diff == 0;
}

}  // namespace

bool BasicAuthMatches(std::string_view authorization, const Credentials& credentials) {
  constexpr std::string_view kScheme = "Basic ";
  if (authorization.size() <= kScheme.size()) return false;
  for (size_t i = 0; i < kScheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(authorization[i])) !=
        std::tolower(static_cast<unsigned char>(kScheme[i]))) {
      return false;
    }
  }
  auto decoded = Base64Decode(authorization.substr(kScheme.size()));
  if (!decoded) return false;
  return SameText(*decoded, credentials.user + ":" + credentials.password);
}

bool IsLoopback(std::string_view address) {
  if (address == "localhost" || address == "::1" || address == "[::1]") return true;
  if (address.substr(0, 4) != "127.") return false;
  int dots = 0;
  for (char c : address) {
    if (c == '.') {
      ++dots;
    } else if (c < '0' || c > '9') {
      return false;
    }
  }
  return dots == 3;
}

Status CheckExposure(std::string_view address, const Credentials& credentials) {
  if (IsLoopback(address) || !credentials.empty()) return {};
  return Fail(ErrorCode::kInvalidArgument,
              fmt::format("refusing to serve the dashboard on {} without credentials: set EDEN_DASHBOARD_USER and "
                          "EDEN_DASHBOARD_PASSWORD (or FLOWER_USER/FLOWER_PASSWORD), or listen on 127.0.0.1",
                          address));
}

}  // namespace eden::web
