#include "proxy/exchange.h"

#include "proxy/exchange_static.h"

#include "base/log.h"
#include "http/serializer.h"
#include "http/uri.h"
#include "proxy/hash_key.h"
#include "proxy/redirect.h"
#include "proxy/retry_policy.h"

namespace portcullis::proxy {

Exchange::Exchange(WorkerContext& worker, DownstreamStream& stream)
    : worker_(worker),
      stream_(stream),
      gen_(worker.current()),
      rt_(gen_->runtime.get()),
      client_(rt_->parser_limits) {}

Exchange::~Exchange() = default;

// ---------------------------------------------------------------------------------------------
// Request head, route

void Exchange::begin(const std::shared_ptr<Generation>& gen) {
  if (gen_ != gen) {
    gen_ = gen;
    rt_ = gen_->runtime.get();
    client_ = upstream::Http1Client(rt_->parser_limits);
  }
  rec_open_ = true;
  method_ = http::Method::Get;  // until a head is parsed: an unparsable one gets a full answer
  rec_start_ns_ = steadyNowNs();
  rec_out_base_ = stream_.bytesOut();
  resetRecord(rec_, stream_.facts());
  req_complete_ = false;
  req_body_bytes_ = 0;
}

void Exchange::onHeadError(ErrorKind kind) { fail(kind); }

void Exchange::onRequestHead(const http::RequestHead& req, bool has_body) {
  const ConnectionFacts& conn = stream_.facts();
  const ListenerInfo& listener = *conn.listener;
  noteRequestHead(rec_, req, worker_.recordsText());
  if (worker_.recordsText()) noteRequestId(rec_, req, rt_->config->request_id);
  method_ = req.method;
  req_framing_ = req.framing;
  req_content_length_ = req.content_length;
  req_complete_ = !has_body;
  const auto& limits = rt_->config->limits;
  verdict_ = Verdict::Fail;
  websocket_ = false;

  if (req.method == http::Method::Connect) {
    verdict_error_ = ErrorKind::MethodNotAllowed;
    return;
  }
  if (limits.body && req.framing == http::Framing::ContentLength && req.content_length > limits.body) {
    verdict_error_ = ErrorKind::BodyTooLarge;
    return;
  }

  // Route. Host is validated by the parser (present and well-formed for HTTP/1.1).
  std::string_view host = req.host;
  if (auto a = http::parseAuthority(host)) host = a->host;
  bool redirect_listener = !listener.tls;
  if (redirect_listener && !isAcmeChallenge(req.path)) {
    if (req.host.empty()) {  // HTTP/1.0 without Host: nowhere to redirect to
      verdict_error_ = ErrorKind::BadRequest;
      return;
    }
    if (!hostAllowed(host, listener.redirect_allowed_hosts)) {
      // Not one of ours: redirecting would send the client to whatever name it made up.
      verdict_error_ = ErrorKind::NoRouteHost;
      return;
    }
    // Into the kept string, from the host parsed above: no allocation, no second parse.
    assignHttpsLocation(location_, host, listener.https_port, req.path, req.query, req.has_query);
    verdict_ = Verdict::Redirect;
    return;
  }

  // Connection coalescing (RFC 9113 §9.1.1): an HTTP/2 client may send a request for another
  // name down a connection whose certificate covers that name too. A name the certificate does
  // not cover was never vouched for on this connection: 421, and the client retries on a
  // connection of its own. (A request for the name the client asked for in SNI, or on a
  // connection without SNI, is the client's own choice and not coalescing.)
  if (req.version_major == 2 && conn.tls && !conn.tls->sni.empty() && !conn.tls->certificate_names.empty() &&
      !http::iequals(host, conn.tls->sni) && !certificateCovers(conn.tls->certificate_names, host)) {
    verdict_error_ = ErrorKind::NoRouteHost;
    return;
  }
  RouteMatch m = rt_->router.match(host, req.path, redirect_listener);
  if (m.kind != RouteMatch::Kind::Forward) {
    verdict_error_ = m.kind == RouteMatch::Kind::NoHost && !redirect_listener ? ErrorKind::NoRouteHost
                                                                             : ErrorKind::NoRoutePath;
    return;
  }
  route_ = m.route;
  rec_.route = static_cast<int>(m.route);
  if (const auto& st = rt_->config->routes[m.route].static_files) {
    const bool has_cluster = m.cluster != RouteMatch::kNoCluster;
    prepareStatic(req, *st, has_cluster && st->fallback_upstream);
    // Served (or refused) from the root unless the upstream may get it: then the upstream
    // head is prepared too, for a missing file or a method the files do not answer.
    if (!has_cluster || !st->fallback_upstream) return;
  }
  if (m.cluster == RouteMatch::kNoCluster) {
    verdict_error_ = ErrorKind::Internal;  // not reached: config requires an upstream here
    return;
  }

  // Serialize the upstream head now: req's views point into the codec's input buffer.
  up_head_.clear();
  ForwardInfo info;
  info.client_ip = conn.client_ip;
  info.https = listener.tls;
  info.local_port = conn.local_port;
  const auto& hosts = rt_->clusters[m.cluster]->hosts();
  info.fallback_host = hosts.empty() ? std::string_view() : std::string_view(hosts[0].name);
  info.client_subject_header = listener.client_subject_header;
  info.client_fingerprint_header = listener.client_fingerprint_header;
  if (conn.tls && !listener.client_subject_header.empty()) {
    // Read at the handshake, once: the certificate cannot change on the connection (no
    // renegotiation in TLS 1.3, and BoringSSL refuses it in 1.2 by default).
    info.client_subject = conn.tls->client_subject;
    info.client_fingerprint = conn.tls->client_fingerprint;
  }
  websocket_ = rt_->config->routes[m.route].websocket && isWebSocketUpgrade(req);
  info.websocket = websocket_;
  if (rt_->config->request_id.enabled) {
    if (!worker_.recordsText()) noteRequestId(rec_, req, rt_->config->request_id);
    info.request_id_header = rt_->config->request_id.header;
    info.request_id = rec_.request_id;
  }
  upstreamRequestFields(req, info, fwd_scratch_, up_fields_);
  appendUpstreamRequestHead(up_head_, req, up_fields_);
  hashKeyFor(rt_->config->upstreams[m.cluster], req, conn.client_ip, hash_key_);
  compress_.onRequest(req, rt_->config->routes[m.route].compress);
  cluster_ = m.cluster;
  route_ = m.route;
  rec_.route = static_cast<int>(m.route);
  rec_.cluster = static_cast<int>(m.cluster);
  rec_.cluster_name = rt_->clusters[m.cluster]->name();
  if (verdict_ != Verdict::Static) verdict_ = Verdict::Forward;
}

void Exchange::proceed() {
  switch (verdict_) {
    case Verdict::Fail:
      fail(verdict_error_);
      return;
    case Verdict::Redirect:
      // The body of a redirected request is not read; the codec closes after the reply.
      resp_state_ = RespState::Done;
      rec_.status = redirectStatus(method_);
      if (!reply(location_)) return;
      finish();
      return;
    case Verdict::Static:
      startStatic();
      return;
    case Verdict::Forward:
      break;
  }
  forward();
}

void Exchange::forward() {
  const config::Buffering& buffering = rt_->config->routes[route_].buffering;
  req_buffering_ = buffering.request && !req_complete_;
  resp_buffering_ = buffering.response;
  if (req_buffering_) {
    // Take the whole body before an upstream connection: a slow upload must not hold a
    // gunicorn sync worker. Its limit is limits.body (checked as it arrives).
    req_buf_.configure(buffering.memory, UINT64_MAX, rt_->config->temp_dir);
    stream_.requestBodyWanted();
    return;  // the codec feeds the body in; startExchange once it is complete
  }
  startExchange();
}

// ---------------------------------------------------------------------------------------------
// Request body

bool Exchange::onRequestBody(std::string_view data, size_t wire_bytes) {
  // Checked as bytes arrive: a chunked body has no length up front.
  req_body_bytes_ += data.size();
  const uint64_t limit = rt_->config->limits.body;
  if (!data.empty() && limit && req_body_bytes_ > limit) {
    fail(ErrorKind::BodyTooLarge);
    return false;
  }
  rec_.bytes_in += wire_bytes;
  if (data.empty()) return true;
  if (req_buffering_) {
    if (!req_buf_.append(data)) {
      base::log::error("request buffering: cannot spill to ", rt_->config->temp_dir);
      fail(ErrorKind::Internal);
      return false;
    }
    return true;
  }
  if (req_framing_ == http::Framing::Chunked) http::appendChunk(up_->output(), data);
  else up_->write(data);
  return true;
}

bool Exchange::bodyBlocked() const { return !req_buffering_ && up_ && up_->aboveHighWatermark(); }

void Exchange::onRequestBodyPumped(bool wrote, bool complete) {
  if (req_buffering_) {
    if (!complete) return;
    req_complete_ = true;
    startExchange();
    return;
  }
  if (complete) {
    if (req_framing_ == http::Framing::Chunked) http::appendLastChunk(up_->output());
    req_complete_ = true;
    wrote = true;
  }
  if (wrote) flushUpstream();
}

void Exchange::sendBufferedRequestBody() {
  // Backpressure towards the upstream only: the client is done sending.
  bool wrote = false;
  while (!req_buf_.empty() && !up_->aboveHighWatermark()) {
    auto n = req_buf_.readInto(up_->output(), kBufferStep);
    if (!n || *n == 0) {
      onUpstreamFailed(ErrorKind::Internal, "cannot read the buffered request body");
      return;
    }
    wrote = true;
  }
  if (wrote) flushUpstream();
}

// ---------------------------------------------------------------------------------------------
// Host selection, queue, connection

void Exchange::startExchange() {
  tried_hosts_.clear();
  retries_ = 0;
  retried_stale_ = false;
  last_failure_ = ErrorKind::UpstreamConnect;
  rt_->clusters[cluster_]->retryBudget().requestStarted();
  counted_in_budget_ = true;
  selectHost();
}

void Exchange::selectHost() {
  const auto& c = *rt_->clusters[cluster_];
  upstream::Balancer& balancer = *gen_->balancers[cluster_];
  std::optional<size_t> h =
      balancer.acquire(upstream::PickContext{worker_.loop().nowMs(), hash_key_}, tried_hosts_);
  if (h) {
    host_ = *h;
    host_acquired_ = true;
    tried_hosts_.add(host_);
    if (retries_ > 0) c.hosts()[host_].state->countRetry();
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

void Exchange::enqueue() {
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

void Exchange::onDequeued(bool timed_out) {
  rt_->clusters[cluster_]->waiting().fetch_sub(1, std::memory_order_relaxed);
  if (timed_out) {
    rec_.queue_timeout = true;
    fail(ErrorKind::Overloaded);
    return;
  }
  selectHost();
}

void Exchange::releaseHostSlot() {
  if (!host_acquired_) return;
  host_acquired_ = false;
  rt_->clusters[cluster_]->hosts()[host_].state->release();
  // A slot is free: a request queued in this worker can have it now (other workers find it
  // on their queue sweep).
  worker_.onSlotFreed(gen_, cluster_);
}

void Exchange::endExchangeAccounting() {
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

void Exchange::connectHost(bool allow_pool) {
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

void Exchange::onUpstreamConnected(int status) {
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

void Exchange::onUpstreamReady() {
  rec_.upstream_connect_us = static_cast<int64_t>(elapsedUs());
  resp_state_ = RespState::WaitHead;
  upstream_ready_ = true;
  client_.startResponse(method_);
  up_->write(up_head_.view());
  if (req_buffering_) {
    // The body is complete: send it with its length, whatever framing the client used.
    finishUpstreamRequestHead(up_->output(), http::Framing::ContentLength, req_buf_.total());
    req_buf_.rewind();
    sendBufferedRequestBody();
    if (dead_ || !up_) return;
    flushUpstream();  // the head, when no body byte went with it
    return;
  }
  finishUpstreamRequestHead(up_->output(), req_framing_, req_content_length_);
  if (!req_complete_) {
    // The codec answers 100-continue now, if asked, and feeds the body it holds.
    stream_.requestBodyWanted();
    return;
  }
  flushUpstream();
}

bool Exchange::flushUpstream() {
  up_->flush();
  if (dead_ || !up_) return false;
  armUpstreamTimer();
  return true;
}

void Exchange::armUpstreamTimer() {
  if (!up_) return;
  const auto& t = rt_->config->timeouts;
  up_->setTimeout(inTunnel() ? tunnelIdleMs() : static_cast<uint64_t>(t.upstream_response.count()));
}

// ---------------------------------------------------------------------------------------------
// Upstream connection events

void Exchange::UpstreamHandler::onConnected(net::Connection&, int status) { e_->onUpstreamConnected(status); }
void Exchange::UpstreamHandler::onData(net::Connection&) { e_->onUpstreamData(); }

void Exchange::UpstreamHandler::onEof(net::Connection&) {
  Exchange* e = e_;
  if (e->inTunnel()) {
    e->onTunnelUpstreamEof();
    return;
  }
  if (e->resp_state_ == RespState::Body && e->client_.head().framing == http::Framing::UntilClose) {
    e->onResponseComplete();  // releaseUpstream sees UntilClose: not reused
    return;
  }
  e->onUpstreamFailed(ErrorKind::UpstreamProtocol,
                      e->resp_state_ == RespState::Body ? "closed mid-body" : "closed before responding");
}

void Exchange::UpstreamHandler::onDrained(net::Connection&) {
  Exchange* e = e_;
  if (e->req_buffering_ && !e->req_buf_.empty() && e->up_) {
    e->sendBufferedRequestBody();
    return;
  }
  // The upstream takes bytes again: the client may send more (request body or tunnel bytes).
  if ((!e->req_complete_ || e->inTunnel()) && !e->dead_) e->stream_.requestBodyWanted();
}

void Exchange::UpstreamHandler::onTimeout(net::Connection&) {
  if (e_->inTunnel()) {
    e_->onTunnelIdle();
    return;
  }
  e_->onUpstreamFailed(ErrorKind::UpstreamTimeout, "response timeout");
}

void Exchange::UpstreamHandler::onClose(net::Connection&, net::CloseReason) {
  Exchange* e = e_;
  e->up_ = nullptr;
  e->upstream_ready_ = false;
  if (e->dead_ || e->resp_state_ == RespState::Done || e->resp_state_ == RespState::None) return;
  if (e->inTunnel()) {
    e->endTunnel();  // a reset on one side closes the other
    return;
  }
  e->onUpstreamFailed(ErrorKind::UpstreamProtocol, "connection reset");
}

}  // namespace portcullis::proxy
