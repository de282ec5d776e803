#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/result.h"

namespace eden::celery {

/// redis://[:password@]host[:port][/db] (the seed's REDIS_URL). kInvalidArgument otherwise.
struct RedisUrl {
  std::string host = "127.0.0.1";
  int port = 6379;
  int db = 0;
  std::string password;
};
Result<RedisUrl> ParseRedisUrl(const std::string& url);

/// A Redis reply, as plain data.
struct RedisReply {
  enum class Type { kNil, kString, kInteger, kArray, kStatus, kError } type = Type::kNil;
  std::string str;
  long long integer = 0;
  std::vector<RedisReply> elements;
  bool IsNil() const { return type == Type::kNil; }
};

/// One connection (hiredis, blocking), to one db. Not thread-safe: one per thread.
/// Errors: kUnavailable (connection refused or lost; the next call reconnects).
class RedisConnection {
 public:
  static Result<std::unique_ptr<RedisConnection>> Connect(const RedisUrl& url);
  ~RedisConnection();
  RedisConnection(const RedisConnection&) = delete;
  RedisConnection& operator=(const RedisConnection&) = delete;

  /// One command, binary-safe arguments. A Redis error reply is kInvalidArgument.
  Result<RedisReply> Command(const std::vector<std::string>& args);
  /// Several commands in one round trip (MULTI ... EXEC is just commands here).
  Result<std::vector<RedisReply>> Pipeline(const std::vector<std::vector<std::string>>& commands);
  /// For pub/sub: sends a command without waiting (SUBSCRIBE), then reads pushed messages.
  Status Send(const std::vector<std::string>& args);
  /// The next pushed reply, or nullopt after `timeout` with nothing.
  Result<std::optional<RedisReply>> Read(std::chrono::milliseconds timeout);

 private:
  explicit RedisConnection(RedisUrl url) : url_(std::move(url)) {}
  Status Reconnect();
  void* context_ = nullptr;  // redisContext*
  RedisUrl url_;
};

}  // namespace eden::celery
