#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace eden::deid {

/// What the profile does to one attribute (PS3.15 E.1.1 action codes, compound codes resolved).
enum class Action {
  kKeep,    ///< K: kept (a sequence's items are de-identified in turn).
  kRemove,  ///< X
  kZero,    ///< Z: a zero-length value (a sequence: no items).
  kDummy,   ///< D: a dummy value of the attribute's VR (a sequence: no items).
  kClean,   ///< C: dates shifted by the patient's offset, text scrubbed, a sequence's items de-identified.
  kUid,     ///< U: the keyed replacement UID.
};
std::string_view ActionName(Action action);  ///< "K", "X", "Z", "D", "C", "U".

/// The profile's options that eden offers (PS3.15 E.3), each named on the command line
/// (`--deid-option NAME`). The basic profile is every option off.
enum class Option {
  kRetainModifiedDates,           ///< "retain-modified-dates": dates shifted by a per-patient offset.
  kRetainPatientCharacteristics,  ///< "retain-patient-characteristics": sex, age, size, weight...
  kRetainDeviceIdentity,          ///< "retain-device-identity": station, serial numbers...
  kRetainInstitutionIdentity,     ///< "retain-institution-identity": institution name, address...
  kRetainSafePrivate,             ///< "retain-safe-private": the private attributes of E.3.10-1.
  kCleanDescriptors,              ///< "clean-descriptors": descriptions kept, scrubbed of identifiers.
};
inline constexpr Option kAllOptions[] = {Option::kRetainModifiedDates,  Option::kRetainPatientCharacteristics,
                                         Option::kRetainDeviceIdentity, Option::kRetainInstitutionIdentity,
                                         Option::kRetainSafePrivate,    Option::kCleanDescriptors};
std::string_view OptionName(Option option);

/// A set of options.
class Options {
 public:
  bool Has(Option option) const { return (bits_ >> static_cast<unsigned>(option)) & 1u; }
  Options& Set(Option option) {
    bits_ |= 1u << static_cast<unsigned>(option);
    return *this;
  }
  /// The names of the options set, in kAllOptions order.
  std::vector<std::string> Names() const;
  bool operator==(const Options&) const = default;

 private:
  unsigned bits_ = 0;
};

/// Parses option names (as OptionName writes them). An unknown name is kInvalidArgument naming
/// the known ones.
Result<Options> ParseOptions(const std::vector<std::string>& names);

/// One row of PS3.15 Table E.1-1 (src/deid/table_e1_1.inc, generated from the standard's text).
struct Rule {
  uint16_t group, group_mask, element, element_mask;
  bool retired;
  bool in_std_iod;      ///< The table's "In Std. Comp. IOD" column.
  const char* name;     ///< The attribute's name, without spaces.
  const char* basic;    ///< The basic profile's code: "X", "Z", "X/Z/D", ...
  const char* options;  ///< One character per option column (' ' = the basic code stands).
};

/// The table's rows (441), in the standard's order.
const std::vector<Rule>& Rules();

/// The row for (group, element), or nullptr. Repeating groups (50xx curves, 60xx overlays) match.
const Rule* FindRule(uint16_t group, uint16_t element);

/// True for a private attribute of PS3.15 Table E.3.10-1 (src/deid/safe_private.inc): its
/// group, the low byte of its element (the block offset) and its private creator.
bool IsSafePrivate(uint16_t group, uint8_t element_offset, std::string_view creator);

/// The action for an attribute under `options`: its table row (an enabled option's code
/// replaces the basic one; compound codes are resolved as Resolve says); private attributes
/// (odd group) kRemove unless safe-private retention keeps them (`safe_private`); curves
/// (50xx) and overlays (60xx) kRemove; anything else kKeep.
Action ActionFor(uint16_t group, uint16_t element, const Options& options, bool safe_private = false);

/// A code of the table or a compound one, resolved for an attribute: X/Z/D, X/D and Z/D give
/// D, X/Z gives Z, X/Z/U gives U (the sequence kept, its UIDs replaced) for an attribute in a
/// standard IOD; compound codes give X for one that is not. D and Z keep any IOD valid; the
/// table does not say an attribute's Type per IOD, so eden takes the choice valid for every IOD.
Action Resolve(std::string_view code, bool in_std_iod);

/// A coded entry of CID 7050 (De-identification Method), scheme "DCM".
struct Code {
  std::string_view value, meaning;
};
/// The codes for the profile and the options applied: 113100 first.
std::vector<Code> MethodCodes(const Options& options);

/// The values of De-identification Method (0012,0063), each at most 64 characters (LO).
std::vector<std::string> MethodDescription(const Options& options);

}  // namespace eden::deid
