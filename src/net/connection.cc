#include "net/connection.h"

#include <sys/socket.h>
#include <uv.h>

#include <cassert>
#include <cerrno>
#include <utility>

#include "base/log.h"
#include "tls/stats.h"

namespace portcullis::net {
namespace {
// After close() has flushed everything: how long to keep discarding the peer's input before
// closing (nginx lingering_timeout is 5 s; a client that has not stopped sending by then is not
// reading our response either).
constexpr uint64_t kLingerMs = 2000;
// While close() waits for pending output to drain: the most a peer that stopped reading can
// hold the socket, restarted on every completed write.
constexpr uint64_t kCloseFlushMs = 30000;
// Plain-TCP reads go straight into the input buffer's tail; at least this much room per read.
constexpr size_t kMinReadRoom = 16 * 1024;

uv_stream_t* asStream(uv_tcp_t* t) { return reinterpret_cast<uv_stream_t*>(t); }
uv_handle_t* asHandle(void* h) { return static_cast<uv_handle_t*>(h); }

// The peer's or the local address of a connected socket (empty storage if the call failed).
Address peerOf(uv_tcp_t* t) {
  Address a;
  int len = sizeof a.storage;
  if (uv_tcp_getpeername(t, reinterpret_cast<sockaddr*>(&a.storage), &len) != 0) a.storage = {};
  return a;
}
Address localOf(uv_tcp_t* t) {
  Address a;
  int len = sizeof a.storage;
  if (uv_tcp_getsockname(t, reinterpret_cast<sockaddr*>(&a.storage), &len) != 0) a.storage = {};
  return a;
}
}  // namespace

Connection::Connection(Loop& loop, ConnectionHandler* handler)
    : loop_(loop),
      handler_(handler),
      tcp_(new uv_tcp_t),
      timer_(new uv_timer_t),
      write_req_(new uv_write_t) {}

Connection::~Connection() = default;

bool Connection::legalTransition(State from, State to) {
  switch (to) {
    case State::New: return false;
    case State::Connecting: return from == State::New;
    case State::AwaitingHello: return from == State::New || from == State::Connecting;
    case State::Handshaking: return from == State::AwaitingHello;
    case State::Open: return from == State::New || from == State::Connecting || from == State::Handshaking;
    case State::Flushing:
    case State::FlushingToLinger: return from >= State::AwaitingHello && from <= State::Open;
    case State::Lingering: return from == State::FlushingToLinger;
    case State::Closed: return from != State::Closed;
  }
  return false;
}

void Connection::setState(State to) {
  assert(legalTransition(state_, to) && "net::Connection: illegal lifecycle transition");
  state_ = to;
}

bool Connection::init() {
  // uv_tcp_init creates no socket (that happens on accept/connect), so it only fails on bugs.
  if (uv_tcp_init(loop_.native(), tcp_.get()) != 0) return false;
  tcp_->data = this;
  ++open_handles_;
  uv_timer_init(loop_.native(), timer_.get());
  timer_->data = this;
  ++open_handles_;
  return true;
}

Connection* Connection::accept(Loop& loop, uv_stream_s* server, ConnectionHandler* handler,
                               std::shared_ptr<const tls::Context> tls) {
  auto* c = new Connection(loop, handler);
  if (!c->init()) {
    delete c;
    return nullptr;
  }
  if (uv_accept(server, asStream(c->tcp_.get())) != 0) return c->discard();
  uv_tcp_nodelay(c->tcp_.get(), 1);
  Address peer = peerOf(c->tcp_.get());
  c->peer_ip_ = peer.ipString();
  c->peer_port_ = peer.port();
  c->local_port_ = localOf(c->tcp_.get()).port();
  c->accepted_ = true;
  if (tls) {
    auto engine = tls::Engine::forServer(std::move(tls));
    if (!engine) {
      base::log::warn("tls: cannot create session: ", engine.error().message);
      return c->discard();
    }
    c->tls_ = std::make_unique<tls::Engine>(std::move(*engine));
  }
  c->setState(c->tls_ ? State::AwaitingHello : State::Open);
  return c;
}

Connection* Connection::connect(Loop& loop, const Address& to, ConnectionHandler* handler,
                                uint64_t timeout_ms, std::shared_ptr<const tls::ClientContext> tls,
                                std::string sni) {
  auto* c = new Connection(loop, handler);
  if (!c->init()) {
    delete c;
    return nullptr;
  }
  c->client_tls_ = std::move(tls);
  c->sni_ = std::move(sni);
  c->connect_req_ = std::make_unique<uv_connect_t>();
  c->connect_req_->data = c;
  c->setState(State::Connecting);
  int rc = uv_tcp_connect(c->connect_req_.get(), c->tcp_.get(), to.sa(), &Connection::onConnect);
  if (rc != 0) return c->discard();
  c->setTimeout(timeout_ms);
  return c;
}

void Connection::onConnect(uv_connect_t* req, int status) {
  auto* c = static_cast<Connection*>(req->data);
  if (c->state_ != State::Connecting) return;  // cancelled by close()/abort(); the handler knows
  c->clearTimeout();
  if (status != 0) {
    c->failConnect(status);
    return;
  }
  uv_tcp_nodelay(c->tcp_.get(), 1);
  c->peer_ip_ = peerOf(c->tcp_.get()).ipString();
  if (c->client_tls_) {
    auto engine = tls::Engine::forClient(std::move(c->client_tls_), c->sni_);
    if (!engine) {
      base::log::warn("tls to upstream ", c->sni_, ": ", engine.error().message);
      c->failConnect(-1);
      return;
    }
    c->tls_ = std::make_unique<tls::Engine>(std::move(*engine));
    c->tls_->drainCiphertext(c->wire_);  // the ClientHello (moved, not copied: wire_ is empty)
  }
  c->setState(c->tls_ ? State::AwaitingHello : State::Open);
  c->startReading();
  c->handler_->onConnected(*c, 0);
  if (!c->closing()) c->flush();  // anything written while connecting
}

void Connection::startReading() {
  if (reading_ || eof_ || paused_) return;
  if (uv_read_start(asStream(tcp_.get()), &Connection::onAlloc, &Connection::onRead) == 0) reading_ = true;
}

void Connection::pauseReading() {
  paused_ = true;
  if (reading_ && state_ != State::Lingering) {  // lingering must read on: nobody else will
    uv_read_stop(asStream(tcp_.get()));
    reading_ = false;
  }
}

void Connection::resumeReading() {
  if (!paused_) return;
  paused_ = false;
  if (connected()) startReading();
}

void Connection::onAlloc(uv_handle_t* h, size_t, uv_buf_t* buf) {
  auto* c = static_cast<Connection*>(h->data);
  if (c->tls_ || c->state_ == State::Lingering) {
    // TLS: the engine is done with the bytes when handleTlsInput returns (a partial record
    // waits in BoringSSL's own read buffer), so an idle TLS connection holds no ciphertext
    // buffer.
    buf->base = c->loop_.scratch();
    buf->len = Loop::kScratchSize;
    return;
  }
  c->input_.reserveTail(kMinReadRoom);
  buf->base = c->input_.tail();
  buf->len = c->input_.tailRoom();
}

void Connection::onRead(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
  static_cast<Connection*>(s->data)->onReadable(nread, buf);
}

void Connection::onReadable(long nread, const uv_buf_t* buf) {
  if (nread == 0) return;  // EAGAIN
  if (state_ == State::Lingering) {
    if (nread < 0) closeHandles();  // EOF or error: the peer is done, close now
    return;
  }
  if (closing()) return;
  if (nread > 0) {
    if (tls_) {
      handleTlsInput(buf->base, static_cast<size_t>(nread));
    } else {
      input_.commit(static_cast<size_t>(nread));
      handler_->onData(*this);
    }
    return;
  }
  if (nread == UV_EOF) {
    onPeerEof();
    return;
  }
  abort(CloseReason::PeerReset);
}

void Connection::handleTlsInput(const char* data, size_t len) {
  size_t before = input_.size();
  // BoringSSL reads the records straight from `data` (the loop's scratch) and decrypts into
  // input_; handshake messages and alerts land in wire_, to go out whatever happened.
  if (state_ == State::AwaitingHello) setState(State::Handshaking);
  base::Result<size_t> got = tls_->feed(std::string_view(data, len), input_, wire_);
  if (!got) {
    base::log::debug("tls: ", got.error().message);
    // Best effort: let the peer see the alert. uv_try_write, not trySend: it refuses to write
    // while a uv_write is in flight, which keeps the bytes in order.
    if (!wire_.empty()) {
      uv_buf_t b = uv_buf_init(wire_.data(), static_cast<unsigned>(wire_.size()));
      uv_try_write(asStream(tcp_.get()), &b, 1);
    }
    abort(CloseReason::TlsError);
    return;
  }
  startWrite();
  if (closing()) return;
  if (state_ == State::Handshaking && tls_->handshakeDone()) {
    setState(State::Open);
    if (accepted_) tls_info_ = std::make_unique<base::TlsInfo>(tls_->info());
    handler_->onHandshakeDone(*this);
    if (closing()) return;
  }
  if (input_.size() > before) {
    handler_->onData(*this);
    if (closing()) return;
  }
  if (tls_->peerClosed() && !eof_) onPeerEof();
}

void Connection::onPeerEof() {
  eof_ = true;
  uv_read_stop(asStream(tcp_.get()));
  reading_ = false;
  handler_->onEof(*this);
}

size_t Connection::pendingBytes() const { return staging_.size() + wire_.size() + inflight_.size(); }

bool Connection::sealStaged() {
  if (staging_.empty()) return true;
  bytes_out_ += staging_.size();
  bool ok = tls_->writePlaintext(staging_.view(), wire_).ok();  // records straight into wire_
  staging_.clear();
  return ok;
}

void Connection::encryptNow(std::string_view bytes) {
  if (tls_write_failed_ || state_ == State::Closed) return;
  // Staged bytes go first to keep the order, then the caller's, both straight into wire_. A
  // failure cannot close the connection here, in the middle of the caller's work: flush() does.
  bytes_out_ += bytes.size();
  if (!sealStaged() || !tls_->writePlaintext(bytes, wire_).ok()) tls_write_failed_ = true;
}

void Connection::flush() {
  if (state_ == State::Closed) return;
  if (tls_write_failed_) {
    abort(CloseReason::TlsError);
    return;
  }
  if (tls_ && !sealStaged()) {
    abort(CloseReason::TlsError);
    return;
  }
  if (pendingBytes() > kHighWatermark) was_above_high_ = true;
  startWrite();
}

// What uv_try_write does (startWrite calls this only with no uv_write in flight, the connect
// done and the handle open), but with send(2) rather than write(2): on a socket the result is
// the same, minus the VFS layer, ~0.1 µs a call in perf on this kernel (a keep-alive request
// makes two). Returns bytes sent, 0 when the socket buffer is full, or a libuv error code.
long Connection::trySend(const char* data, size_t len) {
  uv_os_fd_t fd = -1;
  if (int rc = uv_fileno(asHandle(tcp_.get()), &fd); rc != 0) return rc;
  ssize_t n;
  do {
    n = ::send(fd, data, len, MSG_DONTWAIT | MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  if (n >= 0) return n;
  if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
  return uv_translate_sys_error(errno);
}

void Connection::startWrite() {
  if (writing_ || state_ == State::Connecting || state_ == State::Closed) return;
  if (!tls_) {
    // Plain TCP: the caller appended to wire_ itself; what is new since the last count is its tail.
    bytes_out_ += wire_.size() - wire_counted_;
    wire_counted_ = wire_.size();
  }
  if (!wire_.empty()) {
    // Most writes fit in the socket buffer: write synchronously and queue nothing.
    long n = trySend(wire_.data(), wire_.size());
    if (n > 0) {
      wire_.consume(static_cast<size_t>(n));
      wire_counted_ = wire_.size();
    } else if (n < 0) {
      abort(CloseReason::PeerReset);
      return;
    }
    if (!wire_.empty()) {
      // Ping-pong: the bytes move to inflight_, which uv_write reads until onWrite; new output
      // accumulates in wire_ (whose old storage is reused) meanwhile.
      inflight_.swap(wire_);
      wire_counted_ = wire_.size();
      uv_buf_t b = uv_buf_init(inflight_.data(), static_cast<unsigned>(inflight_.size()));
      write_req_->data = this;
      writing_ = true;
      if (uv_write(write_req_.get(), asStream(tcp_.get()), &b, 1, &Connection::onWrite) != 0) {
        writing_ = false;
        abort(CloseReason::PeerReset);
      }
      return;
    }
  }
  // Everything handed to the kernel: this is where drain and close-after-flush progress,
  // whether the last bytes went synchronously or through uv_write.
  onWriteDone();
}

void Connection::onWrite(uv_write_t* req, int status) {
  auto* c = static_cast<Connection*>(req->data);
  c->writing_ = false;
  c->inflight_.clear();
  if (status == UV_ECANCELED) return;  // handle closing
  if (status < 0) {
    c->abort(CloseReason::PeerReset);
    return;
  }
  if (c->flushing()) c->setTimeout(kCloseFlushMs);
  c->startWrite();
}

void Connection::onWriteDone() {
  if (closing()) {  // the handler is gone: no onDrained; a close waiting for this goes on
    if (flushing() && pendingBytes() == 0) linger();
    return;
  }
  if (write_shut_ && !fin_sent_ && pendingBytes() == 0) {
    sendFin();
    if (closing()) return;
  }
  if (was_above_high_ && pendingBytes() <= kLowWatermark) {
    was_above_high_ = false;
    handler_->onDrained(*this);
  }
}

// Timeouts are reset on every request, on both connections, and almost always moved later
// (idle -> header -> response -> idle). Each uv_timer_start/stop is a removal and insertion in
// the loop's timer heap, ~2 % of a keep-alive request's CPU in perf; so the libuv timer stays
// armed for the earliest deadline it was given, a later deadline only updates deadline_, and a
// timer that fires early re-arms itself for the rest. clearTimeout() only forgets the deadline:
// the armed timer then fires once for nothing.
void Connection::setTimeout(uint64_t ms) {
  if (state_ == State::Closed) return;
  deadline_ = loop_.nowMs() + ms;
  if (timer_due_ != 0 && timer_due_ <= deadline_) return;
  uv_timer_start(timer_.get(), &Connection::onTimer, ms, 0);
  timer_due_ = deadline_;
}

void Connection::clearTimeout() { deadline_ = 0; }

void Connection::onTimer(uv_timer_t* t) {
  auto* c = static_cast<Connection*>(t->data);
  c->timer_due_ = 0;
  if (c->deadline_ == 0) return;  // cleared since it was armed
  uint64_t now = c->loop_.nowMs();
  if (now < c->deadline_) {  // moved later since it was armed
    uv_timer_start(c->timer_.get(), &Connection::onTimer, c->deadline_ - now, 0);
    c->timer_due_ = c->deadline_;
    return;
  }
  c->deadline_ = 0;
  c->fireTimeout();
}

void Connection::fireTimeout() {
  if (closing()) {  // close-flush or linger deadline
    closeHandles();
    return;
  }
  if (state_ == State::Connecting) {
    failConnect(UV_ETIMEDOUT);
    return;
  }
  handler_->onTimeout(*this);
}

void Connection::close(bool with_linger) {
  if (closing()) return;
  State was = state_;
  if (was == State::Connecting) {  // nothing was sent, nothing to flush
    closeHandles();
    notifyClose(CloseReason::Local, was);
    return;
  }
  // Bytes we never read, here or still in the kernel, would turn our close into an RST.
  bool unread = with_linger || !input_.empty() || paused_;
  setState(unread ? State::FlushingToLinger : State::Flushing);
  // The handler hears onClose now and is done with us; the flush below finishes without it.
  notifyClose(CloseReason::Local, was);
  if (tls_ && !write_shut_) {
    // Encrypt what the handler wrote but did not flush before close_notify: after shutdown()
    // the engine refuses application data.
    (void)sealStaged();
    tls_->shutdown(wire_);
  }
  setTimeout(kCloseFlushMs);
  startWrite();
  if (pendingBytes() == 0 && flushing()) linger();
}

// Flushing is done: Closed, or half-closed Lingering when the peer may still be sending.
void Connection::linger() {
  if (eof_ || state_ != State::FlushingToLinger) {
    closeHandles();
    return;
  }
  // Half-close so the peer sees the end of our response, then drain its input until it closes
  // or the linger deadline passes. (After shutdownWrite the FIN is already on its way, and its
  // request still in libuv's hands.)
  if (!fin_sent_ && !requestFin()) {
    closeHandles();
    return;
  }
  setState(State::Lingering);
  setTimeout(kLingerMs);
  paused_ = false;
  startReading();  // eof_ is false here: the input is drained and discarded until the deadline
}

void Connection::shutdownWrite() {
  if (state_ != State::Open || write_shut_) return;
  write_shut_ = true;
  if (tls_) {
    // What the handler wrote goes before close_notify: after shutdown() the engine takes no
    // more application data.
    if (!sealStaged()) {
      abort(CloseReason::TlsError);
      return;
    }
    tls_->shutdown(wire_);
  }
  startWrite();  // ends in onWriteDone, which sends the FIN once everything is out
}

void Connection::sendFin() {
  if (state_ == State::Open && !requestFin()) abort(CloseReason::Error);
}

bool Connection::requestFin() {
  fin_sent_ = true;
  shutdown_req_ = std::make_unique<uv_shutdown_t>();
  shutdown_req_->data = this;
  return uv_shutdown(shutdown_req_.get(), asStream(tcp_.get()), &Connection::onShutdown) == 0;
}

// An outgoing connection that will never connect: onConnected(failure) is its last word.
void Connection::failConnect(int status) {
  ConnectionHandler* h = std::exchange(handler_, nullptr);
  closeHandles();
  if (h) h->onConnected(*this, status);
}

// Set-up failed before any handler heard of the connection: close the handles quietly.
Connection* Connection::discard() {
  closeHandles();
  return nullptr;
}

void Connection::onShutdown(uv_shutdown_t* req, int status) {
  auto* c = static_cast<Connection*>(req->data);
  if (status >= 0 || status == UV_ECANCELED) return;
  // A failed half-close (shutdownWrite) on an open connection is a reset the handler must hear.
  if (c->live()) c->abort(CloseReason::PeerReset);
  else c->closeHandles();
}

// Handles first, then the handler: during onClose the connection is already Closed, so whatever
// the handler calls on it (close, flush, setTimeout) is a no-op.
void Connection::abort(CloseReason why) {
  if (state_ == State::Closed) return;
  State was = state_;
  closeHandles();
  if (was < State::Flushing) notifyClose(why, was);  // else close() told the handler already
}

// `was`: the state the close came from, which says how far a TLS handshake got.
void Connection::notifyClose(CloseReason why, State was) {
  // The engine counts the handshakes it failed (TlsError); these two end outside it. A peer
  // that connects and leaves without a byte (an L4 health probe) is no failed handshake.
  if (why == CloseReason::Timeout && (was == State::AwaitingHello || was == State::Handshaking))
    tls::countHandshakeFailure(accepted_, tls::HandshakeFailure::Timeout);
  else if (was == State::Handshaking && (why == CloseReason::PeerReset || eof_))
    tls::countHandshakeFailure(accepted_, tls::HandshakeFailure::Abandoned);
  ConnectionHandler* h = std::exchange(handler_, nullptr);
  if (h) h->onClose(*this, why);
}

void Connection::closeHandles() {
  if (state_ == State::Closed) return;
  setState(State::Closed);
  uv_close(asHandle(timer_.get()), &Connection::onHandleClosed);
  uv_close(asHandle(tcp_.get()), &Connection::onHandleClosed);
}

void Connection::onHandleClosed(uv_handle_t* h) {
  auto* c = static_cast<Connection*>(h->data);
  if (--c->open_handles_ == 0) delete c;
}

void Connection::releaseIdleMemory() {
  input_.release();
  staging_.release();
  wire_.release();
  wire_counted_ = wire_.size();
  if (!writing_) inflight_.release();
  if (tls_) tls_->releaseBuffers();
}

}  // namespace portcullis::net
