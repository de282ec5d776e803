#include "config/cli_options.h"

#include <cctype>
#include <cstdlib>

namespace eden::config {

CLI::Option* AddLogLevelOption(CLI::App& cmd, ReportSettings& r) {
  return cmd.add_option("--log-level", r.log_level, "DEBUG, INFO, WARNING, ERROR (any case)")
      ->envname("LOGGING_LEVEL")
      ->transform(
          [](std::string level) {
            for (char& c : level) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
            return level;
          },
          "", "upper case")
      ->capture_default_str();
}

CLI::Option* AddAllowUrlOption(CLI::App& cmd, FetchSettings& f) {
  return cmd
      .add_option("--allow-url", f.allow_urls,
                  "URL prefix downloads may use (repeatable): file:///folder/ allows files under it (file:// is "
                  "refused otherwise); http(s) prefixes narrow the web to them (default: any http/https URL)")
      ->envname("EDEN_ALLOW_URLS")
      ->delimiter(',');
}

void AddDeidOptions(CLI::App& cmd, DeidSettings& d) {
  auto* g = "De-identification (DICOM PS3.15 Annex E; docs/deid.md)";
  cmd.add_option("--deid", d.mode,
                 "basic: de-identify every file and report (needs a key); off: store files as they come (PHI!)")
      ->envname("EDEN_DEID")
      ->check(CLI::IsMember({"basic", "off"}))
      ->group(g)
      ->capture_default_str();
  cmd.add_option("--deid-option", d.options,
                 "Profile option (repeatable): retain-modified-dates, retain-patient-characteristics, "
                 "retain-device-identity, retain-institution-identity, retain-safe-private, clean-descriptors")
      ->envname("EDEN_DEID_OPTIONS")
      ->delimiter(',')
      ->group(g);
  cmd.add_option("--deid-key-file", d.key_file, "File holding the key (eden deid keygen); else EDEN_DEID_KEY")
      ->envname("EDEN_DEID_KEY_FILE")
      ->group(g);
  // The key itself only from the environment: a flag would show it in `ps`.
  if (const char* key = std::getenv("EDEN_DEID_KEY")) d.key = key;
  cmd.add_option("--burned-in", d.burned_in,
                 "exclude: images that may carry burned-in text are not stored; keep: store them")
      ->envname("EDEN_BURNED_IN")
      ->check(CLI::IsMember({"exclude", "keep"}))
      ->group(g)
      ->capture_default_str();
}

void AddOutputOptions(CLI::App& cmd, OutputSettings& o) {
  auto* out = "Output";
  cmd.add_option("-o,--output", o.destination, "Output folder, or gs://bucket[/prefix]")
      ->envname("EDEN_OUTPUT")
      ->each([&o](const std::string&) { o.destination_given = true; })
      ->group(out)
      ->capture_default_str();
  cmd.add_option("--prefix", o.prefix, "Dataset prefix inside the output (a gs:// URL's path overrides it)")
      ->envname("EDEN_PREFIX")
      ->group(out)
      ->capture_default_str();
  cmd.add_option("--csv-name", o.csv_name, "CSV file name")->group(out)->capture_default_str();
  cmd.add_option("--journal", o.journal,
                 "Journal file (default <output>/.eden/journal.sqlite; for gs://, $XDG_STATE_HOME or ~/.local/state, "
                 "then eden/gs/<bucket>/<prefix>/)")
      ->group(out);
  cmd.add_flag("--fresh", o.fresh,
               "Forget the frozen sample and start over; objects of the old sample that the new one does not name "
               "are removed at the end")
      ->group(out);
  cmd.add_flag("--keep-old", o.keep_old,
               "With --fresh: move the old sample's objects to <prefix>/old-samples/<time>/ instead of removing them")
      ->group(out);
  auto* sched = "Scheduling";
  cmd.add_flag("--incremental", o.incremental,
               "Add only the studies of the selection the dataset does not hold yet, then rewrite the CSV, metadata "
               "and README for the whole dataset; nothing new: nothing written (implies --all-studies)")
      ->envname("EDEN_INCREMENTAL")
      ->group(sched);
  cmd.add_option("--every", o.every,
                 "Repeat the incremental run at this interval (30s, 15m, 1h, 1d; +-10% jitter) until stopped; one "
                 "holder at a time per destination, even across machines")
      ->envname("EDEN_EVERY")
      ->group(sched);
  cmd.add_option("--lease", o.lease_s, "Seconds the --every lock lasts unless its holder renews it (GCS)")
      ->envname("EDEN_LEASE")
      ->check(CLI::Range(5.0, 86400.0))
      ->group(sched)
      ->capture_default_str();
  auto* gcs = "Google Cloud Storage";
  cmd.add_option("--gcs-bucket", o.gcs_bucket, "With no --output: write to gs://BUCKET/<prefix>")
      ->envname("GCS_BUCKET_NAME")
      ->group(gcs);
  cmd.add_option("--gcs-credentials", o.gcs_credentials,
                 "Service-account key or authorized_user JSON (else GOOGLE_APPLICATION_CREDENTIALS, gcloud ADC, "
                 "metadata server; STORAGE_EMULATOR_HOST: no auth)")
      ->envname("GCS_CREDENTIALS_PATH")
      ->group(gcs);
  cmd.add_option("--gcs-endpoint", o.gcs_endpoint, "GCS JSON API endpoint (default https://storage.googleapis.com)")
      ->envname("EDEN_GCS_ENDPOINT")
      ->group(gcs);
  cmd.add_option("--upload-concurrency", o.upload_concurrency, "Objects written in flight (0: 16 for GCS, 4 local)")
      ->group(gcs)
      ->capture_default_str();
  cmd.add_option("--resumable-threshold-kib", o.resumable_threshold_kib, "Resumable uploads from this size on")
      ->group(gcs)
      ->capture_default_str();
  cmd.add_option("--upload-chunk-kib", o.upload_chunk_kib, "Resumable chunk size, a multiple of 256")
      ->group(gcs)
      ->capture_default_str();
}

void AddRunOptions(CLI::App& cmd, RunSettings& s) {
  auto* db = "Source database (the seed's .env names work)";
  cmd.add_option("--db-host", s.database.host, "PACS database host")
      ->envname("SOURCE_DATABASE_HOST")
      ->group(db)
      ->capture_default_str();
  cmd.add_option("--db-port", s.database.port, "PACS database port")
      ->envname("SOURCE_DATABASE_PORT")
      ->group(db)
      ->capture_default_str();
  cmd.add_option("--db-name", s.database.name, "PACS database name")->envname("SOURCE_DATABASE_NAME")->group(db);
  cmd.add_option("--db-user", s.database.user, "PACS database user")->envname("SOURCE_DATABASE_USER")->group(db);
  cmd.add_option("--db-password", s.database.password, "PACS database password (prefer the environment)")
      ->envname("SOURCE_DATABASE_PASS")
      ->group(db);
  cmd.add_option("--db-sslmode", s.database.sslmode, "libpq sslmode (disable, prefer, require, verify-full)")
      ->envname("SOURCE_DATABASE_SSLMODE")
      ->group(db)
      ->capture_default_str();

  auto* sel = "Selection";
  cmd.add_option("--studies", s.selection.studies, "Random sample of N studies")
      ->envname("EDEN_STUDIES")
      ->group(sel)
      ->capture_default_str();
  cmd.add_flag("--all-studies", s.selection.all_studies, "Every study instead of a sample")->group(sel);
  cmd.add_option("--seed", s.selection.seed, "Sampling seed: same seed, same sample")
      ->envname("EDEN_SEED")
      ->group(sel)
      ->capture_default_str();
  cmd.add_option("--modality", s.selection.modality, "Only this modality (e.g. CR)")->group(sel);
  cmd.add_option("--body-part", s.selection.body_part, "Only body parts matching this ILIKE pattern (e.g. %CHEST%)")
      ->group(sel);
  cmd.add_option("--query", s.selection.query_file, "A .sql file returning the row contract (docs/pacs-source.md)")
      ->envname("EDEN_QUERY")
      ->group(sel);
  cmd.add_option("--page-size", s.selection.page_size, "Rows per page (keyset pagination)")
      ->group(sel)
      ->capture_default_str();

  AddOutputOptions(cmd, s.output);
  AddDeidOptions(cmd, s.deid);
  auto* dist = "Distributed (Celery workers: eden worker)";
  cmd.add_option("--broker", s.broker,
                 "Run the instances on eden workers through this Redis broker (e.g. \"$REDIS_URL\")")
      ->envname("EDEN_BROKER")
      ->group(dist);
  cmd.add_option("--result-backend", s.result_backend, "Redis result backend (default: the broker)")
      ->envname("EDEN_RESULT_BACKEND")
      ->group(dist);
  cmd.add_option("--queue", s.broker_queue, "Celery queue for the instance tasks")->group(dist)->capture_default_str();

  auto* fetch = "Download";
  cmd.add_option("--download-concurrency", s.fetch.download_concurrency, "Downloads in flight")
      ->group(fetch)
      ->capture_default_str();
  cmd.add_option("--connect-timeout", s.fetch.connect_timeout_s, "Connect timeout, seconds")
      ->group(fetch)
      ->capture_default_str();
  cmd.add_option("--timeout", s.fetch.timeout_s, "Whole-download timeout, seconds")
      ->group(fetch)
      ->capture_default_str();
  cmd.add_option("--retries", s.fetch.retries, "Retries on timeouts, connection errors, 408/429/5xx")
      ->group(fetch)
      ->capture_default_str();
  cmd.add_option("--max-download-mb", s.fetch.max_download_mb, "Refuse bodies larger than this")
      ->group(fetch)
      ->capture_default_str();
  cmd.add_option("--ca-file", s.fetch.ca_file, "Extra CA bundle for https")->group(fetch);
  AddAllowUrlOption(cmd, s.fetch)->group(fetch);

  auto* conv = "Conversion";
  cmd.add_option("-q,--quality", s.convert.quality, "JPEG quality 1..100")->group(conv)->capture_default_str();
  cmd.add_option("--max-size", s.convert.max_size, "Longer side at most PX (0: original)")
      ->group(conv)
      ->capture_default_str();
  cmd.add_option("--window", s.convert.window, "Window CENTER/WIDTH for every image")->group(conv);
  cmd.add_option("-j,--threads", s.convert.threads, "Conversion threads (0: one per core)")
      ->group(conv)
      ->capture_default_str();

  auto* data = "Dataset";
  cmd.add_option("--split", s.dataset.split, "Splits by patient, NAME=FRACTION,... (fractions sum to 1)")
      ->envname("EDEN_SPLIT")
      ->group(data)
      ->capture_default_str();
  cmd.add_option("--package", s.dataset.packages, "Also write: webdataset (tar shards), llava (conversations)")
      ->envname("EDEN_PACKAGE")
      ->delimiter(',')
      ->group(data);
  cmd.add_option("--shard-size", s.dataset.shard_size, "WebDataset: close a shard before this size (1GB, 500MB...)")
      ->group(data)
      ->capture_default_str();
  cmd.add_option("--shard-samples", s.dataset.shard_samples, "WebDataset: at most N samples a shard (0: no limit)")
      ->group(data)
      ->capture_default_str();
  cmd.add_option("--instruction", s.dataset.instruction, "LLaVA: the question asked of every image")->group(data);
  cmd.add_option("--render", s.dataset.render, "display (DICOM display pipeline) or mimic (MIMIC-CXR-JPG recipe)")
      ->envname("EDEN_RENDER")
      ->group(data)
      ->capture_default_str();

  auto* rep = "Reporting";
  cmd.add_option("--summary-json", s.report.summary_json, "Write the run summary as JSON to FILE")->group(rep);
  AddLogLevelOption(cmd, s.report)->group(rep);
  cmd.add_option("--progress", s.report.progress, "auto, bar, plain or none")->group(rep)->capture_default_str();
  AddObservabilityOptions(cmd, s.report, rep);
  cmd.add_option("--metrics-linger", s.report.metrics_linger_s,
                 "Seconds /metrics stays up after the run ends (SIGTERM ends it sooner)")
      ->envname("EDEN_METRICS_LINGER")
      ->check(CLI::NonNegativeNumber)
      ->group(rep);
}

void AddObservabilityOptions(CLI::App& cmd, ReportSettings& r, const std::string& group) {
  cmd.add_option("--metrics-port", r.metrics_port, "Serve Prometheus /metrics and /healthz on this port (0: off)")
      ->envname("EDEN_METRICS_PORT")
      ->check(CLI::Range(0, 65535))
      ->group(group);
  cmd.add_option("--metrics-address", r.metrics_address, "Address /metrics and /healthz listen on")
      ->envname("EDEN_METRICS_ADDRESS")
      ->capture_default_str()
      ->group(group);
  cmd.add_option("--sentry-dsn", r.sentry_dsn, "Send errors to this Sentry DSN (secret: never printed)")
      ->envname("SENTRY_DSN")
      ->group(group);
  cmd.add_option("--sentry-environment", r.sentry_environment, "The Sentry events' environment")
      ->envname("SENTRY_ENVIRONMENT")
      ->group(group);
}

}  // namespace eden::config
