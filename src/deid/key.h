#pragma once

#include <string>
#include <string_view>

#include "core/result.h"

namespace eden::deid {

/// The secret that makes de-identification keyed: the same key gives the same UIDs, patient
/// pseudonyms and date offsets in every run and on every worker, with no mapping table. It is
/// 32 random bytes, written as 64 hex digits (`eden deid keygen`). It is never logged: what
/// outputs and logs show is its Fingerprint.
class Key {
 public:
  /// 64 hex digits (surrounding white space ignored). Anything else is kInvalidArgument, whose
  /// message does not repeat the text.
  static Result<Key> Parse(std::string_view text);
  /// A new key from the operating system's random source.
  static Result<Key> Generate();

  /// The key as 64 hex digits (for `eden deid keygen` only).
  std::string Hex() const;
  /// "sha256:" + the first 16 hex digits of SHA-256 over a fixed label and the key: names the key
  /// in README-dataset.md, the journal and task messages, without revealing it.
  std::string Fingerprint() const;

  /// The replacement for a UID: "2.25." + the decimal of the first 128 bits of
  /// HMAC-SHA256(key, "uid:" + uid) (PS3.5 B.2: a UUID-derived UID; at most 44 characters).
  std::string MapUid(std::string_view uid) const;
  /// The whole-day shift applied to all of a patient's dates: -1 to -3652 (back up to ten
  /// years), from HMAC-SHA256(key, "days:" + patient).
  int DateOffsetDays(std::string_view patient) const;
  /// The replacement Patient ID: "EDEN-" + 16 hex digits of HMAC-SHA256(key, "patient:" + id).
  std::string PatientPseudonym(std::string_view patient) const;
  /// 64 hex digits of HMAC-SHA256(key, "derive:" + label): a secret for another purpose (the
  /// dataset split's) that reveals nothing of the key.
  std::string Derive(std::string_view label) const;

 private:
  explicit Key(std::string bytes) : bytes_(std::move(bytes)) {}
  std::string bytes_;  ///< 32 bytes.
};

}  // namespace eden::deid
