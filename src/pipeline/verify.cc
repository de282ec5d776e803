#include "pipeline/verify.h"

#include <map>
#include <set>

#include <fmt/format.h>

#include "core/crc32c.h"

namespace eden::pipeline {

Result<std::vector<std::vector<std::string>>> ParseCsv(std::string_view text) {
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> row;
  std::string field;
  bool quoted = false, any = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
        field += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        field += c;
      }
      continue;
    }
    any = true;
    if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      row.push_back(std::move(field));
      field.clear();
    } else if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') {
      continue;  // The '\n' ends the row.
    } else if (c == '\n') {
      row.push_back(std::move(field));
      field.clear();
      rows.push_back(std::move(row));
      row.clear();
      any = false;
    } else {
      field += c;
    }
  }
  if (quoted) return Fail(ErrorCode::kInvalidArgument, "CSV ends inside a quoted field");
  if (any || !field.empty() || !row.empty()) {
    row.push_back(std::move(field));
    rows.push_back(std::move(row));
  }
  return rows;
}

Result<VerifyReport> VerifyDataset(storage::ObjectStore& store, const DatasetLayout& layout) {
  auto csv_bytes = store.Get(layout.CsvKey());
  if (!csv_bytes) return Fail(csv_bytes.error().WithContext("reading the dataset CSV " + store.Uri(layout.CsvKey())));
  auto table = ParseCsv(std::string_view(reinterpret_cast<const char*>(csv_bytes->data()), csv_bytes->size()));
  if (!table) return Fail(table.error().WithContext(store.Uri(layout.CsvKey())));
  if (table->empty()) return Fail(ErrorCode::kInvalidArgument, store.Uri(layout.CsvKey()) + " is empty");
  std::map<std::string, size_t> col;
  for (size_t i = 0; i < (*table)[0].size(); ++i) col[(*table)[0][i]] = i;
  for (const char* needed :
       {"instance_id", "status", "downloaded", "dicom_bytes", "jpg_bytes", "dicom_crc32c", "jpg_crc32c", "jpg_uri"}) {
    if (!col.count(needed)) {
      return Fail(ErrorCode::kInvalidArgument,
                  fmt::format("{} has no {} column (written by an older eden?)", store.Uri(layout.CsvKey()), needed));
    }
  }
  auto listing = store.List(layout.prefix.empty() ? "" : layout.prefix + "/");
  if (!listing) return Fail(listing.error());

  VerifyReport report;
  std::set<std::string> named = {layout.CsvKey(), layout.ReadmeKey()};
  auto check = [&](const std::string& key, const std::string& size_text, const std::string& crc) -> Status {
    ++report.objects;
    named.insert(key);
    auto it = listing->find(key);
    if (it == listing->end()) {
      report.problems.push_back("missing: " + store.Uri(key));
      return {};
    }
    if (std::to_string(it->second.size) != size_text) {
      report.problems.push_back(
          fmt::format("differs: {} has {} bytes, the CSV says {}", store.Uri(key), it->second.size, size_text));
      return {};
    }
    std::string actual = it->second.crc32c;
    if (actual.empty()) {  // A store without checksums (a folder): read and hash.
      auto bytes = store.Get(key);
      if (!bytes) return Fail(bytes.error());
      actual = Crc32cBase64(Crc32c(*bytes));
    }
    if (actual != crc) {
      report.problems.push_back(fmt::format("differs: {} has crc32c {}, the CSV says {}", store.Uri(key), actual, crc));
      return {};
    }
    ++report.ok;
    return {};
  };
  for (size_t r = 1; r < table->size(); ++r) {
    const auto& row = (*table)[r];
    if (row.size() < (*table)[0].size()) {
      report.problems.push_back(
          fmt::format("CSV row {} has {} fields, the header {}", r + 1, row.size(), (*table)[0].size()));
      continue;
    }
    ++report.rows;
    const std::string& id = row[col["instance_id"]];
    if (row[col["downloaded"]] == "True") {
      if (auto ok = check(layout.DicomKey(id), row[col["dicom_bytes"]], row[col["dicom_crc32c"]]); !ok)
        return Fail(ok.error());
    }
    if (!row[col["jpg_uri"]].empty()) {
      if (auto ok = check(layout.JpegKey(id), row[col["jpg_bytes"]], row[col["jpg_crc32c"]]); !ok)
        return Fail(ok.error());
    }
    if (row[col["status"]] != "stored") ++report.failed_rows;
  }
  if (!listing->count(layout.ReadmeKey())) report.problems.push_back("missing: " + store.Uri(layout.ReadmeKey()));
  // Objects in the dataset's own folders that the CSV does not name (an older sample's, left by a
  // --fresh run, or put there by hand): a trainer globbing the folder would read them.
  const std::string dicom_folder = layout.DicomFolder();
  const std::string jpeg_folder = layout.JpegFolder();
  for (const auto& [key, info] : *listing) {
    const bool ours = key.rfind(dicom_folder, 0) == 0 || key.rfind(jpeg_folder, 0) == 0;
    if (ours && !named.count(key)) {
      ++report.unnamed;
      if (report.unnamed_examples.size() < kListedUnnamed) report.unnamed_examples.push_back(store.Uri(key));
    }
  }
  return report;
}

}  // namespace eden::pipeline
