#pragma once

#include <CLI/CLI.hpp>

#include "config/settings.h"

namespace eden::config {

/// --log-level (LOGGING_LEVEL), in any case, for `eden run` and `eden worker`.
CLI::Option* AddLogLevelOption(CLI::App& cmd, ReportSettings& r);
/// --metrics-port, --metrics-address, --sentry-dsn, --sentry-environment (run and worker).
void AddObservabilityOptions(CLI::App& cmd, ReportSettings& r, const std::string& group = "Options");

/// --allow-url (repeatable; EDEN_ALLOW_URLS, comma-separated), for `eden run` and `eden worker`.
CLI::Option* AddAllowUrlOption(CLI::App& cmd, FetchSettings& f);

/// Declares every `eden run` option on `cmd`, bound to `s`, with its environment name and
/// default; CLI11 applies flags > environment > --config file > default.
void AddRunOptions(CLI::App& cmd, RunSettings& s);

/// The destination options alone (`eden verify` needs only these).
void AddOutputOptions(CLI::App& cmd, OutputSettings& o);

/// --deid, --deid-option, --deid-key-file, --burned-in (and EDEN_DEID_KEY from the environment).
void AddDeidOptions(CLI::App& cmd, DeidSettings& d);

}  // namespace eden::config
