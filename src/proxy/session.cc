#include "proxy/session.h"

#include <chrono>
#include <random>

#include "base/log.h"
#include "http/date.h"
#include "http/serializer.h"
#include "http/uri.h"
#include "proxy/redirect.h"
#include "proxy/retry_policy.h"

namespace portcullis::proxy {

namespace {
// Request bytes buffered while the upstream connection is still being set up, and pipelined
// requests buffered behind one in progress: past this the client is not read until we catch up.
constexpr size_t kMaxBufferedInput = 64 * 1024;

uint64_t steadyNs() {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count());
}

// Per-worker counters and generator: a session never leaves its worker's thread.
thread_local uint64_t t_connection_ids = 0;

// 128 random bits as 32 hex digits: unique enough to find one request in a fleet's logs, cheap
// enough for every request (two splitmix64 steps, no syscall once seeded).
void makeRequestId(std::string& out) {
  thread_local uint64_t state = (static_cast<uint64_t>(std::random_device{}()) << 32) ^ std::random_device{}() ^
                                steadyNs();
  auto next = [] {
    uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  };
  static constexpr char kHex[] = "0123456789abcdef";
  out.resize(32);
  for (int half = 0; half < 2; ++half) {
    uint64_t v = next();
    for (int i = 0; i < 16; ++i) out[half * 16 + i] = kHex[(v >> (60 - 4 * i)) & 0xf];
  }
}

// A client-sent id is kept (trust_client) only if it is short printable ASCII: it lands in
// logs and in the upstream's environment.
bool usableRequestId(std::string_view v) {
  if (v.empty() || v.size() > 200) return false;
  for (char c : v)
    if (c <= 0x20 || c >= 0x7f || c == '"' || c == '\\') return false;
  return true;
}

bool idempotent(http::Method m) {
  switch (m) {
    case http::Method::Get: case http::Method::Head: case http::Method::Options:
    case http::Method::Trace: case http::Method::Put: case http::Method::Delete:
      return true;
    default:
      return false;
  }
}
}  // namespace

Session::Session(WorkerContext& worker, net::Connection& downstream, const ListenerInfo& listener)
    : worker_(worker),
      gen_(worker.current()),
      rt_(gen_->runtime.get()),
      listener_(listener),
      down_(&downstream),
      req_parser_(rt_->parser_limits),
      resp_parser_(rt_->parser_limits) {
  worker_.add(this);
  connection_id_ = ++t_connection_ids;
  idle_since_ms_ = worker_.loop().nowMs();
  armDownstreamTimer();
}

Session::~Session() = default;

// ---------------------------------------------------------------------------------------------
// Downstream events

void Session::onData(net::Connection&) {
  if (req_state_ == ReqState::Body) {
    armDownstreamTimer();  // client_body is a gap between reads, not a total
  }
  // Bytes of the next request(s) while this one is in progress: hold a bounded amount.
  // (A buffered body is moved out of the input as it arrives, so it never needs this.)
  if ((req_state_ == ReqState::Done || (req_state_ == ReqState::Body && !upstream_ready_ && !req_buffering_)) &&
      down_->input().size() > kMaxBufferedInput) {
    down_->pauseReading();
  }
  processInput();
}

void Session::onEof(net::Connection&) {
  // A client may half-close after sending a complete request (RFC 9112 §9.6): answer it, then
  // close. Anything else (idle, partial head, partial body) ends the connection now.
  if (req_state_ == ReqState::Done && resp_state_ != RespState::None) {
    close_after_ = true;
    return;
  }
  if (req_state_ == ReqState::Idle || req_state_ == ReqState::Head) {
    // A complete pipelined request may still sit in the buffer unparsed.
    close_after_ = true;
    if (!down_->input().empty() && resp_state_ == RespState::None) {
      processInput();
      if (dead_ || req_state_ != ReqState::Idle) return;
    }
    if (!dead_ && req_state_ == ReqState::Idle && resp_state_ == RespState::None) down_->close();
    else if (!dead_ && req_state_ == ReqState::Head) down_->abort();
    return;
  }
  down_->abort();
}

void Session::onDrained(net::Connection&) {
  if (!resp_buf_.empty()) {
    drainResponseBuffer();
    if (dead_ || resp_state_ != RespState::Body) return;
    if (!resp_buf_.empty() && responseBufferFull()) return;
  }
  if (up_paused_ && up_) {
    up_paused_ = false;
    up_->resumeReading();
    armUpstreamTimer();
    armDownstreamTimer();
    if (!up_->input().empty()) onUpstreamData();
  }
}

void Session::onTimeout(net::Connection&) {
  switch (req_state_) {
    case ReqState::Idle:
    case ReqState::Head:
      // Idle keep-alive or a head that did not arrive in time (slowloris): close without an
      // answer, as nginx does; a 408 to a client that is not reading helps nobody. A head cut
      // short is logged as 408 all the same, as nginx does.
      if (rec_open_) {
        rec_.setError(ErrorKind::ClientTimeout);
        rec_.status = 408;
      }
      down_->abort(net::CloseReason::Timeout);
      return;
    case ReqState::Body:
      rec_.setError(ErrorKind::ClientTimeout);
      if (!response_started_ && resp_state_ != RespState::Body) {
        close_after_ = true;
        if (up_) releaseUpstream(false);
        sendLocalReply(408);
        if (dead_) return;
        finishRequest(*down_);  // now, not after the lingering close
        down_->close(true);
        return;
      }
      down_->abort(net::CloseReason::Timeout);
      return;
    case ReqState::Done:
      // Send timeout: the client stopped reading the response.
      rec_.setError(ErrorKind::ClientTimeout);
      down_->abort(net::CloseReason::Timeout);
      return;
  }
}

