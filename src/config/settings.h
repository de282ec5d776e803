#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace eden::config {

/// `eden run` settings. Precedence: flags > environment > .env file > --config file > defaults.
/// Environment names are the seed's (SOURCE_DATABASE_*, REDIS_URL, GCS_*, LOGGING_LEVEL) plus
/// EDEN_* for the rest.
struct DatabaseSettings {
  std::string host = "127.0.0.1";  ///< SOURCE_DATABASE_HOST
  int port = 5432;                 ///< SOURCE_DATABASE_PORT
  std::string name;                ///< SOURCE_DATABASE_NAME
  std::string user;                ///< SOURCE_DATABASE_USER
  std::string password;            ///< SOURCE_DATABASE_PASS (never printed)
  std::string sslmode = "prefer";  ///< SOURCE_DATABASE_SSLMODE
};

struct SelectionSettings {
  int studies = 8;            ///< Random sample size.
  bool all_studies = false;   ///< Every study instead of a sample.
  std::string seed = "eden";  ///< Same seed, same sample.
  std::string modality;       ///< Exact modality filter (empty: none).
  std::string body_part;      ///< ILIKE body part filter (empty: none), e.g. %CHEST%.
  std::string query_file;     ///< A .sql returning the row contract (empty: the built-in query).
  int page_size = 25;
};

struct OutputSettings {
  std::string destination = "./eden-output";  ///< A folder, or gs://bucket[/prefix].
  bool destination_given = false;             ///< Set by -o / EDEN_OUTPUT / a positional DEST.
  std::string prefix = "eden-dataset-vlms/sample-test";
  std::string csv_name = "dicom-reports-extracted-sample.csv";
  std::string journal;  ///< Empty: <destination>/.eden/journal.sqlite
  bool fresh = false;
  bool keep_old = false;  ///< With fresh: move the old sample's objects aside.
  /// --incremental: add the selection's studies the dataset does not hold yet (every study of
  /// the selection: implies --all-studies); nothing new: nothing written.
  bool incremental = false;
  std::string every;            ///< --every 1h / EDEN_EVERY: repeat the incremental run (30s, 15m, 1h, 1d).
  double lease_s = 600;         ///< --lease: how long the scheduler's lock lasts unless renewed (GCS).
  std::string gcs_bucket;       ///< GCS_BUCKET_NAME: with no --output, the dataset goes to gs://<bucket>/<prefix>.
  std::string gcs_credentials;  ///< GCS_CREDENTIALS_PATH (else GOOGLE_APPLICATION_CREDENTIALS, gcloud's ADC, metadata).
  std::string gcs_endpoint;     ///< EDEN_GCS_ENDPOINT: another JSON API endpoint (auth still applies).
  int upload_concurrency = 0;   ///< Objects written in flight; 0 = 16 for GCS, 4 for a folder.
  int resumable_threshold_kib = 8192;  ///< GCS objects at least this big use resumable uploads.
  int upload_chunk_kib = 8192;         ///< Resumable chunk size; a multiple of 256.
};

struct FetchSettings {
  int download_concurrency = 8;
  int connect_timeout_s = 10;
  int timeout_s = 300;
  int retries = 3;  ///< Retries after the first attempt.
  int max_download_mb = 2048;
  std::string ca_file;
  /// --allow-url / EDEN_ALLOW_URLS: URL prefixes downloads may use (fetch/url_policy.h).
  std::vector<std::string> allow_urls;
};

struct ConvertSettings {
  int quality = 100;
  int max_size = 0;
  std::string window;  ///< "C/W"
  int threads = 0;     ///< CPU workers; 0 = one per core.
};

/// De-identification (docs/deid.md). On by default: a run with no key stops (exit 2).
struct DeidSettings {
  std::string mode = "basic";         ///< --deid: basic | off
  std::vector<std::string> options;   ///< --deid-option NAME (repeatable; deid::OptionName)
  std::string key_file;               ///< --deid-key-file / EDEN_DEID_KEY_FILE
  std::string key;                    ///< EDEN_DEID_KEY: 64 hex digits (never printed)
  std::string burned_in = "exclude";  ///< --burned-in: exclude | keep
};

