#pragma once

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "deid/deidentifier.h"

namespace eden::deid {

/// The Deidentifier over DCMTK: parses the file, applies the profile to every attribute
/// (recursively into sequences), writes a new Part 10 file in the same transfer syntax with a
/// new file meta header. `config` is shared by every thread's instance.
std::unique_ptr<Deidentifier> MakeDcmtkDeidentifier(std::shared_ptr<const Config> config);

/// `eden deid check` on one DICOM file: what in it the profile forbids, under the options the
/// file's own De-identification Method names. Findings: Patient Identity Removed not YES; a
/// private attribute (other than a safe one with retain-safe-private), an overlay or a curve; an
/// attribute the profile removes; a value the profile empties, replaces by a dummy or by a
/// keyed UID that is not such; a date or person name the table does not list. A file that does
/// not parse is one finding.
std::vector<std::string> CheckDicomFile(std::span<const uint8_t> dicom);

}  // namespace eden::deid
