#pragma once

#include <optional>
#include <span>
#include <string>

#include "core/bytes.h"
#include "core/result.h"
#include "deid/key.h"
#include "deid/profile.h"
#include "deid/scrub.h"

namespace eden::deid {

/// What de-identification is asked to do (`--deid`, `--deid-option`, `--burned-in`, the key).
struct Config {
  Options options;
  Key key;
  bool keep_burned_in = false;  ///< Store images that may carry text in their pixels.
};

/// One line that names what de-identification does: "off", or "basic; key sha256:…; options
/// a,b; burned-in exclude". The journal keeps it (a resumed run must do the same), task messages
/// carry it (a worker refuses a run whose line differs from its own), README-dataset.md shows it.
std::string Describe(const Config* config);

/// One de-identified DICOM file and what the rest of the instance's job needs from it.
struct Deidentified {
  Bytes dicom;                     ///< The new Part 10 file (same pixels, same transfer syntax).
  std::string patient;             ///< The keyed patient pseudonym (its Patient ID now).
  std::string sop_instance_uid;    ///< The keyed SOP Instance UID.
  std::optional<int> date_offset;  ///< Days the dates moved (retain-modified-dates), else none.
  Identifiers identifiers;         ///< The header's original identifiers, for scrubbing its report.
  /// Why the pixels may carry burned-in text (BurnedInAnnotation YES, secondary capture, ...);
  /// empty if no sign. With Config::keep_burned_in unset such a file is not stored.
  std::string burned_in;
  bool exclude = false;              ///< burned_in is set and the Config does not keep such images.
  size_t removed = 0, replaced = 0;  ///< Attributes removed / replaced (counts for the summary).
};

/// Applies PS3.15 Annex E to a Part 10 file. One per thread (an implementation may keep
/// scratch state); the Config is shared and read-only.
class Deidentifier {
 public:
  virtual ~Deidentifier() = default;
  /// Errors: kMalformed / kTruncated / kNotDicom (a file the editor cannot parse, which is then
  /// not stored at all), kTooLarge.
  virtual Result<Deidentified> Apply(std::span<const uint8_t> dicom) = 0;
};

}  // namespace eden::deid
