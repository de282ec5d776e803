#include "pipeline/packages.h"

#include <fstream>
#include <set>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "dataset/tar.h"
#include "digest/digest.h"
#include "pipeline/bounded_queue.h"

namespace eden::pipeline {
namespace {

std::span<const uint8_t> AsBytes(std::string_view s) { return {reinterpret_cast<const uint8_t*>(s.data()), s.size()}; }

/// The three members of a WebDataset sample, as names and contents (the JPEG's contents are
/// read at write time; its size is known from the journal).
struct Sample {
  std::string jpg_name, json_name, txt_name;
  std::string json, txt;
  uint64_t jpg_bytes = 0;
  uint64_t TarBytes() const {
    return dataset::TarMemberBytes(jpg_name, jpg_bytes) + dataset::TarMemberBytes(json_name, json.size()) +
           dataset::TarMemberBytes(txt_name, txt.size());
  }
};

/// `json` is the record's metadata line (MetadataJson), made once by the caller.
Sample MakeSample(const DatasetRow& row, const dataset::ImageRecord& record, std::string json) {
  const std::string key = dataset::SampleKey(row.entry.row.instance_id);
  return {key + ".jpg",    key + ".json",           key + ".txt",
          std::move(json), record.sections.caption, row.entry.outcome.jpg_bytes};
}

/// One planned shard: how many samples, how big, and a digest of exactly what it will hold (so an
/// unchanged shard is not written again).
struct ShardPlan {
  std::string split, name;
  size_t number = 0, samples = 0;
  uint64_t bytes = 0;
  std::string plan;
  // Filled when written, or taken from the old index when unchanged.
  std::string sha256;
  bool write = true;
};

}  // namespace

Status WalkDataset(Journal& journal, const PackageOptions& options, bool deid,
                   const std::function<void(const DatasetRow&)>& visit) {
  std::vector<JournalEntry> study;
  std::string last_report;
  dataset::ReportSections sections;
  bool parsed = false;
  auto flush = [&] {
    std::string header_patient;  // The stored files' patient, the first of the study that names one.
    for (const auto& e : study) {
      if (!e.outcome.patient_hash.empty()) {
        header_patient = e.outcome.patient_hash;
        break;
      }
    }
    for (const auto& e : study) {
      const std::string key = e.row.patient_id          ? "pacs|" + *e.row.patient_id
                              : !header_patient.empty() ? "dicom|" + header_patient
                                                        : "study|" + e.row.study_id;
      const std::string split = dataset::AssignSplit(options.split, options.split_secret, key);
      const std::string report = (deid ? e.outcome.deid_report : e.row.report_value).value_or("");
      if (!parsed || report != last_report) {
        sections = dataset::ParseReport(report);
        last_report = report;
        parsed = true;
      }
      visit(DatasetRow{e, split, key, last_report, sections});
    }
    study.clear();
  };
  auto walked = journal.ForEachInCsvOrder([&](const JournalEntry& e) {
    if (!study.empty() && study.front().row.study_id != e.row.study_id) flush();
    study.push_back(e);
  });
  if (!walked) return walked;
  flush();
  return {};
}

dataset::ImageRecord MakeRecord(const DatasetRow& row, const DatasetLayout& layout, const PackageOptions& options) {
  const auto& r = row.entry.row;
  const auto& o = row.entry.outcome;
  dataset::ImageRecord rec;
  rec.file_name = layout.Relative(layout.JpegKey(r.instance_id));
  rec.split = row.split;
  rec.study_id = r.study_id;
  rec.instance_id = r.instance_id;
  rec.series_number = r.series_number;
  rec.instance_number = r.instance_number;
  rec.patient = o.patient;
  rec.modality = !o.modality.empty() ? o.modality : r.modality.value_or("");
  rec.view_position = o.view_position;
  rec.body_part = !o.body_part.empty() ? o.body_part : r.body_part.value_or("");
  rec.laterality = o.laterality;
  rec.rows = o.rows;
  rec.columns = o.columns;
  rec.window = o.window;
  rec.render = options.render;
  rec.sex = o.sex;
  rec.age = o.age;
  rec.report = row.report;
  rec.sections = row.sections;
  return rec;
}

struct PackageWriter::Impl {
  PackageOptions options;
  DatasetLayout layout;
  std::filesystem::path spool_base;
  std::filesystem::path metadata_path, llava_json_path, llava_jsonl_path;
  std::ofstream metadata, llava_json, llava_jsonl;
  std::map<std::string, std::ofstream> split_files;
  std::map<std::string, std::filesystem::path> split_paths;
  std::map<std::string, std::set<std::string>> patients;
  std::map<std::string, std::vector<ShardPlan>> plan;  ///< By split, in order.
  PackageSummary summary;
  bool first_llava = true;

