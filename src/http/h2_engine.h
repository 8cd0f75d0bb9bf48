#pragma once
// The server side of one HTTP/2 connection as a pure state machine on top of nghttp2, in the
// style of tls::Engine: the caller feeds the bytes it read (plaintext, after TLS), the engine
// reports what they meant through an H2Observer, the caller submits responses and body bytes,
// and takes the frames to write with output(). No I/O, no sockets, no timers (the caller passes
// its clock into feed()), so it is tested against a real nghttp2 client in memory.
//
// Streams. A request is reported once its head is complete and valid (onRequest); from then on
// the stream is the codec's: body bytes (onData), its end, a reset by the client
// (onStreamReset) and finally onStreamClosed, always last. A request that never reaches
// onRequest (malformed, refused, over a limit) is answered by the engine itself (RST_STREAM,
// or 431) and the observer never hears of it. After the codec's own resetStream it hears only
// onStreamClosed. On a connection error, and when the engine is destroyed, open streams get no
// onStreamClosed: the codec tears down its exchanges itself.
//
// Flow control is the backpressure, both ways:
// - In: the client may send at most initial_window_size bytes per stream (and
//   connection_window_size per connection) beyond what the codec has consume()d. A codec that
//   stops consuming stops the client, with no buffering in between.
// - Out: submitData() queues bytes per stream; output() sends them as the client's windows
//   allow. queuedBytes(stream) says how much is still waiting, so the codec can pause that
//   stream's upstream above a watermark; onStreamDrained tells it when the queue emptied.
//
// Errors. A stream error (malformed request, RFC 9113 §8.1.1) resets that stream and leaves the
// connection up. A connection error (bad preface, a frame that breaks the protocol, a flood
// limit below) makes feed() fail; a GOAWAY is queued then, and the caller writes output() and
// closes. A failed engine stays failed: later feeds return the same error.
//
// Re-entrancy: observer callbacks run inside feed() and output(). They may call submit*,
// consume, resetStream, goaway and shutdownNotice, but must not destroy the engine.
//
// Hardening (what each limit stops). From nghttp2 (1.52 with Debian's backports):
// - max_continuations: CONTINUATION frames after one HEADERS (CVE-2024-28182: a header block
//   that never ends ties up a decoder). Over it: GOAWAY ENHANCE_YOUR_CALM.
// - max_settings_entries: entries in one SETTINGS frame. Over it: GOAWAY ENHANCE_YOUR_CALM.
// - max_outbound_ack: SETTINGS/PING ACKs queued for a client that does not read (a reflection
//   flood). Over it: GOAWAY ENHANCE_YOUR_CALM.
// - nghttp2's own stream reset rate limit (CVE-2023-44487) is kept as a backstop behind ours;
//   it answers with a GOAWAY INTERNAL_ERROR, which the engine also treats as the end.
// - The HPACK tables: the client's decoder is bounded by SETTINGS_HEADER_TABLE_SIZE, ours
//   (encoding responses) by 4 KiB, and a response head by max_response_head_bytes.
// - max_concurrent_streams: a HEADERS beyond it before the client acknowledged our SETTINGS is
//   refused (RST_STREAM REFUSED_STREAM); after the acknowledgement it is a connection error
//   (PROTOCOL_ERROR), as nghttp2 decides (RFC 9113 §5.1.2 allows both).
// Our own counters, because nghttp2 1.52 has none for them (all end the connection with
// GOAWAY ENHANCE_YOUR_CALM):
// - max_resets_per_window: streams reset by the client (RST_STREAM) or by us for the client's
//   fault (malformed request, refused stream) within flood_window_ms. Rapid reset
//   (CVE-2023-44487) and its server-provoked variant (CVE-2025-8671) both open streams for free.
// - max_pings_per_window, max_settings_per_window, max_priority_per_window: control frames
//   that cost the client nothing and us an ACK, a settings change or at least a callback
//   (CVE-2019-9512 ping flood, CVE-2019-9515 settings flood, CVE-2019-9513 priority churn).
// - max_window_updates_slack + window_updates_per_data_frame: WINDOW_UPDATE frames are only
//   useful after DATA we sent; more than slack + ratio x DATA frames sent is a flood.
// - max_empty_frames: consecutive frames with an empty payload and no END_STREAM (DATA,
//   HEADERS, CONTINUATION): free for the client, one callback each for us (CVE-2019-9518).
// - max_header_list_size: the decoded request head (RFC 9113 §6.5.2 accounting: name + value +
//   32 per field) above it is not kept; the engine answers 431 itself (RFC 9113 §10.5.1).
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "base/buffer.h"
#include "base/result.h"
#include "http/headers.h"
#include "http/message.h"

