#include "tasks/wire.h"

#include <cstdint>
#include <limits>
#include <type_traits>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace eden::tasks {
namespace {

using json = nlohmann::ordered_json;

template <typename T>
json Opt(const std::optional<T>& v) {
  return v ? json(*v) : json(nullptr);
}

/// True if `v` is an integer that T holds.
template <typename T>
bool InRange(const json& v) {
  if (v.is_number_unsigned()) return v.get<uint64_t>() <= static_cast<uint64_t>(std::numeric_limits<T>::max());
  if (v.is_number_integer()) {
    const int64_t n = v.get<int64_t>();
    if constexpr (std::is_signed_v<T>) {
      return n >= static_cast<int64_t>(std::numeric_limits<T>::min()) &&
             n <= static_cast<int64_t>(std::numeric_limits<T>::max());
    } else {
      return n >= 0 && static_cast<uint64_t>(n) <= static_cast<uint64_t>(std::numeric_limits<T>::max());
    }
  }
  return false;
}

template <typename T>
std::optional<T> GetOpt(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::nullopt;
  if constexpr (std::is_integral_v<T>) {
    // JSON numbers have no range: converting one beyond T, or a float, is undefined behaviour
    // (found by the pacs_row fuzzer), so such a field is of the wrong type.
    if (!InRange<T>(*it)) {
      throw json::type_error::create(302, fmt::format("{} is not a {}-bit integer", key, 8 * sizeof(T)), nullptr);
    }
  }
  return it->get<T>();
}

/// A numeric field of an outcome: `fallback` when absent, null, or not an integer T holds.
template <typename T>
T Count(const json& j, const char* key, T fallback) {
  auto it = j.find(key);
  return it != j.end() && InRange<T>(*it) ? it->get<T>() : fallback;
}

}  // namespace

std::string RowToJson(const source::InstanceRow& r) {
  return json{{"instance_id", r.instance_id},          {"study_id", r.study_id},
              {"series_number", Opt(r.series_number)}, {"instance_number", Opt(r.instance_number)},
              {"file_path", Opt(r.file_path)},         {"file_url", Opt(r.file_url)},
              {"modality", Opt(r.modality)},           {"body_part", Opt(r.body_part)}}
      .dump();
}

Result<source::InstanceRow> RowFromJson(const std::string& text) {
  const json j = json::parse(text, nullptr, false);
  if (!j.is_object() || !j.contains("instance_id") || !j["instance_id"].is_string()) {
    return Fail(ErrorCode::kInvalidArgument, "the row is not an object with a string instance_id");
  }
  try {
    source::InstanceRow r;
    r.instance_id = j["instance_id"].get<std::string>();
    r.study_id = j.value("study_id", "");
    r.series_number = GetOpt<int64_t>(j, "series_number");
    r.instance_number = GetOpt<int64_t>(j, "instance_number");
    r.file_path = GetOpt<std::string>(j, "file_path");
    r.file_url = GetOpt<std::string>(j, "file_url");
    r.modality = GetOpt<std::string>(j, "modality");
    r.body_part = GetOpt<std::string>(j, "body_part");
    return r;
  } catch (const json::exception& e) {
    return Fail(ErrorCode::kInvalidArgument, std::string("the row has a field of the wrong type: ") + e.what());
  }
}

