#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace eden::deid {

/// A DA value (YYYYMMDD; the old YYYY.MM.DD too; several values separated by '\') moved by
/// `days`. nullopt when a value is not a valid date: the caller then drops it rather than keep it.
std::optional<std::string> ShiftDate(std::string_view da, int days);

/// A DT value moved by `days`: its date part shifted, the time and UTC offset kept. Needs at
/// least YYYYMMDD; nullopt otherwise.
std::optional<std::string> ShiftDateTime(std::string_view dt, int days);

/// The D action's value for a VR (two letters): a valid value that carries nothing ("ANONYMIZED",
/// "19000101", "0", ...). Empty for VRs with no sensible dummy (binary, sequences), which the
/// caller then zeroes.
std::string DummyValue(std::string_view vr);

}  // namespace eden::deid
