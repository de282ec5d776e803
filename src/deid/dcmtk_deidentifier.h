#pragma once

#include <memory>

#include "deid/deidentifier.h"

namespace eden::deid {

/// The Deidentifier over DCMTK: parses the file, applies the profile to every attribute
/// (recursively into sequences), writes a new Part 10 file in the same transfer syntax with a
/// new file meta header. `config` is shared by every thread's instance.
std::unique_ptr<Deidentifier> MakeDcmtkDeidentifier(std::shared_ptr<const Config> config);

}  // namespace eden::deid
