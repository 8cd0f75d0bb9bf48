#pragma once
// One downstream HTTP/2 connection: the HTTP/2 codec. The pure engine (http/h2_engine.h) turns
// bytes into requests and responses into frames; this class moves the bytes between it and the
// socket and gives every stream an Exchange (exchange.h), the same pipeline an HTTP/1.1 request
// takes. Each stream implements DownstreamStream (stream.h) for its exchange.
//
// Flow control is the backpressure, both ways: a stream's request body is consume()d (its window
// reopened) only as its exchange takes it, and a stream whose response queue is above the
// watermark reports aboveHighWatermark, which pauses its upstream until the engine drains it.
// The socket's own watermark stops both: nothing more is framed while the client is not reading,
// and nothing more is read (no new ACKs to queue) until it does.
//
// Timeouts, one timer per connection: with no stream open, client_header until the first request
// and client_idle after (then GOAWAY and close; frames such as PING do not extend it); with
// streams open, client_body while one waits on the client (a response it does not read, a request
// body it does not send), measured from the last progress; none while all wait on upstreams
// (upstream_response bounds those).
//
// Lifetime: created by the HTTP/1 connection that finished a TLS handshake with ALPN "h2";
// deletes itself through the loop's deferred-delete list after its connection's onClose.
// Streams are pooled per connection: a new stream reuses a finished stream's object (and its
// exchange's buffers).
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "base/buffer.h"
#include "http/h2_engine.h"
#include "http/message.h"
#include "net/connection.h"
#include "proxy/exchange.h"
#include "proxy/stream.h"
#include "proxy/worker_context.h"

namespace portcullis::proxy {

class H2Connection;

class H2Stream final : public DownstreamStream {
 public:
  explicit H2Stream(H2Connection& conn);

  const ConnectionFacts& facts() const override;
  uint64_t bytesOut() const override { return bytes_out_; }
  void requestBodyWanted() override;
  void sendResponseHead(const http::Response& r) override;
  void sendBody(std::string_view data) override;
  base::Result<size_t> sendBodyFrom(BodyBuffer& from, size_t max) override;
  void endResponse() override;
  void flush() override;
  bool aboveHighWatermark() const override;
  bool responseStarted() const override { return head_sent_; }
  void rearmTimer() override;
  void reset() override;
  void startTunnel() override;
  void closeWrite() override;
  void onExchangeDone() override;

 private:
  friend class H2Connection;
  void start(int32_t id, const http::H2Request& req);
  void onBody(std::string_view data, bool end);
  void pumpBody();
  // The stream is gone for the client (reset, connection error): the exchange records it and
  // lets go of its upstream.
  void abandon();
  bool waitingOnClient() const;
  // The client took enough of what was queued (the engine's drain, or the socket's): an
  // exchange that paused on aboveHighWatermark goes on.
  void tellDrained();
  // The tunnel's bytes from the client go to the exchange; their window reopens once the
  // upstream takes them.
  void feedTunnel(size_t n);

