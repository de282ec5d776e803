#pragma once

#include <string>

#include "core/result.h"
#include "pipeline/outcome.h"
#include "source/pacs_source.h"

namespace eden::tasks {

/// JSON forms of what crosses the broker for `eden.process_instance`: the source row (the
/// task's argument) and the instance outcome (its result). The report text is not sent: the
/// worker does not need it, and it stays out of Redis.
std::string RowToJson(const source::InstanceRow& row);
Result<source::InstanceRow> RowFromJson(const std::string& json_text);

std::string OutcomeToJson(const pipeline::InstanceOutcome& outcome);
Result<pipeline::InstanceOutcome> OutcomeFromJson(const std::string& json_text);

}  // namespace eden::tasks
