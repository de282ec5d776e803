#include "cli/convert_command.h"

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/deid_command.h"
#include "config/cli_options.h"
#include "convert/converter.h"
#include "core/thread_group.h"
#include "deid/dcmtk_deidentifier.h"
#include "dicom/dcmtk_decoder.h"
#include "dicom/htj2k_process.h"
#include "jpeg/turbojpeg_encoder.h"
#include "storage/mapped_file.h"

namespace eden::cli {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

struct Job {
  fs::path input;
  fs::path output_stem;  ///< Output path without extension.
};

/// Writes to a temporary name, then renames: a reader never sees half a file.
Status WriteFileAtomically(const fs::path& path, std::span<const uint8_t> bytes) {
  const fs::path tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()))) {
      return Fail(ErrorCode::kIo, fmt::format("cannot write {}", tmp.string()));
    }
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) return Fail(ErrorCode::kIo, fmt::format("cannot rename to {}: {}", path.string(), ec.message()));
  return {};
}

/// Reads and converts one file. Any exception (std::bad_alloc on a hostile size, a library's
/// throw) becomes that file's error: one bad input never ends the command.
Result<convert::Conversion> ConvertFile(convert::Converter& converter, deid::Deidentifier* deidentifier,
                                        const fs::path& input, const convert::ConvertOptions& options,
                                        std::optional<Bytes>& deidentified) {
  try {
    auto file = storage::MappedFile::Open(input);
    if (!file) return Fail(file.error());
    if (deidentifier == nullptr) return converter.Convert(file->bytes(), options);
    auto clean = deidentifier->Apply(file->bytes());
    if (!clean) return Fail(clean.error().WithContext("de-identify"));
    if (clean->exclude) {
      return Fail(
          ErrorCode::kExcluded,
          fmt::format("may carry burned-in text ({}); not written (--burned-in keep writes it)", clean->burned_in));
    }
    auto c = converter.Convert(clean->dicom, options);
    deidentified = std::move(clean->dicom);
    return c;
  } catch (const std::bad_alloc&) {
    return Fail(ErrorCode::kTooLarge, "out of memory while converting");
  } catch (const std::exception& e) {
    return Fail(ErrorCode::kInternal, fmt::format("unexpected exception: {}", e.what()));
  }
}

Result<std::vector<Job>> CollectJobs(const ConvertArgs& args) {
  std::vector<Job> jobs;
  const fs::path out_dir(args.output_dir);
  for (const std::string& in : args.inputs) {
    std::error_code ec;
    const fs::path root(in);
    if (fs::is_directory(root, ec)) {
      std::vector<fs::path> files;
      for (auto it = fs::recursive_directory_iterator(root, ec); !ec && it != fs::recursive_directory_iterator();
           it.increment(ec)) {
        if (it->is_regular_file(ec)) files.push_back(it->path());
      }
      std::sort(files.begin(), files.end());
      for (const auto& f : files) {
        // Lexically: fs::relative resolves symlinks, so a linked file's path would climb out
        // of `root` and its JPEG land beside the link's target, outside the output folder.
        fs::path rel = f.lexically_relative(root);
        jobs.push_back({f, out_dir / rel.replace_extension()});
      }
    } else if (fs::exists(root, ec)) {
      jobs.push_back({root, out_dir / root.filename().replace_extension()});
    } else {
      return Fail(ErrorCode::kInvalidArgument, fmt::format("no such file or folder: {}", in));
    }
  }
  return jobs;
}

json WindowJson(const imaging::RenderInfo& r) {
  json j{{"source", imaging::VoiSourceName(r.source)}};
  if (r.window) {
    j["center"] = r.window->center;
    j["width"] = r.window->width;
    j["function"] = imaging::VoiFunctionName(r.window->function);
  }
  if (r.source == imaging::VoiSource::kFileWindow || r.source == imaging::VoiSource::kFileVoiLut) {
    j["index"] = r.voi_index;
  }
  return j;
}

