#include "fuzz/targets.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "celery/protocol.h"
#include "config/cli_options.h"
#include "config/settings.h"
#include "convert/converter.h"
#include "dataset/record.h"
#include "dataset/report_sections.h"
#include "dataset/tar.h"
#include "deid/dcmtk_deidentifier.h"
#include "dicom/dcmtk_decoder.h"
#include "dicom/htj2k_process.h"
#include "dicom/jpeg_lossless_codec.h"
#include "dicom/jpeg_markers.h"
#include "dicom/openjpeg_codec.h"
#include "dicom/rle_codec.h"
#include "fetch/url_policy.h"
#include "gcs/client.h"
#include "imaging/render.h"
#include "imaging/resize.h"
#include "jpeg/turbojpeg_encoder.h"
#include "pipeline/dataset_writer.h"
#include "pipeline/layout.h"
#include "storage/object_store.h"
#include "tasks/wire.h"

namespace eden::fuzz {

void Check(bool condition, const char* what) {
  if (condition) return;
  std::fprintf(stderr, "fuzz invariant broken: %s\n", what);
  std::abort();
}

namespace {

std::string Text(std::span<const uint8_t> data) { return std::string(data.begin(), data.end()); }

/// Small limits keep each input cheap; the code paths are those of the defaults.
const dicom::DcmtkDecoder& Decoder() {
  static const dicom::DcmtkDecoder decoder(dicom::DecodeLimits{16u << 20, 4096});
  return decoder;
}

/// The whole convert path: decode, render every frame (up to 4), and the converter's own run
/// (render, downscale, JPEG encode) of the first frame.
void Convert(std::span<const uint8_t> data) {
  auto object = Decoder().Open(data);
  if (!object) return;
  const uint32_t frames = std::min<uint32_t>((*object)->info().number_of_frames, 4);
  for (uint32_t i = 0; i < frames; ++i) {
    auto frame = (*object)->DecodeFrame(i);
    if (!frame) continue;
    // The decoder's promise: a frame it returns is whole for its declared layout.
    Check(frame->bytes.size() >= imaging::ExpectedFrameBytes(frame->format, frame->photometric),
          "a decoded frame is shorter than its layout");
    imaging::DisplayAttributes display = (*object)->info().display;
    display.photometric = frame->photometric;
    (void)imaging::RenderFrame(frame->View(), display, imaging::RenderOptions{});
    // What --max-size does to large frames decoded whole, here on frames of any size.
    if (imaging::CanBoxReduce(frame->format) && frame->format.rows > 1) {
      const auto reduced = imaging::BoxReduce(frame->View(), 1);
      Check(reduced.bytes.size() == reduced.format.FrameBytes() && reduced.format.rows == (frame->format.rows + 1) / 2,
            "a box-reduced frame has another layout");
      (void)imaging::RenderFrame({reduced.bytes, reduced.format}, display, imaging::RenderOptions{});
    }
  }
  thread_local convert::Converter converter(Decoder(), jpeg::MakeTurboJpegEncoder());
  convert::ConvertOptions options;
  options.quality = 90;
  options.max_size = data.size() % 2 ? 64 : 0;
  auto converted = converter.Convert(data, options);
  if (converted) {
    Check(!converted->frames.empty() && converted->frames.front().jpeg.size() > 2, "a conversion without a JPEG");
  }
}

/// De-identification of any bytes: never a crash; and whatever it writes, `eden deid check`
/// finds nothing in (the profile applied is the profile checked), and it parses again.
void Deid(std::span<const uint8_t> data) {
  static const auto config = [] {
    auto key = deid::Key::Parse(std::string(64, '7'));
    deid::Options options;
    return std::make_shared<const deid::Config>(deid::Config{options, *key, false});
  }();
  thread_local auto deidentifier = deid::MakeDcmtkDeidentifier(config);
  auto out = deidentifier->Apply(data);
  if (!out) return;
  const auto findings = deid::CheckDicomFile(out->dicom);
  for (const auto& f : findings) std::fprintf(stderr, "finding: %s\n", f.c_str());
  Check(findings.empty(), "a de-identified file has findings");
}

/// Codec inputs: 6 bytes of frame geometry (rows and columns up to 1024), then the codestream.
struct CodecInput {
  imaging::PixelFormat format;
  std::span<const uint8_t> stream;
};
bool SplitCodecInput(std::span<const uint8_t> data, CodecInput& out) {
  if (data.size() < 6) return false;
  imaging::PixelFormat& f = out.format;
  f.rows = 1u + (uint32_t{data[0]} | uint32_t{data[1]} << 8) % 1024u;
  f.cols = 1u + (uint32_t{data[2]} | uint32_t{data[3]} << 8) % 1024u;
  f.samples_per_pixel = (data[4] & 1) ? 3 : 1;
  f.bits_allocated = (data[4] & 2) ? 16 : 8;
  f.bits_stored = static_cast<uint16_t>(1 + data[5] % f.bits_allocated);
  f.high_bit = static_cast<uint16_t>(f.bits_stored - 1);
  f.is_signed = (data[4] & 4) != 0;
  f.planar = (data[4] & 8) != 0;
  out.stream = data.subspan(6);
  return true;
}

void JpegLossless(std::span<const uint8_t> data) {
  CodecInput in;
  if (!SplitCodecInput(data, in)) return;
  (void)dicom::CheckJpegMarkers(in.stream);
  auto samples = dicom::DecodeJpegLosslessFrame(in.stream, in.format);
  if (samples) Check(samples->size() >= in.format.FrameBytes(), "lossless JPEG frame shorter than its layout");
}

void Rle(std::span<const uint8_t> data) {
  CodecInput in;
  if (!SplitCodecInput(data, in)) return;
  auto samples = dicom::DecodeRleFrame(in.stream, in.format);
  if (samples) Check(samples->size() >= in.format.FrameBytes(), "RLE frame shorter than its layout");
}

void Jpeg2000(std::span<const uint8_t> data) {
  CodecInput in;
  if (!SplitCodecInput(data, in)) return;
  auto frame = dicom::DecodeJpeg2000(in.stream, in.format, 16u << 20);
  if (frame) Check(frame->bytes.size() >= frame->format.FrameBytes(), "JPEG 2000 frame shorter than its layout");
  // At a reduced resolution (--max-size): a smaller frame, still whole.
  auto reduced = dicom::DecodeJpeg2000(in.stream, in.format, 16u << 20, std::max<uint32_t>(1, in.format.rows / 3));
  if (reduced) {
    Check(reduced->bytes.size() >= reduced->format.FrameBytes(), "reduced JPEG 2000 frame shorter than its layout");
    Check(reduced->format.rows <= in.format.rows && reduced->format.cols <= in.format.cols,
          "a reduced JPEG 2000 frame larger than the image");
  }
}

/// The HTJ2K decoder process's answer (dicom/htj2k_process.h), untrusted like any input: that
/// process runs OpenJPH on hostile codestreams and may write anything before it dies.
void Htj2kAnswer(std::span<const uint8_t> data) {
  CodecInput in;
  if (!SplitCodecInput(data, in)) return;
  auto frame = dicom::ReadHtj2kAnswer(in.stream, in.format);
  if (frame) {
    Check(frame->bytes.size() >= frame->format.FrameBytes(), "HTJ2K answer shorter than its layout");
    Check(frame->format.rows <= in.format.rows && frame->format.cols <= in.format.cols,
          "an HTJ2K answer larger than the image");
  }
}

void CeleryMessage(std::span<const uint8_t> data) {
  const std::string envelope = Text(data);
  auto message = celery::DecodeTaskMessage(envelope, 1u << 20);
  if (message) {
    (void)celery::PythonRepr(message->args_json);
    (void)celery::PythonRepr(message->kwargs_json);
    // What the worker does with a message it accepted: retry and redelivery rewrite it, and
    // the rewritten message must decode again to the same task.
    const std::string retried =
        celery::RetryMessage(envelope, "2026-12-02T10:00:00+00:00", "00000000-0000-4000-8000-000000000000");
    auto again = celery::DecodeTaskMessage(retried, 2u << 20);
    Check(again.has_value() && again->id == message->id, "a retried message no longer decodes");
    (void)celery::MarkRedelivered(envelope);
    (void)celery::UnackedEntry(envelope, "", message->routing_key);
  }
  (void)celery::DecodePidboxRequest(envelope);
  (void)celery::ParseUnackedEntry(envelope);
}

void GcsJson(std::span<const uint8_t> data) {
  const std::string text = Text(data);
  (void)gcs::ParseObjectMetadata(text);
  (void)gcs::ParseListPage(text);
  (void)gcs::CommittedBytes(text);
  http::HttpResponse response;
  response.status = data.empty() ? 500 : 100 + data[0] * 2;
  AppendTo(response.body, data);
  const Error e = gcs::ErrorFromResponse(response, "fuzz");
  Check(!e.message().empty(), "an HTTP error without a message");
}

void Config(std::span<const uint8_t> data) {
  const std::string text = Text(data);
  auto parsed = config::ParseDotEnv(text);
  for (const auto& [key, value] : parsed.variables) {
    Check(!key.empty() && key.find('=') == std::string::npos, "a .env key the environment cannot hold");
  }
  // The same text as a --config file (CLI11's TOML/INI reader) for `eden run`'s options.
  CLI::App app;
  config::RunSettings settings;
  config::AddRunOptions(app, settings);
  std::istringstream in(text);
  try {
    app.parse_from_stream(in);
    (void)config::Validate(settings);
    (void)config::Show(settings);
  } catch (const CLI::Error&) {
    // A usage error: eden prints it and exits 2.
  }
}

void PacsRow(std::span<const uint8_t> data) {
  auto row = tasks::RowFromJson(Text(data));
  if (!row) return;
  // The wire form round-trips.
  auto back = tasks::RowFromJson(tasks::RowToJson(*row));
  Check(back.has_value() && back->instance_id == row->instance_id && back->file_url == row->file_url &&
            back->study_id == row->study_id && back->series_number == row->series_number,
        "a row does not survive RowToJson/RowFromJson");
  // An id that would escape the output folder is never turned into a key.
  if (storage::IsSafeObjectName(row->instance_id)) {
    const pipeline::DatasetLayout layout;
    const std::string key = layout.DicomKey(row->instance_id);
    Check(key.find("/../") == std::string::npos && key.find('\0') == std::string::npos, "an unsafe object key");
  }
  if (row->file_url) (void)fetch::UrlPolicy().Check(*row->file_url);
  pipeline::JournalEntry entry;
  entry.row = *row;
  std::string csv;
  pipeline::AppendCsvRow(csv, entry);
  Check(!csv.empty(), "an empty CSV row");
}

/// A report from the PACS (any bytes): sections, the records every package writes, and the text
/// used as an instance id (sample key) and a tar member name.
void Report(std::span<const uint8_t> data) {
  const std::string text = Text(data);
  const dataset::ReportSections sections = dataset::ParseReport(text);
  for (const std::string* part : {&sections.indication, &sections.comparison, &sections.technique, &sections.findings,
                                  &sections.impression, &sections.addendum, &sections.preamble, &sections.caption}) {
    Check(part->size() <= text.size() + text.size() / 2 + 1, "a section longer than the report");
  }
  dataset::ImageRecord record;
  record.instance_id = text.substr(0, 200);
  record.report = text;
  record.sections = sections;
  const auto metadata = nlohmann::json::parse(dataset::MetadataJson(record), nullptr, false);
  Check(metadata.is_object() && metadata.size() == dataset::MetadataFeatures().size(), "a metadata line is not JSON");
  const auto llava = nlohmann::json::parse(dataset::LlavaJson(record, text.substr(0, 100)), nullptr, false);
  Check(llava.is_object() && llava["conversations"].size() == 2, "a LLaVA line is not JSON");
  const std::string key = dataset::SampleKey(record.instance_id);
  Check(key.find('.') == std::string::npos, "a sample key with a dot");
  const std::string name = key + ".json";
  Check(dataset::TarMemberBytes(name, text.size()) ==
            dataset::TarHeader(name, text.size()).size() + text.size() + dataset::TarPadding(text.size()).size(),
        "a tar member's size is not what its header and padding make");
}

}  // namespace

const std::vector<NamedTarget>& AllTargets() {
  static const std::vector<NamedTarget> targets = {
      {"convert", Convert},
      {"jpeg_lossless", JpegLossless},
      {"rle", Rle},
      {"jpeg2000", Jpeg2000},
      {"htj2k_answer", Htj2kAnswer},
      {"celery_message", CeleryMessage},
      {"gcs_json", GcsJson},
      {"config", Config},
      {"pacs_row", PacsRow},
      {"deid", Deid},
      {"report", Report},
  };
  return targets;
}

}  // namespace eden::fuzz
