#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <string>

#include "core/result.h"
#include "dataset/record.h"
#include "dataset/split.h"
#include "pipeline/journal.h"
#include "pipeline/layout.h"
#include "storage/object_store.h"

namespace eden::pipeline {

/// What a run writes beyond the seed's layout (docs/datasets.md): splits and report sections
/// always (CSV columns, metadata.jsonl), LLaVA and WebDataset when asked.
struct PackageOptions {
  dataset::SplitSpec split{{{"train", 0.8}, {"validation", 0.1}, {"test", 0.1}}};
  /// Keys the split assignment (derived from the de-identification key; empty without one).
  std::string split_secret;
  bool webdataset = false;
  bool llava = false;
  uint64_t shard_bytes = uint64_t{1} << 30;  ///< A shard is closed before it would pass this.
  uint64_t shard_samples = 0;                ///< ... or at this many samples (0: no limit).
  std::string instruction = dataset::kDefaultInstruction;
  std::string render = "display";  ///< How the JPEGs were rendered ("display" | "mimic").
};

/// One journal entry as the dataset writers see it: its split and its study's parsed report.
struct DatasetRow {
  const JournalEntry& entry;
  const std::string& split;
  const std::string& patient;  ///< The key the split was assigned by ("pacs|...", "dicom|...", "study|...").
  const std::string& report;   ///< What the dataset holds of the report (scrubbed under de-identification).
  const dataset::ReportSections& sections;
};

/// Walks the journal in CSV order, a study at a time: every entry with its split (by the PACS's
/// patient_id, else the stored files' patient, else the study: a patient's images share one
/// split) and its report parsed once per distinct text.
Status WalkDataset(Journal& journal, const PackageOptions& options, bool deid,
                   const std::function<void(const DatasetRow&)>& visit);

/// The image record every package writes for a stored entry.
dataset::ImageRecord MakeRecord(const DatasetRow& row, const DatasetLayout& layout, const PackageOptions& options);

/// What the packages hold, for the dataset card and the summary.
struct PackageSummary {
  std::map<std::string, size_t> split_images;    ///< Stored images per split.
  std::map<std::string, size_t> split_patients;  ///< Distinct patients (split keys) per split.
  std::map<std::string, size_t> split_shards;    ///< WebDataset shards per split.
  size_t llava_samples = 0;                      ///< Conversations written (stored images with a caption).
  size_t no_caption = 0;                         ///< Stored images whose study has no caption (not in LLaVA).
  size_t shards = 0;                             ///< WebDataset shards in the dataset.
  size_t shards_written = 0;                     ///< ... of which this run wrote (the others were unchanged).
  size_t shards_removed = 0;                     ///< Shards of an older plan removed.
  uint64_t shard_bytes = 0;                      ///< Bytes of every shard.
};

/// Writes metadata.jsonl (and metadata/<split>.jsonl), llava.json/.jsonl and the WebDataset
/// shards with shards/index.json. Add() takes each row of the first walk; Finish() stores the
/// files, then (webdataset) walks the journal again to write each shard whose planned contents
/// differ from what shards/index.json says is stored. Local files go beside `spool_base`.
class PackageWriter {
 public:
  PackageWriter(const PackageOptions& options, const DatasetLayout& layout, std::filesystem::path spool_base);
  ~PackageWriter();
  PackageWriter(const PackageWriter&) = delete;
  PackageWriter& operator=(const PackageWriter&) = delete;

  Status Open();
  void Add(const DatasetRow& row);
  Result<PackageSummary> Finish(Journal& journal, bool deid, storage::ObjectStore& store);

 private:
  struct Impl;
  std::unique_ptr<Impl> state_;
};

}  // namespace eden::pipeline
