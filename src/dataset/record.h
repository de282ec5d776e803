#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "dataset/report_sections.h"

namespace eden::dataset {

/// One stored image as every dataset package describes it (metadata.jsonl, a WebDataset
/// sample's .json, LLaVA): built from a journal entry, with the study's report parsed once.
struct ImageRecord {
  std::string file_name;  ///< The JPEG, relative to the dataset root ("images-jpg/<id>.jpg").
  std::string split;
  std::string study_id, instance_id;
  std::optional<int64_t> series_number, instance_number;
  std::string patient;  ///< The keyed pseudonym under de-identification; empty otherwise.
  std::string modality, view_position, body_part, laterality;
  uint32_t rows = 0, columns = 0;
  std::string window;    ///< The VOI used ("file_window 40/400", "min_max ...").
  std::string render;    ///< "display" or "mimic".
  std::string sex, age;  ///< Only when the stored file holds them.
  std::string report;    ///< The whole report (scrubbed under de-identification).
  ReportSections sections;
};

/// The record as one JSON object on one line (no newline): every key always present (null when
/// unknown), so that a loader infers one schema. UTF-8; invalid bytes in text are replaced.
std::string MetadataJson(const ImageRecord& record);

/// The names of MetadataJson's keys, in order, with their types and meaning (the dataset card's
/// features).
struct Feature {
  const char* name;
  const char* dtype;  ///< Hugging Face dtype: string, int64, int32.
  const char* meaning;
};
const std::vector<Feature>& MetadataFeatures();

/// A LLaVA conversation for the record: {"id", "image", "split", "conversations": [human
/// "<image>\n" + instruction, gpt caption]}, one line.
std::string LlavaJson(const ImageRecord& record, const std::string& instruction);

/// The default --instruction.
inline constexpr const char* kDefaultInstruction = "Describe the findings of this radiograph.";

/// A WebDataset sample key for an instance id: WebDataset takes a file's key to be its name up to
/// the first '.', so '.' (and '%', to stay reversible) are percent-encoded. Keys are stable across
/// runs and distinct for distinct ids.
std::string SampleKey(const std::string& instance_id);

}  // namespace eden::dataset
