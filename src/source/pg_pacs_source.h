#pragma once

#include <memory>
#include <string>

#include "source/pacs_source.h"

namespace eden::source {

/// Connection settings (the seed's SOURCE_DATABASE_* names map here).
struct PgOptions {
  std::string host = "127.0.0.1";
  int port = 5432;
  std::string dbname;
  std::string user;
  std::string password;  ///< Never logged.
  std::string sslmode = "prefer";
  int connect_timeout_s = 10;
};

/// PacsSource over PostgreSQL with libpq; every value is a bound parameter.
Result<std::unique_ptr<PacsSource>> ConnectPg(const PgOptions& options);

/// The three statements eden runs around a base query (exposed for tests and docs).
std::string StudySampleSql(const std::string& base_sql);
std::string CountSql(const std::string& base_sql, bool sampled);
std::string PageSql(const std::string& base_sql, bool sampled, bool after, bool patient_id = false);

}  // namespace eden::source
