#include "proxy/h2_connection.h"

#include "base/log.h"
#include "proxy/request_stats.h"

namespace portcullis::proxy {

namespace {
// Response bytes queued in the engine per stream before its upstream pauses: about one upstream
// read, so a client that keeps up never sees the pause, and a hundred streams stay within a few
// MiB whatever their clients do.
constexpr size_t kStreamHighWatermark = 64 * 1024;
// Request body bytes read and dropped after the response (see H2Stream::onBody).
constexpr uint64_t kMaxDiscard = 1024 * 1024;

const http::HeaderList kNoFields;

// A Sec-WebSocket-Key (RFC 6455 §4.1: 16 random bytes, base64) for the upstream leg of an
// RFC 8441 WebSocket. It only proves the upstream speaks WebSocket, so it needs no secrecy:
// splitmix64 over a per-thread seed.
void makeWebSocketKey(std::string& out) {
  thread_local uint64_t state = static_cast<uint64_t>(steadyNowNs()) ^ reinterpret_cast<uintptr_t>(&out);
  auto next = [] {
    uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  };
  uint8_t b[18] = {};
  uint64_t a = next(), c = next();
  for (int i = 0; i < 8; ++i) {
    b[i] = static_cast<uint8_t>(a >> (8 * i));
    b[8 + i] = static_cast<uint8_t>(c >> (8 * i));
  }
  static constexpr char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  out.clear();
  for (int i = 0; i < 18; i += 3) {
    uint32_t v = (uint32_t{b[i]} << 16) | (uint32_t{b[i + 1]} << 8) | b[i + 2];
    for (int k = 3; k >= 0; --k) out.push_back(kB64[(v >> (6 * k)) & 63]);
  }
  out.resize(22);
  out += "==";  // 16 bytes: 22 digits and two pads
}
}  // namespace

// ---------------------------------------------------------------------------------------------
// H2Stream: one request, as its exchange sees it

H2Stream::H2Stream(H2Connection& conn) : conn_(conn), exchange_(conn.worker_, *this) {}

const ConnectionFacts& H2Stream::facts() const { return conn_.facts_; }

void H2Stream::start(int32_t id, const http::H2Request& req) {
  id_ = id;
  body_.clear();
  body_end_ = req.end_stream;
  body_told_ = head_sent_ = ended_ = failed_ = closed_ = done_ = false;
  reset_after_end_ = over_ = tunnel_ = false;
  tunnel_owed_ = 0;
  discarded_ = 0;
  websocket_ = req.method_kind == http::Method::Connect && http::iequals(req.protocol, "websocket");

  // The HTTP/1.1 request the upstream will get, in the pipeline's terms (RFC 9113 §8.3.1:
  // :authority is the Host; the engine has joined the cookie crumbs and refused
  // connection-specific fields).
  head_.clear();
  head_.method_text = websocket_ ? std::string_view("GET") : req.method;
  head_.method = websocket_ ? http::Method::Get : req.method_kind;
  head_.target = req.path;
  size_t q = req.path.find('?');
  head_.path = req.path.substr(0, q);
  if (q != std::string_view::npos) {
    head_.query = req.path.substr(q + 1);
    head_.has_query = true;
  }
  head_.version_major = 2;
  head_.headers.assign(req.headers.begin(), req.headers.end());
  head_.host = req.authority;
  // The head's size as RFC 9113 §6.5.2 counts it: what the record reports as bytes in.
  size_t bytes = req.method.size() + req.path.size() + req.authority.size() + req.scheme.size() + 4 * 32;
  expect_continue_ = false;
  for (const http::Header& h : req.headers) {
    bytes += h.name.size() + h.value.size() + 32;
    if (h.name == "expect" && http::iequals(h.value, "100-continue")) expect_continue_ = true;
  }
  head_.head_bytes = bytes;
  if (websocket_) {
    // The HTTP/1.1 handshake the upstream expects (RFC 8441 §5): the exchange takes it for the
    // upgrade it is and relays the 101 as a 200; after it the stream's DATA is the tunnel.
    makeWebSocketKey(ws_key_);
    head_.headers.push_back({"upgrade", "websocket"});
    head_.headers.push_back({"connection", "upgrade"});
    head_.headers.push_back({"sec-websocket-key", ws_key_});
  }
  head_.expect_continue = expect_continue_;
  if (websocket_) {
    head_.framing = http::Framing::None;  // what follows is the tunnel, not a body
  } else if (req.has_content_length) {
    head_.framing = http::Framing::ContentLength;
    head_.content_length = req.content_length;
  } else {
    // No length: the upstream gets the body chunked (or, buffered, with its length).
    head_.framing = req.end_stream ? http::Framing::None : http::Framing::Chunked;
  }

  if (exchange_.dead()) exchange_.revive();
  exchange_.begin(conn_.worker_.current());
  exchange_.onRequestHead(head_, !req.end_stream && !websocket_);
  exchange_.proceed();
}

void H2Stream::onBody(std::string_view data, bool end) {
  if (done_ || exchange_.dead()) {
    // Answered already (a 413, a redirect): the rest is dropped, its window given back, up to
    // a bound; past it the client is told to stop (RST_STREAM NO_ERROR). Resetting at once is
    // what RFC 9113 §8.1 suggests, but clients such as curl 7.88 then drop the response they
    // already have; a short body is cheaper to read than to lose the answer over.
    conn_.engine_->consume(id_, data.size());
    discarded_ += data.size();
    if (!reset_after_end_ && discarded_ > kMaxDiscard) {
      reset_after_end_ = true;
      conn_.engine_->resetAfterResponse(id_);
    }
    conn_.flushOutput();
    return;
  }
  body_.append(data);
  if (end) body_end_ = true;
  if (tunnel_) {
    feedTunnel(data.size());
    if (end && !done_ && !exchange_.dead()) exchange_.onTunnelEof();
    return;
  }
  if (websocket_) return;  // bytes before the upstream's 101 wait (their window stays closed)
  if (!data.empty()) conn_.noteProgress();
  pumpBody();
}

void H2Stream::feedTunnel(size_t n) {
  exchange_.onTunnelData(body_);
  if (done_ || exchange_.dead()) return;
  // As with a request body, the client may send more only once the upstream took these.
  if (exchange_.bodyBlocked()) {
    tunnel_owed_ += n;
  } else {
    conn_.engine_->consume(id_, tunnel_owed_ + n);
    tunnel_owed_ = 0;
    conn_.flushOutput();
  }
}

void H2Stream::pumpBody() {
  if (done_ || exchange_.dead() || body_told_ || !exchange_.takesBody()) return;
  bool wrote = false;
  if (!body_.empty() && !exchange_.bodyBlocked()) {
    size_t n = body_.size();
    if (!exchange_.onRequestBody(body_.view(), n)) return;  // answered (413, 500)
    body_.clear();
    // Only now may the client send as much again: the window is the backpressure. (The
    // WINDOW_UPDATE must leave now: the upstream's drain, not a client read, may be what called.)
    conn_.engine_->consume(id_, n);
    conn_.flushOutput();
    if (done_ || exchange_.dead()) return;
    wrote = true;
  }
  bool complete = body_end_ && body_.empty();
  if (complete) body_told_ = true;
  if (wrote || complete) exchange_.onRequestBodyPumped(wrote, complete);
}

void H2Stream::requestBodyWanted() {
  if (done_ || exchange_.dead()) return;
  if (tunnel_) {
    if (tunnel_owed_) {
      conn_.engine_->consume(id_, std::exchange(tunnel_owed_, 0));
      conn_.flushOutput();
    }
    return;
  }
  if (expect_continue_ && body_.empty() && !body_end_ && !head_sent_) {
    expect_continue_ = false;
    if (conn_.engine_->submitResponse(id_, 100, kNoFields, false)) conn_.flushOutput();
    if (done_ || exchange_.dead()) return;
  }
  expect_continue_ = false;
  pumpBody();
}

void H2Stream::sendResponseHead(const http::Response& r) {
  if (failed_ || head_sent_) return;
  head_sent_ = true;
  const http::HeaderList* fields = &r.headers;
  base::Result<void> sent;
  if (websocket_ && r.websocket) {
    // RFC 8441 §5: a 2xx opens the tunnel (its END_STREAM comes with the tunnel's end).
    // Sec-WebSocket-Accept answers the key we made up and means nothing to the client.
    ws_fields_.clear();
    for (const http::Header& h : r.headers)
      if (!http::iequals(h.name, "sec-websocket-accept")) ws_fields_.add(h.name, h.value);
    fields = &ws_fields_;
    sent = conn_.engine_->submitResponse(id_, 200, ws_fields_, false);
  } else if (websocket_ && r.status >= 200 && r.status < 300) {
    // An upstream that ignored the upgrade and answered 2xx: to an extended CONNECT that would
    // mean "tunnel open". It is a failed handshake, and nothing of its body follows.
    fields = &kNoFields;
    sent = conn_.engine_->submitResponse(id_, 502, kNoFields, true);
    failed_ = true;
  } else {
    sent = conn_.engine_->submitResponse(id_, r);
    if (r.body == http::BodySize::None) ended_ = true;
  }
  if (!sent) {
    // A head nghttp2 cannot encode (a field value it refuses): the stream cannot be answered.
    failed_ = true;
    conn_.engine_->resetStream(id_, http::H2Error::InternalError);
    return;
  }
  // Its HPACK-decoded size (RFC 9113 §6.5.2), for the record.
  bytes_out_ += 32 + 3;
  for (const http::Header& h : *fields) bytes_out_ += h.name.size() + h.value.size() + 32;
}

void H2Stream::sendBody(std::string_view data) {
  if (failed_ || ended_ || data.empty()) return;
  if (conn_.engine_->submitData(id_, data, false)) bytes_out_ += data.size();
}

base::Result<size_t> H2Stream::sendBodyFrom(BodyBuffer& from, size_t max) {
  base::Buffer& scratch = conn_.scratch_;
  scratch.clear();
  auto got = from.readInto(scratch, max);
  if (got) sendBody(scratch.view());
  scratch.clear();
  return got;
}

void H2Stream::endResponse() {
  if (!failed_ && !ended_) {
    ended_ = true;
    (void)conn_.engine_->submitData(id_, {}, true);
  }
  conn_.flushOutput();
}

void H2Stream::flush() { conn_.flushOutput(); }

bool H2Stream::aboveHighWatermark() const {
  bool above = conn_.engine_->queuedBytes(id_) >= kStreamHighWatermark ||
               (conn_.down_ && conn_.down_->aboveHighWatermark());
  over_ = over_ || above;
  return above;
}

void H2Stream::tellDrained() {
  if (!over_ || done_ || exchange_.dead() || aboveHighWatermark()) return;
  over_ = false;
  exchange_.onDownstreamDrained();
}

void H2Stream::rearmTimer() { conn_.armTimer(); }

void H2Stream::reset() {
  if (done_ || exchange_.dead()) return;
  if (!closed_) conn_.engine_->resetStream(id_, http::H2Error::InternalError);
  abandon();
  conn_.flushOutput();
}

void H2Stream::startTunnel() {
  if (!websocket_) {  // only an extended CONNECT can become a tunnel on HTTP/2
    reset();
    return;
  }
  tunnel_ = true;
  conn_.flushOutput();  // the 200
  if (done_ || exchange_.dead()) return;
  // What the client sent since its CONNECT goes first.
  if (!body_.empty()) feedTunnel(body_.size());
  if (body_end_ && !done_ && !exchange_.dead()) exchange_.onTunnelEof();
}

void H2Stream::closeWrite() {
  if (!tunnel_ || ended_ || failed_) return;
  ended_ = true;
  (void)conn_.engine_->submitData(id_, {}, true);  // END_STREAM: the upstream's half-close
  conn_.flushOutput();
}

void H2Stream::onExchangeDone() {
  done_ = true;
  conn_.served_ = true;
  if (closed_) {
    conn_.release(this);
    return;
  }
  if (!ended_ && head_sent_ && !failed_) {  // a tunnel that ended (idle, an upstream reset)
    ended_ = true;
    // If this END_STREAM closes the stream (the client had ended its side), onStreamClosed
    // releases it: done_ is set.
    (void)conn_.engine_->submitData(id_, {}, true);
    conn_.flushOutput();
  }
  // The client may still be sending a body nobody will read: onBody drops it (and resets the
  // stream past kMaxDiscard); the connection's client_body timeout bounds a client that stalls.
}

void H2Stream::abandon() {
  exchange_.onDownstreamClosed();
  exchange_.teardown();
  conn_.release(this);
}

bool H2Stream::waitingOnClient() const {
  if (conn_.engine_->queuedBytes(id_) > 0) return true;
  if (done_) return !body_end_ && !reset_after_end_;  // a body being dropped
  if (exchange_.dead()) return false;
  // A WebSocket may be quiet for hours (tunnel_idle, on the upstream's timer, bounds it); only
  // a client that does not read what it is sent is waited on.
  if (tunnel_) return exchange_.waitingOnClient();
  if (exchange_.waitingOnClient()) return true;
  // A request body the exchange would take and the client does not send.
  return !body_end_ && exchange_.takesBody() && !exchange_.bodyBlocked();
}

// ---------------------------------------------------------------------------------------------
// H2Connection

H2Connection::H2Connection(WorkerContext& worker, net::Connection& downstream, const ListenerInfo& listener,
                           uint64_t connection_id)
    : worker_(worker),
      rt_(worker.current()->runtime.get()),
      gen_(worker.current()),
      listener_(listener),
      down_(&downstream) {
  facts_.listener = &listener_;
  facts_.client_ip = down_->peerIp();
  facts_.client_port = down_->peerPort();
  facts_.local_port = down_->localPort();
  facts_.tls = down_->tlsInfo();
  facts_.connection_id = connection_id;
  worker_.add(this, listener_);
  worker_.countAccepted(this, kH2);
  idle_since_ms_ = worker_.loop().nowMs();
}

H2Connection::~H2Connection() = default;

http::H2Settings H2Connection::settings() const {
  http::H2Settings s;
  // The same bound as an HTTP/1 head (limits.header_bytes); above it the engine answers 431.
  s.max_header_list_size = static_cast<uint32_t>(std::min<uint64_t>(rt_->config->limits.header_bytes, UINT32_MAX));
  // RFC 8441: WebSockets over HTTP/2 (a route with websocket: false still refuses them).
  s.enable_connect_protocol = true;
  return s;
}

void H2Connection::start() {
  auto engine = http::H2Engine::forServer(settings(), events_);
  if (!engine) {
    base::log::error("http2: ", engine.error().message);
    down_->abort(net::CloseReason::Error);
    return;
  }
  engine_.emplace(std::move(*engine));
  armTimer();
  if (worker_.draining()) {
    drain();
    return;
  }
  flushOutput();  // our SETTINGS: the server's preface
}

// ---------------------------------------------------------------------------------------------
// Socket events

void H2Connection::onData(net::Connection&) {
  if (dead_ || !down_ || !engine_) return;
  base::Buffer& in = down_->input();
  busy_ = true;
  auto fed = engine_->feed(in.view(), worker_.loop().nowMs());
  busy_ = false;
  if (dead_ || !down_) return;
  in.clear();
  if (!fed) {
    // A connection error: the engine queued its GOAWAY. Lingering, so what the client still
    // sends does not turn our close into a reset that destroys the GOAWAY before it is read.
    base::log::debug("http2 from ", facts_.client_ip, ": ", fed.error().message);
    going_away_ = true;
    flushOutput();
    if (!dead_ && down_) down_->close(true);
    return;
  }
  flushOutput();
  if (dead_ || !down_) return;
  // A client that does not read what we write must not make us queue ACKs for what it sends.
  if (down_->aboveHighWatermark()) down_->pauseReading();
}

void H2Connection::onEof(net::Connection&) {
  // HTTP/2 has no half-close of the connection: a client that closed its side is gone.
  if (down_) down_->abort();
}

void H2Connection::onDrained(net::Connection&) {
  if (dead_ || !down_) return;
  flushOutput();
  if (dead_ || !down_ || down_->aboveHighWatermark()) return;
  if (down_->readingPaused()) down_->resumeReading();
  // Streams that paused on the socket's watermark (their own queue drains through the engine's
  // onStreamDrained) may go on now.
  for (size_t i = 0; i < active_.size() && !dead_;) {
    H2Stream* s = active_[i];
    s->tellDrained();
    // The stream may have left active_ meanwhile (finished or reset): go on from where it was.
    if (i < active_.size() && active_[i] == s) ++i;
  }
}

void H2Connection::onTimeout(net::Connection&) {
  if (dead_ || !down_) return;
  if (active_.empty()) {
    // Idle: say goodbye (GOAWAY, last stream id) so the client does not send a request into the
    // close, then close.
    going_away_ = true;
    engine_->goaway();
    flushOutput();
    if (!dead_ && down_) down_->close(true);
    return;
  }
  // A client that stopped reading (or sending a body) for client_body.
  for (H2Stream* s : active_)
    if (!s->done_ && !s->exchange_.dead()) s->exchange_.onDownstreamTimeout();
  down_->abort(net::CloseReason::Timeout);
}

void H2Connection::onClose(net::Connection&, net::CloseReason) {
  down_ = nullptr;
  teardown();
}

void H2Connection::teardown() {
  if (dead_) return;
  dead_ = true;
  // Streams still running lost their client. A stream's abandon() takes it off active_.
  while (!active_.empty()) {
    H2Stream* s = active_.back();
    if (s->done_ || s->exchange_.dead()) release(s);
    else s->abandon();
  }
  if (down_) {
    net::Connection* down = std::exchange(down_, nullptr);
    down->setHandler(nullptr);
    down->abort();
  }
  worker_.remove(this);
  worker_.loop().deferDelete(std::unique_ptr<net::Deletable>(this));
}

void H2Connection::drain() {
  if (dead_ || !down_ || !engine_) return;
  if (!going_away_) {
    going_away_ = true;
    // Streams the client has opened complete; newer ones are refused (RFC 9113 §6.8).
    engine_->goaway();
  }
  flushOutput();
}

void H2Connection::abort() {
  if (!dead_ && down_) down_->abort();
}

bool H2Connection::releaseIfIdle(uint64_t idle_before_ms) {
  if (dead_ || !down_ || !active_.empty() || released_ || idle_since_ms_ > idle_before_ms) return false;
  if (!down_->input().empty() || down_->pendingBytes() != 0) return false;
  released_ = true;
  down_->releaseIdleMemory();
  // The stream objects (each with an exchange and its buffers) come back with the next request.
  free_.clear();
  all_.clear();
  scratch_.release();
  engine_->releaseIdleMemory();
  return true;
}

// ---------------------------------------------------------------------------------------------
// Streams

H2Stream* H2Connection::find(int32_t id) const {
  for (H2Stream* s : active_)
    if (s->id_ == id) return s;
  return nullptr;
}

H2Stream* H2Connection::takeStream() {
  H2Stream* s;
  if (!free_.empty()) {
    s = free_.back();
    free_.pop_back();
  } else {
    all_.push_back(std::make_unique<H2Stream>(*this));
    s = all_.back().get();
  }
  active_.push_back(s);
  return s;
}

void H2Connection::release(H2Stream* s) {
  for (size_t i = 0; i < active_.size(); ++i) {
    if (active_[i] != s) continue;
    active_.erase(active_.begin() + static_cast<std::ptrdiff_t>(i));
    s->id_ = 0;
    free_.push_back(s);
    if (active_.empty()) {
      idle_since_ms_ = worker_.loop().nowMs();
      released_ = false;
      // After a GOAWAY the last stream's end is the connection's. Inside feed or output, the
      // flush that follows does this (runDeferred).
      if (!busy_ && down_ && engine_ && !dead_) closeWhenDone();
    }
    armTimer();
    return;
  }
}

void H2Connection::Events::onRequest(int32_t stream, const http::H2Request& req) {
  H2Connection& c = c_;
  if (c.dead_) return;
  c.takeStream()->start(stream, req);
  c.armTimer();
}

void H2Connection::Events::onData(int32_t stream, std::string_view data, bool end_stream) {
  if (H2Stream* s = c_.find(stream)) s->onBody(data, end_stream);
  else c_.engine_->consume(stream, data.size());
}

void H2Connection::Events::onStreamClosed(int32_t stream) {
  H2Stream* s = c_.find(stream);
  if (!s) return;
  s->closed_ = true;
  if (s->done_) {
    c_.release(s);
    return;
  }
  // Closed with the response complete: the exchange is finishing on this very stack.
  if (s->ended_ && !s->failed_) return;
  // The client reset it, or its body broke the protocol: nobody is there to answer.
  s->abandon();
}

void H2Connection::Events::onStreamDrained(int32_t stream) {
  if (H2Stream* s = c_.find(stream)) s->tellDrained();
}

void H2Connection::Events::onGoaway(uint32_t, int32_t) {
  // The client is leaving: streams it still wants finish, then the connection closes.
  c_.going_away_ = true;
}

// ---------------------------------------------------------------------------------------------
// Output, timer, close

void H2Connection::flushOutput() {
  if (dead_ || !down_ || !engine_) return;
  if (busy_) {
    again_ = true;
    return;
  }
  busy_ = true;
  uint64_t frames = engine_->dataFramesSent();
  do {
    again_ = false;
    // Above the socket's watermark the frames wait in the engine (which then reports them as
    // queued, pausing the streams' upstreams).
    if (!down_->aboveHighWatermark()) engine_->output(down_->output());
  } while (again_ && !dead_ && down_);
  busy_ = false;
  if (dead_ || !down_) return;
  if (engine_->dataFramesSent() != frames) noteProgress();
  worker_.loop().defer(this);
}

void H2Connection::runDeferred() {
  // Still alive if torn down in this iteration: its deferred deletion comes after this.
  if (dead_ || !down_ || !engine_) return;
  down_->flush();
  if (dead_ || !down_) return;
  closeWhenDone();
}

void H2Connection::closeWhenDone() {
  if (!active_.empty() || engine_->wantsWrite()) return;
  // After GOAWAY (ours or the client's) with no stream left, or when nghttp2 wants no more.
  if (going_away_ || !engine_->wantsRead()) down_->close(true);
}

void H2Connection::noteProgress() {
  if (down_ && !active_.empty()) armTimer();
}

void H2Connection::armTimer() {
  if (!down_ || dead_) return;
  const auto& t = rt_->config->timeouts;
  if (active_.empty()) {
    // Idle: measured from when the last stream ended, not extended by control frames.
    uint64_t wait = static_cast<uint64_t>((served_ ? t.client_idle : t.client_header).count());
    uint64_t now = worker_.loop().nowMs();
    uint64_t end = idle_since_ms_ + wait;
    down_->setTimeout(end > now ? end - now : 1);
    return;
  }
  for (H2Stream* s : active_) {
    if (s->waitingOnClient()) {
      down_->setTimeout(static_cast<uint64_t>(t.client_body.count()));
      return;
    }
  }
  down_->clearTimeout();
}

}  // namespace portcullis::proxy
