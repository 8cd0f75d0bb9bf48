#pragma once
// A blocking RFC 6455 WebSocket client for the integration tests, over the harness's TLS client
// (through the proxy) or plain TCP (straight to an app server). Written from the RFC, apart from
// src/, so it is an independent oracle for the proxy's tunnel: it masks what it sends, insists
// that what it receives is unmasked and well-formed, and checks Sec-WebSocket-Accept.
//
// Every call has a deadline and returns ::testing::AssertionResult, as the rest of the harness.
// Frames are built by frame() so a test can also write odd sequences by hand (fragments with a
// ping in between, a frame glued to the upgrade request).
#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "harness/client_connection.h"
#include "harness/http_message.h"
#include "harness/raw_client.h"
#include "harness/test_util.h"
#include "harness/tls_client.h"

namespace portcullis::integration {

enum class WsOpcode : uint8_t {
  kContinuation = 0x0,
  kText = 0x1,
  kBinary = 0x2,
  kClose = 0x8,
  kPing = 0x9,
  kPong = 0xA,
};

// One received message: a whole (reassembled) text or binary message, a pong, or a close.
struct WsMessage {
  WsOpcode opcode = WsOpcode::kText;
  std::string data;  // payload (for a close: the reason, without the code)
  std::optional<uint16_t> close_code;  // a close frame's status code, if it carried one
};

// How a connection ended, as waitForClose() saw it.
struct WsCloseSeen {
  bool close_frame = false;  // a close frame arrived before the TCP close
  std::optional<uint16_t> code;
  size_t messages_discarded = 0;  // data messages that arrived before it
};

class WebSocketClient {
 public:
  WebSocketClient() = default;
  WebSocketClient(const WebSocketClient&) = delete;
  WebSocketClient& operator=(const WebSocketClient&) = delete;

  // TLS to 127.0.0.1:port (the proxy's listener), or plain TCP (an app server directly).
  ::testing::AssertionResult connectTls(uint16_t port, const TlsOptions& options = {},
                                        milliseconds timeout = kWait);
  ::testing::AssertionResult connectPlain(uint16_t port, milliseconds timeout = kWait);

  // The upgrade request for `target` (random Sec-WebSocket-Key, version 13). `extra_headers`:
  // whole lines, each ending in "\r\n".
  std::string upgradeRequest(std::string_view target, std::string_view host = "localhost",
                             std::string_view extra_headers = "");

  // Sends the upgrade request and requires a valid 101 (status, Upgrade: websocket, Connection:
  // upgrade, the right Sec-WebSocket-Accept). `after_request`: bytes glued to the request in the
  // same write, before any answer (frames a client sends optimistically).
  ::testing::AssertionResult open(std::string_view target, milliseconds timeout = kWait,
                                  std::string_view extra_headers = "", std::string_view after_request = "");
  // Sends the upgrade request and reads one answer, whatever it is. A 101 is validated as in
  // open() and the connection becomes a WebSocket; anything else leaves it an HTTP connection
  // (http() for the next request).
  ::testing::AssertionResult requestUpgrade(std::string_view target, Response* out, milliseconds timeout = kWait,
                                            std::string_view extra_headers = "");
  const Response& handshakeResponse() const { return handshake_; }
  bool isOpen() const { return upgraded_; }
  // The underlying stream, for plain HTTP after a refused upgrade.
  ClientConnection& http() { return *conn_; }

  // A frame as a client sends it (masked with a fresh random key unless `masked` is false).
  static std::string frame(WsOpcode opcode, std::string_view payload, bool fin = true, bool masked = true);
  // A close frame's payload: the code in network order, then the reason.
  static std::string closePayload(uint16_t code, std::string_view reason = "");

  ::testing::AssertionResult sendText(std::string_view text, milliseconds timeout = kWait);
  ::testing::AssertionResult sendBinary(std::string_view data, milliseconds timeout = kWait);
  // One message split into frames of at most `piece` payload bytes (first frame `opcode`, then
  // continuations).
  ::testing::AssertionResult sendFragmented(WsOpcode opcode, std::string_view data, size_t piece,
                                            milliseconds timeout = kWait);
  ::testing::AssertionResult sendPing(std::string_view payload, milliseconds timeout = kWait);
  ::testing::AssertionResult sendClose(uint16_t code, std::string_view reason = "", milliseconds timeout = kWait);
  // Bytes as they are (frames from frame(), or garbage).
  ::testing::AssertionResult sendRaw(std::string_view bytes, milliseconds timeout = kWait);

  // The next message: a whole text/binary message, a pong or a close. A ping from the server is
  // answered with a pong at once and not returned. A close is answered with a close (same code)
  // unless we sent one first. Fails on a protocol error, a timeout, or the connection closing.
  ::testing::AssertionResult receive(WsMessage* out, milliseconds timeout = kWait);
  // receive() and require a text (binary) message equal to `expected`.
  ::testing::AssertionResult expectText(std::string_view expected, milliseconds timeout = kWait);
  ::testing::AssertionResult expectBinary(std::string_view expected, milliseconds timeout = kWait);
  // sendText then expectText: one echo round trip.
  ::testing::AssertionResult echo(std::string_view text, milliseconds timeout = kWait);

  // The closing handshake started by us: sends close(`code`), waits for the peer's close frame
  // (*echoed: its code) and then for the TCP close.
  ::testing::AssertionResult closeHandshake(uint16_t code, std::optional<uint16_t>* echoed = nullptr,
                                            milliseconds timeout = kWait);
  // Reads until the connection is closed (EOF or reset), answering a close frame on the way;
  // data messages before it are discarded and counted. Succeeds on the TCP close, and then
  // closes our side of it.
  ::testing::AssertionResult waitForClose(WsCloseSeen* seen = nullptr, milliseconds timeout = kWait);
  // Succeeds if nothing arrives and the connection stays open for `period`.
  ::testing::AssertionResult staysOpen(milliseconds period);

  // Drops the TCP connection without a close frame (and without TLS close_notify): a client
  // that vanished.
  void vanish();

  size_t pingsAnswered() const { return pings_answered_; }

 private:
  // One frame from the buffer, reading more as needed.
  struct Frame {
    bool fin = false;
    WsOpcode opcode = WsOpcode::kText;
    std::string payload;
  };
  ::testing::AssertionResult readFrame(Frame* out, Clock::time_point deadline);
  ::testing::AssertionResult finishHandshake(const Response& r);

  std::unique_ptr<TlsClient> tls_;
  std::unique_ptr<RawClient> raw_;
  ClientConnection* conn_ = nullptr;
  std::string key_;
  Response handshake_;
  bool upgraded_ = false;
  bool close_sent_ = false;
  size_t pings_answered_ = 0;
};

// Sec-WebSocket-Accept for a Sec-WebSocket-Key (RFC 6455 §4.2.2): base64(SHA-1(key + GUID)).
std::string webSocketAccept(std::string_view key);

}  // namespace portcullis::integration