std::string OutcomeToJson(const pipeline::InstanceOutcome& o) {
  const std::string error_text = o.ErrorText();
  return json{{"success", o.stored},
              {"error", o.error ? json(fmt::format("{}: {}", o.ErrorCodeText(), error_text)) : json(nullptr)},
              {"instance_id", o.instance_id},
              {"stored", o.stored},
              {"downloaded", o.downloaded},
              {"error_code", o.ErrorCodeText()},
              {"error_message", error_text},
              {"step", pipeline::StepName(o.failed_step)},
              {"dicom_key", o.dicom_key},
              {"jpg_key", o.jpg_key},
              {"dicom_uri", o.dicom_uri},
              {"jpg_uri", o.jpg_uri},
              {"dicom_sha256", o.dicom_sha256},
              {"jpg_sha256", o.jpg_sha256},
              {"dicom_crc32c", o.dicom_crc32c},
              {"jpg_crc32c", o.jpg_crc32c},
              {"dicom_bytes", o.dicom_bytes},
              {"jpg_bytes", o.jpg_bytes},
              {"rows", o.rows},
              {"columns", o.columns},
              {"modality", o.modality},
              {"photometric", o.photometric},
              {"transfer_syntax", o.transfer_syntax},
              {"window", o.window},
              {"fetch_ms", o.fetch_ms},
              {"convert_ms", o.convert_ms},
              {"store_ms", o.store_ms},
              {"fetch_retries", o.fetch_retries},
              {"excluded", o.excluded},
              {"patient", o.patient},
              {"deid_report", o.deid_report ? json(*o.deid_report) : json(nullptr)},
              {"deid_replacements", o.deid_replacements},
              {"view_position", o.view_position},
              {"body_part", o.body_part},
              {"laterality", o.laterality},
              {"sex", o.sex},
              {"age", o.age},
              {"patient_hash", o.patient_hash}}
      .dump();
}

Result<pipeline::InstanceOutcome> OutcomeFromJson(const std::string& text) {
  const json j = json::parse(text, nullptr, false);
  if (!j.is_object() || !j.contains("instance_id")) {
    return Fail(ErrorCode::kInvalidArgument, "the task result is not an instance outcome");
  }
  try {
    pipeline::InstanceOutcome o;
    o.instance_id = j.at("instance_id").get<std::string>();
    o.stored = j.value("stored", false);
    o.downloaded = j.value("downloaded", false);
    o.SetErrorFromText(j.value("error_code", ""), j.value("error_message", ""));
    o.dicom_key = j.value("dicom_key", "");
    o.jpg_key = j.value("jpg_key", "");
    o.dicom_uri = j.value("dicom_uri", "");
    o.jpg_uri = j.value("jpg_uri", "");
    o.dicom_sha256 = j.value("dicom_sha256", "");
    o.jpg_sha256 = j.value("jpg_sha256", "");
    o.dicom_crc32c = j.value("dicom_crc32c", "");
    o.jpg_crc32c = j.value("jpg_crc32c", "");
    o.dicom_bytes = Count(j, "dicom_bytes", uint64_t{0});
    o.jpg_bytes = Count(j, "jpg_bytes", uint64_t{0});
    o.rows = Count(j, "rows", uint32_t{0});
    o.columns = Count(j, "columns", uint32_t{0});
    o.modality = j.value("modality", "");
    o.photometric = j.value("photometric", "");
    o.transfer_syntax = j.value("transfer_syntax", "");
    o.window = j.value("window", "");
    o.fetch_ms = j.value("fetch_ms", 0.0);
    o.convert_ms = j.value("convert_ms", 0.0);
    o.store_ms = j.value("store_ms", 0.0);
    o.fetch_retries = Count(j, "fetch_retries", 0u);
    o.excluded = j.value("excluded", false);
    o.patient = j.value("patient", "");
    if (j.contains("deid_report") && j["deid_report"].is_string()) o.deid_report = j["deid_report"].get<std::string>();
    o.deid_replacements = Count(j, "deid_replacements", uint64_t{0});
    o.view_position = j.value("view_position", "");
    o.body_part = j.value("body_part", "");
    o.laterality = j.value("laterality", "");
    o.sex = j.value("sex", "");
    o.age = j.value("age", "");
    o.patient_hash = j.value("patient_hash", "");
    return o;
  } catch (const json::exception& e) {
    return Fail(ErrorCode::kInvalidArgument, std::string("the task result has a field of the wrong type: ") + e.what());
  }
}

}  // namespace eden::tasks
