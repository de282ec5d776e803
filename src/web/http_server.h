#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/result.h"
#include "web/access.h"

namespace eden::web {

struct HttpRequest {
  std::string path;
  std::map<std::string, std::string> params;  ///< Query parameters.
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

using Handler = std::function<HttpResponse(const HttpRequest&)>;

struct ServerOptions {
  std::string address = "127.0.0.1";
  int port = 0;  ///< 0: any free port (port() says which).
  /// When set, every path but `open_paths` answers 401 with a Basic challenge unless the request
  /// carries these credentials.
  Credentials credentials;
  std::vector<std::string> open_paths;
};

/// A small HTTP/1.1 server for GET routes, on its own threads. Each response carries
/// `Cache-Control: no-store` and `X-Content-Type-Options: nosniff`; unknown paths get 404.
/// A handler that throws answers 500 (the server goes on).
class HttpServer {
 public:
  /// Binds and starts serving; kUnavailable if the address cannot be bound.
  static Result<std::unique_ptr<HttpServer>> Start(const ServerOptions& options, std::map<std::string, Handler> routes);
  virtual ~HttpServer() = default;
  virtual int port() const = 0;
  /// Stops serving (also done by the destructor); requests in progress finish.
  virtual void Stop() = 0;
};

}  // namespace eden::web