json ReportJson(const Job& job, const Result<convert::Conversion>& c, const std::vector<std::string>& outputs,
                const std::optional<Error>& write_error) {
  json j{{"input", job.input.string()}};
  if (!c || write_error) {
    const Error& e = c ? *write_error : c.error();
    j["status"] = "error";
    j["error"] = {{"code", ErrorCodeName(e.code())}, {"message", e.message()}};
    return j;
  }
  const dicom::DicomInfo& info = c->info;
  j["status"] = "ok";
  j["transfer_syntax"] = {{"uid", info.transfer_syntax_uid}, {"name", info.transfer_syntax_name}};
  j["photometric"] = info.photometric;
  j["modality"] = info.modality;
  j["rows"] = info.format.rows;
  j["columns"] = info.format.cols;
  j["frames"] = info.number_of_frames;
  j["bits_allocated"] = info.format.bits_allocated;
  j["bits_stored"] = info.format.bits_stored;
  if (!info.warnings.empty()) j["warnings"] = info.warnings;
  json outs = json::array();
  for (size_t i = 0; i < c->frames.size(); ++i) {
    const auto& f = c->frames[i];
    outs.push_back({{"path", outputs[i]},
                    {"frame", f.frame + 1},
                    {"width", f.width},
                    {"height", f.height},
                    {"channels", f.channels},
                    {"window", WindowJson(f.render)}});
  }
  j["outputs"] = outs;
  return j;
}

std::string ReportLine(const Job& job, const Result<convert::Conversion>& c, const std::vector<std::string>& outputs,
                       const std::optional<Error>& write_error) {
  if (!c) return fmt::format("error {}: {}", job.input.string(), c.error().ToString());
  if (write_error) return fmt::format("error {}: {}", job.input.string(), write_error->ToString());
  const auto& f = c->frames.front();
  std::string window = std::string(imaging::VoiSourceName(f.render.source));
  if (f.render.window) window += fmt::format(" {:g}/{:g}", f.render.window->center, f.render.window->width);
  return fmt::format("ok {} -> {} ({}, {}, {}x{}, window {})", job.input.string(),
                     outputs.size() == 1 ? outputs.front() : fmt::format("{} files", outputs.size()),
                     c->info.transfer_syntax_name, c->info.photometric, c->info.format.cols, c->info.format.rows,
                     window);
}

}  // namespace

void AddConvertCommand(CLI::App& app, ConvertArgs& args) {
  CLI::App* cmd = app.add_subcommand("convert", "Convert DICOM files to JPEG with the DICOM display pipeline");
  cmd->add_option("inputs", args.inputs, "DICOM files or folders (searched recursively)")->required();
  cmd->add_option("-o,--output", args.output_dir, "Output folder")->required();
  cmd->add_option("--window", args.window, "Window CENTER/WIDTH, e.g. 40/400 (overrides the file)");
  cmd->add_option("--voi-index", args.voi_index, "Which of the file's windows/VOI LUTs to use (0 = first)");
  cmd->add_flag("--no-auto-window", args.no_auto_window,
                "Without a window in the file, map the full stored range instead of the frame's min-max");
  auto* frame =
      cmd->add_option("--frame", args.frame, "Frame to convert, 1-based (default 1)")->check(CLI::PositiveNumber);
  cmd->add_flag("--all-frames", args.all_frames, "Convert every frame to NAME_<n>.jpg")->excludes(frame);
  cmd->add_option("-q,--quality", args.quality, "JPEG quality 1..100 (default 100; 95 with --render mimic)")
      ->check(CLI::Range(1, 100));
  cmd->add_option("--render", args.render,
                  "display (DICOM display pipeline, default) or mimic (MIMIC-CXR-JPG: min-max of the stored values, "
                  "histogram equalisation)")
      ->check(CLI::IsMember({"display", "mimic"}));
  cmd->add_option("--max-size", args.max_size, "Downscale so the longer side is at most PX pixels");
  cmd->add_flag("--full-decode", args.full_decode,
                "With --max-size: decode every stored pixel, not only the JPEG 2000 resolution levels needed "
                "(for comparisons)");
  cmd->add_flag("--json", args.json, "Print one JSON object per file");
  cmd->add_option("-j,--threads", args.threads, "Conversion threads (default: one per core)");
  config::AddDeidOptions(*cmd, args.deid);
}

