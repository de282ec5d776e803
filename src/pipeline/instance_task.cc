#include "pipeline/instance_task.h"

#include <chrono>
#include <new>

#include <fmt/format.h>

#include "core/crc32c.h"
#include "deid/scrub.h"
#include "dicom/decoder.h"
#include "digest/digest.h"

namespace eden::pipeline {
namespace {

using Clock = std::chrono::steady_clock;
double MsSince(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

InstanceOutcome Failed(const std::string& id, Step step, Error e) {
  InstanceOutcome o;
  o.instance_id = id;
  o.Fail(step, std::move(e));
  return o;
}

std::string WindowText(const imaging::RenderInfo& r) {
  std::string s(imaging::VoiSourceName(r.source));
  if (r.window)
    s += fmt::format(" {:g}/{:g} {}", r.window->center, r.window->width, imaging::VoiFunctionName(r.window->function));
  return s;
}

/// What an exception escaping a step becomes: that instance's failure, never the run's end
/// (std::bad_alloc on a hostile frame size, a library's throw).
Error ErrorFromException() {
  try {
    throw;
  } catch (const std::bad_alloc&) {
    return Error(ErrorCode::kTooLarge, "out of memory");
  } catch (const std::exception& e) {
    return Error(ErrorCode::kInternal, fmt::format("unexpected exception: {}", e.what()));
  } catch (...) {
    return Error(ErrorCode::kInternal, "unexpected exception");
  }
}

Fetched FetchUnguarded(const source::InstanceRow& row, fetch::Fetcher& fetcher);
Converted ConvertUnguarded(Fetched fetched, convert::Converter& converter, deid::Deidentifier* deidentifier,
                           const DatasetLayout& layout, const convert::ConvertOptions& options);
InstanceOutcome StoreUnguarded(Converted c, storage::ObjectStore& store);

}  // namespace

Fetched FetchInstance(const source::InstanceRow& row, fetch::Fetcher& fetcher) {
  try {
    return FetchUnguarded(row, fetcher);
  } catch (...) {
    Fetched f;
    f.row = row;
    f.failed_step = Step::kDownload;
    f.error = ErrorFromException();
    return f;
  }
}

Converted ConvertInstance(Fetched fetched, convert::Converter& converter, deid::Deidentifier* deidentifier,
                          const DatasetLayout& layout, const convert::ConvertOptions& options) {
  const std::string id = fetched.row.instance_id;
  try {
    return ConvertUnguarded(std::move(fetched), converter, deidentifier, layout, options);
  } catch (...) {
    // The downloaded bytes are gone with the exception: the row fails and a rerun retries it.
    Converted c;
    c.outcome = Failed(id, Step::kConvert, ErrorFromException());
    return c;
  }
}

InstanceOutcome StoreInstance(Converted c, storage::ObjectStore& store) {
  const std::string id = c.outcome.instance_id;
  try {
    return StoreUnguarded(std::move(c), store);
  } catch (...) {
    return Failed(id, Step::kStoreDicom, ErrorFromException());
  }
}

namespace {

Fetched FetchUnguarded(const source::InstanceRow& row, fetch::Fetcher& fetcher) {
  Fetched f;
  f.row = row;
  if (!storage::IsSafeObjectName(row.instance_id)) {
    f.error = Error(ErrorCode::kInvalidArgument,
                    "instance_id is not a safe file name (empty, '/', '..', control characters)");
    return f;
  }
  if (!row.file_url || row.file_url->empty()) {
    f.error = Error(ErrorCode::kInvalidArgument, "file_url is NULL");
    return f;
  }
  const auto t0 = Clock::now();
  const uint64_t retries_before = fetcher.retries();
  auto bytes = fetcher.Fetch(*row.file_url);
  f.fetch_ms = MsSince(t0);
  f.fetch_retries = static_cast<uint32_t>(fetcher.retries() - retries_before);
  if (!bytes) {
    f.failed_step = Step::kDownload;
    f.error = bytes.error();
    return f;
  }
  if (!dicom::LooksLikePart10(*bytes)) {
    f.failed_step = Step::kDownload;
    f.error =
        Error(ErrorCode::kNotDicom, fmt::format("{} bytes that are not DICOM Part 10 (no DICM marker)", bytes->size()));
    return f;
  }
  f.bytes = std::move(*bytes);
  return f;
}

Converted ConvertUnguarded(Fetched fetched, convert::Converter& converter, deid::Deidentifier* deidentifier,
                           const DatasetLayout& layout, const convert::ConvertOptions& options) {
  Converted c;
  const std::string& id = fetched.row.instance_id;
  if (fetched.error) {
    c.outcome = Failed(id, fetched.failed_step, *fetched.error);
    c.outcome.fetch_ms = fetched.fetch_ms;
    c.outcome.fetch_retries = fetched.fetch_retries;
    return c;
  }
  InstanceOutcome& o = c.outcome;
  o.instance_id = id;
  o.fetch_ms = fetched.fetch_ms;
  o.fetch_retries = fetched.fetch_retries;
  if (deidentifier != nullptr) {
    // Nothing of the original leaves this block: the bytes are replaced, or the row ends here.
    const auto t0 = Clock::now();
    auto clean = deidentifier->Apply(fetched.bytes);
    o.convert_ms = MsSince(t0);
    if (!clean) {
      o.Fail(Step::kDeidentify, clean.error());
      return c;
    }
    o.patient = clean->patient;
    if (fetched.row.report_value) {
      auto report = deid::ScrubText(*fetched.row.report_value, clean->identifiers, clean->date_offset);
      o.deid_report = std::move(report.text);
      o.deid_replacements = report.replacements;
    }
    if (clean->exclude) {
      o.Fail(Step::kDeidentify,
             Error(ErrorCode::kExcluded,
                   fmt::format("may carry burned-in text ({}); not stored (--burned-in keep stores it)",
                               clean->burned_in)));
      o.excluded = true;
      return c;
    }
    fetched.bytes = std::move(clean->dicom);
  }
  o.dicom_key = layout.DicomKey(id);
  auto dicom_digests = digest::DigestContent(fetched.bytes);
  o.dicom_sha256 = std::move(dicom_digests.sha256_hex);
  o.dicom_crc32c = Crc32cBase64(dicom_digests.crc32c);
  o.dicom_bytes = fetched.bytes.size();
  const auto t0 = Clock::now();
  convert::ConvertOptions first_frame = options;
  first_frame.all_frames = false;
  auto result = converter.Convert(fetched.bytes, first_frame);
  o.convert_ms += MsSince(t0);
  c.dicom = std::move(fetched.bytes);
  if (!result) {
    o.Fail(Step::kConvert, result.error());
    return c;
  }
  auto& frame = result->frames.front();
  o.rows = result->info.format.rows;
  o.columns = result->info.format.cols;
  o.modality = result->info.modality;
  o.photometric = result->info.photometric;
  o.transfer_syntax = result->info.transfer_syntax_uid;
  o.window = WindowText(frame.render);
  const dicom::DicomInfo& info = result->info;
  o.view_position = info.view_position;
  o.body_part = info.body_part;
  o.laterality = info.laterality;
  o.sex = info.sex;
  o.age = info.age;
  if (!info.patient_group.empty())
    o.patient_hash = digest::Sha256Hex("eden-patient:" + info.patient_group).substr(0, 32);
  o.jpg_key = layout.JpegKey(id);
  auto jpg_digests = digest::DigestContent(frame.jpeg);
  o.jpg_sha256 = std::move(jpg_digests.sha256_hex);
  o.jpg_crc32c = Crc32cBase64(jpg_digests.crc32c);
  o.jpg_bytes = frame.jpeg.size();
  c.jpeg = std::move(frame.jpeg);
  return c;
}

InstanceOutcome StoreUnguarded(Converted c, storage::ObjectStore& store) {
  InstanceOutcome o = std::move(c.outcome);
  if (o.dicom_key.empty()) return o;  // Nothing was downloaded.
  auto t0 = Clock::now();
  // The CRC-32C computed in Convert goes with the bytes: the store does not hash them again.
  if (auto ok = store.PutWithCrc32c(o.dicom_key, c.dicom, "application/dicom", o.dicom_crc32c); !ok) {
    InstanceOutcome f = Failed(o.instance_id, Step::kStoreDicom, ok.error());
    f.fetch_ms = o.fetch_ms;
    return f;
  }
  o.downloaded = true;
  o.dicom_uri = store.Uri(o.dicom_key);
  if (o.jpg_key.empty()) {  // Conversion failed: the DICOM is kept, the error stands.
    o.store_ms = MsSince(t0);
    return o;
  }
  if (auto ok = store.PutWithCrc32c(o.jpg_key, c.jpeg, "image/jpeg", o.jpg_crc32c); !ok) {
    o.Fail(Step::kStoreJpeg, ok.error());
    o.store_ms = MsSince(t0);
    return o;
  }
  o.store_ms = MsSince(t0);
  o.jpg_uri = store.Uri(o.jpg_key);
  o.stored = true;
  return o;
}

}  // namespace

}  // namespace eden::pipeline
