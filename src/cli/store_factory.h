#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "config/settings.h"
#include "core/result.h"
#include "fetch/http_fetcher.h"
#include "gcs/gcs_object_store.h"
#include "storage/object_store.h"

namespace eden::cli {

/// The destination a command writes to or reads from, built from the settings.
struct OpenedStore {
  std::unique_ptr<storage::ObjectStore> store;
  std::string destination;  ///< "./eden-output" or "gs://bucket"
  std::string prefix;       ///< The dataset prefix inside it.
  std::string describe;     ///< One line for the console: where, and with which credentials.
  std::filesystem::path default_journal;
  gcs::GcsObjectStore* gcs = nullptr;  ///< Set for GCS (upload counters for the summary).
  int upload_concurrency = 4;
};

/// Download options from the settings (`eden run` and `eden worker` share them).
/// kInvalidArgument for an --allow-url that is not a usable prefix.
Result<fetch::FetchOptions> FetchOptionsFrom(const config::FetchSettings& f);

/// A local folder, or GCS: STORAGE_EMULATOR_HOST (anonymous, plain http), else --gcs-endpoint or
/// Google's, with Application Default Credentials (GCS_CREDENTIALS_PATH first). Errors are
/// configuration problems (kInvalidArgument): a bad URL or credentials file.
Result<OpenedStore> OpenStore(const config::RunSettings& s);

/// Where `eden run` keeps the journal for the settings' destination (beside a folder's data; in
/// the user's state folder for gs://), without opening the destination or its credentials.
Result<std::filesystem::path> DefaultJournal(const config::RunSettings& s);

}  // namespace eden::cli
