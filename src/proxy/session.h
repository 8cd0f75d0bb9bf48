#pragma once
// One downstream HTTP/1.1 connection and, one request at a time, its upstream exchange.
//
// Phases (Pingora-style named steps, each one method):
//   processInput -> onRequestHead -> route -> selectHost/connectHost -> onUpstreamReady
//   -> pumpRequestBody -> onUpstreamData/onResponseHead -> relayResponseBody
//   -> onResponseComplete -> finishExchange (keep-alive: back to processInput) | close.
//
// Ownership: the session is the downstream connection's handler and lives until that
// connection's onClose, then deletes itself through the loop's deferred-delete list (never on
// its own stack). The upstream connection is owned by the session during an exchange and by
// the worker's pool between exchanges.
//
// Re-entrancy: flush()/close() on either connection may synchronously end the session
// (onClose). Every step that calls them checks dead_ before touching anything else.
#include <cstdint>
#include <memory>

#include "base/buffer.h"
#include "http/body.h"
#include "http/message.h"
#include "http/parser.h"
#include "net/connection.h"
#include "proxy/body_buffer.h"
#include "proxy/error_map.h"
#include "proxy/forwarded.h"
#include "proxy/request_record.h"
#include "proxy/worker_context.h"
#include "upstream/balancer.h"
#include "upstream/request_queue.h"

namespace portcullis::proxy {

class Session final : public net::ConnectionHandler, public net::Deletable, public upstream::QueueWaiter {
 public:
  Session(WorkerContext& worker, net::Connection& downstream, const ListenerInfo& listener);
  ~Session() override;

  // Downstream connection events.
  void onData(net::Connection& c) override;
  void onEof(net::Connection& c) override;
  void onDrained(net::Connection& c) override;
  void onTimeout(net::Connection& c) override;
  void onClose(net::Connection& c, net::CloseReason why) override;
  void onHandshakeDone(net::Connection& c) override;

  // Graceful drain: closes now if between requests, else after the current response.
  void drain();
  void abort();
  // Gives back buffer memory if the connection has waited between requests since before
  // `idle_before_ms` (loop time). Called by the worker's periodic sweep, not per request.
  // True if it released anything (once per idle period).
  bool releaseIfIdle(uint64_t idle_before_ms);

 private:
  friend class WorkerContext;
  class UpstreamHandler final : public net::ConnectionHandler {
   public:
    explicit UpstreamHandler(Session* s) : s_(s) {}
    void onConnected(net::Connection& c, int status) override;
    void onData(net::Connection& c) override;
    void onEof(net::Connection& c) override;
    void onDrained(net::Connection& c) override;
    void onTimeout(net::Connection& c) override;
    void onClose(net::Connection& c, net::CloseReason why) override;

   private:
    Session* s_;
  };

  enum class ReqState : uint8_t { Idle, Head, Body, Done };
  enum class RespState : uint8_t { None, Queued, Connecting, WaitHead, Body, Done };

  // Downstream request side.
  void processInput();
  void onRequestHead();
  void pumpRequestBody();
  // Next run of the request body from the client's input. False: bad framing (400) or over
  // limits.body (413) was answered, and the session may be gone.
  bool decodeRequestBody(http::DecodeStep& step);
  void bufferRequestBody();        // request buffering: body -> req_buf_, then startExchange
  void sendBufferedRequestBody();  // req_buf_ -> upstream, under the upstream's watermark
  // Upstream exchange.
  void startExchange(size_t cluster);
  void computeHashKey(size_t cluster);  // hash policy: client IP, header or cookie value
  void selectHost();                    // balancer acquire; or queue, 502, 503
  void enqueue();
  void releaseHostSlot();               // the request leaves its host (idempotent)
  void endExchangeAccounting();         // slot + retry budget, on every way out
 public:
  // Called by the worker's queue service: a slot may be free (or the wait timed out).
  void onDequeued(bool timed_out);

