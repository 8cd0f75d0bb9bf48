#pragma once
// The upstream leg of HTTP/1.1, as the proxy speaks it to app servers: one reader of response
// heads and bodies, shared by proxied requests (proxy::Exchange) and active health checks, so
// both judge an upstream's answer by the same rules. Pure over the caller's input buffer: no I/O,
// no callbacks (the owner of the connection feeds it), so it is tested without sockets.
//
// Rules it applies to every response:
// - interim heads (100 Continue, 103 Early Hints) are consumed and skipped: the proxy answers
//   100-continue itself and does not relay 103;
// - 101 Switching Protocols is reported as Upgrade, for the caller to accept or refuse (the
//   proxy forwards no Upgrade today, so it refuses it);
// - a transfer coding other than chunked (e.g. "gzip, chunked") is an error: the proxy re-frames
//   bodies and would hand the client gzip bytes it never declared, so such a response is refused
//   (502) rather than corrupted. Upstreams use Content-Encoding for that.
#include <cstdint>
#include <string_view>

#include "base/buffer.h"
#include "http/body.h"
#include "http/message.h"
#include "http/parser.h"

namespace portcullis::upstream {

class Http1Client {
 public:
  explicit Http1Client(http::ParserLimits limits = {}) : parser_(limits) {}

  enum class Read : uint8_t { NeedMore, Head, Upgrade, Error };

  // Before each response: `request_method` decides framing (no body after HEAD).
  void startResponse(http::Method request_method);
  // Parses `in` up to the final response head, consuming interim heads. Head: head() is the
  // final head, its bytes still at the front of `in` (its views point there) until consumeHead.
  // Upgrade: head() is a 101, left in `in` likewise. Error: see errorDetail().
  Read readHead(base::Buffer& in);
  const http::ResponseHead& head() const { return head_; }
  const char* errorDetail() const { return error_; }
  // Drops the head's bytes from `in` and starts decoding the body it announced.
  void consumeHead(base::Buffer& in);

  // The body, after consumeHead: decoded runs of `avail` (see http::BodyDecoder).
  http::DecodeStep decodeBody(std::string_view avail) { return body_.decode(avail); }
  bool bodyDone() const { return body_.done(); }

  // Gives back the header vector's capacity while the connection is idle.
  void releaseIdleMemory();

 private:
  http::ResponseParser parser_;
  http::ResponseHead head_;
  http::BodyDecoder body_;
  http::Method method_ = http::Method::Get;
  const char* error_ = "";
};

// False when `resp` carries a transfer coding other than chunked (see above).
bool onlyChunkedTransferCoding(const http::ResponseHead& resp);

}  // namespace portcullis::upstream
