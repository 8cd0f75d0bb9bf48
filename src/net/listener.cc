#include "net/listener.h"

#include <unistd.h>
#include <uv.h>

#include <cstring>

#include "base/log.h"

namespace portcullis::net {

base::Result<Listener*> Listener::adopt(Loop& loop, int fd, std::shared_ptr<const tls::Context> tls,
                                        AcceptFn on_accept, int backlog) {
  auto* l = new Listener(loop);
  l->tcp_ = std::make_unique<uv_tcp_t>();
  l->tls_ = std::move(tls);
  l->on_accept_ = std::move(on_accept);
  uv_tcp_init(loop.native(), l->tcp_.get());
  l->tcp_->data = l;
  int rc = uv_tcp_open(l->tcp_.get(), fd);
  if (rc == 0) rc = uv_listen(reinterpret_cast<uv_stream_t*>(l->tcp_.get()), backlog, &Listener::onConnection);
  if (rc != 0) {
    l->close();
    return base::makeError(std::string("listen: ") + uv_strerror(rc));
  }
  return l;
}

Listener::Listener(Loop& loop) : loop_(loop) {}
Listener::~Listener() = default;

void Listener::close() {
  if (closing_) return;
  closing_ = true;
  uv_close(reinterpret_cast<uv_handle_t*>(tcp_.get()), &Listener::onClosed);
}

void Listener::onClosed(uv_handle_t* h) { delete static_cast<Listener*>(h->data); }

void Listener::onConnection(uv_stream_t* s, int status) {
  auto* self = static_cast<Listener*>(s->data);
  if (status < 0) {
    // EMFILE and friends: log and carry on; libuv retries on the next readiness.
    base::log::warn("accept: ", uv_strerror(status));
    return;
  }
  Connection* c = Connection::accept(self->loop_, s, nullptr, self->tls_);
  if (!c) return;
  ConnectionHandler* h = self->on_accept_(*c);
  if (!h) {
    c->abort();
    return;
  }
  c->setHandler(h);
  c->startReading();
}

}  // namespace portcullis::net
