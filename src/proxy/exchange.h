#pragma once
// One request through the pipeline, whatever protocol the client speaks: route, pick a host,
// connect or reuse, send the request, relay or buffer the response, and exactly one exit that
// emits the request's record (Pingora's process_request/finish). The downstream codec drives it
// through the calls below and is driven back through DownstreamStream (stream.h).
//
// Phases, in order, one method each:
//   begin (first byte: the record opens) -> onRequestHead (limits, route, the upstream head;
//   nothing sent) -> proceed (local reply | redirect | forward) -> selectHost (acquire, queue or
//   503) -> connectHost/onUpstreamReady (pool or connect, send the head) -> onRequestBody*
//   -> onResponseHead -> relayResponseBody* -> onResponseComplete -> finish.
// Every failure goes through onUpstreamFailed (retry_policy decides) or fail (a local reply);
// both end in finish, and a client that leaves ends in onDownstreamClosed: one record each time.
//
// Lifetime: a member of its downstream connection, reused request after request (its buffers
// and strings keep their capacity). The upstream connection is the exchange's while a request
// holds it and the worker pool's between requests.
//
// Re-entrancy: flush/close on either side may end the downstream connection synchronously
// (teardown sets dead_), and finish() may start the connection's next pipelined request on this
// same object: after either, return at once.
#include <cstdint>
#include <memory>
#include <string>

#include "base/buffer.h"
#include "http/headers.h"
#include "http/message.h"
#include "net/connection.h"
#include "net/file_io.h"
#include "proxy/body_buffer.h"
#include "proxy/error_map.h"
#include "proxy/forwarded.h"
#include "proxy/local_reply.h"
#include "proxy/request_record.h"
#include "proxy/response_compression.h"
#include "proxy/stream.h"
#include "proxy/worker_context.h"
#include "upstream/balancer.h"
#include "upstream/http1_client.h"
#include "upstream/request_queue.h"

namespace portcullis::proxy {

struct StaticState;  // exchange_static.h

class Exchange final : public upstream::QueueWaiter {
 public:
  Exchange(WorkerContext& worker, DownstreamStream& stream);
  ~Exchange();
  Exchange(const Exchange&) = delete;
  Exchange& operator=(const Exchange&) = delete;

  // --- Called by the downstream codec.
  // A request's first byte arrived (on `gen`, the worker's newest generation at that moment).
  void begin(const std::shared_ptr<Generation>& gen);
  // The head could not be parsed: the matching 4xx/5xx (400, 414, 431, 501, 505).
  void onHeadError(ErrorKind kind);
  // `req` is valid during the call only: everything needed later is copied (the upstream head
  // is serialized now). `has_body`: a body follows (the codec decodes it).
  void onRequestHead(const http::RequestHead& req, bool has_body);
  // After the codec consumed the head's bytes: answer locally, redirect, or forward.
  void proceed();
  // Ready for request body bytes (upstream connected, or the body is being buffered).
  bool takesBody() const { return upstream_ready_ || req_buffering_; }
  // A run of decoded body bytes; `wire_bytes` includes the framing. False: the request was
  // answered (413 over limits.body, 500 when buffering fails) and the exchange is done.
  bool onRequestBody(std::string_view data, size_t wire_bytes);
  // After a run of onRequestBody calls; `complete`: the body has ended.
  void onRequestBodyPumped(bool wrote, bool complete);
  // The upstream is not taking the body as fast as the client sends it: stop reading the client.
  bool bodyBlocked() const;
  // A local answer for what the codec found (bad body framing 400, client too slow 408).
  void fail(ErrorKind kind);
  void onDownstreamDrained();
  // The client was too slow (header, body or send timeout); the codec closes next.
  void onDownstreamTimeout();
  // The downstream connection is gone (last callback): records a request cut short.
  void onDownstreamClosed();
  // --- Tunnel (exchange_tunnel.cc): a WebSocket after its 101.
  bool inTunnel() const { return resp_state_ == RespState::Tunnel; }
  // The tunnel's idle timeout now (shorter once one side has half-closed).
  uint64_t tunnelIdleMs() const;
  // Loop time of the tunnel's last byte either way.
  uint64_t tunnelActiveAt() const { return tunnel_active_ms_; }
  // A quiet tunnel gives back its upstream connection's buffers (a WebSocket idles for minutes
  // between messages; thousands of them must cost little). False if something is still queued.
  bool releaseTunnelUpstream();
  // Client bytes for the upstream; consumes all of `in`.
  void onTunnelData(base::Buffer& in);
  // The client half-closed (EOF).
  void onTunnelEof();
  // No byte either way for timeouts.tunnel_idle (the codec's timer): the tunnel ends.
  void onTunnelIdle();
  // Gives back what the connection does not need while idle.
  void releaseIdleMemory();
  // The downstream connection is being destroyed: leave the queue, release the host slot and
  // the retry budget, abort the upstream connection. Nothing runs on this object afterwards.
  void teardown();
  bool dead() const { return dead_; }
  // After a teardown that did not end the downstream connection (an HTTP/2 stream reset): the
  // object takes a new request again. Only between events, never inside this exchange's calls.
  void revive();