/// What the dataset holds beyond the seed's layout (docs/datasets.md).
struct DatasetSettings {
  std::string split = "train=0.8,validation=0.1,test=0.1";  ///< --split / EDEN_SPLIT
  std::vector<std::string> packages;                        ///< --package webdataset|llava (EDEN_PACKAGE)
  std::string shard_size = "1GB";                           ///< --shard-size: bytes, or with KB/MB/GB (KiB...)
  int shard_samples = 0;                                    ///< --shard-samples (0: no limit)
  std::string instruction;                                  ///< --instruction (empty: the default)
  std::string render = "display";                           ///< --render display|mimic (EDEN_RENDER)
};

/// "1GB", "512MiB", "1000000": bytes; nullopt for anything else (or 0).
std::optional<uint64_t> ParseByteSize(std::string_view text);
/// "30s", "15m", "1h", "1d", "90" (seconds), "1h30m": seconds; nullopt for anything else (or 0).
std::optional<double> ParseDuration(std::string_view text);

struct ReportSettings {
  std::string summary_json;
  std::string log_level = "INFO";  ///< LOGGING_LEVEL: DEBUG, INFO, WARNING, ERROR
  std::string progress = "auto";   ///< auto | bar | plain | none
  /// --metrics-port / EDEN_METRICS_PORT: serve Prometheus /metrics and /healthz (0: off).
  int metrics_port = 0;
  std::string metrics_address = "127.0.0.1";  ///< --metrics-address: where /metrics listens.
  /// --metrics-linger: `eden run` keeps /metrics up this long after it ends (until SIGTERM), so
  /// the last scrape sees the final counts. Seconds.
  double metrics_linger_s = 0;
  /// SENTRY_DSN: run errors and a sample of instance failures go to Sentry (the seed's
  /// misspelled SENTRY_DNS works too, with a warning). Empty: off.
  std::string sentry_dsn;
  std::string sentry_environment;  ///< SENTRY_ENVIRONMENT: the events' environment tag.
};

struct RunSettings {
  DatabaseSettings database;
  SelectionSettings selection;
  OutputSettings output;
  FetchSettings fetch;
  ConvertSettings convert;
  ReportSettings report;
  DeidSettings deid;
  DatasetSettings dataset;
  std::string broker;          ///< --broker / EDEN_BROKER: run the instances on Celery workers (eden worker).
  std::string result_backend;  ///< Empty: the broker.
  std::string broker_queue = "celery";
  int broker_task_retries = 3;      ///< eden worker: retries of an instance that failed transiently...
  double broker_retry_delay_s = 5;  ///< ...after this many seconds x the retry number.
};

/// Where the dataset goes: --output if it is gs:// or was given at all, else
/// gs://GCS_BUCKET_NAME if that is set (the seed's variable), else the default folder.
std::string EffectiveDestination(const RunSettings& s);
inline bool IsGcs(const std::string& destination) { return destination.rfind("gs://", 0) == 0; }

/// Every problem with the settings, each a sentence; empty when they are usable.
std::vector<std::string> Validate(const RunSettings& s);

/// The effective settings as `key = value` lines, secrets replaced by "********".
std::string Show(const RunSettings& s);

/// Reads KEY=VALUE lines (comments, blank lines, `export`, single/double quotes allowed) and
/// sets each variable not already in the environment. Missing file: nothing happens.
/// Returns the number of variables set, or the line that could not be parsed.
struct DotEnvResult {
  int set = 0;
  std::vector<std::string> errors;
};
DotEnvResult LoadDotEnv(const std::string& path);

/// The pure part of LoadDotEnv: the KEY=VALUE pairs of `text` in order, and one error per line
/// that is not one (`name` labels them). Never throws on any input.
struct DotEnvParse {
  std::vector<std::pair<std::string, std::string>> variables;
  std::vector<std::string> errors;
};
DotEnvParse ParseDotEnv(std::string_view text, std::string_view name = ".env");

}  // namespace eden::config