int RunConvert(const ConvertArgs& args) {
  convert::ConvertOptions options;
  if (!args.window.empty()) {
    auto w = convert::ParseWindow(args.window);
    if (!w) {
      fmt::print(stderr, "eden convert: {}\n", w.error().message());
      return 2;
    }
    options.render.window = *w;
  }
  options.render.voi_index = args.voi_index;
  options.render.auto_window = !args.no_auto_window;
  options.frame = args.frame - 1;
  options.all_frames = args.all_frames;
  const bool mimic = args.render == "mimic";
  if (mimic) options.render.mode = imaging::RenderMode::kMimic;
  options.quality = args.quality != 0 ? args.quality : mimic ? 95 : 100;
  options.max_size = args.max_size;
  options.full_decode = args.full_decode;

  auto jobs = CollectJobs(args);
  if (!jobs) {
    fmt::print(stderr, "eden convert: {}\n", jobs.error().message());
    return 2;
  }
  std::error_code ec;
  fs::create_directories(args.output_dir, ec);
  if (ec) {
    fmt::print(stderr, "eden convert: cannot create {}: {}\n", args.output_dir, ec.message());
    return 2;
  }

  auto deid_config = MakeDeidConfig(args.deid);
  if (!deid_config) {
    fmt::print(stderr, "eden convert: {}\n", deid_config.error().message());
    return 2;
  }
  const dicom::DcmtkDecoder decoder;
  if (const std::string w = dicom::MissingHtj2kHelperWarning(); !w.empty()) {
    fmt::print(stderr, "eden convert: WARNING: {}\n", w);
  }
  const unsigned threads =
      std::max(1u, std::min<unsigned>(args.threads ? args.threads : std::thread::hardware_concurrency(),
                                      static_cast<unsigned>(jobs->size())));
  std::atomic<size_t> next{0};
  std::atomic<size_t> failed{0};
  std::mutex print_mutex;
  auto worker = [&] {
    convert::Converter converter(decoder, jpeg::MakeTurboJpegEncoder());
    auto deidentifier = *deid_config ? deid::MakeDcmtkDeidentifier(*deid_config) : nullptr;
    for (size_t i = next++; i < jobs->size(); i = next++) {
      const Job& job = (*jobs)[i];
      std::optional<Bytes> deidentified;
      Result<convert::Conversion> c = ConvertFile(converter, deidentifier.get(), job.input, options, deidentified);
      std::vector<std::string> outputs;
      std::optional<Error> write_error;
      if (c) {
        std::error_code dir_error;  // One per job: the threads share nothing but the counters.
        fs::create_directories(job.output_stem.parent_path(), dir_error);
        for (const auto& f : c->frames) {
          std::string path = job.output_stem.string();
          if (options.all_frames) path += fmt::format("_{}", f.frame + 1);
          path += ".jpg";
          if (auto ok = WriteFileAtomically(path, f.jpeg); !ok && !write_error) write_error = ok.error();
          outputs.push_back(std::move(path));
        }
        if (deidentified) {
          const std::string path = job.output_stem.string() + ".dcm";
          if (auto ok = WriteFileAtomically(path, *deidentified); !ok && !write_error) write_error = ok.error();
        }
      }
      if (!c || write_error) ++failed;
      const std::string line =
          args.json ? ReportJson(job, c, outputs, write_error).dump() : ReportLine(job, c, outputs, write_error);
      std::lock_guard lock(print_mutex);
      fmt::print((!c || write_error) && !args.json ? stderr : stdout, "{}\n", line);
    }
  };
  ThreadGroup pool;
  pool.Spawn(threads - 1, [&](unsigned) { worker(); });
  worker();
  pool.Join();

  if (!args.json) {
    fmt::print("{} converted, {} failed\n", jobs->size() - failed, failed.load());
  }
  return failed > 0 ? 1 : 0;
}

}  // namespace eden::cli