  std::filesystem::path Spool(const std::string& what) const { return spool_base.string() + "." + what + ".tmp"; }

  void PlanSample(const std::string& split, const std::string& jpg_sha256, const Sample& s) {
    auto& shards = plan[split];
    const uint64_t bytes = s.TarBytes();
    const uint64_t end = dataset::TarEnd().size();
    if (shards.empty() || (shards.back().samples > 0 &&
                           (shards.back().bytes + bytes + end > options.shard_bytes ||
                            (options.shard_samples > 0 && shards.back().samples >= options.shard_samples)))) {
      ShardPlan next;
      next.split = split;
      next.number = shards.size();
      next.name = layout.ShardName(split, next.number);
      shards.push_back(std::move(next));
    }
    ShardPlan& shard = shards.back();
    ++shard.samples;
    shard.bytes += bytes;
    shard.plan = digest::Sha256Hex(fmt::format("{}|{}|{}|{}|{}", shard.plan, s.jpg_name, jpg_sha256,
                                               digest::Sha256Hex(s.json), digest::Sha256Hex(s.txt)));
  }
};

PackageWriter::PackageWriter(const PackageOptions& options, const DatasetLayout& layout,
                             std::filesystem::path spool_base)
    : state_(std::make_unique<Impl>()) {
  state_->options = options;
  state_->layout = layout;
  state_->spool_base = std::move(spool_base);
}

PackageWriter::~PackageWriter() {
  std::error_code ignored;
  for (const auto& p : {state_->metadata_path, state_->llava_json_path, state_->llava_jsonl_path}) {
    if (!p.empty()) std::filesystem::remove(p, ignored);
  }
  for (const auto& [split, p] : state_->split_paths) std::filesystem::remove(p, ignored);
}

Status PackageWriter::Open() {
  Impl& s = *state_;
  s.metadata_path = s.Spool("metadata.jsonl");
  s.metadata.open(s.metadata_path, std::ios::binary | std::ios::trunc);
  if (!s.metadata) return Fail(ErrorCode::kIo, fmt::format("cannot write {}", s.metadata_path.string()));
  for (const auto& [split, fraction] : s.options.split.parts) {
    s.split_paths[split] = s.Spool("metadata-" + split + ".jsonl");
    s.split_files[split].open(s.split_paths[split], std::ios::binary | std::ios::trunc);
    if (!s.split_files[split])
      return Fail(ErrorCode::kIo, fmt::format("cannot write {}", s.split_paths[split].string()));
  }
  if (s.options.llava) {
    s.llava_json_path = s.Spool("llava.json");
    s.llava_jsonl_path = s.Spool("llava.jsonl");
    s.llava_json.open(s.llava_json_path, std::ios::binary | std::ios::trunc);
    s.llava_jsonl.open(s.llava_jsonl_path, std::ios::binary | std::ios::trunc);
    if (!s.llava_json || !s.llava_jsonl) return Fail(ErrorCode::kIo, "cannot write the LLaVA files");
    s.llava_json << "[";
  }
  return {};
}

void PackageWriter::Add(const DatasetRow& row) {
  Impl& s = *state_;
  if (row.entry.state != State::kStored) return;
  const dataset::ImageRecord record = MakeRecord(row, s.layout, s.options);
  const std::string line = dataset::MetadataJson(record);
  s.metadata << line << '\n';
  s.split_files[row.split] << line << '\n';
  ++s.summary.split_images[row.split];
  s.patients[row.split].insert(row.patient);
  if (record.sections.caption.empty()) ++s.summary.no_caption;
  if (s.options.llava && !record.sections.caption.empty()) {
    const std::string conversation = dataset::LlavaJson(record, s.options.instruction);
    s.llava_jsonl << conversation << '\n';
    s.llava_json << (s.first_llava ? "\n" : ",\n") << conversation;
    s.first_llava = false;
    ++s.summary.llava_samples;
  }
  if (s.options.webdataset) s.PlanSample(row.split, row.entry.outcome.jpg_sha256, MakeSample(row, record, line));
}

namespace {

/// What shards/index.json says is stored: name -> (plan digest, sha256, bytes).
struct Indexed {
  std::string plan, sha256;
  uint64_t bytes = 0;
};

std::map<std::string, Indexed> ReadIndex(storage::ObjectStore& store, const std::string& key) {
  std::map<std::string, Indexed> out;
  auto stat = store.Stat(key);
  if (!stat || !*stat) return out;
  auto bytes = store.Get(key);
  if (!bytes) return out;
  const auto j = nlohmann::json::parse(bytes->begin(), bytes->end(), nullptr, false);
  if (!j.is_object() || !j.contains("shards") || !j["shards"].is_array()) return out;
  for (const auto& s : j["shards"]) {
    if (!s.is_object()) continue;
    Indexed i;
    i.plan = s.value("plan", "");
    i.sha256 = s.value("sha256", "");
    i.bytes = s.value("bytes", uint64_t{0});
    out[s.value("name", "")] = i;
  }
  return out;
}

}  // namespace

Result<PackageSummary> PackageWriter::Finish(Journal& journal, bool deid, storage::ObjectStore& store) {
  Impl& s = *state_;
  PackageSummary& summary = s.summary;
  for (const auto& [split, set] : s.patients) summary.split_patients[split] = set.size();
  // 1. The line files.
  s.metadata.close();
  if (!s.metadata) return Fail(ErrorCode::kIo, fmt::format("cannot write {}", s.metadata_path.string()));
  if (auto ok = store.PutFile(s.layout.MetadataKey(), s.metadata_path, "application/jsonl"); !ok)
    return Fail(ok.error());
  for (auto& [split, out] : s.split_files) {
    out.close();
    if (!out) return Fail(ErrorCode::kIo, fmt::format("cannot write {}", s.split_paths[split].string()));
    if (auto ok = store.PutFile(s.layout.SplitMetadataKey(split), s.split_paths[split], "application/jsonl"); !ok) {
      return Fail(ok.error());
    }
  }
  if (s.options.llava) {
    s.llava_json << (s.first_llava ? "]\n" : "\n]\n");
    s.llava_json.close();
    s.llava_jsonl.close();
    if (!s.llava_json || !s.llava_jsonl) return Fail(ErrorCode::kIo, "cannot write the LLaVA files");
    if (auto ok = store.PutFile(s.layout.LlavaKey("json"), s.llava_json_path, "application/json"); !ok) {
      return Fail(ok.error());
    }
    if (auto ok = store.PutFile(s.layout.LlavaKey("jsonl"), s.llava_jsonl_path, "application/jsonl"); !ok) {
      return Fail(ok.error());
    }
  }
  if (!s.options.webdataset) return summary;

  // 2. Shards: those whose plan the stored index already holds (same name, same contents, the
  // object there with its size) are kept; the others are written in a second walk.
  const std::string index_key = s.layout.ShardIndexKey();
  const auto old = ReadIndex(store, index_key);
  std::set<std::string> planned;
  for (auto& [split, shards] : s.plan) {
    for (ShardPlan& shard : shards) {
      shard.bytes += dataset::TarEnd().size();
      planned.insert(shard.name);
      auto it = old.find(shard.name);
      if (it == old.end() || it->second.plan != shard.plan || it->second.bytes != shard.bytes) continue;
      auto there = store.Stat(s.layout.ShardKey(split, shard.number));
      if (there && *there && (*there)->size == shard.bytes) {
        shard.write = false;
        shard.sha256 = it->second.sha256;
      }
    }
  }
  // The walk reads each JPEG (a thread of its own: the next samples are read while this one is
  // hashed and written) and hands the samples of the shards to write to the writer, in order.
  struct Job {
    ShardPlan* shard = nullptr;
    bool first = false, last = false;  ///< The shard's first / last sample.
    Sample sample;
    std::vector<uint8_t> jpeg;
  };
  BoundedQueue<Job> jobs(8);
  Status written;  // The writer's (read after join).
  std::thread writer([&] {
    struct Open {  // A split's shard being written (the splits' samples interleave).
      std::unique_ptr<storage::ObjectWriter> out;
      std::unique_ptr<digest::Sha256Stream> sha;
    };
    std::map<std::string, Open> open;
    auto write = [&](Job& job) -> Status {
      ShardPlan& shard = *job.shard;
      Open& o = open[shard.split];  // (Not a structured binding: lambdas below capture it.)
      auto put = [&](std::string_view bytes) -> Status {
        o.sha->Update(AsBytes(bytes));
        return o.out->Write(AsBytes(bytes));
      };
      auto member = [&](const std::string& name, std::string_view bytes) -> Status {
        if (auto ok = put(dataset::TarHeader(name, bytes.size())); !ok) return ok;
        if (auto ok = put(bytes); !ok) return ok;
        return put(dataset::TarPadding(bytes.size()));
      };
      if (job.first) {
        auto opened = store.OpenWriter(s.layout.ShardKey(shard.split, shard.number), "application/x-tar",
                                       s.Spool("shard-" + shard.split));
        if (!opened) return Fail(opened.error());
        o.out = std::move(*opened);
        o.sha = std::make_unique<digest::Sha256Stream>();
      }
      const std::string_view jpeg(reinterpret_cast<const char*>(job.jpeg.data()), job.jpeg.size());
      if (auto ok = member(job.sample.jpg_name, jpeg); !ok) return ok;
      if (auto ok = member(job.sample.json_name, job.sample.json); !ok) return ok;
      if (auto ok = member(job.sample.txt_name, job.sample.txt); !ok) return ok;
      if (!job.last) return {};
      if (auto ok = put(dataset::TarEnd()); !ok) return ok;
      if (o.out->bytes_written() != shard.bytes) {
        return Fail(ErrorCode::kInternal, fmt::format("shard {}: {} bytes written, {} planned", shard.name,
                                                      o.out->bytes_written(), shard.bytes));
      }
      if (auto ok = o.out->Commit(); !ok) return ok;
      shard.sha256 = o.sha->FinishHex();
      o.out.reset();
      ++summary.shards_written;
      return {};
    };
    while (auto job = jobs.Pop()) {
      if (written) written = write(*job);
    }
  });
  std::map<std::string, std::pair<size_t, size_t>> position;  // split -> (shard, samples into it)
  Status read;
  auto walked = WalkDataset(journal, s.options, deid, [&](const DatasetRow& row) {
    if (!read || row.entry.state != State::kStored) return;
    auto& [index, n] = position[row.split];
    ShardPlan& shard = s.plan[row.split][index];
    const bool first = n == 0, last = ++n == shard.samples;
    if (last) {
      ++index;
      n = 0;
    }
    if (!shard.write) return;
    auto jpeg = store.Get(row.entry.outcome.jpg_key);
    if (!jpeg) {
      read = Fail(jpeg.error().WithContext("WebDataset shard " + shard.name));
      return;
    }
    if (jpeg->size() != row.entry.outcome.jpg_bytes) {
      read = Fail(ErrorCode::kIo, fmt::format("{} has {} bytes, the journal says {}: rerun to store it again",
                                              row.entry.outcome.jpg_key, jpeg->size(), row.entry.outcome.jpg_bytes));
      return;
    }
    const dataset::ImageRecord record = MakeRecord(row, s.layout, s.options);
    jobs.Push(Job{&shard, first, last, MakeSample(row, record, dataset::MetadataJson(record)), std::move(*jpeg)});
  });
  jobs.Close();
  writer.join();
  if (!walked) return Fail(walked.error());
  if (!read) return Fail(read.error());
  if (!written) return Fail(written.error());

  // 3. The index last (a reader trusts what it lists), then shards of an older plan go.
  nlohmann::ordered_json index;
  index["format"] = "webdataset";
  index["sample"] = {{"jpg", "the image (JPEG)"}, {"json", "the metadata.jsonl line"}, {"txt", "the caption"}};
  index["shard_bytes_limit"] = s.options.shard_bytes;
  index["shard_samples_limit"] = s.options.shard_samples;
  index["shards"] = nlohmann::ordered_json::array();
  for (const auto& [split, shards] : s.plan) {
    size_t samples = 0;
    for (const ShardPlan& shard : shards) {
      index["shards"].push_back({{"name", shard.name},
                                 {"split", split},
                                 {"samples", shard.samples},
                                 {"bytes", shard.bytes},
                                 {"sha256", shard.sha256},
                                 {"plan", shard.plan}});
      samples += shard.samples;
      summary.shard_bytes += shard.bytes;
    }
    index["splits"][split] = {{"shards", shards.size()}, {"samples", samples}};
    summary.split_shards[split] = shards.size();
    summary.shards += shards.size();
  }
  const std::string text = index.dump(2) + "\n";
  if (auto ok = store.Put(index_key, AsBytes(text), "application/json"); !ok) return Fail(ok.error());
  for (const auto& [name, indexed] : old) {
    if (planned.count(name) || name.rfind("shards/", 0) != 0 || name.find("..") != std::string::npos) continue;
    if (auto ok = store.Delete(s.layout.prefix.empty() ? name : s.layout.prefix + "/" + name); !ok) {
      return Fail(ok.error());
    }
    ++summary.shards_removed;
  }
  return summary;
}

}  // namespace eden::pipeline
