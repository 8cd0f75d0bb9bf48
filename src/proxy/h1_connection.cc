#include "proxy/h1_connection.h"

#include "base/log.h"
#include "http/date.h"
#include "http/serializer.h"
#include "proxy/h2_connection.h"
#include "proxy/request_stats.h"

namespace portcullis::proxy {

namespace {
// Request bytes buffered while the upstream connection is still being set up, and pipelined
// requests buffered behind one in progress: past this the client is not read until we catch up.
constexpr size_t kMaxBufferedInput = 64 * 1024;

// Per-worker connection numbers for the log (a connection never leaves its worker's thread).
thread_local uint64_t t_connection_ids = 0;
}  // namespace

H1Connection::H1Connection(WorkerContext& worker, net::Connection& downstream, const ListenerInfo& listener)
    : worker_(worker),
      gen_(worker.current()),
      rt_(gen_->runtime.get()),
      listener_(listener),
      down_(&downstream),
      exchange_(worker, *this),
      req_parser_(rt_->parser_limits) {
  facts_.listener = &listener_;
  facts_.client_ip = down_->peerIp();
  facts_.client_port = down_->peerPort();
  facts_.local_port = down_->localPort();
  facts_.tls = down_->tlsInfo();
  facts_.connection_id = ++t_connection_ids;
  worker_.add(this, listener_);
  // A TLS connection's protocol is known once ALPN has chosen it, at the end of the handshake.
  if (!listener_.tls) worker_.countAccepted(this, kHttp11);
  idle_since_ms_ = worker_.loop().nowMs();
  armTimer();
}

H1Connection::~H1Connection() = default;

// ---------------------------------------------------------------------------------------------
// Downstream events

void H1Connection::onData(net::Connection&) {
  if (req_state_ == ReqState::Body) {
    armTimer();  // client_body is a gap between reads, not a total
  }
  // Bytes of the next request(s) while this one is in progress: hold a bounded amount.
  // (A buffered body is moved out of the input as it arrives, so it never needs this.)
  if ((req_state_ == ReqState::Done || (req_state_ == ReqState::Body && !exchange_.takesBody())) &&
      down_->input().size() > kMaxBufferedInput) {
    down_->pauseReading();
  }
  processInput();
}

void H1Connection::onEof(net::Connection&) {
  if (req_state_ == ReqState::Tunnel) {
    exchange_.onTunnelEof();  // passed on as a half-close
    return;
  }
  // A client may half-close after sending a complete request (RFC 9112 §9.6): answer it, then
  // close. Anything else (idle, partial head, partial body) ends the connection now.
  if (req_state_ == ReqState::Done && exchange_.inFlight()) {
    close_after_ = true;
    return;
  }
  if (req_state_ == ReqState::Idle || req_state_ == ReqState::Head) {
    // A complete pipelined request may still sit in the buffer unparsed.
    close_after_ = true;
    if (!down_->input().empty() && !exchange_.inFlight()) {
      processInput();
      // A request that got going finishes first; a head still incomplete never will.
      if (dead_ || req_state_ == ReqState::Body || req_state_ == ReqState::Done) return;
    }
    if (!dead_ && req_state_ == ReqState::Idle && !exchange_.inFlight()) down_->close();
    else if (!dead_ && req_state_ == ReqState::Head) down_->abort();
    return;
  }
  down_->abort();
}

void H1Connection::onDrained(net::Connection&) { exchange_.onDownstreamDrained(); }

void H1Connection::onTimeout(net::Connection&) {
  switch (req_state_) {
    case ReqState::Idle:
    case ReqState::Head:
      // Idle keep-alive or a head that did not arrive in time (slowloris): close without an
      // answer, as nginx does; a 408 to a client that is not reading helps nobody.
      if (exchange_.recordOpen()) exchange_.onDownstreamTimeout();
      down_->abort(net::CloseReason::Timeout);
      return;
    case ReqState::Body:
      exchange_.onDownstreamTimeout();
      if (!response_started_) {
        // The body stopped coming: 408, and close (lingering: the rest may still arrive).
        exchange_.fail(ErrorKind::ClientTimeout);
        return;
      }
      down_->abort(net::CloseReason::Timeout);
      return;
    case ReqState::Tunnel:
      exchange_.onTunnelIdle();
      return;
    case ReqState::Done:
      // Send timeout: the client stopped reading the response.
      exchange_.onDownstreamTimeout();
      down_->abort(net::CloseReason::Timeout);
      return;
  }
}

void H1Connection::onHandshakeDone(net::Connection&) {
  handshake_done_ = true;
  facts_.tls = down_->tlsInfo();
  if (facts_.tls && facts_.tls->alpn == "h2") {
    handOverToH2();
    return;
  }
  worker_.countAccepted(this, kHttp11);
  if (req_state_ == ReqState::Idle) armTimer();  // now client_header for the first head
}

void H1Connection::onClose(net::Connection& c, net::CloseReason) {
  bytes_out_at_close_ = c.bytesOut();
  down_ = nullptr;
  exchange_.onDownstreamClosed();
  teardown();
}

void H1Connection::handOverToH2() {
  // Nothing has been read yet (the handshake just ended), so there is no request to move: the
  // exchange is idle and the connection is not counted as HTTP/1.1.
  net::Connection* down = std::exchange(down_, nullptr);
  dead_ = true;
  exchange_.teardown();
  worker_.remove(this);
  auto* h2 = new H2Connection(worker_, *down, listener_, facts_.connection_id);
  down->setHandler(h2);
  worker_.loop().deferDelete(std::unique_ptr<net::Deletable>(this));
  h2->start();
}

void H1Connection::drain() {
  if (dead_) return;
  if (req_state_ == ReqState::Idle && !exchange_.inFlight() && down_->input().empty()) {
    down_->close();
  } else {
    close_after_ = true;
  }
}

bool H1Connection::releaseIfIdle(uint64_t idle_before_ms) {
  if (!dead_ && down_ && req_state_ == ReqState::Tunnel) return releaseQuietTunnel(idle_before_ms);
  if (dead_ || !down_ || req_state_ != ReqState::Idle || exchange_.inFlight()) return false;
  if (!down_->input().empty() || idle_since_ms_ > idle_before_ms || released_) return false;
  released_ = true;
  releaseBuffers();
  return true;
}

void H1Connection::releaseBuffers() {
  down_->releaseIdleMemory();
  // The header vector keeps the capacity of the largest message seen (~32 bytes a header);
  // a connection waiting for its next byte does not need it.
  std::vector<http::Header>().swap(req_.headers);
  exchange_.releaseIdleMemory();
}

bool H1Connection::releaseQuietTunnel(uint64_t quiet_before_ms) {
  // Once per quiet period: the next byte either way moves tunnelActiveAt past the mark.
  if (exchange_.tunnelActiveAt() > quiet_before_ms || tunnel_released_at_ == exchange_.tunnelActiveAt()) return false;
  if (!down_->input().empty() || down_->pendingBytes() != 0 || !exchange_.releaseTunnelUpstream()) return false;
  tunnel_released_at_ = exchange_.tunnelActiveAt();
  releaseBuffers();
  return true;
}

void H1Connection::abort() {
  if (!dead_ && down_) down_->abort();
}

void H1Connection::reset() {
  if (!dead_ && down_) down_->abort(net::CloseReason::Error);
}

void H1Connection::teardown() {
  if (dead_) return;
  dead_ = true;
  exchange_.teardown();
  if (down_) {
    net::Connection* down = std::exchange(down_, nullptr);
    down->setHandler(nullptr);
    down->abort();
  }
  worker_.remove(this);
  worker_.loop().deferDelete(std::unique_ptr<net::Deletable>(this));
}

// ---------------------------------------------------------------------------------------------
// Request side

void H1Connection::processInput() {
  if (in_process_ || dead_) return;
  in_process_ = true;
  while (!dead_) {
    if (req_state_ == ReqState::Idle || req_state_ == ReqState::Head) {
      if (exchange_.inFlight()) break;  // pipelined: wait for the response in flight
      base::Buffer& in = down_->input();
      if (in.empty()) break;
      if (req_state_ == ReqState::Idle) {
        refreshGeneration();
        exchange_.begin(gen_);
        req_state_ = ReqState::Head;
        armTimer();  // client_header runs from the first byte, not per read
      }
      http::ParseStatus st = req_parser_.parse(in.view(), req_);
      if (st == http::ParseStatus::NeedMore) break;
      if (st == http::ParseStatus::Error) {
        base::log::debug("bad request from ", down_->peerIp(), ": ", req_parser_.errorDetail());
        exchange_.onHeadError(fromParseError(req_parser_.error()));
        break;
      }
      onRequestHead();
      continue;
    }
    if (req_state_ == ReqState::Tunnel) {
      exchange_.onTunnelData(down_->input());
      if (!dead_ && exchange_.bodyBlocked()) down_->pauseReading();  // the upstream's drain resumes it
      break;
    }
    if (req_state_ == ReqState::Body && exchange_.takesBody()) pumpRequestBody();
    break;
  }
  in_process_ = false;
}

void H1Connection::refreshGeneration() {
  if (gen_ == worker_.current()) return;
  gen_ = worker_.current();
  rt_ = gen_->runtime.get();
  req_parser_ = http::RequestParser(rt_->parser_limits);
}

void H1Connection::onRequestHead() {
  version_minor_ = req_.version_minor;
  req_keep_alive_ = req_.keep_alive;
  expect_continue_ = req_.expect_continue && req_.version_minor >= 1;
  response_started_ = false;
  req_body_.start(req_.framing, req_.content_length);
  req_state_ = req_.framing == http::Framing::None ? ReqState::Done : ReqState::Body;
  // The exchange copies what it needs while the head's views are valid; it acts only once the
  // head's bytes are consumed, since acting may already start the next pipelined request.
  exchange_.onRequestHead(req_, req_state_ == ReqState::Body);
  down_->input().consume(req_.head_bytes);
  exchange_.proceed();
  if (dead_) return;
  armTimer();
}

void H1Connection::requestBodyWanted() {
  if (dead_) return;
  if (expect_continue_ && req_state_ == ReqState::Body && req_body_.bodyBytes() == 0 &&
      down_->input().empty()) {
    expect_continue_ = false;
    down_->write("HTTP/1.1 100 Continue\r\n\r\n");
    down_->flush();
    if (dead_) return;
  }
  if (down_->readingPaused()) down_->resumeReading();
  processInput();  // feeds the body held so far (a no-op when processInput is on the stack)
}

void H1Connection::pumpRequestBody() {
  base::Buffer& in = down_->input();
  bool wrote = false;
  while (!in.empty() && !req_body_.done()) {
    http::DecodeStep step = req_body_.decode(in.view());
    if (step.error) {
      exchange_.fail(ErrorKind::BadRequest);
      return;
    }
    if (!exchange_.onRequestBody(step.data, step.consumed)) return;  // answered (413, 500)
    wrote = wrote || !step.data.empty();
    in.consume(step.consumed);
    if (step.consumed == 0) break;
    if (exchange_.bodyBlocked()) break;
  }
  bool complete = req_body_.done();
  if (complete) req_state_ = ReqState::Done;
  exchange_.onRequestBodyPumped(wrote, complete);
  if (dead_) return;
  // Backpressure: stop reading the client while the upstream is not taking the body; a
  // buffered body goes to its buffer as fast as it arrives.
  if (req_state_ == ReqState::Body) {
    if (exchange_.bodyBlocked()) down_->pauseReading();
    else if (down_->readingPaused()) down_->resumeReading();
  }
  armTimer();
}

// ---------------------------------------------------------------------------------------------
// Response side

void H1Connection::sendResponseHead(const http::Response& r) {
  if (r.local) {
    // The request body (if any) was not read to its end: the connection must close after it.
    if (req_state_ == ReqState::Body || req_state_ == ReqState::Head) close_after_ = linger_ = true;
    req_state_ = ReqState::Done;
    // 4xx for a bad request and 5xx after an upstream failure both close: after a framing
    // error the stream position is unknown, and a client that got 502 can retry on a fresh
    // connection. 404/405/421 are ordinary answers and keep the connection.
    if (r.status >= 400 && r.status != 404 && r.status != 405 && r.status != 421) close_after_ = true;
  }
  if (worker_.draining() || !req_keep_alive_) close_after_ = true;
  down_framing_ = http::h1Framing(r.body, version_minor_);
  auto conn = http::ConnectionField::None;
  if (r.websocket) conn = http::ConnectionField::Upgrade;
  else if (close_after_ || down_framing_ == http::Framing::UntilClose) conn = http::ConnectionField::Close;
  else if (version_minor_ == 0) conn = http::ConnectionField::KeepAlive;
  http::appendResponseHead(down_->output(), r, down_framing_, conn);
  response_started_ = true;
}

void H1Connection::sendBody(std::string_view data) {
  if (down_framing_ == http::Framing::Chunked) http::appendChunk(down_->output(), data);
  else down_->write(data);
}

base::Result<size_t> H1Connection::sendBodyFrom(BodyBuffer& from, size_t max) {
  size_t n = static_cast<size_t>(std::min<uint64_t>(from.size(), max));
  if (down_framing_ != http::Framing::Chunked) return from.readInto(down_->output(), n);
  // A chunk of exactly n bytes: its size line goes first, so read no fewer than promised.
  http::appendChunkSize(down_->output(), n);
  auto got = from.readInto(down_->output(), n);
  if (!got || *got != n) return base::Error{"short read from the response buffer"};
  down_->output().append("\r\n");
  return got;
}

void H1Connection::endResponse() {
  if (down_framing_ == http::Framing::Chunked) http::appendLastChunk(down_->output());
  down_->flush();
}

void H1Connection::flush() {
  if (down_) down_->flush();
}

bool H1Connection::aboveHighWatermark() const { return down_ && down_->aboveHighWatermark(); }

void H1Connection::onExchangeDone() {
  // A response that came before the whole request body (an early 4xx, a redirect): the rest of
  // the body is unread, so the next request cannot be found; finish with this one, lingering so
  // the client's unread bytes do not turn the close into an RST that eats the answer.
  if (req_state_ != ReqState::Done) close_after_ = linger_ = true;
  if (close_after_ || !req_keep_alive_ || worker_.draining() ||
      (response_started_ && down_framing_ == http::Framing::UntilClose)) {
    down_->close(linger_);
    return;
  }
  req_state_ = ReqState::Idle;
  response_started_ = false;
  served_ = true;
  req_parser_.reset();
  req_.clear();
  if (down_->readingPaused()) down_->resumeReading();
  armTimer();
  idle_since_ms_ = worker_.loop().nowMs();
  released_ = false;
  processInput();  // a pipelined request may be waiting (re-entrancy guarded)
}

void H1Connection::startTunnel() {
  req_state_ = ReqState::Tunnel;
  close_after_ = true;  // no HTTP after a tunnel
  if (down_->readingPaused()) down_->resumeReading();
  armTimer();
  processInput();  // what the client sent after the upgrade request goes first
}

void H1Connection::closeWrite() {
  if (down_) down_->shutdownWrite();
}

void H1Connection::armTimer() {
  if (!down_) return;
  const auto& t = rt_->config->timeouts;
  switch (req_state_) {
    case ReqState::Idle:
      // A new connection gets client_header for its first request (and its TLS handshake,
      // which produces no request bytes): a client that connects and never speaks costs at
      // most that long, as with nginx. Only a connection that has served a request earns the
      // longer keep-alive wait.
      if (served_) down_->setTimeout(static_cast<uint64_t>(t.client_idle.count()));
      else if (listener_.tls && !handshake_done_) down_->setTimeout(listener_.handshake_timeout_ms);
      else down_->setTimeout(static_cast<uint64_t>(t.client_header.count()));
      return;
    case ReqState::Head:
      down_->setTimeout(static_cast<uint64_t>(t.client_header.count()));
      return;
    case ReqState::Body:
      down_->setTimeout(static_cast<uint64_t>(t.client_body.count()));
      return;
    case ReqState::Tunnel:
      down_->setTimeout(exchange_.tunnelIdleMs());
      return;
    case ReqState::Done:
      // Waiting on the client to take the response: a send timeout. Waiting on the upstream:
      // upstream_response bounds it, on the upstream's side.
      if (exchange_.waitingOnClient()) down_->setTimeout(static_cast<uint64_t>(t.client_body.count()));
      else down_->clearTimeout();
      return;
  }
}

}  // namespace portcullis::proxy