 private:
  void connectHost(bool allow_pool);
  void onUpstreamConnected(int status);
  void onUpstreamReady();
  void onUpstreamData();
  void onResponseHead();
  void relayResponseBody();
  // Body bytes for the client: straight to its output, or behind resp_buf_ when buffering and
  // the client is slow. `chunk` wraps them in chunked framing.
  void emitResponseBytes(std::string_view data, bool chunk);
  void drainResponseBuffer();       // resp_buf_ -> client, under its watermark
  bool responseToBuffer() const;    // body bytes must queue in resp_buf_ (it holds some, or
                                    // the client is slow)
  uint64_t responseBufferRoom() const;  // body bytes resp_buf_ still takes, framing aside
  bool responseBufferFull() const;  // buffering limit reached: fall back to backpressure
  void onResponseComplete();
  void onUpstreamFailed(ErrorKind kind, const char* what);
  void releaseUpstream(bool reusable);
  void logUpstreamFailure(const char* what, int status);  // at most once a second per host
  void finishExchange();
  // Local answers.
  void sendLocalReply(int status, std::string_view location = {});
  void fail(ErrorKind kind);
  void armDownstreamTimer();
  void armUpstreamTimer();
  void teardown();
  // The request's record: opened at its first byte, filled along the phases, and closed exactly
  // once by finishRequest, which every way out reaches (finishExchange for an answered request,
  // onClose for everything cut short: resets, timeouts, aborts).
  void beginRequest();
  void noteRequestHead();
  uint64_t elapsedUs() const;
  void finishRequest(net::Connection& down);
  // At a request boundary: adopt the worker's newest runtime generation (after a reload).
  void refreshGeneration();

  WorkerContext& worker_;
  std::shared_ptr<Generation> gen_;  // snapshot + pools this request runs on
  const Runtime* rt_;                // gen_->runtime, cached
  const ListenerInfo& listener_;
  net::Connection* down_;
  net::Connection* up_ = nullptr;
  UpstreamHandler up_handler_{this};
  Session* prev_ = nullptr;  // WorkerContext's intrusive list
  Session* next_ = nullptr;

  http::RequestParser req_parser_;
  http::RequestHead req_;
  http::BodyDecoder req_body_;
  http::ResponseParser resp_parser_;
  http::ResponseHead resp_;
  http::BodyDecoder resp_body_;
  base::Buffer up_head_;  // upstream request head without framing, kept for a retry
  BodyBuffer req_buf_;    // request buffering: the whole body before an upstream is taken
  BodyBuffer resp_buf_;   // response buffering: what the client has not taken yet

  // Copied out of req_ when its head is consumed (the views die with those bytes).
  http::Method method_ = http::Method::Get;
  http::Framing req_framing_ = http::Framing::None;
  uint64_t req_content_length_ = 0;
  int version_minor_ = 1;
  bool req_keep_alive_ = true;
  bool expect_continue_ = false;

  ReqState req_state_ = ReqState::Idle;
  RespState resp_state_ = RespState::None;
  DownstreamFraming down_framing_ = DownstreamFraming::None;
  size_t cluster_ = 0;
  upstream::Exclusions tried_hosts_;
  uint32_t retries_ = 0;
  bool host_acquired_ = false;     // holds a slot of host_ (max_requests accounting)
  bool counted_in_budget_ = false; // counted in the cluster's retry budget as a request
  bool in_retry_ = false;          // holds one of the retry budget's slots
  ErrorKind last_failure_ = ErrorKind::UpstreamConnect;
  std::string hash_key_;
  size_t route_ = 0;
  size_t host_ = 0;
  bool reused_ = false;
  bool retried_stale_ = false;
  bool upstream_ready_ = false;
  bool upstream_got_bytes_ = false;
  bool response_started_ = false;
  bool req_buffering_ = false;
  bool resp_buffering_ = false;
  bool resp_draining_ = false;  // upstream done; resp_buf_ still going to the client
  bool up_paused_ = false;  // upstream reading paused because the client reads slowly
  bool close_after_ = false;
  bool linger_ = false;  // close with lingering: the client may still be sending (unread body)
  bool in_process_ = false;
  bool dead_ = false;
  bool served_ = false;          // at least one response completed on this connection
  bool handshake_done_ = false;  // TLS listeners: handshake_timeout applies until then
  RequestRecord rec_;
  bool rec_open_ = false;          // rec_ belongs to a request in progress
  uint64_t rec_start_ns_ = 0;      // steady clock at the request's first byte
  uint64_t rec_out_base_ = 0;      // down_->bytesOut() then
  uint64_t connection_id_ = 0;
  uint64_t idle_since_ms_ = 0;  // loop time the connection last became idle
  bool released_ = false;       // buffers already given back in this idle period
};

}  // namespace portcullis::proxy
