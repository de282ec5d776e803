#include "gcs/resumable_upload.h"

#include <algorithm>

#include <fmt/format.h>

namespace eden::gcs {

ResumableUpload::ResumableUpload(uint64_t total, uint64_t chunk_size, int max_attempts, std::string what)
    : total_(total),
      chunk_size_(std::max<uint64_t>(chunk_size, 1)),
      max_attempts_(std::max(max_attempts, 1)),
      what_(std::move(what)) {}

ResumableUpload::Step ResumableUpload::Next() const {
  Step step;
  step.backoff_attempt = backoff_;
  step.refresh_credentials = refresh_;
  switch (phase_) {
    case Phase::kNeedSession:
      step.action = Action::kStartSession;
      break;
    case Phase::kUploading:
      // Everything committed but no object yet (a 308 for the last byte): ask for the final state.
      if (ask_status_ || (total_ > 0 && committed_ >= total_)) {
        step.action = Action::kQueryStatus;
      } else {
        step.action = Action::kSendChunk;
        step.offset = committed_;
        step.length = std::min(chunk_size_, total_ - committed_);
      }
      break;
    case Phase::kDone:
      step.action = Action::kDone;
      break;
    case Phase::kFailed:
      step.action = Action::kFailed;
      break;
  }
  return step;
}

std::string ResumableUpload::ContentRange() const {
  const Step step = Next();
  if (step.action == Action::kSendChunk && total_ > 0) {
    return fmt::format("bytes {}-{}/{}", step.offset, step.offset + step.length - 1, total_);
  }
  return fmt::format("bytes */{}", total_);
}

void ResumableUpload::FailWith(Error e) {
  phase_ = Phase::kFailed;
  error_ = std::move(e);
}

void ResumableUpload::OnSessionStarted(const Result<http::HttpResponse>& response) {
  backoff_ = 0;
  refresh_ = false;
  if (phase_ != Phase::kNeedSession) return;
  if (!response) return FailWith(response.error());
  const std::string location = response->Header("location");
  if (location.empty()) return FailWith(Error(ErrorCode::kUnavailable, what_ + ": the session answer has no Location"));
  session_ = location;
  committed_ = 0;
  ask_status_ = false;
  phase_ = Phase::kUploading;
}

void ResumableUpload::OnCommitted(uint64_t server_committed) {
  const bool was_asking = ask_status_;
  if (server_committed > total_) {
    return FailWith(Error(ErrorCode::kUnavailable, fmt::format("{}: the server reports {} bytes committed of {}", what_,
                                                               server_committed, total_)));
  }
  if (was_asking && server_committed < total_) ++resumed_;
  if (server_committed > committed_) {
    failures_ = 0;
    refreshed_ = false;
  } else if (!was_asking || server_committed == total_) {
    // A chunk the server kept none of, or a finished upload that does not end: no progress.
    if (++failures_ >= max_attempts_) {
      return FailWith(Error(ErrorCode::kUnavailable,
                            fmt::format("{}: the server keeps no bytes past {}", what_, server_committed)));
    }
    backoff_ = failures_;
  }
  committed_ = server_committed;
  ask_status_ = false;
}

void ResumableUpload::OnResponse(const Result<http::HttpResponse>& response) {
  backoff_ = 0;
  refresh_ = false;
  if (phase_ != Phase::kUploading) return;
  std::optional<Error> failure;
  if (response) {
    const long status = response->status;
    if (status == 200 || status == 201) {
      auto meta = ParseObjectMetadata(response->Text());
      if (!meta) return FailWith(meta.error().WithContext(what_));
      metadata_ = std::move(*meta);
      phase_ = Phase::kDone;
      return;
    }
    if (status == 308) {
      auto c = CommittedBytes(response->Header("range"));
      if (!c) return FailWith(c.error().WithContext(what_));
      return OnCommitted(*c);
    }
    failure = ErrorFromResponse(*response, what_);
  } else {
    failure = response.error();
  }
  const Error& e = *failure;
  if (e.code() == ErrorCode::kUnauthenticated && !refreshed_) {
    refreshed_ = true;  // An expired token: a new one, once per run of failures.
    refresh_ = true;
    ++failures_;
    ask_status_ = true;
    return;
  }
  if (e.code() == ErrorCode::kNotFound) {  // The session expired: start a new one.
    if (++failures_ >= max_attempts_)
      return FailWith(Error(ErrorCode::kUnavailable, what_ + ": upload sessions keep expiring"));
    phase_ = Phase::kNeedSession;
    session_.clear();
    committed_ = 0;
    ask_status_ = false;
    return;
  }
  if (!e.IsTransient()) return FailWith(e.WithContext(what_));
  if (++failures_ >= max_attempts_) {
    return FailWith(e.WithContext(fmt::format("{} (after {} attempts without progress)", what_, failures_)));
  }
  ++retries_;
  backoff_ = failures_;
  ask_status_ = true;
}

}  // namespace eden::gcs
