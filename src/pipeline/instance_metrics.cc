#include "pipeline/instance_metrics.h"

#include <string>

namespace eden::pipeline {

InstanceMetrics::InstanceMetrics(metrics::Registry& registry) : r_(registry) {
  r_.DeclareCounter("eden_instances_total", "Instances finished, by outcome (stored, failed, excluded).");
  r_.DeclareCounter("eden_instance_failures_total", "Failed instances by error code and failed step.");
  r_.DeclareCounter("eden_downloaded_bytes_total", "DICOM bytes downloaded (as stored).");
  r_.DeclareCounter("eden_stored_bytes_total", "Bytes stored, by kind (dicom, jpeg).");
  r_.DeclareCounter("eden_retries_total", "Retries after transient failures, by what (download, upload, task).");
  r_.DeclareHistogram("eden_download_seconds", "Time to download one DICOM file.", metrics::SecondsBuckets());
  r_.DeclareHistogram("eden_convert_seconds", "Time to convert one DICOM file to JPEG.", metrics::SecondsBuckets());
  r_.DeclareHistogram("eden_store_seconds", "Time to store one instance's objects.", metrics::SecondsBuckets());
}

void InstanceMetrics::Record(const InstanceOutcome& o) {
  // Times and bytes first, the outcome last: a scrape in between never counts an instance
  // whose times it does not have.
  if (o.fetch_ms > 0) r_.Observe("eden_download_seconds", {}, o.fetch_ms / 1000);
  if (o.fetch_retries > 0) r_.Add("eden_retries_total", {{"what", "download"}}, o.fetch_retries);
  if (o.convert_ms > 0) r_.Observe("eden_convert_seconds", {}, o.convert_ms / 1000);
  if (o.store_ms > 0) r_.Observe("eden_store_seconds", {}, o.store_ms / 1000);
  if (o.downloaded) {
    r_.Add("eden_downloaded_bytes_total", {}, static_cast<double>(o.dicom_bytes));
    r_.Add("eden_stored_bytes_total", {{"kind", "dicom"}}, static_cast<double>(o.dicom_bytes));
  }
  if (o.stored) r_.Add("eden_stored_bytes_total", {{"kind", "jpeg"}}, static_cast<double>(o.jpg_bytes));
  const State state = o.ToState();
  r_.Add("eden_instances_total", {{"outcome", std::string(StateName(state))}});
  if (state == State::kFailed) {
    r_.Add("eden_instance_failures_total",
           {{"code", std::string(o.ErrorCodeText())}, {"step", std::string(StepName(o.failed_step))}});
  }
}

}  // namespace eden::pipeline
