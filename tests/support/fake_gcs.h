#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "http/transport.h"

namespace eden::testing {

/// An in-memory Google Cloud Storage JSON API v1 for one bucket, as an http::Transport: bucket
/// get; objects get (metadata and ?alt=media), list (prefix, pages of `page_size`), delete;
/// multipart and resumable inserts with ifGenerationMatch preconditions (412), the client's
/// crc32c/md5Hash checked against the bytes (400), resumable sessions that commit whole chunks,
/// answer 308 with Range and "bytes */N" status queries. Only what eden's client sends; hashes
/// computed with core/crc32c and digest, not gcs/hashes. `fault` may replace any answer (tests
/// of lost answers and outages). Thread-safe.
class FakeGcs final : public http::Transport {
 public:
  struct Object {
    std::string bytes, content_type, crc32c, md5;
    int64_t generation = 0;
  };
  /// Called before each request is served: a value is answered instead (the request is not
  /// served); `served_first` true serves it first and then answers the fault (a lost answer).
  struct Fault {
    std::optional<Result<http::HttpResponse>> answer;
    bool served_first = false;
  };
  using FaultHook = std::function<Fault(const http::HttpRequest&)>;

  explicit FakeGcs(std::string bucket, std::string endpoint = "http://fake-gcs", size_t page_size = 1000)
      : bucket_(std::move(bucket)), endpoint_(std::move(endpoint)), page_size_(page_size) {}

  Result<http::HttpResponse> Send(const http::HttpRequest& request) override;

  void set_fault(FaultHook hook);
  std::optional<Object> Get(const std::string& name) const;
  std::map<std::string, Object> objects() const;
  /// Requests served, by "METHOD kind" (e.g. "POST multipart", "PUT chunk").
  std::map<std::string, int> counts() const;
  const std::string& endpoint() const { return endpoint_; }

 private:
  http::HttpResponse Serve(const http::HttpRequest& request);
  /// The object resource the JSON API answers with.
  nlohmann::json Resource(const std::string& name, const Object& o) const;
  http::HttpResponse Store(const std::string& name, const std::string& resource_json, std::string bytes,
                           int64_t if_generation_match);

  struct Session {
    std::string resource;
    uint64_t total = 0;
    int64_t if_generation_match = -1;
    std::string bytes;
    bool done = false;
    std::string final_answer;
  };

  std::string bucket_, endpoint_;
  size_t page_size_;
  mutable std::mutex mu_;
  std::map<std::string, Object> objects_;
  std::map<std::string, Session> sessions_;
  std::map<std::string, int> counts_;
  int64_t next_generation_ = 1000;
  int next_session_ = 1;
  FaultHook fault_;
};

}  // namespace eden::testing
