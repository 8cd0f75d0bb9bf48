#pragma once
// One downstream HTTP/1.1 connection: the HTTP/1 codec. It parses request heads (pipelined ones
// wait their turn), decodes request bodies, answers 100-continue, frames responses
// (Content-Length, chunked, or close-delimited for HTTP/1.0), decides keep-alive, and owns the
// client-side timeouts. Everything a request means is its Exchange's (exchange.h): one at a
// time, reused request after request, meeting this codec through DownstreamStream (stream.h).
//
// Ownership: the connection's handler; lives until that connection's onClose, then deletes
// itself through the loop's deferred-delete list (never on its own stack).
//
// Re-entrancy: flush()/close() may end the connection synchronously (onClose). Every step that
// calls them, or calls into the exchange, checks dead_ before touching anything else.
#include <cstdint>
#include <memory>

#include "http/body.h"
#include "http/message.h"
#include "http/parser.h"
#include "net/connection.h"
#include "proxy/exchange.h"
#include "proxy/forwarded.h"
#include "proxy/stream.h"
#include "proxy/worker_context.h"

namespace portcullis::proxy {

class H1Connection final : public net::ConnectionHandler,
                           public net::Deletable,
                           public DownstreamConnection,
                           public DownstreamStream {
 public:
  H1Connection(WorkerContext& worker, net::Connection& downstream, const ListenerInfo& listener);
  ~H1Connection() override;

  // Downstream connection events.
  void onData(net::Connection& c) override;
  void onEof(net::Connection& c) override;
  void onDrained(net::Connection& c) override;
  void onTimeout(net::Connection& c) override;
  void onClose(net::Connection& c, net::CloseReason why) override;
  void onHandshakeDone(net::Connection& c) override;

  // Graceful drain: closes now if between requests, else after the current response.
  void drain() override;
  void abort() override;
  // Gives back buffer memory if the connection has waited between requests since before
  // `idle_before_ms` (loop time). Called by the worker's periodic sweep, not per request.
  // True if it released anything (once per idle period).
  bool releaseIfIdle(uint64_t idle_before_ms) override;
  const ListenerInfo& listener() const { return listener_; }

  // DownstreamStream.
  const ConnectionFacts& facts() const override { return facts_; }
  uint64_t bytesOut() const override { return down_ ? down_->bytesOut() : bytes_out_at_close_; }
  void requestBodyWanted() override;
  void sendResponseHead(const http::Response& r) override;
  void sendBody(std::string_view data) override;
  base::Result<size_t> sendBodyFrom(BodyBuffer& from, size_t max) override;
  void endResponse() override;
  void flush() override;
  bool aboveHighWatermark() const override;
  bool responseStarted() const override { return response_started_; }
  void rearmTimer() override { armTimer(); }
  void reset() override;
  void startTunnel() override;
  void closeWrite() override;
  void onExchangeDone() override;

 private:
  friend class WorkerContext;
  // Where the request on this connection stands. Idle: between requests; Head: its first byte
  // came, the head is incomplete; Body: the head is in, the body is being decoded; Done: the
  // whole request is in (or abandoned), the response is under way; Tunnel: a WebSocket after its
  // 101, bytes are relayed unparsed until the exchange ends, and then the connection closes.
  enum class ReqState : uint8_t { Idle, Head, Body, Done, Tunnel };

  void processInput();
  void onRequestHead();
  void pumpRequestBody();
  void armTimer();
  void teardown();
  // ALPN chose h2: an H2Connection takes the connection over and this object goes.
  void handOverToH2();
  bool releaseQuietTunnel(uint64_t quiet_before_ms);
  void releaseBuffers();  // idle or quiet: the connection's and the exchange's buffers go back
  // At a request boundary: adopt the worker's newest runtime generation (after a reload).
  void refreshGeneration();

  WorkerContext& worker_;
  std::shared_ptr<Generation> gen_;  // the generation requests on this connection start with
  const Runtime* rt_;
  const ListenerInfo& listener_;
  net::Connection* down_;
  ConnectionFacts facts_;
  Exchange exchange_;

  http::RequestParser req_parser_;
  http::RequestHead req_;
  http::BodyDecoder req_body_;

  // Copied out of req_ when its head is consumed (the views die with those bytes).
  int version_minor_ = 1;
  bool req_keep_alive_ = true;
  bool expect_continue_ = false;

  ReqState req_state_ = ReqState::Idle;
  http::Framing down_framing_ = http::Framing::None;  // of the current response
  // Connection state, one comment per bit.
  bool response_started_ = false;  // the client has bytes of the current response
  bool close_after_ = false;       // close once the current response is out
  bool linger_ = false;            // close with lingering: the client may still be sending
  bool in_process_ = false;        // processInput is on the stack (it is not re-entered)
  bool dead_ = false;              // onClose ran; the object awaits deferred deletion
  bool served_ = false;            // at least one response completed on this connection
  bool handshake_done_ = false;    // TLS listeners: handshake_timeout applies until then
  bool released_ = false;          // buffers already given back in this idle period
  uint64_t idle_since_ms_ = 0;     // loop time the connection last became idle
  uint64_t tunnel_released_at_ = UINT64_MAX;  // tunnelActiveAt() when its buffers were last released
  uint64_t bytes_out_at_close_ = 0;
};

}  // namespace portcullis::proxy