namespace portcullis::http {

// HTTP/2 error codes (RFC 9113 §7) the codec needs to name.
enum class H2Error : uint32_t {
  NoError = 0x0,
  ProtocolError = 0x1,
  InternalError = 0x2,
  FlowControlError = 0x3,
  StreamClosed = 0x5,
  RefusedStream = 0x7,
  Cancel = 0x8,
  EnhanceYourCalm = 0xb,
};

struct H2Settings {
  // --- Sent to the client in our SETTINGS (and a connection WINDOW_UPDATE).
  uint32_t max_concurrent_streams = 100;
  uint32_t initial_window_size = 256 * 1024;      // per stream, request bodies
  uint32_t connection_window_size = 1024 * 1024;  // all streams together
  uint32_t max_header_list_size = 32 * 1024;      // decoded request head (limits.header_bytes)
  uint32_t max_frame_size = 16 * 1024;
  uint32_t header_table_size = 4096;              // the client's HPACK encoder table
  // RFC 8441 extended CONNECT (:protocol, WebSocket over HTTP/2). Off: a :protocol is malformed.
  bool enable_connect_protocol = false;

  // --- Limits (see the header comment for what each stops).
  size_t max_continuations = 8;
  size_t max_settings_entries = 32;
  size_t max_outbound_ack = 1000;
  size_t max_response_head_bytes = 64 * 1024;
  uint64_t flood_window_ms = 10'000;
  uint32_t max_resets_per_window = 500;
  uint32_t max_pings_per_window = 100;
  uint32_t max_settings_per_window = 100;
  uint32_t max_priority_per_window = 1000;
  uint32_t max_window_updates_slack = 1000;
  uint32_t window_updates_per_data_frame = 4;
  uint32_t max_empty_frames = 16;
};

// A request head as the client sent it, validated (RFC 9113 §8.3.1): exactly one each of
// :method, :scheme and :path (none of the latter two for CONNECT), pseudo fields first, no
// unknown pseudo field, lowercase names, no connection-specific field, `te` only as
// "trailers", :authority or host (equal when both are present). Views are valid during
// onRequest only.
struct H2Request {
  std::string_view method;
  Method method_kind = Method::Other;
  std::string_view scheme;     // empty for CONNECT
  std::string_view authority;  // :authority, else the host field
  std::string_view path;       // :path as sent (path and query); empty for CONNECT
  // RFC 8441: the :protocol of an extended CONNECT ("websocket"), only with
  // enable_connect_protocol; empty otherwise.
  std::string_view protocol;
  // Regular fields in order, names lowercase; the cookie crumbs joined into one "cookie" field
  // with "; " (RFC 9113 §8.2.3) at the place of the first.
  std::vector<Header> headers;
  bool has_content_length = false;
  uint64_t content_length = 0;  // nghttp2 holds the body to it: a mismatch resets the stream
  bool end_stream = false;      // no body follows
};

class H2Observer {
 public:
  virtual void onRequest(int32_t stream, const H2Request& req) = 0;
  // Request body bytes (valid during the call). The end of the body comes as a call with
  // end_stream (its data may be empty: trailers, or an empty DATA with END_STREAM; trailers
  // themselves are dropped). Hand the bytes back with consume() once they are gone.
  virtual void onData(int32_t stream, std::string_view data, bool end_stream) = 0;
  // The stream ended abnormally by the client's doing: its RST_STREAM (error code as sent), or
  // a protocol error in its body (PROTOCOL_ERROR, e.g. more or less body than content-length).
  // onStreamClosed follows.
  virtual void onStreamReset(int32_t stream, uint32_t error_code) = 0;
  // Last call for a stream reported by onRequest, however it ended.
  virtual void onStreamClosed(int32_t stream) = 0;
  // Everything submitted on `stream` has been framed into output().
  virtual void onStreamDrained(int32_t stream) = 0;
  // The client sent GOAWAY: no new streams; those up to last_stream_id may complete.
  virtual void onGoaway(uint32_t error_code, int32_t last_stream_id) = 0;

