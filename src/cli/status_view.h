#pragma once

#include <filesystem>
#include <string>

#include "web/dashboard.h"

namespace eden::cli {

/// Fills the run part of `view` (progress, rate, ETA, failures, timeline, dataset counts) from
/// the journal at `journal`, opened read-only. A missing journal is not an error: the view says so.
void GatherJournal(const std::filesystem::path& journal, web::DashboardView& view);

/// Fills the worker part of `view` from the broker: queue depths (`queues`; empty: discovered),
/// the workers that answer `ping` within `timeout_s`, their `active` tasks and `stats`.
void GatherBroker(const std::string& broker_url, const std::vector<std::string>& queues, double timeout_s,
                  web::DashboardView& view);

/// UTC now as ISO 8601 with seconds.
std::string UtcNow();

}  // namespace eden::cli
