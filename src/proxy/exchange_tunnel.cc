// Exchange, third part: a WebSocket exchange that became a tunnel. It starts only on the
// upstream's real 101 with Upgrade: websocket (tunnelling earlier would let a request the
// upstream refused smuggle bytes past the proxy's parser), then moves bytes both ways with the
// same backpressure as a response body: a slow reader pauses the other side's reads.
#include <algorithm>

#include "base/log.h"
#include "proxy/exchange.h"

namespace portcullis::proxy {

void Exchange::startTunnel() {
  const http::ResponseHead& head = client_.head();
  rt_->clusters[cluster_]->outlier().onSuccess(host_);
  rec_.status = 101;
  rec_.tunnel = true;
  downstreamResponse(head, stream_.facts().listener->hsts, resp_);
  resp_.body = http::BodySize::None;
  resp_.websocket = true;
  client_.consumeHead(up_->input());
  resp_state_ = RespState::Tunnel;
  tunnel_up_eof_ = tunnel_down_eof_ = false;
  // The request is answered: its max_requests slot and retry budget go back. A WebSocket may
  // stay open for hours, and holding a slot would starve the host's HTTP requests (ASGI
  // servers serve thousands of sockets; max_requests sizes a WSGI worker pool).
  endExchangeAccounting();
  worker_.tunnelOpened(rec_);
  stream_.sendResponseHead(resp_);
  // The codec hands over what the client sent after the upgrade request (onTunnelData).
  stream_.startTunnel();
  if (dead_ || !up_) return;
  relayTunnelFromUpstream();
}

void Exchange::relayTunnelFromUpstream() {
  base::Buffer& in = up_->input();
  if (!in.empty()) {
    size_t n = in.size();
    stream_.sendBody(in.view());
    in.consume(n);
    worker_.tunnelBytes(rec_, 0, n);
  }
  stream_.flush();
  if (dead_ || !up_) return;
  if (stream_.aboveHighWatermark()) {
    up_paused_ = true;
    up_->pauseReading();  // onDownstreamDrained resumes it
  }
  touchTunnel();
}

void Exchange::onTunnelData(base::Buffer& in) {
  size_t n = in.size();
  if (n == 0) return;
  if (!up_ || tunnel_down_eof_) {
    in.consume(n);  // the upstream is gone: endTunnel is under way
    return;
  }
  up_->write(in.view());
  in.consume(n);
  rec_.bytes_in += n;
  worker_.tunnelBytes(rec_, n, 0);
  up_->flush();
  if (dead_ || !up_) return;
  touchTunnel();
}

void Exchange::onTunnelEof() {
  tunnel_down_eof_ = true;
  if (tunnel_up_eof_ || !up_) {
    endTunnel();
    return;
  }
  up_->shutdownWrite();
  touchTunnel();
}

void Exchange::onTunnelUpstreamEof() {
  tunnel_up_eof_ = true;
  if (tunnel_down_eof_) {
    endTunnel();
    return;
  }
  stream_.closeWrite();
  if (!dead_) touchTunnel();
}

void Exchange::onTunnelIdle() { endTunnel(); }

uint64_t Exchange::tunnelIdleMs() const {
  const auto& t = rt_->config->timeouts;
  // Half-closed, only the other side's FIN is awaited (a WebSocket peer closes right after the
  // closing handshake): client_idle bounds that wait, as HAProxy's client-fin/server-fin do,
  // so a peer that never closes cannot hold both sockets for the whole tunnel_idle.
  auto wait = t.tunnel_idle;
  if (tunnel_up_eof_ || tunnel_down_eof_) wait = std::min(wait, t.client_idle);
  return static_cast<uint64_t>(wait.count());
}

void Exchange::touchTunnel() {
  tunnel_active_ms_ = worker_.loop().nowMs();
  if (up_) up_->setTimeout(tunnelIdleMs());
  stream_.rearmTimer();
}

bool Exchange::releaseTunnelUpstream() {
  if (!inTunnel() || (up_ && (!up_->input().empty() || up_->pendingBytes() != 0))) return false;
  if (up_) up_->releaseIdleMemory();
  return true;
}

void Exchange::closeTunnelUpstream() {
  resp_state_ = RespState::Done;
  up_paused_ = false;
  upstream_ready_ = false;
  if (net::Connection* up = std::exchange(up_, nullptr)) {
    up->setHandler(nullptr);
    up->close();  // what the client sent last (its close frame) still reaches the app
  }
}

void Exchange::endTunnel() {
  if (!inTunnel()) return;
  closeTunnelUpstream();
  finish();
}

}  // namespace portcullis::proxy
