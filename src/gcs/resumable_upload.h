#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "core/result.h"
#include "gcs/json_api.h"
#include "http/transport.h"

namespace eden::gcs {

/// A GCS resumable upload as a pure state machine over responses (no I/O, no clock): the
/// caller asks Next() what to do, does it, and hands the answer back. GcsClient drives it; the
/// unit tests drive it with scripted answers, branch by branch.
///
/// The protocol (cloud.google.com/storage/docs/performing-resumable-uploads): POST starts a
/// session (its URL in Location); PUT chunks with "Content-Range: bytes a-b/total"; a 308's
/// Range header says how much the server committed (none: nothing); 200/201 carries the object;
/// after a failure "Content-Range: bytes */total" asks where the server is; a 404 means the
/// session expired (start over); a 401 once refreshes the credentials.
class ResumableUpload {
 public:
  enum class Action {
    kStartSession,  ///< POST the session request; then OnSessionStarted.
    kSendChunk,     ///< PUT [offset, offset + length) with ChunkRange(); then OnResponse.
    kQueryStatus,   ///< PUT nothing with "bytes */total"; then OnResponse.
    kDone,          ///< metadata() holds the stored object.
    kFailed,        ///< error() says why.
  };
  struct Step {
    Action action = Action::kStartSession;
    uint64_t offset = 0;
    uint64_t length = 0;
    int backoff_attempt = 0;           ///< > 0: wait BackoffPolicy::DelayMs(backoff_attempt) first.
    bool refresh_credentials = false;  ///< Invalidate the cached token first.
  };

  /// `chunk_size` a multiple of 256 KiB; `max_attempts` consecutive failures without progress
  /// (and session restarts) before giving up. `what` names the upload in errors.
  ResumableUpload(uint64_t total, uint64_t chunk_size, int max_attempts, std::string what);

  /// What to do now. Stable until the next On... call (the pending backoff/refresh are cleared by it).
  Step Next() const;

  /// The session request's outcome (already retried by the caller): its Location, or the error.
  void OnSessionStarted(const Result<http::HttpResponse>& response);
  /// A chunk's or a status query's answer: 200/201, 308, or an error (a non-2xx as its Error).
  void OnResponse(const Result<http::HttpResponse>& response);

  /// The Content-Range header of the chunk Next() asked for ("bytes a-b/total"; "bytes */0"
  /// for an empty object), or of the status query ("bytes */total").
  std::string ContentRange() const;

  const std::string& session_url() const { return session_; }
  uint64_t committed() const { return committed_; }
  const std::optional<ObjectMetadata>& metadata() const { return metadata_; }
  const std::optional<Error>& error() const { return error_; }
  /// Failed chunk requests that were retried (status query then resume), and resumes that found
  /// part of the object already committed: for ClientStats.
  uint64_t retries() const { return retries_; }
  uint64_t resumed() const { return resumed_; }

 private:
  void FailWith(Error e);
  void OnCommitted(uint64_t server_committed);

  uint64_t total_, chunk_size_;
  int max_attempts_;
  std::string what_;
  enum class Phase { kNeedSession, kUploading, kDone, kFailed } phase_ = Phase::kNeedSession;
  std::string session_;
  uint64_t committed_ = 0;
  bool ask_status_ = false;
  int failures_ = 0;  ///< Consecutive failures without progress, session restarts included.
  int backoff_ = 0;
  bool refresh_ = false;
  bool refreshed_ = false;
  std::optional<ObjectMetadata> metadata_;
  std::optional<Error> error_;
  uint64_t retries_ = 0, resumed_ = 0;
};

}  // namespace eden::gcs