void Session::onHandshakeDone(net::Connection&) {
  handshake_done_ = true;
  if (req_state_ == ReqState::Idle) armDownstreamTimer();  // now client_header for the first head
}

void Session::onClose(net::Connection& c, net::CloseReason) {
  if (rec_open_) {
    // Cut short: unless one of our errors (upstream, timeout) ended it, the client reset or
    // closed mid-request or mid-response. With nothing sent it is nginx's 499.
    if (!rec_.has_error) rec_.setError(ErrorKind::ClientClosed);
    if (rec_.status == 0) rec_.status = 499;
    finishRequest(c);
  }
  down_ = nullptr;
  teardown();
}

void Session::drain() {
  if (dead_) return;
  if (req_state_ == ReqState::Idle && resp_state_ == RespState::None && down_->input().empty()) {
    down_->close();
  } else {
    close_after_ = true;
  }
}

bool Session::releaseIfIdle(uint64_t idle_before_ms) {
  if (dead_ || !down_ || req_state_ != ReqState::Idle || resp_state_ != RespState::None) return false;
  if (!down_->input().empty() || idle_since_ms_ > idle_before_ms || released_) return false;
  released_ = true;
  down_->releaseIdleMemory();
  // The header vectors keep the capacity of the largest message seen (~32 bytes a header);
  // an idle connection does not need it.
  std::vector<http::Header>().swap(req_.headers);
  std::vector<http::Header>().swap(resp_.headers);
  // The head is kept after a request only to replay it on a retry; idle, there is none.
  up_head_.clear();
  up_head_.release();
  std::string().swap(hash_key_);
  return true;
}

void Session::abort() {
  if (!dead_ && down_) down_->abort();
}

