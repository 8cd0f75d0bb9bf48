#include "admin/admin_server.h"

#include <utility>

#include "admin/exposition.h"
#include "http/parser.h"

namespace portcullis::admin {
namespace {

// A scrape is one small request; a client that takes longer than this is gone or hostile.
constexpr uint64_t kRequestTimeoutMs = 10'000;
constexpr http::ParserLimits kLimits{4 * 1024, 16 * 1024, 64};

const char* reasonFor(int status) {
  switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 503: return "Service Unavailable";
    default: return "Error";
  }
}

Response text(int status, std::string body) {
  return Response{status, "text/plain; charset=utf-8", std::move(body)};
}

}  // namespace

Response respond(const Handlers& h, std::string_view method, std::string_view target) {
  std::string_view path = target.substr(0, target.find('?'));
  bool known = path == "/metrics" || path == "/healthz" || path == "/clusters";
  if (!known) return text(404, "not found\n");
  // Read-only: nothing here changes state, so only GET (and HEAD, which curl -I sends).
  if (method != "GET" && method != "HEAD") return text(405, "only GET\n");
  if (path == "/healthz") {
    // An L4 balancer polls this: 503 as soon as the drain starts, while in-flight requests
    // still finish, so it stops sending new connections before the listeners close.
    if (h.draining && h.draining()) return text(503, "draining\n");
    return text(200, "ok\n");
  }
  if (path == "/metrics") return Response{200, std::string(kExpositionContentType), h.metrics ? h.metrics() : ""};
  return Response{200, "application/json", h.clusters ? h.clusters() : "{}"};
}

class AdminServer::Conn final : public net::ConnectionHandler {
 public:
  Conn(AdminServer& server, net::Connection& c) : server_(&server), conn_(&c), parser_(kLimits) {
    server.conns_.insert(this);
    c.setTimeout(kRequestTimeoutMs);
  }

  void onData(net::Connection& c) override {
    if (answered_) return;
    http::RequestHead head;
    std::string_view in = c.input().view();
    switch (parser_.parse(in, head)) {
      case http::ParseStatus::NeedMore: return;
      case http::ParseStatus::Error: reply(c, text(400, std::string(parser_.errorDetail()) + "\n"), false); return;
      case http::ParseStatus::Complete: break;
    }
    reply(c, respond(server_->handlers_, head.method_text, head.target), head.method_text == "HEAD");
  }
  void onEof(net::Connection& c) override {
    if (!answered_) c.close();
  }
  void onTimeout(net::Connection& c) override { c.abort(net::CloseReason::Timeout); }
  void onClose(net::Connection&, net::CloseReason) override {
    if (server_) server_->conns_.erase(this);
    delete this;
  }
  // Server shutdown: forget the server, then drop the connection (onClose deletes this).
  void abandon() {
    server_ = nullptr;
    conn_->abort();
  }

 private:
  void reply(net::Connection& c, const Response& r, bool head_only) {
    answered_ = true;
    std::string out = "HTTP/1.1 " + std::to_string(r.status) + " " + reasonFor(r.status) + "\r\n";
    out += "Content-Type: " + r.content_type + "\r\n";
    out += "Content-Length: " + std::to_string(r.body.size()) + "\r\n";
    out += "Cache-Control: no-store\r\nConnection: close\r\n";
    if (r.status == 405) out += "Allow: GET, HEAD\r\n";
    out += "\r\n";
    if (!head_only) out += r.body;
    c.write(out);
    c.close(/*with_linger=*/true);
  }

  AdminServer* server_;
  net::Connection* conn_;
  http::RequestParser parser_;
  bool answered_ = false;
};

AdminServer::~AdminServer() { close(); }

base::Result<void> AdminServer::start(int fd) {
  auto l = net::Listener::adopt(loop_, fd, nullptr, [this](net::Connection& c) -> net::ConnectionHandler* {
    return new Conn(*this, c);
  });
  if (!l) return l.error();
  listener_ = *l;
  return {};
}

void AdminServer::close() {
  if (listener_) std::exchange(listener_, nullptr)->close();
  // Each abandon() ends in onClose, which deletes the Conn: walk a copy.
  auto conns = std::move(conns_);
  conns_.clear();
  for (Conn* c : conns) c->abandon();
}

}  // namespace portcullis::admin
