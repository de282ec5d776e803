#pragma once

#include "metrics/registry.h"
#include "pipeline/outcome.h"

namespace eden::pipeline {

/// The per-instance metrics `eden run` and `eden worker` serve on /metrics (docs/operations.md):
///   eden_instances_total{outcome}                   stored | failed | excluded
///   eden_instance_failures_total{code,step}         error code name, failed step ("" if none)
///   eden_downloaded_bytes_total                     DICOM bytes downloaded and stored
///   eden_stored_bytes_total{kind}                   dicom | jpeg
///   eden_retries_total{what="download"}             downloads retried after transient failures
///   eden_{download,convert,store}_seconds           histograms of the step times
/// Labels carry no id, path or patient data: only the names above.
/// @par Thread-safety
/// Record may be called from any thread (the registry locks).
class InstanceMetrics {
 public:
  explicit InstanceMetrics(metrics::Registry& registry);
  void Record(const InstanceOutcome& outcome);

 private:
  metrics::Registry& r_;
};

}  // namespace eden::pipeline
