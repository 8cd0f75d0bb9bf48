// Exchange, second half: the response (relay, buffering, completion), failures and retries,
// and the one exit. The request half is in exchange.cc.
#include "base/log.h"
#include "proxy/exchange.h"
#include "proxy/exchange_static.h"
#include "proxy/retry_policy.h"

namespace portcullis::proxy {

void Exchange::onUpstreamData() {
  if (!up_) return;
  if (resp_state_ == RespState::Tunnel) {
    relayTunnelFromUpstream();
    return;
  }
  if (!upstream_got_bytes_) rec_.upstream_first_byte_us = static_cast<int64_t>(elapsedUs());
  upstream_got_bytes_ = true;
  if (resp_state_ == RespState::WaitHead) {
    switch (client_.readHead(up_->input())) {
      case upstream::Http1Client::Read::NeedMore:
        armUpstreamTimer();
        return;
      case upstream::Http1Client::Read::Error:
        onUpstreamFailed(ErrorKind::UpstreamProtocol, client_.errorDetail());
        return;
      case upstream::Http1Client::Read::Upgrade:
        if (websocket_ && isWebSocketAccept(client_.head())) {
          startTunnel();
          return;
        }
        // No other upgrade is forwarded, so no upstream may switch protocols on the proxy.
        onUpstreamFailed(ErrorKind::UpstreamProtocol, "unexpected 101 Switching Protocols");
        return;
      case upstream::Http1Client::Read::Head:
        onResponseHead();
        if (dead_) return;
        break;
    }
  }
  if (resp_state_ == RespState::Body) relayResponseBody();
}

void Exchange::onResponseHead() {
  {
    // Passive health: a 5xx counts against the host like a failed connect (gunicorn answers
    // 500/502/503 when its app or workers are broken).
    const auto& c = *rt_->clusters[cluster_];
    if (client_.head().status >= 500) c.outlier().onFailure(host_, worker_.loop().nowMs());
    else c.outlier().onSuccess(host_);
  }
  const http::ResponseHead& head = client_.head();
  rec_.status = head.status;
  downstreamResponse(head, stream_.facts().listener->hsts, resp_);
  compress_.onResponseHead(resp_);
  stream_.sendResponseHead(resp_);
  client_.consumeHead(up_->input());
  if (resp_buffering_) {
    const config::Buffering& b = rt_->config->routes[route_].buffering;
    resp_buf_.configure(b.memory, b.max_file, rt_->config->temp_dir);
  }
  resp_state_ = RespState::Body;
  if (client_.bodyDone()) {
    onResponseComplete();
    return;
  }
  // When body bytes came with the head, relayResponseBody flushes both together: one write and
  // one TLS record. App servers often write the head and the body in two send()s (gunicorn
  // does), so with response buffering on the head also waits for the first body bytes, which
  // follow within microseconds: a small response leaves in one record, as with nginx. Streaming
  // routes (buffering off: SSE, long polling) send the head at once, so the client sees it
  // before a slow body.
  if (up_->input().empty() && !resp_buffering_) stream_.flush();
}

bool Exchange::responseToBuffer() const {
  // Once anything waits in resp_buf_, everything after it must queue behind it.
  return resp_buffering_ && (!resp_buf_.empty() || stream_.aboveHighWatermark());
}

void Exchange::emitResponseBytes(std::string_view data) {
  if (responseToBuffer()) {
    if (resp_buf_.append(data).ok()) return;
    // Only a disk error gets here (the size limit is checked before decoding): deliver the
    // bytes anyway; memory grows for this one response instead of losing data.
    base::log::error("response buffering: cannot spill to ", rt_->config->temp_dir);
    resp_buffering_ = false;
    drainResponseBuffer();
    if (dead_) return;
  }
  stream_.sendBody(data);
}

// resp_buf_ holds body bytes only: the codec frames them (chunks) as they leave it.
uint64_t Exchange::responseBufferRoom() const {
  uint64_t used = resp_buf_.total();
  return used < resp_buf_.limit() ? resp_buf_.limit() - used : 0;
}

bool Exchange::responseBufferFull() const { return resp_buffering_ && responseBufferRoom() == 0; }

void Exchange::relayResponseBody() {
  base::Buffer& in = up_->input();
  if (in.empty()) {
    // Only the head so far (onResponseHead flushed it unless it waits for the first body bytes).
    armUpstreamTimer();
    return;
  }
  bool buffer_short = false;  // resp_buf_'s room ended inside a chunk header: wait for a drain
  while (!in.empty() && !client_.bodyDone() && !responseBufferFull()) {
    // What will queue in resp_buf_ must fit in it, so decode no more than it takes: append()
    // failing would mean giving up buffering.
    std::string_view avail = in.view();
    if (responseToBuffer()) avail = avail.substr(0, responseInputRoom());
    http::DecodeStep step = client_.decodeBody(avail);
    if (step.error) {
      onUpstreamFailed(ErrorKind::UpstreamProtocol, "malformed response body");
      return;
    }
    if (!step.data.empty()) {
      emitResponseBody(step.data);
      if (dead_) return;
    }
    in.consume(step.consumed);
    if (step.consumed == 0) {
      buffer_short = avail.size() < in.size();
      break;
    }
  }
  if (client_.bodyDone()) {
    onResponseComplete();
    return;
  }
  if (in.empty()) {
    // The upstream paused: a streamed response (SSE, chunked HTML) must not wait in the encoder.
    flushCompressedBody();
    if (dead_) return;
  }
  stream_.flush();
  if (dead_) return;
  if ((!resp_buffering_ && stream_.aboveHighWatermark()) || responseBufferFull() || buffer_short) {
    // The client reads slower than the upstream sends and buffering is off or full: stop
    // reading the upstream until the client catches up (onDownstreamDrained), so memory stays
    // bounded.
    up_paused_ = true;
    up_->pauseReading();
    up_->clearTimeout();
    stream_.rearmTimer();
  } else {
    armUpstreamTimer();
  }
}

void Exchange::drainResponseBuffer() {
  while (!resp_buf_.empty() && !stream_.aboveHighWatermark()) {
    auto n = stream_.sendBodyFrom(resp_buf_, kBufferStep);
    if (!n || *n == 0) {
      base::log::error("response buffering: cannot read back the spilled response");
      rec_.setError(ErrorKind::Internal);
      stream_.reset();
      return;
    }
  }
  stream_.flush();
  if (dead_) return;
  if (resp_buf_.empty()) {
    // Start over for the rest of this response: the file (if any) is closed now.
    resp_buf_.reset();
    if (resp_draining_) {
      resp_draining_ = false;
      stream_.endResponse();
      if (dead_) return;
      finish();
      return;
    }
  }
  stream_.rearmTimer();
}

void Exchange::onDownstreamDrained() {
  if (static_waiting_) {
    sendStaticChunk();  // exchange_static.cc: the next chunk of a static file
    return;
  }
  if (!resp_buf_.empty()) {
    drainResponseBuffer();
    if (dead_ || resp_state_ != RespState::Body) return;
    if (!resp_buf_.empty() && responseBufferFull()) return;
  }
  if (up_paused_ && up_) {
    up_paused_ = false;
    up_->resumeReading();
    armUpstreamTimer();
    stream_.rearmTimer();
    if (!up_->input().empty()) onUpstreamData();
  }
}

void Exchange::onResponseComplete() {
  finishCompressedBody();
  if (dead_) return;
  resp_state_ = RespState::Done;
  const http::ResponseHead& head = client_.head();
  bool reusable = head.keep_alive && req_complete_ && head.framing != http::Framing::UntilClose && up_ &&
                  up_->input().empty();
  // The upstream is free as soon as its response is in: with buffering, this happens while
  // a slow client is still downloading (what gunicorn's sync workers need).
  releaseUpstream(reusable);
  endExchangeAccounting();
  if (!resp_buf_.empty()) {
    resp_draining_ = true;
    stream_.flush();
    if (dead_) return;
    stream_.rearmTimer();
    return;
  }
  stream_.endResponse();
  if (dead_) return;
  finish();
}

// ---------------------------------------------------------------------------------------------
// Failures

void Exchange::onUpstreamFailed(ErrorKind kind, const char* what) {
  if (up_) releaseUpstream(false);
  const auto& c = *rt_->clusters[cluster_];
  AttemptFacts f;
  f.kind = kind;
  f.before_response = resp_state_ == RespState::WaitHead || resp_state_ == RespState::Connecting;
  f.response_started = stream_.responseStarted();
  f.holds_host = host_acquired_;
  f.reused_connection = reused_;
  f.upstream_sent_bytes = upstream_got_bytes_;
  f.stale_retry_done = retried_stale_;
  // The body can be sent again only if it is empty or the proxy still holds all of it.
  f.body_replayable = req_framing_ == http::Framing::None || (req_buffering_ && req_complete_);
  f.idempotent = isIdempotent(method_);
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
  if (stream_.responseStarted()) {
    rec_.setError(kind);
    // Part of the response is with the client already: the only honest signal left is to
    // cut the connection (h2: the stream) so the truncation is visible.
    stream_.reset();
    return;
  }
  fail(kind);
}

void Exchange::logUpstreamFailure(const char* what, int status) {
  const auto& c = *rt_->clusters[cluster_];
  const auto& host = c.hosts()[host_];
  uint32_t suppressed = 0;
  if (!host.state->shouldLog(worker_.loop().nowMs(), 1000, &suppressed)) return;
  std::string more = suppressed ? " and " + std::to_string(suppressed) + " more failures in the last second" : "";
  if (status != 0) base::log::warn("upstream ", c.name(), "/", host.name, ": ", what, " (", status, ")", more);
  else base::log::warn("upstream ", c.name(), "/", host.name, ": ", what, more);
}

void Exchange::releaseUpstream(bool reusable) {
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

void Exchange::fail(ErrorKind kind) {
  rec_.setError(kind);
  if (up_) releaseUpstream(false);
  endExchangeAccounting();
  resp_state_ = RespState::Done;
  rec_.status = statusFor(kind);
  if (!reply()) return;
  finish();
}

bool Exchange::reply(std::string_view location) {
  std::string_view body = localReply(rec_.status, location, stream_.facts().listener->hsts,
                                     method_ == http::Method::Head, reply_scratch_, resp_);
  stream_.sendResponseHead(resp_);
  if (!body.empty()) stream_.sendBody(body);
  stream_.endResponse();
  return !dead_;
}

void Exchange::onDownstreamTimeout() {
  rec_.setError(ErrorKind::ClientTimeout);
  // A head cut short is logged as 408 all the same, as nginx does.
  if (rec_.status == 0 && !stream_.responseStarted()) rec_.status = 408;
}

// ---------------------------------------------------------------------------------------------
// The one exit

void Exchange::finish() {
  if (rec_open_) finishRecord();
  clearRequestState();
  stream_.onExchangeDone();  // may start the next pipelined request on this object
}

void Exchange::clearRequestState() {
  resp_state_ = RespState::None;
  cancelStatic();
  req_buffering_ = resp_buffering_ = resp_draining_ = websocket_ = false;
  req_buf_.reset();
  resp_buf_.reset();
  compress_.clear();
}

uint64_t Exchange::elapsedUs() const { return (steadyNowNs() - rec_start_ns_) / 1000; }

void Exchange::finishRecord() {
  rec_open_ = false;
  rec_.duration_us = elapsedUs();
  rec_.bytes_out = stream_.bytesOut() - rec_out_base_;
  worker_.requestDone(rec_);
}

void Exchange::onDownstreamClosed() {
  if (!rec_open_) return;
  if (inTunnel()) {
    // A tunnel ends when either side closes: the normal end of a WebSocket, not an error.
    closeTunnelUpstream();
    finishRecord();
    return;
  }
  // Cut short: unless one of our errors (upstream, timeout) ended it, the client reset or
  // closed mid-request or mid-response. With nothing sent it is nginx's 499.
  if (!rec_.has_error) rec_.setError(ErrorKind::ClientClosed);
  if (rec_.status == 0) rec_.status = 499;
  finishRecord();
}

void Exchange::releaseIdleMemory() {
  compress_.release();  // the encoder's state and its output buffer
  // The header vector keeps the capacity of the largest response seen (~32 bytes a header);
  // an idle connection does not need it.
  client_.releaseIdleMemory();
  // The head is kept after a request only to replay it on a retry; idle, there is none.
  up_head_.clear();
  up_head_.release();
  std::string().swap(hash_key_);
  std::string().swap(location_);
  if (static_ && !static_->task) static_->buf.reset();
}

void Exchange::revive() {
  dead_ = false;
  // What finish() clears, and what teardown left as it was (it aborted the upstream).
  clearRequestState();
  up_paused_ = upstream_ready_ = tunnel_up_eof_ = tunnel_down_eof_ = false;
  rec_open_ = false;
}

void Exchange::teardown() {
  if (dead_) return;
  dead_ = true;
  cancelStatic();
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
}

}  // namespace portcullis::proxy
