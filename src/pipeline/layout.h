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

 private:
  std::string Join(const std::string& rest) const { return prefix.empty() ? rest : prefix + "/" + rest; }
};

}  // namespace eden::pipeline
