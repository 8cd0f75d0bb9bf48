#include "harness/websocket_client.h"

#include <openssl/base64.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <algorithm>

namespace portcullis::integration {
namespace {

constexpr std::string_view kGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

std::string base64(const uint8_t* data, size_t len) {
  size_t out_len = 0;
  EVP_EncodedLength(&out_len, len);
  std::string out(out_len, '\0');
  size_t n = EVP_EncodeBlock(reinterpret_cast<uint8_t*>(out.data()), data, len);
  out.resize(n);
  return out;
}

milliseconds remaining(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
  return std::max(left, milliseconds(0));
}

// Whether a comma-separated header value lists `token` (case-insensitively).
bool listsToken(const HeaderList& headers, std::string_view name, std::string_view token) {
  for (const std::string& value : headers.getAll(name)) {
    size_t start = 0;
    while (start <= value.size()) {
      size_t end = value.find(',', start);
      if (end == std::string::npos) end = value.size();
      std::string_view item(value.data() + start, end - start);
      while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
      while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
      if (equalsIgnoreCase(item, token)) return true;
      start = end + 1;
    }
  }
  return false;
}

const char* opcodeName(WsOpcode op) {
  switch (op) {
    case WsOpcode::kContinuation: return "continuation";
    case WsOpcode::kText: return "text";
    case WsOpcode::kBinary: return "binary";
    case WsOpcode::kClose: return "close";
    case WsOpcode::kPing: return "ping";
    case WsOpcode::kPong: return "pong";
  }
  return "?";
}

std::string describe(const WsMessage& m) {
  std::string s = opcodeName(m.opcode);
  if (m.close_code) s += " code " + std::to_string(*m.close_code);
  s += " (" + std::to_string(m.data.size()) + " bytes";
  if (m.data.size() <= 64) s += ": \"" + m.data + "\"";
  return s + ")";
}

}  // namespace

std::string webSocketAccept(std::string_view key) {
  std::string input(key);
  input += kGuid;
  uint8_t digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const uint8_t*>(input.data()), input.size(), digest);
  return base64(digest, sizeof digest);
}

::testing::AssertionResult WebSocketClient::connectTls(uint16_t port, const TlsOptions& options,
                                                       milliseconds timeout) {
  raw_.reset();
  tls_ = std::make_unique<TlsClient>();
  conn_ = tls_.get();
  upgraded_ = close_sent_ = false;
  return tls_->connect(port, options, timeout);
}

::testing::AssertionResult WebSocketClient::connectPlain(uint16_t port, milliseconds timeout) {
  tls_.reset();
  raw_ = std::make_unique<RawClient>();
  conn_ = raw_.get();
  upgraded_ = close_sent_ = false;
  return raw_->connect(port, timeout);
}

void WebSocketClient::vanish() {
  if (tls_) tls_->close();  // TlsClient::close sends no close_notify
  if (raw_) raw_->close();
  upgraded_ = false;
}

std::string WebSocketClient::upgradeRequest(std::string_view target, std::string_view host,
                                            std::string_view extra_headers) {
  uint8_t nonce[16];
  RAND_bytes(nonce, sizeof nonce);
  key_ = base64(nonce, sizeof nonce);
  std::string headers = "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + key_ +
                        "\r\nSec-WebSocket-Version: 13\r\n";
  headers += extra_headers;
  return getRequest(target, host, headers);
}