  bool recordOpen() const { return rec_open_; }
  // The upstream side is busy with this request (from routing until the response is complete).
  bool inFlight() const { return resp_state_ != RespState::None; }
  // A response waits on the client to read it: the codec's send timeout applies.
  bool waitingOnClient() const { return up_paused_ || !resp_buf_.empty() || static_waiting_; }

  // Called by the worker's queue service: a slot may be free (or the wait timed out).
  void onDequeued(bool timed_out);

 private:
  class UpstreamHandler final : public net::ConnectionHandler {
   public:
    explicit UpstreamHandler(Exchange* e) : e_(e) {}
    void onConnected(net::Connection& c, int status) override;
    void onData(net::Connection& c) override;
    void onEof(net::Connection& c) override;
    void onDrained(net::Connection& c) override;
    void onTimeout(net::Connection& c) override;
    void onClose(net::Connection& c, net::CloseReason why) override;

   private:
    Exchange* e_;
  };

  // Body bytes moved per step between a BodyBuffer and a connection.
  static constexpr size_t kBufferStep = 64 * 1024;
  // What onRequestHead decided, carried out by proceed().
  // Static: a route with `static:` answers from its root (exchange_static.cc).
  enum class Verdict : uint8_t { Fail, Redirect, Forward, Static };
  // The upstream side of the request.
  // Tunnel: the upstream answered 101 to a WebSocket upgrade; bytes flow both ways until both
  // sides have finished, either closes, or tunnel_idle passes.
  enum class RespState : uint8_t { None, Queued, Connecting, WaitHead, Body, Done, Tunnel };

  // proceed() for a forwarded request (also a static route's fallback).
  void forward();
  void startExchange();
  // --- Static files (exchange_static.cc).
  // At the head: copies what serving needs (the head's views die after onRequestHead). Sets
  // verdict_ to Static (or leaves it to the caller when the request is for the fallback).
  void prepareStatic(const http::RequestHead& req, const config::StaticFiles& st, bool can_fall_back);
  void startStatic();
  void onStaticOpened(std::vector<net::OpenResult>& results);
  void sendStaticChunk();
  void onStaticRead(int64_t got, size_t asked);
  // A reply of the static route's own (400/403/404/405/500; Allow on 405), then finish().
  void staticReply(int status);
  void cancelStatic();
  void selectHost();
  void enqueue();
  void releaseHostSlot();        // the request leaves its host (idempotent)
  void endExchangeAccounting();  // slot + retry budget, on every way out
  void connectHost(bool allow_pool);
  void onUpstreamConnected(int status);
  void onUpstreamReady();
  void sendBufferedRequestBody();  // req_buf_ -> upstream, under the upstream's watermark
  void onUpstreamData();
  void onResponseHead();
  void relayResponseBody();
  // Body bytes for the client: straight to the codec, or behind resp_buf_ when buffering and
  // the client is slow.
  void emitResponseBytes(std::string_view data);
  // --- Compression (exchange_compress.cc): decoded upstream bytes, compressed when the
  // response is, then emitResponseBytes.
  void emitResponseBody(std::string_view data);
  void emitCompressed(std::string_view z);  // the encoder's output -> emitResponseBytes
  // The upstream paused (its input is drained): what the client has becomes decodable.
  void flushCompressedBody();
  void finishCompressedBody();  // the encoder's last bytes, before endResponse
  // The upstream bytes one relay step may decode: resp_buf_'s room, less the encoder's slack.
  uint64_t responseInputRoom() const;
  void compressionFailed();
  void drainResponseBuffer();       // resp_buf_ -> client, under its watermark
  bool responseToBuffer() const;    // body bytes must queue in resp_buf_
  uint64_t responseBufferRoom() const;
  bool responseBufferFull() const;  // buffering limit reached: fall back to backpressure
  void onResponseComplete();
  void startTunnel();
  void relayTunnelFromUpstream();
  void onTunnelUpstreamEof();
  // Both idle timers (client and upstream) move to now + tunnel_idle.
  void touchTunnel();
  // The tunnel is over on the upstream's side: it closes gracefully (its pending bytes go out).
  void closeTunnelUpstream();
  // The way out of a tunnel while the client is still there: closeTunnelUpstream, the record,
  // and the codec closes the client connection (a client that left ends in onDownstreamClosed).
  void endTunnel();
  void onUpstreamFailed(ErrorKind kind, const char* what);
  void releaseUpstream(bool reusable);
  void logUpstreamFailure(const char* what, int status);  // at most once a second per host
  void armUpstreamTimer();
  // Sends what waits in the upstream's output and re-arms upstream_response. False: the flush
  // ended the request (the upstream or the client is gone), return at once.
  bool flushUpstream();
  // A reply of the proxy's own (rec_.status; `location` for a redirect), sent complete.
  // False: sending it ended the connection (dead_), return at once.
  bool reply(std::string_view location = {});
  // The one exit: emits the record, clears the request's state, hands back to the codec.
  void finish();
  void clearRequestState();  // the relay's mode and buffers, back to "no request"
  void finishRecord();
  uint64_t elapsedUs() const;