 protected:
  ~H2Observer() = default;
};

class H2Engine {
 public:
  // `observer` must outlive the engine. Our SETTINGS and the connection WINDOW_UPDATE are
  // queued at once: output() has them before anything was fed.
  static base::Result<H2Engine> forServer(const H2Settings& settings, H2Observer& observer);
  H2Engine(H2Engine&&) noexcept;
  H2Engine& operator=(H2Engine&&) noexcept;
  ~H2Engine();

  // Bytes read from the connection (only read during the call). `now_ms` is any monotonic
  // clock; the flood windows are measured on it. Error = connection error: GOAWAY queued,
  // write output() and close. The control frames a feed produces (ACKs, RST_STREAMs) wait in
  // the engine until output(): a codec that stops writing must stop feeding too
  // (max_outbound_ack only bounds what one feed piles up).
  base::Result<void> feed(std::string_view bytes, uint64_t now_ms);
  // Appends every frame ready to send: control frames, then response heads and body bytes as
  // far as the client's windows allow. Returns the bytes appended.
  size_t output(base::Buffer& out);

  // A response head. Names are lowercased, hop-by-hop fields (connection, keep-alive,
  // proxy-connection, transfer-encoding, upgrade, te) and pseudo fields dropped. 1xx
  // (informational, not 101) may come before the final head and never end the stream.
  // end_stream: no body follows. Error: no such open stream, or a head that cannot be sent.
  base::Result<void> submitResponse(int32_t stream, int status, const HeaderList& fields,
                                    bool end_stream);
  // The pipeline's neutral response: its fields, content-length for BodySize::Known, and
  // end_stream when it has no body (BodySize::None).
  base::Result<void> submitResponse(int32_t stream, const Response& r);
  // Body bytes (copied), after the final head; end_stream ends the response (`data` may be
  // empty). Error: no open stream with a head submitted, or the body already ended.
  base::Result<void> submitData(int32_t stream, std::string_view data, bool end_stream);
  // Body bytes submitted and not yet framed into output().
  size_t queuedBytes(int32_t stream) const;
  // The codec is done with n request body bytes of `stream`: the client may send that many
  // more (a WINDOW_UPDATE goes out once enough has been consumed). Counts for a closed stream
  // are ignored (the engine gave its window back when it closed).
  void consume(int32_t stream, size_t n);
  // RST_STREAM with `code`; onStreamClosed follows (during the next output() at the latest).
  void resetStream(int32_t stream, H2Error code);
  // The response of `stream` is complete (or will be, once submitted) but the client has not
  // finished its request body: once END_STREAM has gone out, RST_STREAM(NO_ERROR) tells it to
  // stop sending (RFC 9113 §8.1). Body bytes still arriving are dropped (their window given
  // back) and onData is not called for them any more; onStreamClosed follows as usual.
  void resetAfterResponse(int32_t stream);
  // Graceful end: GOAWAY with the last stream id we took; streams up to it complete, newer ones
  // are refused. The connection is done once wantsRead() and wantsWrite() are both false.
  void goaway(H2Error code = H2Error::NoError);
  // The first step of a two-step graceful close (RFC 9113 §6.8): a GOAWAY with the largest
  // stream id, so requests in flight are not refused; call goaway() an RTT later.
  void shutdownNotice();

  // Between requests (no stream open): gives back the scratch of request heads and the pooled
  // stream records. nghttp2's own buffers (its frame buffer, the HPACK tables) stay.
  void releaseIdleMemory();

  bool wantsRead() const;
  bool wantsWrite() const;
  size_t openStreams() const;  // streams reported by onRequest and not yet closed
  // DATA frames written so far: progress the client made reading (a send timeout's measure;
  // control frames such as PING ACKs do not count).
  uint64_t dataFramesSent() const;
  // Why the connection ended, for logs ("" while it is fine).
  std::string_view failure() const;

 private:
  H2Engine() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace portcullis::http
