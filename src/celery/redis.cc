#include "celery/redis.h"

#include <hiredis/hiredis.h>

#include <fmt/format.h>

namespace eden::celery {
namespace {

RedisReply Convert(const redisReply* r) {
  RedisReply out;
  if (!r) return out;
  switch (r->type) {
    case REDIS_REPLY_STRING:
      out.type = RedisReply::Type::kString;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_STATUS:
      out.type = RedisReply::Type::kStatus;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_ERROR:
      out.type = RedisReply::Type::kError;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_INTEGER:
      out.type = RedisReply::Type::kInteger;
      out.integer = r->integer;
      break;
    case REDIS_REPLY_ARRAY:
      out.type = RedisReply::Type::kArray;
      for (size_t i = 0; i < r->elements; ++i) out.elements.push_back(Convert(r->element[i]));
      break;
    default:
      break;
  }
  return out;
}

timeval ToTimeval(std::chrono::milliseconds ms) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(ms.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms.count() % 1000) * 1000);
  return tv;
}

}  // namespace

Result<RedisUrl> ParseRedisUrl(const std::string& url) {
  RedisUrl out;
  std::string rest;
  if (url.rfind("redis://", 0) == 0) {
    rest = url.substr(8);
  } else {
    return Fail(ErrorCode::kInvalidArgument, "a Redis URL starts with redis://");
  }
  if (auto at = rest.rfind('@'); at != std::string::npos) {
    std::string auth = rest.substr(0, at);
    rest = rest.substr(at + 1);
    if (auto colon = auth.find(':'); colon != std::string::npos) auth = auth.substr(colon + 1);
    out.password = auth;
  }
  std::string hostport = rest.substr(0, rest.find('/'));
  if (auto slash = rest.find('/'); slash != std::string::npos && slash + 1 < rest.size()) {
    try {
      out.db = std::stoi(rest.substr(slash + 1));
    } catch (const std::exception&) {
      return Fail(ErrorCode::kInvalidArgument, "the Redis URL's database is not a number");
    }
  }
  if (auto colon = hostport.rfind(':'); colon != std::string::npos) {
    try {
      out.port = std::stoi(hostport.substr(colon + 1));
    } catch (const std::exception&) {
      return Fail(ErrorCode::kInvalidArgument, "the Redis URL's port is not a number");
    }
    hostport = hostport.substr(0, colon);
  }
  if (!hostport.empty()) out.host = hostport;
  return out;
}

Result<std::unique_ptr<RedisConnection>> RedisConnection::Connect(const RedisUrl& url) {
  std::unique_ptr<RedisConnection> c(new RedisConnection(url));
  if (auto ok = c->Reconnect(); !ok) return Fail(ok.error());
  return c;
}

RedisConnection::~RedisConnection() {
  if (context_) redisFree(static_cast<redisContext*>(context_));
}

Status RedisConnection::Reconnect() {
  if (context_) redisFree(static_cast<redisContext*>(context_));
  context_ = nullptr;
  redisContext* c = redisConnectWithTimeout(url_.host.c_str(), url_.port, ToTimeval(std::chrono::seconds(5)));
  if (!c || c->err) {
    std::string why = c ? c->errstr : "out of memory";
    if (c) redisFree(c);
    return Fail(ErrorCode::kUnavailable, fmt::format("Redis at {}:{}: {}", url_.host, url_.port, why));
  }
  redisEnableKeepAlive(c);
  context_ = c;
  if (!url_.password.empty()) {
    auto r = Command({"AUTH", url_.password});
    if (!r) return Fail(ErrorCode::kUnavailable, "Redis refused the password in the URL");
  }
  if (url_.db != 0) {
    auto r = Command({"SELECT", std::to_string(url_.db)});
    if (!r) return Fail(r.error());
  }
  return {};
}

Result<RedisReply> RedisConnection::Command(const std::vector<std::string>& args) {
  auto replies = Pipeline({args});
  if (!replies) return Fail(replies.error());
  return std::move(replies->front());
}

Result<std::vector<RedisReply>> RedisConnection::Pipeline(const std::vector<std::vector<std::string>>& commands) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (!context_) {
      if (auto ok = Reconnect(); !ok) return Fail(ok.error());
    }
    auto* c = static_cast<redisContext*>(context_);
    redisSetTimeout(c, ToTimeval(std::chrono::seconds(30)));
    for (const auto& args : commands) {
      std::vector<const char*> argv;
      std::vector<size_t> lens;
      for (const auto& a : args) {
        argv.push_back(a.data());
        lens.push_back(a.size());
      }
      redisAppendCommandArgv(c, static_cast<int>(argv.size()), argv.data(), lens.data());
    }
    std::vector<RedisReply> out;
    bool lost = false;
    for (size_t i = 0; i < commands.size(); ++i) {
      void* raw = nullptr;
      if (redisGetReply(c, &raw) != REDIS_OK) {
        lost = true;
        break;
      }
      out.push_back(Convert(static_cast<redisReply*>(raw)));
      freeReplyObject(raw);
    }
    if (lost) {
      redisFree(c);
      context_ = nullptr;
      continue;  // Reconnect once and resend (every command eden pipelines is safe to repeat).
    }
    for (const auto& r : out) {
      if (r.type == RedisReply::Type::kError) return Fail(ErrorCode::kInvalidArgument, "Redis: " + r.str);
    }
    return out;
  }
  return Fail(ErrorCode::kUnavailable, fmt::format("Redis at {}:{}: connection lost", url_.host, url_.port));
}

Status RedisConnection::Send(const std::vector<std::string>& args) {
  if (!context_) {
    if (auto ok = Reconnect(); !ok) return ok;
  }
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  for (const auto& a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  auto* c = static_cast<redisContext*>(context_);
  redisAppendCommandArgv(c, static_cast<int>(argv.size()), argv.data(), lens.data());
  int done = 0;
  while (!done) {
    if (redisBufferWrite(c, &done) != REDIS_OK) return Fail(ErrorCode::kUnavailable, "Redis: connection lost");
  }
  return {};
}

Result<std::optional<RedisReply>> RedisConnection::Read(std::chrono::milliseconds timeout) {
  if (!context_) return Fail(ErrorCode::kUnavailable, "Redis: not connected");
  auto* c = static_cast<redisContext*>(context_);
  redisSetTimeout(c, ToTimeval(timeout));
  void* raw = nullptr;
  if (redisGetReply(c, &raw) != REDIS_OK) {
    if (c->err == REDIS_ERR_IO && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      c->err = 0;  // A read timeout: nothing arrived. hiredis 0.14 leaves the context usable.
      c->errstr[0] = '\0';
      return std::optional<RedisReply>();
    }
    redisFree(c);
    context_ = nullptr;
    return Fail(ErrorCode::kUnavailable, "Redis: connection lost");
  }
  RedisReply r = Convert(static_cast<redisReply*>(raw));
  freeReplyObject(raw);
  return std::optional<RedisReply>(std::move(r));
}

}  // namespace eden::celery
