#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace eden::deid {

/// What `eden deid check` looks for in the bytes of any object (CSV, README, JPEG, DICOM): each
/// identifier of the user's list (case-insensitive; at least 3 characters), reported by its line
/// number in the list ("identifier on line 3"), not by its text: the report does not repeat PHI.
std::vector<std::string> FindIdentifiers(std::span<const uint8_t> bytes, const std::vector<std::string>& identifiers);

/// A JPEG eden writes carries pixels only: any APPn segment other than APP0 "JFIF", and any
/// COM segment, is a finding. A stream that is not a JPEG is one too.
std::vector<std::string> CheckJpegMarkers(std::span<const uint8_t> jpeg);

}  // namespace eden::deid