  H2Connection& conn_;
  Exchange exchange_;
  http::RequestHead head_;  // the request as the pipeline sees it; the header vector is reused
  // RFC 8441: an extended CONNECT for a WebSocket goes upstream as an HTTP/1.1 upgrade, which
  // needs a Sec-WebSocket-Key of its own (HTTP/2 has none).
  std::string ws_key_;
  http::HeaderList ws_fields_;  // the 101's fields as a 200's
  size_t tunnel_owed_ = 0;      // tunnel bytes the upstream took late: window still closed
  base::Buffer body_;       // request body received and not yet taken by the exchange
  int32_t id_ = 0;
  uint64_t bytes_out_ = 0;
  uint64_t discarded_ = 0;  // request body dropped after the response
  // One comment per bit.
  bool body_end_ = false;         // the client sent END_STREAM
  bool body_told_ = false;        // the exchange heard the body is complete
  bool expect_continue_ = false;  // "expect: 100-continue" not answered yet
  bool head_sent_ = false;        // a final response head was submitted
  bool ended_ = false;            // the response's end was submitted
  bool failed_ = false;           // the engine refused the head: nothing more is sent
  bool closed_ = false;           // the engine closed the stream (onStreamClosed)
  bool done_ = false;             // the exchange finished (its record emitted)
  bool reset_after_end_ = false;  // answered before the body ended: RST_STREAM(NO_ERROR) once sent
  bool websocket_ = false;        // an extended CONNECT with :protocol websocket (RFC 8441)
  bool tunnel_ = false;           // the upstream switched to WebSocket: DATA is tunnel bytes
  mutable bool over_ = false;     // aboveHighWatermark said yes
};

class H2Connection final : public net::ConnectionHandler,
                           public net::Deletable,
                           public net::Deferred,
                           public DownstreamConnection {
 public:
  // `connection_id`: the number the HTTP/1 connection that negotiated h2 had (records and logs
  // keep one number per connection).
  H2Connection(WorkerContext& worker, net::Connection& downstream, const ListenerInfo& listener,
               uint64_t connection_id);
  ~H2Connection() override;
  // Sends the connection preface (our SETTINGS). May close the connection.
  void start();

  void onData(net::Connection& c) override;
  void onEof(net::Connection& c) override;
  void onDrained(net::Connection& c) override;
  void onTimeout(net::Connection& c) override;
  void onClose(net::Connection& c, net::CloseReason why) override;

  void drain() override;
  void abort() override;
  bool releaseIfIdle(uint64_t idle_before_ms) override;
  // The iteration's one write (net::Deferred).
  void runDeferred() override;

 private:
  friend class H2Stream;
  // The engine's events, kept off the connection's own interface (its onData means bytes read).
  class Events final : public http::H2Observer {
   public:
    explicit Events(H2Connection& c) : c_(c) {}
    void onRequest(int32_t stream, const http::H2Request& req) override;
    void onData(int32_t stream, std::string_view data, bool end_stream) override;
    void onStreamReset(int32_t, uint32_t) override {}  // onStreamClosed follows and decides
    void onStreamClosed(int32_t stream) override;
    void onStreamDrained(int32_t stream) override;
    void onGoaway(uint32_t error_code, int32_t last_stream_id) override;

   private:
    H2Connection& c_;
  };

  H2Stream* find(int32_t id) const;
  H2Stream* takeStream();
  // The stream leaves the active list; its object waits in the pool for the next request.
  void release(H2Stream* s);
  // Frames what the engine has into the socket's buffer, and asks for the write at the end of
  // the loop iteration (runDeferred): streams answered in the same iteration share one TLS
  // record and one send. Inside the engine's callbacks it only notes that it must run, and the
  // outermost call does the work.
  void flushOutput();
  // After each step: resets owed, streams to tell of a drain, the timer, and the close once the
  // connection has nothing left to do.
  void afterOutput();
  void armTimer();
  void noteProgress();
  void closeWhenDone();
  void teardown();
  http::H2Settings settings() const;

  WorkerContext& worker_;
  const Runtime* rt_;  // the generation at accept: connection-level settings and timeouts
  std::shared_ptr<Generation> gen_;
  const ListenerInfo& listener_;
  net::Connection* down_;
  ConnectionFacts facts_;
  Events events_{*this};
  std::optional<http::H2Engine> engine_;
  std::vector<std::unique_ptr<H2Stream>> all_;  // every stream object of this connection
  std::vector<H2Stream*> active_;               // those with a stream id
  std::vector<H2Stream*> free_;
  base::Buffer scratch_;  // a buffered response's bytes on their way into the engine
  uint64_t data_frames_seen_ = 0;
  uint64_t idle_since_ms_ = 0;
  // One comment per bit.
  bool busy_ = false;       // feed or output is on the stack: the engine must not be re-entered
  bool again_ = false;      // flushOutput was asked for while busy
  bool going_away_ = false; // GOAWAY sent: the connection closes when its streams are done
  bool served_ = false;     // a stream has completed: the idle wait is client_idle
  bool released_ = false;   // buffers given back in this idle period
  bool dead_ = false;       // onClose ran; deferred deletion is pending
};

}  // namespace portcullis::proxy
