#pragma once
// The admin listener: plain HTTP/1.1 on the control loop (never on a worker), GET only, one
// request per connection (Connection: close). /metrics, /healthz and /clusters; what they say
// comes from the server layer through Handlers, so this layer knows nothing of workers.
#include <functional>
#include <string>
#include <unordered_set>

#include "base/result.h"
#include "net/listener.h"
#include "net/loop.h"

namespace portcullis::admin {

struct Handlers {
  std::function<std::string()> metrics;   // text exposition format 0.0.4
  std::function<std::string()> clusters;  // JSON
  std::function<bool()> draining;         // /healthz: 503 once true
};

struct Response {
  int status = 200;
  std::string content_type;
  std::string body;
};

// The answer for `method` and `target` (query ignored), for the server and for unit tests.
Response respond(const Handlers& h, std::string_view method, std::string_view target);

class AdminServer {
 public:
  AdminServer(net::Loop& loop, Handlers handlers) : loop_(loop), handlers_(std::move(handlers)) {}
  ~AdminServer();  // close()
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  // Loop thread. Takes ownership of the bound, listening `fd`.
  base::Result<void> start(int fd);
  // Loop thread. Stops listening and aborts connections still open.
  void close();

 private:
  class Conn;
  friend class Conn;
  net::Loop& loop_;
  Handlers handlers_;
  net::Listener* listener_ = nullptr;
  std::unordered_set<Conn*> conns_;
};

}  // namespace portcullis::admin
