#pragma once
// On-the-fly compression of proxied responses (a route's `compress:`): whether a response is
// compressed, the head it then carries, and the encoder its body goes through. The rules follow
// nginx's gzip filter and Envoy's compressor filter:
//   - the route has `compress` enabled; the request is not a Range request;
//   - the client accepts br, zstd or gzip (all Accept-Encoding fields; q=0 refuses; ties go to
//     br > zstd > gzip); the request is not HEAD;
//   - status 200, 201, 202, 203, 403, 404 or 410 (nginx takes 200/403/404; the others carry
//     pages too). Never 206 (Content-Range), 204/304 (no body), 1xx/101, 3xx, 5xx (often cut
//     short, and small) or the proxy's own replies;
//   - a body (not an empty Content-Length: 0), and a Content-Length, when there is one, of at
//     least min_size (an unknown length, chunked or until close, is compressed);
//   - its Content-Type (no parameters, any case) is one of `types` ("type/*" for a whole type);
//   - no Content-Encoding (no double compression), no Content-Range, no
//     Cache-Control: no-transform (RFC 9111 §5.2.2.6).
// Compressing drops Content-Length (the body becomes of unknown size: chunked on HTTP/1.1,
// END_STREAM on HTTP/2), adds Content-Encoding, adds or extends Vary: Accept-Encoding, and
// weakens a strong ETag (RFC 9110 §8.8.1: the bytes differ from the upstream's).
// A response that would have been compressed for another client (this one accepts no coding,
// or asked with HEAD) still gets Vary: Accept-Encoding, so caches keep the variants apart.
#include <cstdint>
#include <string>
#include <string_view>

#include "config/model.h"
#include "http/compressor.h"
#include "http/content_coding.h"
#include "http/headers.h"
#include "http/message.h"

namespace portcullis::proxy {

// What the request says about compression, gathered once from its head.
struct CompressionRequest {
  http::AcceptEncoding accept;
  bool head = false;   // HEAD: the head as is (with Vary), no body to compress anyway
  bool range = false;  // a Range request: passed through unchanged
};

enum class CompressionVerdict : uint8_t {
  Unchanged,  // not a candidate: the response goes as it came
  VaryOnly,   // a candidate, but not for this request: add Vary: Accept-Encoding
  Compress,
};

struct CompressionDecision {
  CompressionVerdict verdict = CompressionVerdict::Unchanged;
  http::Coding coding = http::Coding::Identity;
};

// Pure: the rules above, over the request, the upstream's status and the head as it will be
// sent (`resp`, after the hop-by-hop policy).
CompressionDecision decideCompression(const config::Compression& conf, const CompressionRequest& req,
                                      const http::Response& resp);

// Strings the rewritten head points into (kept by the caller while the head is in use).
struct CompressionScratch {
  std::string vary;
  std::string etag;
};

// Rewrites `resp` for the decision (views into `scratch` and constants).
void applyCompressionHead(const CompressionDecision& d, http::Response& resp, CompressionScratch& scratch);

// One exchange's compression, reused request after request: the encoder's state and the output
// string keep their memory, so a warm connection compresses without allocating (brotli aside:
// its encoder is created per response).
class ResponseCompression {
 public:
  // A forwarded request's head (views valid during the call): note what compression needs.
  void onRequest(const http::RequestHead& req, const config::Compression& conf);
  // The response head, before it is sent: decide, rewrite `resp`, start the encoder. True:
  // body bytes now go through write()/flush()/finish().
  bool onResponseHead(http::Response& resp);
  bool active() const { return enc_.active(); }

  // The compressed bytes for `data`, `flush`ed (everything so far decodable) or `finish`ed
  // (the stream's end). Views into out_, valid until the next call. Empty: nothing to send yet.
  // `flush`: flushed right after, in the same output.
  std::string_view write(std::string_view data, bool flush = false);
  std::string_view flush();
  std::string_view finish();
  // Input since the last flush (none: a flush would only add framing).
  bool unflushed() const { return unflushed_; }
  bool failed() const { return failed_; }

  // The request is over (complete or cut short).
  void clear();
  // An idle connection: give back the encoder's state and the buffers.
  void release();

 private:
  const config::Compression* conf_ = nullptr;  // the route's (lives as long as the generation)
  CompressionRequest req_;
  CompressionScratch scratch_;
  http::Compressor enc_;
  std::string out_;
  bool unflushed_ = false;
  bool failed_ = false;
};

}  // namespace portcullis::proxy
