#include "cli/store_factory.h"

#include <cstdlib>

#include <fmt/format.h>

#include "fetch/http_fetcher.h"
#include "gcs/client.h"
#include "gcs/credentials.h"
#include "http/curl_transport.h"
#include "http/url.h"
#include "pipeline/layout.h"
#include "storage/local_object_store.h"

namespace eden::cli {
namespace fs = std::filesystem;

Result<fetch::FetchOptions> FetchOptionsFrom(const config::FetchSettings& f) {
  fetch::FetchOptions o;
  auto policy = fetch::UrlPolicy::Make(f.allow_urls);
  if (!policy) return Fail(policy.error());
  o.policy = std::move(*policy);
  o.connect_timeout_ms = f.connect_timeout_s * 1000L;
  o.total_timeout_ms = f.timeout_s * 1000L;
  o.max_attempts = f.retries + 1;
  o.max_bytes = uint64_t(f.max_download_mb) << 20;
  o.ca_file = f.ca_file;
  return o;
}

Result<std::filesystem::path> DefaultJournal(const config::RunSettings& s) {
  const std::string destination = config::EffectiveDestination(s);
  if (!config::IsGcs(destination)) return fs::path(destination) / ".eden" / "journal.sqlite";
  auto url = gcs::ParseGcsUrl(destination);
  if (!url) return Fail(url.error());
  const std::string prefix = url->prefix.empty() ? s.output.prefix : url->prefix;
  // Not beside the data (a bucket is no file system) and not in the working directory (a run
  // started elsewhere would not find it): the user's state folder, as XDG says.
  const char* state = std::getenv("XDG_STATE_HOME");
  const char* home = std::getenv("HOME");
  const fs::path state_dir = state && *state ? fs::path(state)
                             : home && *home ? fs::path(home) / ".local" / "state"
                                             : fs::path(".eden");
  return state_dir / "eden" / "gs" / url->bucket / prefix / "journal.sqlite";
}

Result<OpenedStore> OpenStore(const config::RunSettings& s) {
  OpenedStore out;
  out.destination = config::EffectiveDestination(s);
  out.prefix = s.output.prefix;
  const auto& o = s.output;
  if (!config::IsGcs(out.destination)) {
    // The dataset's own folders: where a killed run's temporary files can be.
    pipeline::DatasetLayout layout;
    layout.prefix = out.prefix;
    std::vector<std::string> owned;
    for (const std::string& folder : {layout.DicomFolder(), layout.JpegFolder(), layout.CsvKey(), layout.ShardFolder(),
                                      layout.SplitMetadataKey("x")}) {
      owned.push_back(fs::path(folder).parent_path().string());  // "<prefix>/dicom-files/" -> "<prefix>/dicom-files"
    }
    out.store = std::make_unique<storage::LocalObjectStore>(fs::path(out.destination), std::move(owned));
    out.describe = fmt::format("output {}, prefix {}", out.destination, out.prefix);
    out.default_journal = *DefaultJournal(s);
    out.upload_concurrency = o.upload_concurrency > 0 ? o.upload_concurrency : 4;
    return out;
  }
  auto url = gcs::ParseGcsUrl(out.destination);
  if (!url) return Fail(url.error());
  if (!url->prefix.empty()) out.prefix = url->prefix;

  gcs::ClientOptions options;
  options.max_attempts = s.fetch.retries + 3;  // Uploads get a little more patience than downloads.
  options.resumable_threshold = static_cast<size_t>(o.resumable_threshold_kib) << 10;
  options.chunk_size = static_cast<size_t>(o.upload_chunk_kib) << 10;
  options.http.connect_timeout_ms = s.fetch.connect_timeout_s * 1000L;
  options.http.total_timeout_ms = s.fetch.timeout_s * 1000L;
  options.http.ca_file = s.fetch.ca_file;
  options.http.user_agent = "eden-etl/0.1 gcs-json-api";
  auto transport = http::MakeCurlTransport(options.http);  // One connection pool for tokens and objects.
  std::shared_ptr<gcs::Credentials> credentials;
  const char* emulator = std::getenv("STORAGE_EMULATOR_HOST");
  if (emulator && *emulator) {
    // The convention Google's clients follow: an emulator, no authentication.
    options.endpoint = std::string(emulator).find("://") == std::string::npos ? std::string("http://") + emulator
                                                                              : std::string(emulator);
    credentials = gcs::MakeAnonymousCredentials();
  } else {
    if (!o.gcs_endpoint.empty()) options.endpoint = o.gcs_endpoint;
    auto creds = gcs::DefaultCredentials(o.gcs_credentials, transport);
    if (!creds) return Fail(creds.error());
    credentials = *creds;
  }
  auto client = std::make_shared<gcs::GcsClient>(options, credentials, http::Sleeper{}, transport);
  auto store = std::make_unique<gcs::GcsObjectStore>(client, url->bucket);
  out.gcs = store.get();
  out.store = std::move(store);
  out.destination = "gs://" + url->bucket;
  out.describe = fmt::format("output gs://{}, prefix {} (GCS at {}, credentials: {})", url->bucket, out.prefix,
                             http::RedactUrl(options.endpoint), credentials->Describe());
  out.default_journal = *DefaultJournal(s);
  out.upload_concurrency = o.upload_concurrency > 0 ? o.upload_concurrency : 16;
  return out;
}

}  // namespace eden::cli
