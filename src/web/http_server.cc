#include "web/http_server.h"

#include <sys/socket.h>

#include <chrono>
#include <thread>

#include <fmt/format.h>
#include <httplib.h>

namespace eden::web {
namespace {

class HttplibServer final : public HttpServer {
 public:
  HttplibServer(const ServerOptions& options, std::map<std::string, Handler> routes)
      : options_(options), routes_(std::move(routes)) {}
  ~HttplibServer() override { Stop(); }

  Status Listen() {
    // SO_REUSEADDR only: cpp-httplib's default adds SO_REUSEPORT, with which a second eden on the
    // same port would bind too and take half the scrapes.
    server_.set_socket_options([](socket_t sock) {
      int yes = 1;
      ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    });
    server_.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
      res.set_header("Cache-Control", "no-store");
      res.set_header("X-Content-Type-Options", "nosniff");
      if (options_.credentials.empty()) return httplib::Server::HandlerResponse::Unhandled;
      for (const auto& open : options_.open_paths) {
        if (req.path == open) return httplib::Server::HandlerResponse::Unhandled;
      }
      if (BasicAuthMatches(req.get_header_value("Authorization"), options_.credentials)) {
        return httplib::Server::HandlerResponse::Unhandled;
      }
      res.status = 401;
      res.set_header("WWW-Authenticate", "Basic realm=\"eden\", charset=\"UTF-8\"");
      res.set_content("401 unauthorized: this page needs the dashboard's user and password\n",
                      "text/plain; charset=utf-8");
      return httplib::Server::HandlerResponse::Handled;
    });
    for (const auto& [path, handler] : routes_) {
      server_.Get(path, [&handler = handler, path = path](const httplib::Request& req, httplib::Response& res) {
        HttpRequest r{path, {}};
        for (const auto& [k, v] : req.params) r.params.emplace(k, v);
        HttpResponse answer;
        try {
          answer = handler(r);
        } catch (const std::exception& e) {
          answer = {500, "text/plain; charset=utf-8", fmt::format("500 internal error: {}\n", e.what())};
        }
        res.status = answer.status;
        res.set_content(answer.body, answer.content_type);
      });
    }
    const int port = options_.port == 0 ? server_.bind_to_any_port(options_.address)
                                        : (server_.bind_to_port(options_.address, options_.port) ? options_.port : -1);
    if (port <= 0) {
      return Fail(ErrorCode::kUnavailable, fmt::format("cannot listen on {}:{}", options_.address, options_.port));
    }
    port_ = port;
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    // stop() only reaches a server that is accepting: wait for that, so Stop never hangs.
    for (int i = 0; i < 500 && !server_.is_running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    return {};
  }

  int port() const override { return port_; }

  void Stop() override {
    if (!thread_.joinable()) return;
    server_.stop();
    thread_.join();
  }

 private:
  ServerOptions options_;
  std::map<std::string, Handler> routes_;
  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
};

}  // namespace

Result<std::unique_ptr<HttpServer>> HttpServer::Start(const ServerOptions& options,
                                                      std::map<std::string, Handler> routes) {
  auto server = std::make_unique<HttplibServer>(options, std::move(routes));
  if (auto ok = server->Listen(); !ok) return Fail(ok.error());
  return std::unique_ptr<HttpServer>(std::move(server));
}

}  // namespace eden::web
