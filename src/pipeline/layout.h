#pragma once

#include <string>

namespace eden::pipeline {

/// Where a dataset's objects live, as the seed's bucket laid them out:
/// <prefix>/dicom-files/<id>.dcm, <prefix>/images-jpg/<id>.jpg, <prefix>/<csv>, <prefix>/README-dataset.md.
struct DatasetLayout {
  std::string prefix = "eden-dataset-vlms/sample-test";
  std::string csv_name = "dicom-reports-extracted-sample.csv";

  std::string DicomKey(const std::string& id) const { return DicomFolder() + id + ".dcm"; }
  std::string JpegKey(const std::string& id) const { return JpegFolder() + id + ".jpg"; }
  /// The folders of the per-instance objects, as key prefixes ending in '/'.
  std::string DicomFolder() const { return Join("dicom-files/"); }
  std::string JpegFolder() const { return Join("images-jpg/"); }
  std::string CsvKey() const { return Join(csv_name); }
  std::string ReadmeKey() const { return Join("README-dataset.md"); }
  /// Dataset packages (docs/datasets.md): metadata.jsonl at the root (an image-folder loader
  /// reads it as is), one per split, LLaVA conversations, WebDataset shards and their index.
  std::string MetadataKey() const { return Join("metadata.jsonl"); }
  std::string SplitMetadataKey(const std::string& split) const { return Join("metadata/" + split + ".jsonl"); }
  std::string LlavaKey(const char* ext) const { return Join(std::string("llava.") + ext); }
  std::string ShardFolder() const { return Join("shards/"); }
  std::string ShardName(const std::string& split, size_t n) const;
  std::string ShardKey(const std::string& split, size_t n) const { return Join(ShardName(split, n)); }
  std::string ShardIndexKey() const { return Join("shards/index.json"); }
  /// A key relative to the dataset root (what index.json and metadata.jsonl name).
  std::string Relative(const std::string& key) const { return prefix.empty() ? key : key.substr(prefix.size() + 1); }

 private:
  std::string Join(const std::string& rest) const { return prefix.empty() ? rest : prefix + "/" + rest; }
};

inline std::string DatasetLayout::ShardName(const std::string& split, size_t n) const {
  std::string digits = std::to_string(n);
  if (digits.size() < 6) digits.insert(0, 6 - digits.size(), '0');
  return "shards/" + split + "-" + digits + ".tar";
}

}  // namespace eden::pipeline
