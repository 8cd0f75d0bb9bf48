#pragma once
// The client side of a test: a byte stream (plain TCP or TLS) plus response reading with
// deadlines. RawClient and TlsClient supply the stream; this class reads and parses, so both
// clients parse responses the same way (harness/http_message.h).
//
// Bytes read but not yet parsed stay buffered, so pipelined responses come out one by one.
#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "harness/http_message.h"
#include "harness/test_util.h"

namespace portcullis::integration {

class ClientConnection {
 public:
  virtual ~ClientConnection() = default;

  ::testing::AssertionResult send(std::string_view bytes, milliseconds timeout = kWait);
  // Reads one complete response. `head_request`: the request was HEAD (no body follows).
  ::testing::AssertionResult readResponse(Response* out, milliseconds timeout = kWait,
                                          bool head_request = false);
  // Reads `n` responses in order (pipelining).
  ::testing::AssertionResult readResponses(size_t n, std::vector<Response>* out,
                                           milliseconds timeout = kWait);
  // Reads until the head of the next response is complete and fills its start line and
  // headers; the body is left unread (and later readResponse() returns the whole response). For
  // a test that wants to stop reading mid-body.
  ::testing::AssertionResult readResponseHead(Response* out, milliseconds timeout = kWait);
  // Writes `bytes` until all are taken or `timeout` passes; *sent: how many were taken (TLS:
  // whole SSL_write pieces, at most 1 MiB each). A timeout is not a failure here: it is how a test
  // sees backpressure. Fails only if the write fails. To go on after a timeout, call again with
  // bytes.substr(*sent) (TLS needs the same bytes offered again).
  ::testing::AssertionResult sendSome(std::string_view bytes, milliseconds timeout, size_t* sent);
  // send() then readResponse().
  ::testing::AssertionResult roundTrip(std::string_view request, Response* out,
                                       milliseconds timeout = kWait, bool head_request = false);
  // Reads until the peer closes (EOF or reset). `received`: every byte not yet consumed by a
  // readResponse, including what arrived before the close.
  ::testing::AssertionResult waitForClose(milliseconds timeout = kWait, std::string* received = nullptr);
  // Succeeds if nothing arrives and the connection stays open for `period` (a negative check, so
  // it always takes `period`).
  ::testing::AssertionResult staysOpenAndSilent(milliseconds period);

  // Unparsed bytes so far.
  const std::string& buffered() const { return in_; }

  // For a protocol that takes the connection over after an HTTP response (a WebSocket after its
  // 101, harness/websocket_client.h): waits at most `timeout` for more bytes and appends them to
  // buffered(). kEof once the peer has closed (or reset), then and on every later call.
  enum class ReadResult { kData, kTimeout, kEof, kError };
  ReadResult readMore(milliseconds timeout, std::string* error = nullptr);
  // Drops the first `n` buffered bytes (a frame the caller has taken).
  void consume(size_t n) { in_.erase(0, n); }
  bool peerClosed() const { return eof_; }

 protected:
  enum class Io { kData, kEof, kTimeout, kError };
  // Appends what is available to *in, waiting at most `timeout`. kEof on a clean close or reset.
  virtual Io readSome(std::string* in, milliseconds timeout, std::string* error) = 0;
  // Writes all of `data` within `timeout`; *written: bytes taken, also on kTimeout.
  virtual Io writeAll(std::string_view data, milliseconds timeout, std::string* error, size_t* written) = 0;

 private:
  std::string in_;
  bool eof_ = false;
};

// Request builders for the common cases; tests that exercise framing write raw bytes instead.
// `extra_headers` are whole lines, each ending in "\r\n".
std::string getRequest(std::string_view target, std::string_view host = "localhost",
                       std::string_view extra_headers = "");
std::string requestWithBody(std::string_view method, std::string_view target, std::string_view body,
                            std::string_view host = "localhost", std::string_view extra_headers = "");
// `body` encoded as chunks of varying sizes (1 byte up to `max_chunk`), for request bodies.
std::string chunkedEncode(std::string_view body, size_t max_chunk = 70000);

}  // namespace portcullis::integration
