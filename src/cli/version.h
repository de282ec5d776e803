#pragma once

#include <string_view>

namespace eden::cli {
inline constexpr std::string_view kVersion = "0.1.0";
}  // namespace eden::cli
