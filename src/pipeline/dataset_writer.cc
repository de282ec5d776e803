#include "pipeline/dataset_writer.h"

#include <fmt/format.h>

#include "dataset/record.h"
#include "deid/scrub.h"

namespace eden::pipeline {
namespace {

std::string Opt(const std::optional<std::string>& v) { return v.value_or(""); }
std::string Opt(const std::optional<int64_t>& v) { return v ? std::to_string(*v) : ""; }

}  // namespace

std::string CsvField(const std::string& value) {
  if (value.find_first_of(",\"\r\n") == std::string::npos) return value;
  std::string out = "\"";
  for (char c : value) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

const std::vector<std::pair<std::string, std::string>>& CsvColumns() {
  static const std::vector<std::pair<std::string, std::string>> kColumns = {
      {"study_id", "PACS study id"},
      {"series_number", "Series Number"},
      {"instance_id", "PACS instance id; names the .dcm and .jpg objects"},
      {"instance_number", "Instance Number"},
      {"file_path", "path of the file in the source system"},
      {"file_url", "where the DICOM file was downloaded from"},
      {"report_value", "the study's report text (fields joined by a blank line)"},
      {"field_created_at", "when the newest report field was created"},
      {"downloaded", "True if the DICOM file was downloaded and stored"},
      {"local_file_path", "where the DICOM file is in this dataset (relative to the dataset prefix)"},
      {"status", "stored (DICOM and JPEG), failed, or excluded (de-identification: may carry burned-in text)"},
      {"error", "why it failed: code: message"},
      {"dicom_uri", "URI of the stored DICOM object"},
      {"jpg_uri", "URI of the JPEG object"},
      {"rows", "image rows"},
      {"columns", "image columns"},
      {"modality", "Modality (0008,0060) of the file"},
      {"photometric_interpretation", "Photometric Interpretation of the file"},
      {"transfer_syntax", "Transfer Syntax UID of the file"},
      {"window", "VOI used: source (file_window, file_voi_lut, min_max...) and centre/width"},
      {"dicom_sha256", "SHA-256 of the DICOM object"},
      {"jpg_sha256", "SHA-256 of the JPEG object"},
      {"dicom_bytes", "size of the DICOM object in bytes"},
      {"jpg_bytes", "size of the JPEG object in bytes"},
      {"dicom_crc32c", "CRC-32C of the DICOM object (base64, as GCS reports it; `eden verify` checks it)"},
      {"jpg_crc32c", "CRC-32C of the JPEG object (base64)"},
      {"patient", "keyed patient pseudonym (the de-identified Patient ID); empty with --deid off"},
      {"deid_report_replacements", "identifiers, dates and contacts replaced in report_value"},
      {"split", "train / validation / test: by patient (every image of a patient in one split)"},
      {"indication", "report section: indication / history / reason for exam"},
      {"comparison", "report section: comparison / prior studies"},
      {"technique", "report section: technique / procedure / examination"},
      {"findings", "report section: findings"},
      {"impression", "report section: impression / conclusion"},
      {"caption", "impression, else findings, else the report's last paragraph"},
  };
  return kColumns;
}

std::string CsvHeader() {
  std::string out;
  for (size_t i = 0; i < CsvColumns().size(); ++i) out += (i ? "," : "") + CsvColumns()[i].first;
  out += "\r\n";
  return out;
}

void AppendCsvRow(std::string& out, const JournalEntry& e, bool deid, const std::string& split,
                  const dataset::ReportSections* sections) {
  const auto& r = e.row;
  const auto& o = e.outcome;
  std::optional<std::string> report = r.report_value, created = r.field_created_at, path = r.file_path,
                             url = r.file_url;
  if (deid) {
    report = o.deid_report;
    if (created) created = deid::ScrubText(*created, {}, std::nullopt).text;
    path.reset();
    url.reset();
  }
  const std::string error = o.error ? fmt::format("{}: {}", o.ErrorCodeText(), o.ErrorText()) : "";
  const std::string local = o.downloaded ? "dicom-files/" + r.instance_id + ".dcm" : "";
  const std::vector<std::string> fields = {r.study_id,
                                           Opt(r.series_number),
                                           r.instance_id,
                                           Opt(r.instance_number),
                                           Opt(path),
                                           Opt(url),
                                           Opt(report),
                                           Opt(created),
                                           o.downloaded ? "True" : "False",
                                           local,
                                           std::string(StateName(e.state)),
                                           error,
                                           o.dicom_uri,
                                           o.jpg_uri,
                                           o.rows ? std::to_string(o.rows) : "",
                                           o.columns ? std::to_string(o.columns) : "",
                                           o.modality,
                                           o.photometric,
                                           o.transfer_syntax,
                                           o.window,
                                           o.dicom_sha256,
                                           o.jpg_sha256,
                                           o.downloaded ? std::to_string(o.dicom_bytes) : "",
                                           o.jpg_uri.empty() ? "" : std::to_string(o.jpg_bytes),
                                           o.downloaded ? o.dicom_crc32c : "",
                                           o.jpg_uri.empty() ? "" : o.jpg_crc32c,
                                           o.patient,
                                           deid ? std::to_string(o.deid_replacements) : "",
                                           split,
                                           sections ? sections->indication : "",
                                           sections ? sections->comparison : "",
                                           sections ? sections->technique : "",
                                           sections ? sections->findings : "",
                                           sections ? sections->impression : "",
                                           sections ? sections->caption : ""};
  for (size_t i = 0; i < fields.size(); ++i) {
    if (i) out += ',';
    out += CsvField(fields[i]);
  }
  out += "\r\n";
}

void DatasetStats::Add(const JournalEntry& e) {
  ++instances;
  if (instances == 1 || e.row.study_id != last_study) {
    ++studies;
    last_study = e.row.study_id;
  }
  deid_replacements += e.outcome.deid_replacements;
  if (e.state == State::kStored) {
    ++stored;
    modalities[e.outcome.modality.empty() ? "(none)" : e.outcome.modality]++;
  } else if (e.state == State::kExcluded) {
    ++excluded;
  } else {
    ++failed;
    errors[e.outcome.error ? std::string(e.outcome.ErrorCodeText()) : "pending"]++;
  }
  if (e.row.report_value && !e.row.report_value->empty()) ++with_report;
}

namespace {

/// The card's YAML front matter (the Hugging Face dataset card fields): configs whose data files
/// are the per-split metadata files (and, with WebDataset, the shards), the splits with their
/// sizes, the features of metadata.jsonl.
std::string FrontMatter(const CardPackages& p) {
  std::string y = "---\npretty_name: DICOM images and reports (eden-etl)\n";
  y += "tags:\n- medical\n- radiology\n- dicom\n- image-to-text\n";
  y += "task_categories:\n- image-to-text\n";
  y += "configs:\n- config_name: default\n  default: true\n  data_files:\n";
  for (const auto& [split, fraction] : p.split_spec) {
    y += fmt::format("  - split: {}\n    path: metadata/{}.jsonl\n", split, split);
  }
  if (p.webdataset) {
    y += "- config_name: webdataset\n  data_files:\n";
    for (const auto& [split, fraction] : p.split_spec) {
      if (p.split_shards.count(split) && p.split_shards.at(split) > 0) {
        y += fmt::format("  - split: {}\n    path: shards/{}-*.tar\n", split, split);
      }
    }
  }
  y += "dataset_info:\n  features:\n";
  for (const auto& f : dataset::MetadataFeatures()) y += fmt::format("  - name: {}\n    dtype: {}\n", f.name, f.dtype);
  y += "  splits:\n";
  for (const auto& [split, fraction] : p.split_spec) {
    const size_t n = p.split_images.count(split) ? p.split_images.at(split) : 0;
    y += fmt::format("  - name: {}\n    num_examples: {}\n", split, n);
  }
  return y + "---\n\n";
}

}  // namespace

namespace {

std::string PackagesSection(const CardPackages& p, size_t stored) {
  std::string md = "## Splits\n\n";
  std::string spec;
  for (const auto& [split, fraction] : p.split_spec)
    spec += fmt::format("{}{}={:g}", spec.empty() ? "" : ",", split, fraction);
  md += fmt::format(
      "`--split {}`. Each patient is assigned to one split by a keyed hash of its key (the PACS's `patient_id` "
      "when the query returns one; else the stored files' patient; else the study), so a patient's studies, series "
      "and images are never in two splits, and the assignment stays the same as the dataset grows.\n\n",
      spec);
  md += "| split | images | patients |\n|---|---|---|\n";
  for (const auto& [split, fraction] : p.split_spec) {
    md += fmt::format("| {} | {} | {} |\n", split, p.split_images.count(split) ? p.split_images.at(split) : 0,
                      p.split_patients.count(split) ? p.split_patients.at(split) : 0);
  }
  md += "\n## Report sections\n\n";
  md += fmt::format(
      "Each report is split into `indication`, `comparison`, `technique`, `findings` and `impression` (a label "
      "in any case followed by a colon at the start of a line, with the usual synonyms; addenda kept apart). "
      "`caption` is the impression, else the findings, else the report's last paragraph; {} of {} stored images "
      "have none (their study has no report).\n\n",
      p.no_caption, stored);
  md += "## Rendering\n\n";
  md += p.render == "mimic"
            ? "`--render mimic`: the MIMIC-CXR-JPG recipe: stored values masked to Bits Stored, min-max to 8 bits "
              "(no window, no VOI LUT), MONOCHROME1 inverted, global histogram equalisation.\n\n"
            : "`--render display`: the DICOM display pipeline below (Modality LUT, the file's window or VOI LUT).\n\n";
  md += "## Packages\n\n";
  md +=
      "- `metadata.jsonl` (every stored image; `file_name` relative to the dataset root) and "
      "`metadata/<split>.jsonl`: an image-folder loader reads them as they are.\n";
  if (p.llava) {
    md += fmt::format(
        "- `llava.json` / `llava.jsonl`: {} conversations (stored images with a caption); the question is "
        "`<image>\\n{}`, the answer the caption.\n",
        p.llava_samples, p.instruction);
  }
  if (p.webdataset) {
    md += fmt::format(
        "- WebDataset: {} shards ({} bytes), each closed before {} bytes{}; a sample is `<key>.jpg`, `<key>.json` "
        "(its metadata line) and `<key>.txt` (the caption); the key is the instance id with `.` and `%` "
        "percent-encoded. `shards/index.json` lists every shard with its split, sample count and SHA-256.\n",
        p.shards, p.shard_bytes, p.shard_bytes_limit,
        p.shard_samples_limit ? fmt::format(" or at {} samples", p.shard_samples_limit) : "");
  }
  md += "\n## How to load\n\n```python\n";
  md += "from datasets import load_dataset\n";
  md += "ds = load_dataset(\"json\", data_files={\"train\": \"metadata/train.jsonl\"})  # or the folder itself\n";
  if (p.webdataset) {
    md += "import webdataset as wds\n";
    md += "shards = wds.WebDataset(\"shards/train-{000000..000009}.tar\").decode(\"pil\").to_tuple(\"jpg\", \"txt\")\n";
  }
  md += "import pandas as pd\nmeta = pd.read_json(\"metadata.jsonl\", lines=True)\n```\n\n";
  return md;
}

}  // namespace

std::string BuildDatasetReadme(const DatasetStats& stats, const std::map<std::string, std::string>& meta,
                               const DatasetLayout& layout, const CardPackages& packages) {
  const auto& [instances, studies, stored, failed, excluded, with_report, deid_replacements, modalities, errors,
               last_study] = stats;
  auto get = [&](const char* k) { return meta.count(k) ? meta.at(k) : std::string("-"); };
  std::string md = packages.split_spec.empty() ? std::string() : FrontMatter(packages);
  md += "# DICOM images and reports for vision-language models\n\n";
  md +=
      "Made by eden-etl. Each row of the CSV joins one DICOM instance, its JPEG rendering and the\n"
      "report text of its study; `metadata.jsonl` describes every stored image for training code.\n\n";
  md += "## Contents\n\n";
  md += fmt::format(
      "| | |\n|---|---|\n| studies | {} |\n| instances | {} |\n| stored (DICOM + JPEG) | {} |\n"
      "| failed | {} |\n| excluded (may carry burned-in text) | {} |\n| instances whose study has a report | {} "
      "|\n\n",
      studies, instances, stored, failed, excluded, with_report);
  md += "| modality | images |\n|---|---|\n";
  for (const auto& [m, n] : modalities) md += fmt::format("| {} | {} |\n", m, n);
  if (!errors.empty()) {
    md += "\n| failure | instances |\n|---|---|\n";
    for (const auto& [e, n] : errors) md += fmt::format("| {} | {} |\n", e, n);
  }
  md += "\n## De-identification\n\n";
  const std::string deid = get("deid") == "-" ? "off" : get("deid");
  if (deid == "off") {
    md +=
        "**OFF.** This dataset was made with `--deid off`: the DICOM files are the source's bytes, headers and "
        "all (patient names, ids, birth dates, UIDs), and the CSV holds the reports as written. It contains "
        "protected health information and must not leave the hospital.\n";
  } else {
    md += fmt::format(
        "DICOM PS3.15 Annex E, Basic Application Level Confidentiality Profile (Table E.1-1 of the 2020 "
        "edition, every attribute, recursively into sequences): `{}`.\n\n"
        "- Private attributes, curves and overlays removed (unless retain-safe-private keeps the attributes of "
        "Table E.3.10-1). Dates and person names the table does not list are treated as those it does; "
        "attributes eden cannot read (VR UN) are removed.\n"
        "- UIDs replaced by `2.25.<HMAC-SHA256 of the UID under the key>`: the same key gives the same UIDs in "
        "every run, so studies, series and references stay consistent. Patient ID and name are a keyed "
        "pseudonym (the `patient` column). The key is not in this dataset; the fingerprint above names it.\n"
        "- Patient Identity Removed = YES; De-identification Method and its code sequence (CID 7050) name the "
        "profile and options applied.\n"
        "- Images that may carry burned-in text (Burned In Annotation YES, secondary capture, ImageType "
        "SCREEN/SAVE/REPORT, ultrasound, dose reports) are {}.\n"
        "- JPEG files carry no metadata from the header. `file_path` and `file_url` are empty.\n"
        "- **Report text is scrubbed by rules, not by a model** ({} replacements in this dataset): the names, ids, "
        "accession number and institution the study's own header holds (any order or case), dates (shifted with "
        "the patient's offset when dates are retained, else `[DATE]`), e-mail addresses, phone numbers, and "
        "numbers after MRN / accession labels. Names, places or dates written in ways these rules do not know "
        "(a relative's name, an address, 'last Tuesday') are not found: review reports before they leave the "
        "hospital.\n",
        deid, deid.find("burned-in keep") != std::string::npos ? "**kept** (`--burned-in keep`)" : "excluded",
        deid_replacements);
  }
  md += "\n## Selection\n\n";
  md += fmt::format(
      "- query: `{}`\n- studies: {} (random sample with seed `{}`)\n- modality filter: {}\n"
      "- body part filter: {}\n- selected at: {}\n\n",
      get("query"), get("studies"), get("seed"), get("modality"), get("body_part"), get("frozen_at"));
  md += "## Conversion\n\n";
  md += fmt::format(
      "DICOM display pipeline (PS3.3 C.11.2): Modality LUT (rescale or LUT sequence) -> VOI (the file's first "
      "window or VOI LUT; else a min-max window over the frame, pixel padding excluded) -> MONOCHROME1 inverted -> "
      "8 bits; colour converted to RGB. First frame of multi-frame objects. JPEG quality {}; {}.\n\n",
      get("quality"), get("max_size") == "0" ? "original size" : "longer side at most " + get("max_size") + " px");
  if (!packages.split_spec.empty()) md += PackagesSection(packages, stored);
  md += "## Layout\n\n";
  md += fmt::format("- `{}` (the CSV)\n- `{}`\n- `{}`\n- `{}` (this file)\n", layout.CsvKey(),
                    layout.DicomKey("<instance_id>"), layout.JpegKey("<instance_id>"), layout.ReadmeKey());
  if (!packages.split_spec.empty()) {
    md += fmt::format("- `{}` (one line per stored image) and `{}`\n", layout.MetadataKey(),
                      layout.SplitMetadataKey("<split>"));
  }
  if (packages.llava) md += fmt::format("- `{}` and `{}`\n", layout.LlavaKey("json"), layout.LlavaKey("jsonl"));
  if (packages.webdataset) {
    md += fmt::format("- `{}<split>-NNNNNN.tar` and `{}`\n", layout.ShardFolder(), layout.ShardIndexKey());
  }
  md += "\n";
  md += "## CSV columns\n\nRFC 4180 (fields with commas, quotes or newlines are quoted), UTF-8, CRLF.\n\n";
  md += "| column | meaning |\n|---|---|\n";
  for (const auto& [name, meaning] : CsvColumns()) md += fmt::format("| `{}` | {} |\n", name, meaning);
  return md;
}

}  // namespace eden::pipeline