  WorkerContext& worker_;
  DownstreamStream& stream_;
  std::shared_ptr<Generation> gen_;  // snapshot + pools this request runs on
  const Runtime* rt_ = nullptr;      // gen_->runtime, cached
  net::Connection* up_ = nullptr;
  UpstreamHandler up_handler_{this};

  upstream::Http1Client client_;  // reads the upstream's response head and body
  base::Buffer up_head_;  // upstream request head without framing, kept for a retry
  BodyBuffer req_buf_;    // request buffering: the whole body before an upstream is taken
  BodyBuffer resp_buf_;   // response buffering: what the client has not taken yet
  std::string location_;  // a redirect's Location, built while the head's views are valid
  http::HeaderList up_fields_;   // the upstream request's fields (views into the head and below)
  ForwardScratch fwd_scratch_;
  http::Response resp_;          // the head handed to the codec (views valid during the call)
  LocalReplyScratch reply_scratch_;
  ResponseCompression compress_;  // the route's compress: rules and the encoder, reused
  std::string hash_key_;

  // Copied out of the request head.
  http::Method method_ = http::Method::Get;
  http::Framing req_framing_ = http::Framing::None;
  uint64_t req_content_length_ = 0;
  uint64_t req_body_bytes_ = 0;  // decoded so far, for limits.body

  Verdict verdict_ = Verdict::Fail;
  ErrorKind verdict_error_ = ErrorKind::Internal;
  RespState resp_state_ = RespState::None;
  size_t cluster_ = 0;
  size_t route_ = 0;
  size_t host_ = 0;
  upstream::Exclusions tried_hosts_;
  uint32_t retries_ = 0;
  ErrorKind last_failure_ = ErrorKind::UpstreamConnect;
  // State of the request, one comment per bit (Envoy's conn_manager_impl.h habit).
  bool req_complete_ = false;      // the whole request (head and body) has reached the proxy
  bool host_acquired_ = false;     // holds a slot of host_ (max_requests accounting)
  bool counted_in_budget_ = false; // counted in the cluster's retry budget as a request
  bool in_retry_ = false;          // holds one of the retry budget's slots
  bool reused_ = false;            // the current attempt runs on a pooled connection
  bool retried_stale_ = false;     // the stale-connection retry was used
  bool upstream_ready_ = false;    // connected and the head is sent: body bytes may follow
  bool upstream_got_bytes_ = false;// the current attempt got a response byte
  bool req_buffering_ = false;     // the request body goes to req_buf_ first
  bool resp_buffering_ = false;    // the response may queue in resp_buf_ for a slow client
  bool resp_draining_ = false;     // upstream done; resp_buf_ still going to the client
  bool up_paused_ = false;         // upstream reading paused because the client reads slowly
  bool websocket_ = false;         // the request asks for a WebSocket and its route allows it
  bool tunnel_up_eof_ = false;     // tunnel: the upstream half-closed
  bool tunnel_down_eof_ = false;   // tunnel: the client half-closed
  uint64_t tunnel_active_ms_ = 0;  // tunnel: loop time of the last byte either way
  bool dead_ = false;              // torn down with its connection
  bool static_waiting_ = false;    // static file: the next read waits for the client to drain
  std::unique_ptr<StaticState> static_;  // a static route's request (allocated on first use)

  RequestRecord rec_;
  bool rec_open_ = false;          // rec_ belongs to a request in progress
  uint64_t rec_start_ns_ = 0;      // steady clock at the request's first byte
  uint64_t rec_out_base_ = 0;      // stream_.bytesOut() then
};

}  // namespace portcullis::proxy
