#include "config/settings.h"

#include <cctype>
#include <cstdlib>
#include <fstream>
#include <iterator>

#include <fmt/format.h>

namespace eden::config {
namespace {

std::string Trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return "";
  const auto e = s.find_last_not_of(" \t\r");
  return s.substr(b, e - b + 1);
}

}  // namespace

std::string EffectiveDestination(const RunSettings& s) {
  if (IsGcs(s.output.destination) || s.output.destination_given ||
      s.output.destination != OutputSettings{}.destination) {
    return s.output.destination;
  }
  if (!s.output.gcs_bucket.empty()) return "gs://" + s.output.gcs_bucket;
  return s.output.destination;
}

std::vector<std::string> Validate(const RunSettings& s) {
  std::vector<std::string> p;
  if (s.database.port < 1 || s.database.port > 65535)
    p.push_back(fmt::format("--db-port {} is not a TCP port", s.database.port));
  if (!s.selection.all_studies && !s.output.incremental && s.output.every.empty() && s.selection.studies < 1)
    p.push_back("--studies must be at least 1 (or use --all-studies)");
  if (s.selection.page_size < 1 || s.selection.page_size > 10000)
    p.push_back("--page-size must be between 1 and 10000");
  if (!s.selection.query_file.empty()) {
    std::ifstream in(s.selection.query_file);
    if (!in) p.push_back(fmt::format("--query {}: cannot read the file", s.selection.query_file));
  }
  if (s.output.destination.empty()) p.push_back("--output must not be empty");
  if (const std::string d = EffectiveDestination(s); IsGcs(d)) {
    const std::string bucket =
        d.substr(5, d.find('/', 5) == std::string::npos ? std::string::npos : d.find('/', 5) - 5);
    if (bucket.size() < 3 || bucket.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-_.") != std::string::npos)
      p.push_back(fmt::format("'{}' does not name a valid GCS bucket (gs://bucket[/prefix])", d));
  }
  if (s.output.upload_concurrency < 0 || s.output.upload_concurrency > 256)
    p.push_back("--upload-concurrency must be between 0 (automatic) and 256");
  if (s.output.upload_chunk_kib < 256 || s.output.upload_chunk_kib % 256 != 0)
    p.push_back("--upload-chunk-kib must be a positive multiple of 256 (GCS resumable uploads)");
  if (s.output.resumable_threshold_kib < 0) p.push_back("--resumable-threshold-kib must not be negative");
  if (!s.broker.empty() && s.broker.rfind("redis://", 0) != 0) p.push_back("--broker must be a redis:// URL");
  if (!s.result_backend.empty() && s.result_backend.rfind("redis://", 0) != 0)
    p.push_back("--result-backend must be a redis:// URL");
  if (s.fetch.download_concurrency < 1 || s.fetch.download_concurrency > 256) {
    p.push_back("--download-concurrency must be between 1 and 256");
  }
  if (s.fetch.connect_timeout_s < 1 || s.fetch.timeout_s < 1) p.push_back("timeouts must be at least 1 second");
  if (s.fetch.retries < 0 || s.fetch.retries > 20) p.push_back("--retries must be between 0 and 20");
  if (s.fetch.max_download_mb < 1) p.push_back("--max-download-mb must be at least 1");
  if (s.convert.quality < 1 || s.convert.quality > 100) p.push_back("--quality must be between 1 and 100");
  if (s.convert.max_size < 0) p.push_back("--max-size must not be negative");
  for (const auto& package : s.dataset.packages) {
    if (package != "webdataset" && package != "llava") {
      p.push_back(fmt::format("--package {}: expected webdataset or llava", package));
    }
  }
  if (!ParseByteSize(s.dataset.shard_size)) {
    p.push_back(
        fmt::format("--shard-size {}: expected a size such as 1GB, 500MB or a number of bytes", s.dataset.shard_size));
  }
  if (s.dataset.shard_samples < 0) p.push_back("--shard-samples must not be negative");
  if (s.dataset.render != "display" && s.dataset.render != "mimic") {
    p.push_back(fmt::format("--render {}: expected display or mimic", s.dataset.render));
  }
  if (s.convert.threads < 0) p.push_back("--threads must not be negative");
  if (!s.convert.window.empty() && s.convert.window.find('/') == std::string::npos) {
    p.push_back(fmt::format("--window '{}' is not CENTER/WIDTH", s.convert.window));
  }
  const std::string level = s.report.log_level;
  if (level != "DEBUG" && level != "INFO" && level != "WARNING" && level != "ERROR" && level != "CRITICAL") {
    p.push_back(fmt::format("LOGGING_LEVEL / --log-level '{}' is not DEBUG, INFO, WARNING or ERROR", level));
  }
  const std::string pr = s.report.progress;
  if (pr != "auto" && pr != "bar" && pr != "plain" && pr != "none")
    p.push_back("--progress must be auto, bar, plain or none");
  if (!s.output.every.empty() && !ParseDuration(s.output.every))
    p.push_back(fmt::format("--every {}: not a duration (30s, 15m, 1h, 1d)", s.output.every));
  if ((s.output.incremental || !s.output.every.empty()) && s.output.fresh)
    p.push_back("--incremental / --every add to a dataset; --fresh starts one over: not both");
  return p;
}

std::optional<double> ParseDuration(std::string_view text) {
  double total = 0;
  size_t i = 0;
  if (text.empty()) return std::nullopt;
  while (i < text.size()) {
    size_t digits = i;
    while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
    if (digits == i || digits - i > 9) return std::nullopt;
    const double n = std::stod(std::string(text.substr(i, digits - i)));
    if (digits == text.size()) {
      if (i != 0) return std::nullopt;  // "1h30" is ambiguous.
      total += n;
      break;
    }
    const char unit = static_cast<char>(std::tolower(static_cast<unsigned char>(text[digits])));
    const double factor = unit == 's' ? 1 : unit == 'm' ? 60 : unit == 'h' ? 3600 : unit == 'd' ? 86400 : 0;
    if (factor == 0) return std::nullopt;
    total += n * factor;
    i = digits + 1;
  }
  return total > 0 ? std::optional<double>(total) : std::nullopt;
}

std::optional<uint64_t> ParseByteSize(std::string_view text) {
  size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
  if (digits == 0 || digits > 15) return std::nullopt;
  uint64_t n = std::stoull(std::string(text.substr(0, digits)));
  std::string unit(text.substr(digits));
  for (char& c : unit) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  static const std::vector<std::pair<std::string, uint64_t>> kUnits = {{"", 1},
                                                                       {"B", 1},
                                                                       {"KB", 1000},
                                                                       {"MB", 1000 * 1000},
                                                                       {"GB", 1000 * 1000 * 1000},
                                                                       {"KIB", 1 << 10},
                                                                       {"MIB", 1 << 20},
                                                                       {"GIB", uint64_t{1} << 30},
                                                                       {"K", 1000},
                                                                       {"M", 1000 * 1000},
                                                                       {"G", 1000 * 1000 * 1000}};
  for (const auto& [name, factor] : kUnits) {
    if (unit == name) return n == 0 ? std::nullopt : std::optional<uint64_t>(n * factor);
  }
  return std::nullopt;
}

std::string Show(const RunSettings& s) {
  auto secret = [](const std::string& v) { return v.empty() ? std::string("(unset)") : std::string("********"); };
  auto val = [](const std::string& v) { return v.empty() ? std::string("(unset)") : v; };
  std::string out;
  out += fmt::format("database.host = {}\ndatabase.port = {}\ndatabase.name = {}\ndatabase.user = {}\n",
                     s.database.host, s.database.port, val(s.database.name), val(s.database.user));
  out +=
      fmt::format("database.password = {}\ndatabase.sslmode = {}\n", secret(s.database.password), s.database.sslmode);
  out += fmt::format("selection.studies = {}\nselection.seed = {}\nselection.modality = {}\nselection.body_part = {}\n",
                     s.selection.all_studies ? "all" : std::to_string(s.selection.studies), s.selection.seed,
                     val(s.selection.modality), val(s.selection.body_part));
  out += fmt::format("selection.query = {}\nselection.page_size = {}\n",
                     s.selection.query_file.empty() ? "(built-in queries/dicom_reports.sql)" : s.selection.query_file,
                     s.selection.page_size);
  out += fmt::format("output.destination = {}\noutput.prefix = {}\noutput.csv_name = {}\noutput.journal = {}\n",
                     s.output.destination, s.output.prefix, s.output.csv_name,
                     s.output.journal.empty() ? "(<destination>/.eden/journal.sqlite)" : s.output.journal);
  out += fmt::format("output.effective = {}\n", EffectiveDestination(s));
  out += fmt::format("output.incremental = {}\noutput.every = {}\noutput.lease_s = {:g}\n", s.output.incremental,
                     s.output.every.empty() ? "(once)" : s.output.every, s.output.lease_s);
  std::string packages;
  for (const auto& p : s.dataset.packages) packages += (packages.empty() ? "" : ",") + p;
  out += fmt::format(
      "dataset.split = {}\ndataset.packages = {}\ndataset.shard_size = {}\ndataset.shard_samples = {}\n"
      "dataset.instruction = {}\ndataset.render = {}\n",
      s.dataset.split, val(packages), s.dataset.shard_size, s.dataset.shard_samples, val(s.dataset.instruction),
      s.dataset.render);
  // Broker URLs can hold a password (redis://user:secret@host): shown without what precedes '@'.
  auto url = [](const std::string& v) {
    if (v.empty()) return std::string("(unset)");
    const auto scheme = v.find("://");
    const auto at = v.rfind('@');
    if (scheme == std::string::npos || at == std::string::npos || at < scheme) return v;
    return v.substr(0, scheme + 3) + "********" + v.substr(at);
  };
  out += fmt::format(
      "output.gcs_bucket = {}\noutput.gcs_credentials = {}\noutput.gcs_endpoint = {}\nbroker = {}\n"
      "broker.result_backend = {}\nbroker.queue = {}\n",
      val(s.output.gcs_bucket), val(s.output.gcs_credentials), val(s.output.gcs_endpoint), url(s.broker),
      url(s.result_backend), s.broker_queue);
  out +=
      fmt::format("output.upload_concurrency = {}\noutput.resumable_threshold_kib = {}\noutput.upload_chunk_kib = {}\n",
                  s.output.upload_concurrency == 0 ? std::string("auto") : std::to_string(s.output.upload_concurrency),
                  s.output.resumable_threshold_kib, s.output.upload_chunk_kib);
  out += fmt::format("fetch.download_concurrency = {}\nfetch.connect_timeout_s = {}\nfetch.timeout_s = {}\n",
                     s.fetch.download_concurrency, s.fetch.connect_timeout_s, s.fetch.timeout_s);
  out += fmt::format("fetch.retries = {}\nfetch.max_download_mb = {}\nfetch.ca_file = {}\n", s.fetch.retries,
                     s.fetch.max_download_mb, val(s.fetch.ca_file));
  {
    std::string urls;
    for (const auto& u : s.fetch.allow_urls) urls += (urls.empty() ? "" : ",") + u;
    out += fmt::format("fetch.allow_urls = {}\n", val(urls));
  }
  out += fmt::format("convert.quality = {}\nconvert.max_size = {}\nconvert.window = {}\nconvert.threads = {}\n",
                     s.convert.quality, s.convert.max_size, val(s.convert.window), s.convert.threads);
  out += fmt::format("report.log_level = {}\nreport.progress = {}\nreport.summary_json = {}\n", s.report.log_level,
                     s.report.progress, val(s.report.summary_json));
  out += fmt::format(
      "report.metrics_port = {}\nreport.metrics_address = {}\nreport.metrics_linger_s = {:g}\nreport.sentry_dsn = {}\n"
      "report.sentry_environment = {}\n",
      s.report.metrics_port, s.report.metrics_address, s.report.metrics_linger_s, secret(s.report.sentry_dsn),
      val(s.report.sentry_environment));
  {
    std::string options;
    for (const auto& o : s.deid.options) options += (options.empty() ? "" : ",") + o;
    out += fmt::format("deid.mode = {}\ndeid.options = {}\ndeid.key_file = {}\ndeid.key = {}\ndeid.burned_in = {}\n",
                       s.deid.mode, val(options), val(s.deid.key_file), secret(s.deid.key), s.deid.burned_in);
  }
  return out;
}

DotEnvParse ParseDotEnv(std::string_view text, std::string_view name) {
  DotEnvParse result;
  int number = 0;
  size_t begin = 0;
  while (begin < text.size()) {
    size_t end = text.find('\n', begin);
    if (end == std::string_view::npos) end = text.size();
    std::string line(text.substr(begin, end - begin));
    begin = end + 1;
    ++number;
    std::string t = Trim(line);
    if (t.empty() || t[0] == '#') continue;
    if (t.rfind("export ", 0) == 0) t = Trim(t.substr(7));
    const auto eq = t.find('=');
    const std::string key = eq == std::string::npos ? "" : Trim(t.substr(0, eq));
    // A name the environment can hold: no '=' (it ends the name), no NUL, not empty.
    if (key.empty() || key.find('\0') != std::string::npos) {
      result.errors.push_back(fmt::format("{}:{}: expected KEY=VALUE", name, number));
      continue;
    }
    std::string value = Trim(t.substr(eq + 1));
    if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') && value.back() == value.front()) {
      value = value.substr(1, value.size() - 2);
    } else if (const auto hash = value.find(" #"); hash != std::string::npos) {
      value = Trim(value.substr(0, hash));  // Inline comment after an unquoted value.
    }
    if (value.find('\0') != std::string::npos) {
      result.errors.push_back(fmt::format("{}:{}: a NUL byte in the value of {}", name, number, key));
      continue;
    }
    result.variables.emplace_back(key, std::move(value));
  }
  return result;
}

DotEnvResult LoadDotEnv(const std::string& path) {
  DotEnvResult result;
  std::ifstream in(path, std::ios::binary);
  if (!in) return result;
  const std::string text{std::istreambuf_iterator<char>(in), {}};
  DotEnvParse parsed = ParseDotEnv(text, path);
  result.errors = std::move(parsed.errors);
  for (const auto& [key, value] : parsed.variables) {
    if (std::getenv(key.c_str()) == nullptr) {
      ::setenv(key.c_str(), value.c_str(), 0);
      ++result.set;
    }
  }
  return result;
}

}  // namespace eden::config