void Session::teardown() {
  if (dead_) return;
  dead_ = true;
  if (resp_state_ == RespState::Queued && queued()) {
    worker_.dequeue(*this);
    rt_->clusters[cluster_]->waiting().fetch_sub(1, std::memory_order_relaxed);
  }
  endExchangeAccounting();
  if (up_) {
    net::Connection* up = std::exchange(up_, nullptr);
    up->setHandler(nullptr);
    up->abort();
  }
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

void Session::processInput() {
  if (in_process_ || dead_) return;
  in_process_ = true;
  while (!dead_) {
    if (req_state_ == ReqState::Idle || req_state_ == ReqState::Head) {
      if (resp_state_ != RespState::None) break;  // pipelined: wait for the response in flight
      base::Buffer& in = down_->input();
      if (in.empty()) break;
      if (req_state_ == ReqState::Idle) {
        refreshGeneration();
        beginRequest();
        req_state_ = ReqState::Head;
        armDownstreamTimer();  // client_header runs from the first byte, not per read
      }
      http::ParseStatus st = req_parser_.parse(in.view(), req_);
      if (st == http::ParseStatus::NeedMore) break;
      if (st == http::ParseStatus::Error) {
        base::log::debug("bad request from ", down_->peerIp(), ": ", req_parser_.errorDetail());
        fail(fromParseError(req_parser_.error()));
        break;
      }
      onRequestHead();
      continue;
    }
    if (req_state_ == ReqState::Body && (upstream_ready_ || req_buffering_)) pumpRequestBody();
    break;
  }
  in_process_ = false;
}

void Session::refreshGeneration() {
  if (gen_ == worker_.current()) return;
  gen_ = worker_.current();
  rt_ = gen_->runtime.get();
  req_parser_ = http::RequestParser(rt_->parser_limits);
  resp_parser_ = http::ResponseParser(rt_->parser_limits);
}

void Session::onRequestHead() {
  const auto& limits = rt_->config->limits;
  method_ = req_.method;
  req_framing_ = req_.framing;
  req_content_length_ = req_.content_length;
  version_minor_ = req_.version_minor;
  req_keep_alive_ = req_.keep_alive;
  expect_continue_ = req_.expect_continue && req_.version_minor >= 1;
  response_started_ = false;
  noteRequestHead();
  req_body_.start(req_.framing, req_.content_length);
  req_state_ = req_framing_ == http::Framing::None ? ReqState::Done : ReqState::Body;

  if (req_.method == http::Method::Connect) {
    down_->input().consume(req_.head_bytes);
    fail(ErrorKind::MethodNotAllowed);
    return;
  }
  if (limits.body && req_.framing == http::Framing::ContentLength && req_.content_length > limits.body) {
    down_->input().consume(req_.head_bytes);
    fail(ErrorKind::BodyTooLarge);
    return;
  }

  // Route. Host is validated by the parser (present and well-formed for HTTP/1.1).
  std::string_view host = req_.host;
  if (auto a = http::parseAuthority(host)) host = a->host;
  bool redirect_listener = !listener_.tls;
  if (redirect_listener && !isAcmeChallenge(req_.path)) {
    if (req_.host.empty()) {  // HTTP/1.0 without Host: nowhere to redirect to
      down_->input().consume(req_.head_bytes);
      fail(ErrorKind::BadRequest);
      return;
    }
    if (!hostAllowed(host, listener_.redirect_allowed_hosts)) {
      // Not one of ours: redirecting would send the client to whatever name it made up.
      down_->input().consume(req_.head_bytes);
      fail(ErrorKind::NoRouteHost);
      return;
    }
    std::string location = buildHttpsLocation(req_.host, listener_.https_port, req_.path, req_.query,
                                              req_.has_query);
    down_->input().consume(req_.head_bytes);
    // The body of a redirected request is not read; the connection cannot continue after it.
    if (req_state_ == ReqState::Body) close_after_ = linger_ = true;
    req_state_ = ReqState::Done;
    sendLocalReply(redirectStatus(method_), location);
    if (!dead_) finishExchange();
    return;
  }

  RouteMatch m = rt_->router.match(host, req_.path, redirect_listener);
  if (m.kind != RouteMatch::Kind::Forward) {
    down_->input().consume(req_.head_bytes);
    fail(m.kind == RouteMatch::Kind::NoHost && !redirect_listener ? ErrorKind::NoRouteHost
                                                                  : ErrorKind::NoRoutePath);
    return;
  }

  // Serialize the upstream head now: req_'s views point into the input buffer, which the next
  // read may move.
  up_head_.clear();
  ForwardInfo info;
  info.client_ip = down_->peerIp();
  info.https = listener_.tls;
  info.local_port = down_->localPort();
  const auto& hosts = rt_->clusters[m.cluster]->hosts();
  info.fallback_host = hosts.empty() ? std::string_view() : std::string_view(hosts[0].name);
  info.client_subject_header = listener_.client_subject_header;
  info.client_fingerprint_header = listener_.client_fingerprint_header;
  if (const base::TlsInfo* t = down_->tlsInfo(); t && !listener_.client_subject_header.empty()) {
    // Read at the handshake, once: the certificate cannot change on the connection (no
    // renegotiation in TLS 1.3, and BoringSSL refuses it in 1.2 by default).
    info.client_subject = t->client_subject;
    info.client_fingerprint = t->client_fingerprint;
  }
  if (rt_->config->request_id.enabled) {
    info.request_id_header = rt_->config->request_id.header;
    info.request_id = rec_.request_id;
  }
  rec_.route = static_cast<int>(m.route);
  rec_.cluster = static_cast<int>(m.cluster);
  rec_.cluster_name = rt_->clusters[m.cluster]->name();
  appendUpstreamRequestHead(up_head_, req_, info, /*finish=*/false);
  down_->input().consume(req_.head_bytes);

  computeHashKey(m.cluster);
  const config::Buffering& buffering = rt_->config->routes[m.route].buffering;
  req_buffering_ = buffering.request && req_state_ == ReqState::Body;
  resp_buffering_ = buffering.response;
  cluster_ = m.cluster;
  route_ = m.route;
  if (req_buffering_) {
    // Take the whole body before an upstream connection: a slow upload must not hold a
    // gunicorn sync worker. Its limit is limits.body (checked while decoding).
    req_buf_.configure(buffering.memory, UINT64_MAX, rt_->config->temp_dir);
    if (expect_continue_ && down_->input().empty()) {
      expect_continue_ = false;
      down_->write("HTTP/1.1 100 Continue\r\n\r\n");
      down_->flush();
      if (dead_) return;
    }
    armDownstreamTimer();
    return;  // processInput feeds the body in; startExchange once it is complete
  }
  armDownstreamTimer();
  startExchange(m.cluster);
}

void Session::computeHashKey(size_t cluster) {
  hash_key_.clear();
  const config::Upstream& u = rt_->config->upstreams[cluster];
  if (u.policy != config::BalancePolicy::Hash) return;
  switch (u.hash_key) {
    case config::HashKeyKind::ClientIp:
      hash_key_ = down_->peerIp();
      return;
    case config::HashKeyKind::Header:
      for (const auto& h : req_.headers)
        if (http::iequals(h.name, u.hash_key_name)) {
          hash_key_.assign(h.value);
          return;
        }
      return;
    case config::HashKeyKind::Cookie:
      // Cookie: a=1; b=2 (RFC 6265 §4.2.1); several Cookie lines are allowed in HTTP/2 only,
      // but look at each line anyway.
      for (const auto& h : req_.headers) {
        if (!http::iequals(h.name, "cookie")) continue;
        std::string_view v = h.value;
        while (!v.empty()) {
          size_t semi = v.find(';');
          std::string_view pair = v.substr(0, semi);
          while (!pair.empty() && pair.front() == ' ') pair.remove_prefix(1);
          size_t eq = pair.find('=');
          if (eq != std::string_view::npos && pair.substr(0, eq) == u.hash_key_name) {
            hash_key_.assign(pair.substr(eq + 1));
            return;
          }
          if (semi == std::string_view::npos) break;
          v.remove_prefix(semi + 1);
        }
      }
      return;
  }
}

bool Session::decodeRequestBody(http::DecodeStep& step) {
  step = req_body_.decode(down_->input().view());
  if (step.error) {
    fail(ErrorKind::BadRequest);
    return false;
  }
  // Checked as bytes arrive: a chunked body has no length up front.
  const uint64_t limit = rt_->config->limits.body;
  if (!step.data.empty() && limit && req_body_.bodyBytes() > limit) {
    fail(ErrorKind::BodyTooLarge);
    return false;
  }
  rec_.bytes_in += step.consumed;
  return true;
}

void Session::bufferRequestBody() {
  base::Buffer& in = down_->input();
  while (!in.empty() && !req_body_.done()) {
    http::DecodeStep step;
    if (!decodeRequestBody(step)) return;
    if (!step.data.empty()) {
      if (!req_buf_.append(step.data)) {
        base::log::error("request buffering: cannot spill to ", rt_->config->temp_dir);
        fail(ErrorKind::Internal);
        return;
      }
    }
    in.consume(step.consumed);
    if (step.consumed == 0) break;
  }
  armDownstreamTimer();
  if (!req_body_.done()) {
    // Whatever paused the client (bytes that came before buffering started), the body now
    // goes to req_buf_ as fast as it arrives: keep reading.
    if (down_->readingPaused()) down_->resumeReading();
    return;
  }
  req_state_ = ReqState::Done;
  startExchange(cluster_);
}

void Session::sendBufferedRequestBody() {
  // Backpressure towards the upstream only: the client is done sending.
  bool wrote = false;
  while (!req_buf_.empty() && !up_->aboveHighWatermark()) {
    auto n = req_buf_.readInto(up_->output(), 64 * 1024);
    if (!n || *n == 0) {
      onUpstreamFailed(ErrorKind::Internal, "cannot read the buffered request body");
      return;
    }
    wrote = true;
  }
  if (!wrote) return;
  up_->flush();
  if (dead_ || !up_) return;
  armUpstreamTimer();
}

void Session::pumpRequestBody() {
  if (req_buffering_) {
    bufferRequestBody();
    return;
  }
  base::Buffer& in = down_->input();
  bool chunked = req_framing_ == http::Framing::Chunked;
  bool wrote = false;
  while (!in.empty() && !req_body_.done()) {
    http::DecodeStep step;
    if (!decodeRequestBody(step)) return;
    if (!step.data.empty()) {
      if (chunked) http::appendChunk(up_->output(), step.data);
      else up_->write(step.data);
      wrote = true;
    }
    in.consume(step.consumed);
    if (step.consumed == 0) break;
    if (up_->aboveHighWatermark()) break;
  }
  if (req_body_.done()) {
    if (chunked) http::appendLastChunk(up_->output());
    req_state_ = ReqState::Done;
    wrote = true;
  }
  if (wrote) {
    up_->flush();
    if (dead_ || !up_) return;
    armUpstreamTimer();
  }
  // Backpressure: stop reading the client while the upstream is not taking the body.
  if (up_->aboveHighWatermark()) down_->pauseReading();
  else if (down_->readingPaused() && req_state_ == ReqState::Body) down_->resumeReading();
  armDownstreamTimer();
}

// ---------------------------------------------------------------------------------------------
// Upstream exchange

void Session::startExchange(size_t cluster) {
  cluster_ = cluster;
  tried_hosts_.clear();
  retries_ = 0;
  retried_stale_ = false;
  last_failure_ = ErrorKind::UpstreamConnect;
  rt_->clusters[cluster]->retryBudget().requestStarted();
  counted_in_budget_ = true;
  selectHost();
}

void Session::selectHost() {
  const auto& c = *rt_->clusters[cluster_];
  upstream::Balancer& balancer = *gen_->balancers[cluster_];
  std::optional<size_t> h =
      balancer.acquire(upstream::PickContext{worker_.loop().nowMs(), hash_key_}, tried_hosts_);
  if (h) {
    host_ = *h;
    host_acquired_ = true;
    tried_hosts_.add(host_);
    connectHost(true);
    return;
  }
  using NoHost = upstream::Balancer::NoHost;
  switch (balancer.whyNone(worker_.loop().nowMs(), tried_hosts_)) {
    case NoHost::AllTried:
      onUpstreamFailed(last_failure_, "every upstream host failed");
      return;
    case NoHost::NoneHealthy:
      base::log::warn("upstream ", c.name(), ": no healthy host");
      fail(ErrorKind::NoHealthyHost);
      return;
    case NoHost::AllBusy:
      enqueue();
      return;
  }
}

void Session::enqueue() {
  const auto& c = *rt_->clusters[cluster_];
  // The queue bound is global (all workers); the queues themselves are per worker.
  if (c.waiting().fetch_add(1, std::memory_order_relaxed) >= c.options().queue_size) {
    c.waiting().fetch_sub(1, std::memory_order_relaxed);
    fail(ErrorKind::Overloaded);
    return;
  }
  if (!worker_.enqueue(gen_, cluster_, *this)) {
    c.waiting().fetch_sub(1, std::memory_order_relaxed);
    fail(ErrorKind::Overloaded);
    return;
  }
  resp_state_ = RespState::Queued;
  rec_.queued = true;
}

void Session::onDequeued(bool timed_out) {
  rt_->clusters[cluster_]->waiting().fetch_sub(1, std::memory_order_relaxed);
  if (timed_out) {
    rec_.queue_timeout = true;
    fail(ErrorKind::Overloaded);
    return;
  }
  selectHost();
}

void Session::releaseHostSlot() {
  if (!host_acquired_) return;
  host_acquired_ = false;
  rt_->clusters[cluster_]->hosts()[host_].state->release();
  // A slot is free: a request queued in this worker can have it now (other workers find it
  // on their queue sweep).
  worker_.onSlotFreed(gen_, cluster_);
}

void Session::endExchangeAccounting() {
  // Touch the cluster only when something was taken from it: outside an exchange cluster_ may
  // be a stale index into an older runtime.
  releaseHostSlot();
  if (in_retry_) {
    in_retry_ = false;
    rt_->clusters[cluster_]->retryBudget().retryFinished();
  }
  if (counted_in_budget_) {
    counted_in_budget_ = false;
    rt_->clusters[cluster_]->retryBudget().requestFinished();
  }
}

void Session::connectHost(bool allow_pool) {
  resp_state_ = RespState::Connecting;
  upstream_ready_ = false;
  upstream_got_bytes_ = false;
  ++rec_.attempts;
  rec_.host_index = static_cast<int>(host_);
  rec_.upstream_host = rt_->clusters[cluster_]->hosts()[host_].name;
  rec_.upstream_connect_us = rec_.upstream_first_byte_us = -1;
  if (allow_pool) {
    if (net::Connection* c = gen_->pools[cluster_]->take(host_)) {
      up_ = c;
      reused_ = true;
      c->setHandler(&up_handler_);
      onUpstreamReady();
      return;
    }
  }
  reused_ = false;
  const auto& cluster = *rt_->clusters[cluster_];
  const auto& host = cluster.hosts()[host_];
  up_ = net::Connection::connect(worker_.loop(), host.address, &up_handler_,
                                 static_cast<uint64_t>(rt_->config->timeouts.upstream_connect.count()),
                                 cluster.tls(), host.sni);
  if (!up_) onUpstreamConnected(-1);
}

void Session::onUpstreamConnected(int status) {
  if (status == 0) {
    onUpstreamReady();
    return;
  }
  up_ = nullptr;
  const auto& c = *rt_->clusters[cluster_];
  logUpstreamFailure(status == -1 ? "cannot create a socket" : "connect failed", status);
  c.outlier().onFailure(host_, worker_.loop().nowMs());
  releaseHostSlot();
  last_failure_ = ErrorKind::UpstreamConnect;
  // decideRetry's OtherHostFree: nothing was sent, so any method may go to another host, at no
  // cost to the budget (selectHost answers once every host has been tried).
  selectHost();
}

void Session::onUpstreamReady() {
  rec_.upstream_connect_us = static_cast<int64_t>(elapsedUs());
  resp_state_ = RespState::WaitHead;
  upstream_ready_ = true;
  resp_parser_.reset();
  resp_.clear();
  up_->write(up_head_.view());
  if (req_buffering_) {
    // The body is complete: send it with its length, whatever framing the client used.
    finishUpstreamRequestHead(up_->output(), http::Framing::ContentLength, req_buf_.total());
    req_buf_.rewind();
    sendBufferedRequestBody();
    if (dead_ || !up_) return;
    up_->flush();
    if (dead_ || !up_) return;
    armUpstreamTimer();
    return;
  }
  finishUpstreamRequestHead(up_->output(), req_framing_, req_content_length_);
  // RFC 9110 §10.1.1: the proxy answers 100-continue itself once it can take the body, rather
  // than relaying Expect to an upstream that may not support it.
  if (expect_continue_ && req_state_ == ReqState::Body && req_body_.bodyBytes() == 0 &&
      down_->input().empty()) {
    expect_continue_ = false;
    down_->write("HTTP/1.1 100 Continue\r\n\r\n");
    down_->flush();
    if (dead_) return;
  }
  if (down_->readingPaused()) down_->resumeReading();
  if (req_state_ == ReqState::Body) {
    pumpRequestBody();
  } else {
    up_->flush();
    if (dead_ || !up_) return;
    armUpstreamTimer();
  }
}

void Session::onUpstreamData() {
  if (!up_) return;
  if (!upstream_got_bytes_) rec_.upstream_first_byte_us = static_cast<int64_t>(elapsedUs());
  upstream_got_bytes_ = true;
  base::Buffer& in = up_->input();
  while (resp_state_ == RespState::WaitHead) {
    http::ParseStatus st = resp_parser_.parse(in.view(), method_, resp_);
    if (st == http::ParseStatus::NeedMore) {
      armUpstreamTimer();
      return;
    }
    if (st == http::ParseStatus::Error) {
      onUpstreamFailed(ErrorKind::UpstreamProtocol, resp_parser_.errorDetail());
      return;
    }
    if (resp_.status < 200) {
      // Interim responses (100, 103) are not relayed: the proxy did its own 100-continue, and
      // 101 cannot happen because Upgrade is not forwarded.
      if (resp_.status == 101) {
        onUpstreamFailed(ErrorKind::UpstreamProtocol, "unexpected 101 Switching Protocols");
        return;
      }
      in.consume(resp_.head_bytes);
      resp_parser_.reset();
      resp_.clear();
      continue;
    }
    if (!onlyChunkedTransferCoding(resp_)) {
      onUpstreamFailed(ErrorKind::UpstreamProtocol, "unsupported transfer coding in response");
      return;
    }
    onResponseHead();
    if (dead_) return;
  }
  if (resp_state_ == RespState::Body) relayResponseBody();
}

void Session::onResponseHead() {
  {
    // Passive health: a 5xx counts against the host like a failed connect (gunicorn answers
    // 500/502/503 when its app or workers are broken).
    const auto& c = *rt_->clusters[cluster_];
    if (resp_.status >= 500) c.outlier().onFailure(host_, worker_.loop().nowMs());
    else c.outlier().onSuccess(host_);
  }
  rec_.status = resp_.status;
  down_framing_ = chooseDownstreamFraming(resp_, version_minor_);
  if (worker_.draining() || !req_keep_alive_) close_after_ = true;
  bool keep_alive_10 = version_minor_ == 0 && req_keep_alive_ && !close_after_ &&
                       down_framing_ != DownstreamFraming::UntilClose;
  appendDownstreamResponseHead(down_->output(), resp_, down_framing_, close_after_, keep_alive_10,
                               listener_.hsts);
  up_->input().consume(resp_.head_bytes);
  response_started_ = true;
  if (resp_buffering_) {
    const config::Buffering& b = rt_->config->routes[route_].buffering;
    resp_buf_.configure(b.memory, b.max_file, rt_->config->temp_dir);
  }
  resp_body_.start(resp_.framing, resp_.content_length);
  resp_state_ = RespState::Body;
  if (resp_body_.done()) {
    onResponseComplete();
    return;
  }
  // Send the head at once when no body bytes are here yet: a client waiting on a slow body
  // (SSE, long poll) sees it early. When body bytes came with it, relayResponseBody flushes
  // both together: one write and one TLS record instead of two for a small response.
  if (up_->input().empty()) down_->flush();
}

bool Session::responseToBuffer() const {
  // Once anything waits in resp_buf_, everything after it must queue behind it.
  return resp_buffering_ && (!resp_buf_.empty() || down_->aboveHighWatermark());
}

void Session::emitResponseBytes(std::string_view data, bool chunk) {
  if (responseToBuffer()) {
    bool ok = true;
    if (chunk) {
      base::Buffer framed;
      http::appendChunk(framed, data);
      ok = resp_buf_.append(framed.view()).ok();
    } else {
      ok = resp_buf_.append(data).ok();
    }
    if (ok) return;
    // Only a disk error gets here (the size limit is checked before decoding): deliver the
    // bytes anyway; memory grows for this one response instead of losing data.
    base::log::error("response buffering: cannot spill to ", rt_->config->temp_dir);
    resp_buffering_ = false;
    drainResponseBuffer();
    if (dead_) return;
  }
  if (chunk) http::appendChunk(down_->output(), data);
  else down_->write(data);
}

// A chunked response adds framing around every piece it buffers (hex size and two CRLFs: 20
// bytes at most) and the last chunk (5 bytes) at the end: kept free so they always fit.
constexpr uint64_t kChunkFramingReserve = 32;

uint64_t Session::responseBufferRoom() const {
  uint64_t used = resp_buf_.total();
  if (down_framing_ == DownstreamFraming::Chunked) used += kChunkFramingReserve;
  return used < resp_buf_.limit() ? resp_buf_.limit() - used : 0;
}

bool Session::responseBufferFull() const { return resp_buffering_ && responseBufferRoom() == 0; }

void Session::relayResponseBody() {
  base::Buffer& in = up_->input();
  bool chunked = down_framing_ == DownstreamFraming::Chunked;
  bool buffer_short = false;  // resp_buf_'s room ended inside a chunk header: wait for a drain
  while (!in.empty() && !resp_body_.done() && !responseBufferFull()) {
    // What will queue in resp_buf_ must fit in it, so decode no more than it takes: append()
    // failing would mean giving up buffering (or losing the last chunk).
    std::string_view avail = in.view();
    if (responseToBuffer()) avail = avail.substr(0, responseBufferRoom());
    http::DecodeStep step = resp_body_.decode(avail);
    if (step.error) {
      onUpstreamFailed(ErrorKind::UpstreamProtocol, "malformed response body");
      return;
    }
    if (!step.data.empty()) {
      emitResponseBytes(step.data, chunked);
      if (dead_) return;
    }
    in.consume(step.consumed);
    if (step.consumed == 0) {
      buffer_short = avail.size() < in.size();
      break;
    }
  }
  if (resp_body_.done()) {
    onResponseComplete();
    return;
  }
  down_->flush();
  if (dead_) return;
  if ((!resp_buffering_ && down_->aboveHighWatermark()) || responseBufferFull() || buffer_short) {
    // The client reads slower than the upstream sends and buffering is off or full: stop
    // reading the upstream until the client catches up (onDrained), so memory stays bounded.
    up_paused_ = true;
    up_->pauseReading();
    up_->clearTimeout();
    armDownstreamTimer();
  } else {
    armUpstreamTimer();
  }
}

void Session::drainResponseBuffer() {
  while (!resp_buf_.empty() && !down_->aboveHighWatermark()) {
    auto n = resp_buf_.readInto(down_->output(), 64 * 1024);
    if (!n || *n == 0) {
      base::log::error("response buffering: cannot read back the spilled response");
      rec_.setError(ErrorKind::Internal);
      down_->abort(net::CloseReason::Error);
      return;
    }
  }
  down_->flush();
  if (dead_) return;
  if (resp_buf_.empty()) {
    // Start over for the rest of this response: the file (if any) is closed now.
    resp_buf_.reset();
    if (resp_draining_) {
      resp_draining_ = false;
      finishExchange();
      return;
    }
  }
  armDownstreamTimer();
}

void Session::onResponseComplete() {
  if (down_framing_ == DownstreamFraming::Chunked) {
    // Fits: responseBufferRoom() keeps room for it.
    if (!resp_buf_.empty()) (void)resp_buf_.append(http::kLastChunk);
    else http::appendLastChunk(down_->output());
  }
  resp_state_ = RespState::Done;
  bool reusable = resp_.keep_alive && req_state_ == ReqState::Done &&
                  resp_.framing != http::Framing::UntilClose && up_ && up_->input().empty();
  // The upstream is free as soon as its response is in: with buffering, this happens while
  // a slow client is still downloading (what gunicorn's sync workers need).
  releaseUpstream(reusable);
  endExchangeAccounting();
  // A response that came before the whole request body (an early 4xx): the rest of the body is
  // unread, so the next request cannot be found; finish with this one.
  if (req_state_ != ReqState::Done) close_after_ = linger_ = true;
  down_->flush();
  if (dead_) return;
  if (!resp_buf_.empty()) {
    resp_draining_ = true;
    armDownstreamTimer();
    return;
  }
  finishExchange();
}

void Session::onUpstreamFailed(ErrorKind kind, const char* what) {
  if (up_) releaseUpstream(false);
  const auto& c = *rt_->clusters[cluster_];
  AttemptFacts f;
  f.kind = kind;
  f.before_response = resp_state_ == RespState::WaitHead || resp_state_ == RespState::Connecting;
  f.response_started = response_started_;
  f.holds_host = host_acquired_;
  f.reused_connection = reused_;
  f.upstream_sent_bytes = upstream_got_bytes_;
  f.stale_retry_done = retried_stale_;
  // The body can be sent again only if it is empty or the proxy still holds all of it.
  f.body_replayable = req_framing_ == http::Framing::None || (req_buffering_ && req_state_ == ReqState::Done);
  f.idempotent = idempotent(method_);
  f.retries_done = retries_;
  f.retries_allowed = c.options().retries;
  RetryDecision d = decideRetry(f);
  if (d == RetryDecision::SameHostFresh) {
    retried_stale_ = true;
    connectHost(false);
    return;
  }
  logUpstreamFailure(what, 0);
  if (kind != ErrorKind::Overloaded && host_acquired_) c.outlier().onFailure(host_, worker_.loop().nowMs());
  // The retry budget keeps an outage from multiplying the load on the hosts that are left.
  if (d == RetryDecision::OtherHost && (in_retry_ || c.retryBudget().tryStartRetry())) {
    in_retry_ = true;
    ++retries_;
    ++rec_.retries;
    releaseHostSlot();
    last_failure_ = kind;
    retried_stale_ = false;
    selectHost();
    return;
  }
  releaseHostSlot();
  if (response_started_) {
    rec_.setError(kind);
    // Part of the response is with the client already: the only honest signal left is to
    // cut the connection so the truncation is visible.
    down_->abort(net::CloseReason::Error);
    return;
  }
  fail(kind);
}

void Session::logUpstreamFailure(const char* what, int status) {
  const auto& c = *rt_->clusters[cluster_];
  const auto& host = c.hosts()[host_];
  uint32_t suppressed = 0;
  if (!host.state->shouldLog(worker_.loop().nowMs(), 1000, &suppressed)) return;
  if (status != 0) {
    base::log::warn("upstream ", c.name(), "/", host.name, ": ", what, " (", status, ")",
                    suppressed ? " and " + std::to_string(suppressed) + " more failures in the last second" : "");
  } else {
    base::log::warn("upstream ", c.name(), "/", host.name, ": ", what,
                    suppressed ? " and " + std::to_string(suppressed) + " more failures in the last second" : "");
  }
}

void Session::releaseUpstream(bool reusable) {
  net::Connection* up = std::exchange(up_, nullptr);
  upstream_ready_ = false;
  up_paused_ = false;
  if (!up) return;
  if (reusable && !worker_.draining()) {
    gen_->pools[cluster_]->put(host_, up);
  } else {
    up->setHandler(nullptr);
    up->abort();
  }
}

void Session::finishExchange() {
  if (rec_open_) finishRequest(*down_);
  if (close_after_ || !req_keep_alive_ || worker_.draining() ||
      (response_started_ && down_framing_ == DownstreamFraming::UntilClose)) {
    down_->close(linger_);
    return;
  }
  req_state_ = ReqState::Idle;
  resp_state_ = RespState::None;
  response_started_ = false;
  served_ = true;
  req_buffering_ = resp_buffering_ = resp_draining_ = false;
  req_buf_.reset();
  resp_buf_.reset();
  req_parser_.reset();
  req_.clear();
  if (down_->readingPaused()) down_->resumeReading();
  armDownstreamTimer();
  idle_since_ms_ = worker_.loop().nowMs();
  released_ = false;
  processInput();  // a pipelined request may be waiting (re-entrancy guarded)
}

// ---------------------------------------------------------------------------------------------
// The request record

void Session::beginRequest() {
  rec_open_ = true;
  rec_start_ns_ = steadyNs();
  rec_out_base_ = down_->bytesOut();
  // Assign field by field: the strings keep their capacity from the previous request.
  RequestRecord& r = rec_;
  r.start_unix_us = std::chrono::duration_cast<std::chrono::microseconds>(
                        std::chrono::system_clock::now().time_since_epoch()).count();
  r.duration_us = 0;
  r.upstream_connect_us = r.upstream_first_byte_us = -1;
  r.listener = &listener_;
  r.client_ip = down_->peerIp();
  r.client_port = down_->peerPort();
  r.protocol = {};
  r.tls = down_->tlsInfo();
  r.connection_id = connection_id_;
  r.method.clear();
  r.target.clear();
  r.host.clear();
  r.user_agent.clear();
  r.referer.clear();
  r.request_id.clear();
  r.status = 0;
  r.bytes_in = r.bytes_out = 0;
  r.route = r.cluster = r.host_index = -1;
  r.cluster_name = r.upstream_host = {};
  r.attempts = r.retries = 0;
  r.queued = r.queue_timeout = false;
  r.has_error = false;
}

void Session::noteRequestHead() {
  RequestRecord& r = rec_;
  r.protocol = req_.version_minor == 0 ? "HTTP/1.0" : "HTTP/1.1";
  r.method.assign(req_.method_text);
  r.target.assign(req_.target);
  r.host.assign(req_.host);
  r.bytes_in += req_.head_bytes;
  const config::RequestId& rid = rt_->config->request_id;
  bool have_id = false;
  for (const auto& h : req_.headers) {
    if (http::iequals(h.name, "user-agent")) r.user_agent.assign(h.value);
    else if (http::iequals(h.name, "referer")) r.referer.assign(h.value);
    else if (rid.enabled && rid.trust_client && !have_id && http::iequals(h.name, rid.header) &&
             usableRequestId(h.value)) {
      r.request_id.assign(h.value);
      have_id = true;
    }
  }
  if (rid.enabled && !have_id) makeRequestId(r.request_id);
}

uint64_t Session::elapsedUs() const { return (steadyNs() - rec_start_ns_) / 1000; }

void Session::finishRequest(net::Connection& down) {
  rec_open_ = false;
  RequestRecord& r = rec_;
  r.duration_us = elapsedUs();
  r.bytes_out = down.bytesOut() - rec_out_base_;
  worker_.requestDone(r);
}

// ---------------------------------------------------------------------------------------------
// Local answers

void Session::sendLocalReply(int status, std::string_view location) {
  base::Buffer& out = down_->output();
  bool close = close_after_ || !req_keep_alive_ || worker_.draining() || status >= 400;
  // 4xx for a bad request and 5xx after an upstream failure both close: after a framing error
  // the stream position is unknown, and a client that got 502 can retry on a fresh connection.
  // 404/421 are ordinary answers and keep the connection (the body, if any, was not read, in
  // which case close_after_ is already set).
  if (status == 404 || status == 421 || status == 405) close = close_after_ || !req_keep_alive_ || worker_.draining();
  if (close) close_after_ = true;
  rec_.status = status;
  http::appendStatusLine(out, status);
  http::appendHeader(out, "Date", http::httpDateNow());
  http::appendHeader(out, "Content-Type", "text/plain; charset=utf-8");
  if (!location.empty()) http::appendHeader(out, "Location", location);
  if (!listener_.hsts.empty()) http::appendHeader(out, "Strict-Transport-Security", listener_.hsts);
  // Overloaded (every server at its max_requests, queue full or timed out): tell clients and
  // crawlers when to come back instead of letting them hammer (RFC 9110 §10.2.3).
  if (status == 503) http::appendHeader(out, "Retry-After", "1");
  std::string_view reason = http::reasonPhrase(status);
  char code[3] = {static_cast<char>('0' + status / 100), static_cast<char>('0' + status / 10 % 10),
                  static_cast<char>('0' + status % 10)};
  http::appendHeader(out, "Content-Length", static_cast<uint64_t>(3 + 1 + reason.size() + 1));
  if (close) http::appendHeader(out, "Connection", "close");
  else if (version_minor_ == 0) http::appendHeader(out, "Connection", "keep-alive");
  http::appendEndOfHead(out);
  if (method_ != http::Method::Head) {
    out.append(code, 3);
    out.append(" ");
    out.append(reason);
    out.append("\n");
  }
  response_started_ = true;
  down_->flush();
}

void Session::fail(ErrorKind kind) {
  rec_.setError(kind);
  if (up_) releaseUpstream(false);
  endExchangeAccounting();
  // The request body (if any) was not read to its end: the connection must close after, and
  // linger so the client's unread bytes do not turn the close into an RST that eats the answer.
  if (req_state_ == ReqState::Body || req_state_ == ReqState::Head) close_after_ = linger_ = true;
  if (req_state_ == ReqState::Head) method_ = http::Method::Get;  // head unparsed: full answer
  req_state_ = ReqState::Done;
  resp_state_ = RespState::Done;
  sendLocalReply(statusFor(kind));
  if (dead_) return;
  finishExchange();
}

void Session::armDownstreamTimer() {
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
    case ReqState::Done:
      // Waiting on the client to take the response: a send timeout.
      if (up_paused_ || !resp_buf_.empty()) down_->setTimeout(static_cast<uint64_t>(t.client_body.count()));
      else down_->clearTimeout();
      return;
  }
}

