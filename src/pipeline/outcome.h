#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "core/error.h"
#include "source/pacs_source.h"

namespace eden::pipeline {

/// The steps of the per-instance job, in order. A failed outcome names the one that failed;
/// a row refused before any step (a NULL file_url, an unsafe instance_id) names none. A new step
/// (de-identification, packaging) is one more value here.
enum class Step { kNone, kDownload, kDeidentify, kConvert, kStoreDicom, kStoreJpeg };

/// How the CSV, the journal and the wire write a step: "download", "de-identify", "convert",
/// "store DICOM", "store JPEG" ("" for kNone).
std::string_view StepName(Step step);

/// A failure's text as the edges carry it, "<step>: <reason>", split back into the step and the
/// reason. Text with no step prefix is (kNone, text).
std::pair<Step, std::string_view> SplitStep(std::string_view text);

/// Where an instance is in a run: not yet attempted (or interrupted), stored, failed, or
/// excluded on purpose (de-identification: pixels that may carry burned-in text).
enum class State { kPending, kStored, kFailed, kExcluded };
std::string_view StateName(State state);  ///< "pending" | "stored" | "failed" | "excluded"
State ParseState(std::string_view name);  ///< Anything else is kPending.

/// What happened to one instance: everything the journal and the CSV record about it.
struct InstanceOutcome {
  std::string instance_id;
  bool stored = false;             ///< DICOM and JPEG both stored: done.
  bool downloaded = false;         ///< The DICOM bytes arrived and were stored.
  bool excluded = false;           ///< Left out on purpose; `error` says why (not a failure).
  Step failed_step = Step::kNone;  ///< The step that failed (kNone when stored or refused before any step).
  std::optional<Error> error;      ///< Why it is not stored (the reason, without the step); empty when stored.
  std::string dicom_key, jpg_key;
  std::string dicom_uri, jpg_uri;
  std::string dicom_sha256, jpg_sha256;
  std::string dicom_crc32c, jpg_crc32c;  ///< base64 CRC-32C, as GCS reports it: what `eden verify` checks.
  uint64_t dicom_bytes = 0, jpg_bytes = 0;
  uint32_t rows = 0, columns = 0;
  std::string modality, photometric, transfer_syntax, window;
  /// From the stored file's header (dicom::DicomInfo): what metadata.jsonl describes an image by.
  std::string view_position, body_part, laterality, sex, age;
  /// 32 hex digits of SHA-256 of the stored file's patient (issuer|Patient ID; under
  /// de-identification the pseudonym): groups a patient's images into one split. Empty when the
  /// file names no patient.
  std::string patient_hash;
  double fetch_ms = 0, convert_ms = 0, store_ms = 0;
  uint32_t fetch_retries = 0;  ///< Download attempts after transient failures (/metrics).
  /// With de-identification: the keyed patient pseudonym, the study's report scrubbed with this
  /// instance's header, and how many replacements that took.
  std::string patient;
  std::optional<std::string> deid_report;
  uint64_t deid_replacements = 0;

  /// The journal state this outcome records.
  State ToState() const { return stored ? State::kStored : excluded ? State::kExcluded : State::kFailed; }

  /// Records a failure at `step` (not stored).
  void Fail(Step step, Error why) {
    stored = false;
    failed_step = step;
    error = std::move(why);
  }
  bool FailedAt(Step step) const { return !stored && error && failed_step == step; }
  bool FailedWith(ErrorCode code) const { return !stored && error && error->code() == code; }
  /// The error code's name ("" when there is no error): the CSV's and journal's error_code.
  std::string_view ErrorCodeText() const { return error ? ErrorCodeName(error->code()) : std::string_view{}; }
  /// "<step>: <reason>" ("<reason>" for kNone, "" when no error): the CSV's and journal's text.
  std::string ErrorText() const;
  /// The inverse of ErrorCodeText + ErrorText, for what the edges read back (the journal, a
  /// worker's result). Both empty: no error. A code this build does not know becomes kInternal,
  /// its name kept in the message.
  void SetErrorFromText(std::string_view code, std::string_view text);
};

/// A journal row: the frozen source row and its latest outcome.
struct JournalEntry {
  int64_t seq = 0;  ///< Order of the frozen sample.
  source::InstanceRow row;
  State state = State::kPending;
  int attempts = 0;
  InstanceOutcome outcome;
};

}  // namespace eden::pipeline
