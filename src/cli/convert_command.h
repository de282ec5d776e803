#pragma once

#include "config/settings.h"

#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace eden::cli {

/// `eden convert IN... -o OUTDIR`: DICOM files (or folders of them) to JPEG.
struct ConvertArgs {
  std::vector<std::string> inputs;
  std::string output_dir;
  std::string window;  ///< "C/W"
  size_t voi_index = 0;
  bool no_auto_window = false;
  uint32_t frame = 1;  ///< 1-based, as the user counts.
  bool all_frames = false;
  int quality = 0;                 ///< 0: 100 (display) or 95 (mimic).
  std::string render = "display";  ///< display | mimic
  bool full_decode = false;
  uint32_t max_size = 0;
  bool json = false;
  unsigned threads = 0;  ///< 0: one per core.
  /// --deid basic also writes the de-identified DICOM beside each JPEG (<stem>.dcm); off by
  /// default here (a JPEG carries nothing from the header).
  config::DeidSettings deid = OffByDefault();
  static config::DeidSettings OffByDefault() {
    config::DeidSettings d;
    d.mode = "off";
    return d;
  }
};

void AddConvertCommand(CLI::App& app, ConvertArgs& args);

/// Runs the command. Exit code: 0 all converted, 1 some failed, 2 bad usage.
int RunConvert(const ConvertArgs& args);

}  // namespace eden::cli