void Session::armUpstreamTimer() {
  if (up_) up_->setTimeout(static_cast<uint64_t>(rt_->config->timeouts.upstream_response.count()));
}

// ---------------------------------------------------------------------------------------------
// Upstream connection events

void Session::UpstreamHandler::onConnected(net::Connection&, int status) { s_->onUpstreamConnected(status); }
void Session::UpstreamHandler::onData(net::Connection&) { s_->onUpstreamData(); }

void Session::UpstreamHandler::onEof(net::Connection&) {
  Session* s = s_;
  if (s->resp_state_ == RespState::Body && s->resp_.framing == http::Framing::UntilClose) {
    s->onResponseComplete();  // releaseUpstream sees UntilClose: not reused
    return;
  }
  s->onUpstreamFailed(ErrorKind::UpstreamProtocol,
                      s->resp_state_ == RespState::Body ? "closed mid-body" : "closed before responding");
}

void Session::UpstreamHandler::onDrained(net::Connection&) {
  Session* s = s_;
  if (s->req_buffering_ && !s->req_buf_.empty() && s->up_) {
    s->sendBufferedRequestBody();
    return;
  }
  if (s->req_state_ == ReqState::Body && s->down_) {
    s->down_->resumeReading();
    s->processInput();
  }
}

void Session::UpstreamHandler::onTimeout(net::Connection&) {
  s_->onUpstreamFailed(ErrorKind::UpstreamTimeout, "response timeout");
}

void Session::UpstreamHandler::onClose(net::Connection&, net::CloseReason) {
  Session* s = s_;
  s->up_ = nullptr;
  s->upstream_ready_ = false;
  if (s->dead_ || s->resp_state_ == RespState::Done || s->resp_state_ == RespState::None) return;
  s->onUpstreamFailed(ErrorKind::UpstreamProtocol, "connection reset");
}

}  // namespace portcullis::proxy
