#include "deid/profile.h"

#include "deid/deidentifier.h"

#include <unordered_map>

#include <fmt/format.h>

namespace eden::deid {
namespace {

const Rule kRules[] = {
#include "deid/table_e1_1.inc"
};

struct SafePrivate {
  uint16_t group;
  uint8_t offset;
  const char* creator;
};
const SafePrivate kSafePrivateRows[] = {
#include "deid/safe_private.inc"
};

/// The option columns of Table E.1-1, in the order the generated rows hold them.
enum Column { kSafePrivate, kUids, kDevice, kInstitution, kPatientChars, kFullDates, kModifiedDates, kDescriptors };

Column ColumnOf(Option option) {
  switch (option) {
    case Option::kRetainModifiedDates:
      return kModifiedDates;
    case Option::kRetainPatientCharacteristics:
      return kPatientChars;
    case Option::kRetainDeviceIdentity:
      return kDevice;
    case Option::kRetainInstitutionIdentity:
      return kInstitution;
    case Option::kRetainSafePrivate:
      return kSafePrivate;
    case Option::kCleanDescriptors:
      return kDescriptors;
  }
  return kSafePrivate;
}

uint32_t TagKey(uint16_t group, uint16_t element) { return (uint32_t{group} << 16) | element; }

struct Index {
  std::unordered_map<uint32_t, const Rule*> exact;
  std::vector<const Rule*> masked;  ///< Repeating groups (50xx, 60xx).
  Index() {
    for (const Rule& r : kRules) {
      if (r.group_mask == 0xFFFF && r.element_mask == 0xFFFF)
        exact.emplace(TagKey(r.group, r.element), &r);
      else
        masked.push_back(&r);
    }
  }
};

const Index& TheIndex() {
  static const Index index;
  return index;
}

}  // namespace

std::string_view ActionName(Action action) {
  switch (action) {
    case Action::kKeep:
      return "K";
    case Action::kRemove:
      return "X";
    case Action::kZero:
      return "Z";
    case Action::kDummy:
      return "D";
    case Action::kClean:
      return "C";
    case Action::kUid:
      return "U";
  }
  return "?";
}

std::string_view OptionName(Option option) {
  switch (option) {
    case Option::kRetainModifiedDates:
      return "retain-modified-dates";
    case Option::kRetainPatientCharacteristics:
      return "retain-patient-characteristics";
    case Option::kRetainDeviceIdentity:
      return "retain-device-identity";
    case Option::kRetainInstitutionIdentity:
      return "retain-institution-identity";
    case Option::kRetainSafePrivate:
      return "retain-safe-private";
    case Option::kCleanDescriptors:
      return "clean-descriptors";
  }
  return "?";
}

std::vector<std::string> Options::Names() const {
  std::vector<std::string> out;
  for (Option o : kAllOptions)
    if (Has(o)) out.emplace_back(OptionName(o));
  return out;
}

Result<Options> ParseOptions(const std::vector<std::string>& names) {
  Options options;
  for (const std::string& name : names) {
    bool known = false;
    for (Option o : kAllOptions) {
      if (name == OptionName(o)) {
        options.Set(o);
        known = true;
      }
    }
    if (!known) {
      std::string all;
      for (Option o : kAllOptions) all += fmt::format("{}{}", all.empty() ? "" : ", ", OptionName(o));
      return Fail(ErrorCode::kInvalidArgument,
                  fmt::format("unknown de-identification option '{}' (known: {})", name, all));
    }
  }
  return options;
}

const std::vector<Rule>& Rules() {
  static const std::vector<Rule> rules(std::begin(kRules), std::end(kRules));
  return rules;
}

const Rule* FindRule(uint16_t group, uint16_t element) {
  const Index& index = TheIndex();
  if (auto it = index.exact.find(TagKey(group, element)); it != index.exact.end()) return it->second;
  for (const Rule* r : index.masked) {
    if ((group & r->group_mask) == r->group && (element & r->element_mask) == r->element) return r;
  }
  return nullptr;
}

bool IsSafePrivate(uint16_t group, uint8_t element_offset, std::string_view creator) {
  for (const SafePrivate& s : kSafePrivateRows)
    if (s.group == group && s.offset == element_offset && creator == s.creator) return true;
  return false;
}

Action Resolve(std::string_view code, bool in_std_iod) {
  if (code == "K") return Action::kKeep;
  if (code == "X") return Action::kRemove;
  if (code == "Z") return Action::kZero;
  if (code == "D") return Action::kDummy;
  if (code == "C") return Action::kClean;
  if (code == "U") return Action::kUid;
  if (code == "Z/D") return Action::kDummy;  // Always in its IODs: present, never original.
  if (!in_std_iod) return Action::kRemove;
  if (code == "X/Z") return Action::kZero;
  if (code == "X/Z/U") return Action::kUid;
  return Action::kDummy;  // X/D, X/Z/D.
}

Action ActionFor(uint16_t group, uint16_t element, const Options& options, bool safe_private) {
  if (group & 1u) {
    // Private attributes (odd groups); (gggg,0010-00FF) are their creators, kept with them.
    return options.Has(Option::kRetainSafePrivate) && safe_private ? Action::kKeep : Action::kRemove;
  }
  if ((group & 0xFF00) == 0x5000 || (group & 0xFF00) == 0x6000) return Action::kRemove;  // Curves, overlays.
  const Rule* rule = FindRule(group, element);
  if (rule == nullptr) return Action::kKeep;
  std::string_view code = rule->basic;
  char option_code = ' ';
  for (Option o : kAllOptions) {
    if (!options.Has(o)) continue;
    const char c = rule->options[ColumnOf(o)];
    if (c != ' ') option_code = c;
  }
  if (option_code != ' ') return Resolve(std::string_view(&option_code, 1), rule->in_std_iod);
  return Resolve(code, rule->in_std_iod);
}

std::vector<Code> MethodCodes(const Options& options) {
  std::vector<Code> codes{{"113100", "Basic Application Confidentiality Profile"}};
  if (options.Has(Option::kCleanDescriptors)) codes.push_back({"113105", "Clean Descriptors Option"});
  if (options.Has(Option::kRetainModifiedDates))
    codes.push_back({"113107", "Retain Longitudinal Temporal Information Modified Dates Option"});
  if (options.Has(Option::kRetainPatientCharacteristics))
    codes.push_back({"113108", "Retain Patient Characteristics Option"});
  if (options.Has(Option::kRetainDeviceIdentity)) codes.push_back({"113109", "Retain Device Identity Option"});
  if (options.Has(Option::kRetainSafePrivate)) codes.push_back({"113111", "Retain Safe Private Option"});
  if (options.Has(Option::kRetainInstitutionIdentity))
    codes.push_back({"113112", "Retain Institution Identity Option"});
  return codes;
}

std::string Describe(const Config* config) {
  if (config == nullptr) return "off";
  std::string options;
  for (const std::string& name : config->options.Names()) options += (options.empty() ? "" : ",") + name;
  return fmt::format("basic; key {}; options {}; burned-in {}", config->key.Fingerprint(),
                     options.empty() ? "none" : options, config->keep_burned_in ? "keep" : "exclude");
}

std::vector<std::string> MethodDescription(const Options& options) {
  std::vector<std::string> values{"eden-etl PS3.15 Basic Profile", "keyed UIDs HMAC-SHA256"};
  for (const std::string& name : options.Names()) values.push_back(name);
  return values;
}

}  // namespace eden::deid
