#include "dataset/record.h"

#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace eden::dataset {
namespace {

using nlohmann::ordered_json;

ordered_json Text(const std::string& s) { return s.empty() ? ordered_json(nullptr) : ordered_json(s); }
ordered_json Int(const std::optional<int64_t>& v) { return v ? ordered_json(*v) : ordered_json(nullptr); }
ordered_json Dim(uint32_t v) { return v ? ordered_json(v) : ordered_json(nullptr); }

/// Invalid UTF-8 (a report in Latin-1) becomes U+FFFD rather than an exception.
std::string Dump(const ordered_json& j) { return j.dump(-1, ' ', false, ordered_json::error_handler_t::replace); }

}  // namespace

const std::vector<Feature>& MetadataFeatures() {
  static const std::vector<Feature> kFeatures = {
      {"file_name", "string", "the JPEG, relative to the dataset root"},
      {"split", "string", "train / validation / test (by patient)"},
      {"study_id", "string", "PACS study id"},
      {"series_number", "int64", "Series Number"},
      {"instance_id", "string", "PACS instance id"},
      {"instance_number", "int64", "Instance Number"},
      {"patient", "string", "keyed patient pseudonym (null with --deid off)"},
      {"modality", "string", "Modality"},
      {"view_position", "string", "View Position (PA, AP, LATERAL...)"},
      {"body_part", "string", "Body Part Examined (the file's; else the PACS's)"},
      {"laterality", "string", "Image Laterality (else Laterality)"},
      {"rows", "int32", "image rows as stored in the DICOM file"},
      {"columns", "int32", "image columns as stored in the DICOM file"},
      {"window", "string", "the VOI used to render the JPEG"},
      {"render", "string", "display (DICOM display pipeline) or mimic (MIMIC-CXR-JPG recipe)"},
      {"sex", "string", "Patient's Sex, when the stored file keeps it"},
      {"age", "string", "Patient's Age, when the stored file keeps it"},
      {"indication", "string", "report section"},
      {"comparison", "string", "report section"},
      {"technique", "string", "report section"},
      {"findings", "string", "report section"},
      {"impression", "string", "report section"},
      {"caption", "string", "impression, else findings, else the report's last paragraph"},
      {"report", "string", "the whole report text"},
  };
  return kFeatures;
}

std::string MetadataJson(const ImageRecord& r) {
  ordered_json j;
  j["file_name"] = r.file_name;
  j["split"] = r.split;
  j["study_id"] = r.study_id;
  j["series_number"] = Int(r.series_number);
  j["instance_id"] = r.instance_id;
  j["instance_number"] = Int(r.instance_number);
  j["patient"] = Text(r.patient);
  j["modality"] = Text(r.modality);
  j["view_position"] = Text(r.view_position);
  j["body_part"] = Text(r.body_part);
  j["laterality"] = Text(r.laterality);
  j["rows"] = Dim(r.rows);
  j["columns"] = Dim(r.columns);
  j["window"] = Text(r.window);
  j["render"] = r.render;
  j["sex"] = Text(r.sex);
  j["age"] = Text(r.age);
  j["indication"] = Text(r.sections.indication);
  j["comparison"] = Text(r.sections.comparison);
  j["technique"] = Text(r.sections.technique);
  j["findings"] = Text(r.sections.findings);
  j["impression"] = Text(r.sections.impression);
  j["caption"] = Text(r.sections.caption);
  j["report"] = Text(r.report);
  return Dump(j);
}

std::string LlavaJson(const ImageRecord& r, const std::string& instruction) {
  ordered_json j;
  j["id"] = r.instance_id;
  j["image"] = r.file_name;
  j["split"] = r.split;
  j["conversations"] = ordered_json::array(
      {{{"from", "human"}, {"value", "<image>\n" + instruction}}, {{"from", "gpt"}, {"value", r.sections.caption}}});
  return Dump(j);
}

std::string SampleKey(const std::string& instance_id) {
  std::string key;
  key.reserve(instance_id.size());
  for (char c : instance_id) {
    if (c == '.' || c == '%') {
      key += fmt::format("%{:02X}", static_cast<unsigned char>(c));
    } else {
      key += c;
    }
  }
  return key;
}

}  // namespace eden::dataset