::testing::AssertionResult WebSocketClient::finishHandshake(const Response& r) {
  if (r.status != 101) {
    return ::testing::AssertionFailure() << "expected 101, got " << r.status << " " << r.reason << "\n"
                                         << r.headers.toString() << r.body.substr(0, 300);
  }
  if (!listsToken(r.headers, "Upgrade", "websocket")) {
    return ::testing::AssertionFailure() << "101 without Upgrade: websocket:\n" << r.headers.toString();
  }
  if (!listsToken(r.headers, "Connection", "upgrade")) {
    return ::testing::AssertionFailure() << "101 without Connection: upgrade:\n" << r.headers.toString();
  }
  std::string want = webSocketAccept(key_);
  if (r.headers.get("Sec-WebSocket-Accept") != want) {
    return ::testing::AssertionFailure() << "Sec-WebSocket-Accept is \""
                                         << r.headers.get("Sec-WebSocket-Accept").value_or("(none)")
                                         << "\", expected \"" << want << "\"";
  }
  // We offer no extension, so none may be in force (RSV bits would mean something otherwise).
  if (r.headers.has("Sec-WebSocket-Extensions")) {
    return ::testing::AssertionFailure() << "an extension we did not offer: "
                                         << *r.headers.get("Sec-WebSocket-Extensions");
  }
  upgraded_ = true;
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult WebSocketClient::open(std::string_view target, milliseconds timeout,
                                                 std::string_view extra_headers, std::string_view after_request) {
  Response r;
  if (!conn_) return ::testing::AssertionFailure() << "not connected";
  std::string bytes = upgradeRequest(target, "localhost", extra_headers);
  bytes += after_request;
  const auto deadline = Clock::now() + timeout;
  if (auto ok = conn_->send(bytes, timeout); !ok) return ok;
  // A 101 has no body, so readResponse() stops at the end of its head and what follows (the
  // first frames) stays buffered for receive().
  if (auto ok = conn_->readResponse(&r, remaining(deadline)); !ok) return ok;
  handshake_ = r;
  return finishHandshake(r);
}

::testing::AssertionResult WebSocketClient::requestUpgrade(std::string_view target, Response* out,
                                                           milliseconds timeout, std::string_view extra_headers) {
  if (!conn_) return ::testing::AssertionFailure() << "not connected";
  if (auto ok = conn_->roundTrip(upgradeRequest(target, "localhost", extra_headers), out, timeout); !ok) return ok;
  handshake_ = *out;
  if (out->status == 101) return finishHandshake(*out);
  return ::testing::AssertionSuccess();
}

std::string WebSocketClient::frame(WsOpcode opcode, std::string_view payload, bool fin, bool masked) {
  std::string f;
  f.reserve(payload.size() + 14);
  f += static_cast<char>((fin ? 0x80 : 0x00) | static_cast<uint8_t>(opcode));
  const uint8_t mask_bit = masked ? 0x80 : 0x00;
  if (payload.size() < 126) {
    f += static_cast<char>(mask_bit | payload.size());
  } else if (payload.size() <= 0xffff) {
    f += static_cast<char>(mask_bit | 126);
    f += static_cast<char>(payload.size() >> 8);
    f += static_cast<char>(payload.size() & 0xff);
  } else {
    f += static_cast<char>(mask_bit | 127);
    for (int shift = 56; shift >= 0; shift -= 8) f += static_cast<char>((uint64_t{payload.size()} >> shift) & 0xff);
  }
  if (!masked) return f + std::string(payload);
  uint8_t key[4];
  RAND_bytes(key, sizeof key);
  f.append(reinterpret_cast<const char*>(key), 4);
  size_t start = f.size();
  f.append(payload);
  for (size_t i = 0; i < payload.size(); ++i) f[start + i] = static_cast<char>(f[start + i] ^ key[i & 3]);
  return f;
}

std::string WebSocketClient::closePayload(uint16_t code, std::string_view reason) {
  std::string p;
  p += static_cast<char>(code >> 8);
  p += static_cast<char>(code & 0xff);
  p += reason;
  return p;
}

::testing::AssertionResult WebSocketClient::sendRaw(std::string_view bytes, milliseconds timeout) {
  if (!conn_) return ::testing::AssertionFailure() << "not connected";
  return conn_->send(bytes, timeout);
}

::testing::AssertionResult WebSocketClient::sendText(std::string_view text, milliseconds timeout) {
  return sendRaw(frame(WsOpcode::kText, text), timeout);
}

::testing::AssertionResult WebSocketClient::sendBinary(std::string_view data, milliseconds timeout) {
  return sendRaw(frame(WsOpcode::kBinary, data), timeout);
}

::testing::AssertionResult WebSocketClient::sendFragmented(WsOpcode opcode, std::string_view data, size_t piece,
                                                           milliseconds timeout) {
  std::string bytes;
  size_t pos = 0;
  bool first = true;
  do {
    size_t n = std::min(piece, data.size() - pos);
    bool fin = pos + n == data.size();
    bytes += frame(first ? opcode : WsOpcode::kContinuation, data.substr(pos, n), fin);
    pos += n;
    first = false;
  } while (pos < data.size());
  return sendRaw(bytes, timeout);
}

::testing::AssertionResult WebSocketClient::sendPing(std::string_view payload, milliseconds timeout) {
  return sendRaw(frame(WsOpcode::kPing, payload), timeout);
}

::testing::AssertionResult WebSocketClient::sendClose(uint16_t code, std::string_view reason, milliseconds timeout) {
  close_sent_ = true;
  return sendRaw(frame(WsOpcode::kClose, closePayload(code, reason)), timeout);
}

::testing::AssertionResult WebSocketClient::readFrame(Frame* out, Clock::time_point deadline) {
  for (;;) {
    const std::string& in = conn_->buffered();
    if (in.size() >= 2) {
      const auto* b = reinterpret_cast<const uint8_t*>(in.data());
      if (b[0] & 0x70) return ::testing::AssertionFailure() << "RSV bits set without an extension: " << int(b[0]);
      if (b[1] & 0x80) return ::testing::AssertionFailure() << "a server frame is masked (RFC 6455 §5.1)";
      uint64_t len = b[1] & 0x7f;
      size_t header = 2;
      if (len == 126) header = 4;
      if (len == 127) header = 10;
      if (in.size() >= header) {
        if (len == 126) len = (uint64_t{b[2]} << 8) | b[3];
        if (len == 127) {
          len = 0;
          for (int i = 0; i < 8; ++i) len = (len << 8) | b[2 + i];
        }
        auto op = static_cast<WsOpcode>(b[0] & 0x0f);
        bool control = (b[0] & 0x08) != 0;
        if (control && (len > 125 || !(b[0] & 0x80))) {
          return ::testing::AssertionFailure() << "bad control frame: " << opcodeName(op) << " of " << len
                                               << " bytes, fin " << ((b[0] & 0x80) != 0);
        }
        if (in.size() >= header + len) {
          out->fin = (b[0] & 0x80) != 0;
          out->opcode = op;
          out->payload.assign(in, header, len);
          conn_->consume(header + len);
          return ::testing::AssertionSuccess();
        }
      }
    }
    if (Clock::now() >= deadline) {
      return ::testing::AssertionFailure() << "no complete frame in time; " << in.size() << " bytes buffered";
    }
    std::string error;
    switch (conn_->readMore(remaining(deadline), &error)) {
      case ClientConnection::ReadResult::kData:
      case ClientConnection::ReadResult::kTimeout:
        break;
      case ClientConnection::ReadResult::kEof:
        upgraded_ = false;
        return ::testing::AssertionFailure() << "connection closed with " << conn_->buffered().size()
                                             << " bytes of an incomplete frame";
      case ClientConnection::ReadResult::kError:
        return ::testing::AssertionFailure() << "read failed: " << error;
    }
  }
}

::testing::AssertionResult WebSocketClient::receive(WsMessage* out, milliseconds timeout) {
  if (!conn_) return ::testing::AssertionFailure() << "not connected";
  const auto deadline = Clock::now() + timeout;
  bool in_message = false;
  WsMessage message;
  // Each pass takes one frame off the stream; the cap only guards against a runaway peer.
  for (int pass = 0; pass < 10000000; ++pass) {
    Frame f;
    if (auto ok = readFrame(&f, deadline); !ok) {
      return ::testing::AssertionFailure() << ok.message()
                                           << (in_message ? " (inside a fragmented message)" : "");
    }
    switch (f.opcode) {
      case WsOpcode::kPing:
        ++pings_answered_;
        if (!close_sent_) {
          if (auto ok = sendRaw(frame(WsOpcode::kPong, f.payload), remaining(deadline)); !ok) return ok;
        }
        continue;
      case WsOpcode::kPong:
        *out = WsMessage{WsOpcode::kPong, f.payload, std::nullopt};
        return ::testing::AssertionSuccess();
      case WsOpcode::kClose: {
        WsMessage close{WsOpcode::kClose, "", std::nullopt};
        if (f.payload.size() == 1) return ::testing::AssertionFailure() << "a close frame of 1 byte";
        if (f.payload.size() >= 2) {
          close.close_code = static_cast<uint16_t>((uint8_t(f.payload[0]) << 8) | uint8_t(f.payload[1]));
          close.data = f.payload.substr(2);
        }
        if (!close_sent_) {
          // RFC 6455 §5.5.1: answer with a close, usually echoing the code.
          close_sent_ = true;
          std::string payload = close.close_code ? closePayload(*close.close_code) : "";
          (void)sendRaw(frame(WsOpcode::kClose, payload), remaining(deadline));  // the peer may be gone
        }
        *out = std::move(close);
        return ::testing::AssertionSuccess();
      }
      case WsOpcode::kText:
      case WsOpcode::kBinary:
        if (in_message) return ::testing::AssertionFailure() << "a new message inside a fragmented one";
        in_message = true;
        message = WsMessage{f.opcode, std::move(f.payload), std::nullopt};
        break;
      case WsOpcode::kContinuation:
        if (!in_message) return ::testing::AssertionFailure() << "a continuation frame outside a message";
        message.data += f.payload;
        break;
      default:
        return ::testing::AssertionFailure() << "reserved opcode " << int(f.opcode);
    }
    if (f.fin) {
      *out = std::move(message);
      return ::testing::AssertionSuccess();
    }
  }
  return ::testing::AssertionFailure() << "too many frames";
}

::testing::AssertionResult WebSocketClient::expectText(std::string_view expected, milliseconds timeout) {
  WsMessage m;
  if (auto ok = receive(&m, timeout); !ok) return ok;
  if (m.opcode != WsOpcode::kText) return ::testing::AssertionFailure() << "expected text, got " << describe(m);
  if (m.data != expected) {
    return ::testing::AssertionFailure() << "text differs: " << sameBytes(expected, m.data).message() << "; got "
                                         << describe(m);
  }
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult WebSocketClient::expectBinary(std::string_view expected, milliseconds timeout) {
  WsMessage m;
  if (auto ok = receive(&m, timeout); !ok) return ok;
  if (m.opcode != WsOpcode::kBinary) return ::testing::AssertionFailure() << "expected binary, got " << describe(m);
  if (auto same = sameBytes(expected, m.data); !same) return same;
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult WebSocketClient::echo(std::string_view text, milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  if (auto ok = sendText(text, timeout); !ok) return ok;
  return expectText(text, remaining(deadline));
}

::testing::AssertionResult WebSocketClient::closeHandshake(uint16_t code, std::optional<uint16_t>* echoed,
                                                           milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  if (auto ok = sendClose(code, "", timeout); !ok) return ok;
  WsCloseSeen seen;
  if (auto ok = waitForClose(&seen, remaining(deadline)); !ok) return ok;
  if (!seen.close_frame) return ::testing::AssertionFailure() << "the peer closed TCP without answering the close";
  if (echoed) *echoed = seen.code;
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult WebSocketClient::waitForClose(WsCloseSeen* seen, milliseconds timeout) {
  if (!conn_) return ::testing::AssertionFailure() << "not connected";
  const auto deadline = Clock::now() + timeout;
  WsCloseSeen result;
  // Frames first (a close frame, messages still in flight), then the TCP close; once the close
  // frame is in, only the EOF matters.
  for (int pass = 0; pass < 10000000 && !result.close_frame; ++pass) {
    WsMessage m;
    auto ok = receive(&m, remaining(deadline));
    if (!ok) {
      if (conn_->peerClosed()) break;  // TCP closed with no (or half a) close frame
      return ::testing::AssertionFailure() << "no close within " << timeout.count() << " ms: " << ok.message();
    }
    if (m.opcode == WsOpcode::kClose) {
      result.close_frame = true;
      result.code = m.close_code;
    } else if (m.opcode != WsOpcode::kPong) {
      ++result.messages_discarded;
    }
  }
  while (!conn_->peerClosed()) {
    if (Clock::now() >= deadline) {
      auto r = ::testing::AssertionFailure();
      r << "close frame " << (result.close_frame ? "seen" : "not seen") << " but the connection is still open after "
        << timeout.count() << " ms";
      // After the closing handshake the server closes TCP first (RFC 6455 §7.1.1) and waits
      // for ours; in between, a proxy must pass that half-close on or both ends wait.
      if (result.close_frame) r << " (the server's TCP close did not reach us)";
      return r;
    }
    std::string error;
    auto r = conn_->readMore(remaining(deadline), &error);
    if (r == ClientConnection::ReadResult::kError) {
      return ::testing::AssertionFailure() << "read failed while waiting for the close: " << error;
    }
    // Bytes after a close frame are a peer bug, but not this wait's business.
    conn_->consume(conn_->buffered().size());
  }
  // Close our side too, as a real client does on EOF: a server that half-closed first (the
  // websockets library does) reports the WebSocket closed to its app only when our FIN arrives.
  vanish();
  if (seen) *seen = result;
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult WebSocketClient::staysOpen(milliseconds period) {
  if (!conn_) return ::testing::AssertionFailure() << "not connected";
  return conn_->staysOpenAndSilent(period);
}

}  // namespace portcullis::integration
