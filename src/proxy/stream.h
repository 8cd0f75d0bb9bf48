#pragma once
// The seam between a downstream codec and the request pipeline (Envoy's codec.h, reduced to one
// implementation per protocol). The codec owns bytes, framing and the connection; the exchange
// (exchange.h) owns meaning: routing, balancing, retries, buffering, the record. Neither knows
// the other's protocol: HTTP/1 implements DownstreamStream for the connection's current request
// and an HTTP/2 stream (h2_connection.h) implements it per stream id.
//
// Re-entrancy: any call that sends (flush, endResponse, reset) may end the
// downstream connection before it returns; the codec then tells the exchange (teardown), and the
// exchange checks its own dead() after such calls.
#include <cstdint>
#include <string_view>

#include "base/result.h"
#include "base/tls_info.h"
#include "http/headers.h"
#include "http/message.h"

namespace portcullis::proxy {

struct ListenerInfo;
class BodyBuffer;

// What the exchange may know of the downstream connection, as plain values.
struct ConnectionFacts {
  const ListenerInfo* listener = nullptr;
  std::string_view client_ip;  // owned by the connection
  uint16_t client_port = 0;
  uint16_t local_port = 0;
  const base::TlsInfo* tls = nullptr;  // null on plain listeners (and before the handshake)
  uint64_t connection_id = 0;          // per worker
};

class DownstreamStream {
 public:
  virtual const ConnectionFacts& facts() const = 0;
  // Plaintext response bytes handed to the connection so far (a request's share is the
  // difference across it).
  virtual uint64_t bytesOut() const = 0;

  // --- Request body flow control. The codec stops reading while Exchange::bodyBlocked() (h1:
  // the socket; h2: the stream's window stays closed) and starts again here.
  // The exchange can take the request body now: the codec answers a pending
  // "Expect: 100-continue" (RFC 9110 §10.1.1; the proxy answers it itself rather than relaying
  // Expect to an upstream that may not support it), resumes reading and feeds what it holds.
  virtual void requestBodyWanted() = 0;

  // --- Response.
  // The response's head (valid during the call), the upstream's or the proxy's own
  // (r.local): meaning only, end-to-end fields; the codec adds its framing and connection
  // management (h1: Content-Length or chunked, Connection; it closes after most local 4xx/5xx,
  // whose request it may not have read to its end). Buffered until flush() or endResponse().
  virtual void sendResponseHead(const http::Response& r) = 0;
  virtual void sendBody(std::string_view data) = 0;
  // Up to `max` bytes of `from` as one body piece, without a copy in between; returns how many
  // (0 or an error: the buffer could not be read).
  virtual base::Result<size_t> sendBodyFrom(BodyBuffer& from, size_t max) = 0;
  // The body is complete (h1: the last chunk when chunked). Flushes; may close.
  virtual void endResponse() = 0;
  virtual void flush() = 0;
  virtual bool aboveHighWatermark() const = 0;
  // True once the client has any byte of a response (a head of ours or the upstream's).
  virtual bool responseStarted() const = 0;
  // The send timeout depends on whether the exchange waits for the client: re-evaluate it.
  virtual void rearmTimer() = 0;
  // The request cannot be answered in protocol any more (a response cut short): h1 closes the
  // connection, h2 resets the stream. Ends in teardown.
  virtual void reset() = 0;

  // --- Tunnel (a WebSocket after its 101). From startTunnel on, the connection carries raw
  // bytes both ways: the codec stops parsing, hands every byte the client sends (including
  // those held since the upgrade request) to Exchange::onTunnelData, and sendBody writes bytes
  // unframed. h2 (RFC 8441) maps the same calls onto the stream's DATA frames.
  virtual void startTunnel() = 0;
  // The upstream finished sending: pass the half-close on (h1: FIN once the pending bytes are
  // out; the client may still send).
  virtual void closeWrite() = 0;

  // --- The exchange is over (its record emitted): the codec decides keep-alive and goes on.
  virtual void onExchangeDone() = 0;

 protected:
  ~DownstreamStream() = default;
};

}  // namespace portcullis::proxy
