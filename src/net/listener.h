#pragma once
// A listening socket on one worker's loop. The socket itself is created and bound by the
// server (bindReusePort) so bind errors surface before any worker starts; the listener adopts
// it with uv_tcp_open (libuv 1.44 has no UV_TCP_REUSEPORT).
#include <functional>
#include <memory>

#include "base/result.h"
#include "net/connection.h"
#include "net/loop.h"

struct uv_tcp_s;
struct uv_stream_s;
struct uv_handle_s;

namespace portcullis::net {

class Listener {
 public:
  // Called for each accepted connection; returns the handler that will own it, which must
  // outlive the connection's onClose.
  using AcceptFn = std::function<ConnectionHandler*(Connection&)>;
  // Takes ownership of `fd`. Heap-only, self-deleting after close().
  static base::Result<Listener*> adopt(Loop& loop, int fd, std::shared_ptr<const tls::Context> tls,
                                       AcceptFn on_accept, int backlog = 1024);
  void close();
  // Loop thread only. Connections accepted from now on handshake with `tls`; established ones
  // keep the context they started with (their engine holds it).
  void setTls(std::shared_ptr<const tls::Context> tls) { tls_ = std::move(tls); }

 private:
  explicit Listener(Loop& loop);  // out of line: members are incomplete uv types here
  ~Listener();
  static void onConnection(uv_stream_s* s, int status);
  static void onClosed(uv_handle_s* h);

  Loop& loop_;
  std::unique_ptr<uv_tcp_s> tcp_;
  std::shared_ptr<const tls::Context> tls_;
  AcceptFn on_accept_;
  bool closing_ = false;
};

}  // namespace portcullis::net
