#pragma once
// H2Engine::Impl, shared by the engine's two halves: h2_engine.cc (the session's creation and
// what comes in: frames, request heads, flood limits) and h2_engine_send.cc (what goes out:
// response heads, DATA behind the client's windows, resets). Nothing else includes it; it and
// those two files are the only ones that know nghttp2 (scripts/check-layers.sh). nghttp2 does
// the framing, HPACK, flow-control arithmetic and most of RFC 9113 §8 validation; the engine
// adds what a proxy needs on top: request heads as plain views, per-stream output queues
// behind the client's windows, windows that open only as the codec consumes, and flood limits
// nghttp2 1.52 lacks.
#include <nghttp2/nghttp2.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/buffer.h"
#include "base/result.h"
#include "http/h2_engine.h"

namespace portcullis::http {

inline nghttp2_nv makeNv(std::string_view name, std::string_view value) {
  // nghttp2 copies (and lowercases) the names and values when a head is submitted, so views
  // into the caller's fields are enough here.
  return nghttp2_nv{reinterpret_cast<uint8_t*>(const_cast<char*>(name.data())),
                    reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())), name.size(),
                    value.size(), NGHTTP2_NV_FLAG_NONE};
}

struct H2Engine::Impl {
  // One per stream nghttp2 opened for a request, from its HEADERS to its close; pooled, so a
  // connection allocates only up to its peak of concurrent streams.
  struct Stream {
    int32_t id = 0;
    base::Buffer out;          // response body bytes not yet framed
    bool reported = false;     // onRequest was called: the codec owns it
    bool too_large = false;    // the head went over max_header_list_size: answered 431 here
    bool final_sent = false;   // a final response head was submitted
    bool end_queued = false;   // the response body has its end
    bool deferred = false;     // nghttp2 holds its data item until resume_data
    bool codec_reset = false;  // resetStream: not the client's fault, not reported back
    bool client_reset = false;
    bool end_sent = false;      // the response's END_STREAM went out
    bool rst_after_end = false; // resetAfterResponse: RST_STREAM(NO_ERROR) once end_sent
    size_t unconsumed = 0;     // body bytes delivered and not yet consume()d
  };

  H2Settings cfg;
  H2Observer* obs = nullptr;
  nghttp2_session* session = nullptr;

  base::Buffer pending;               // frames produced during feed(), before output()
  base::Buffer* target = nullptr;     // where send callbacks append
  bool control_only = false;          // flushing during feed(): hold DATA back
  std::vector<int32_t> flush_deferred;
  std::vector<int32_t> drained;
  std::vector<nghttp2_nv> nva;  // a response head being submitted; nghttp2 copies it

  std::vector<std::unique_ptr<Stream>> all;
  std::vector<Stream*> free_list;
  size_t open = 0;

  // The request head being decoded. Header blocks never interleave (RFC 9113 §4.3), so one
  // scratch serves the connection; its capacity stays.
  struct Field {
    uint32_t name_off, name_len, value_off, value_len;
  };
  std::string text;
  std::vector<Field> fields;
  std::string cookie;
  size_t head_bytes = 0;
  int32_t head_stream = 0;
  Field method{}, scheme{}, authority{}, path{}, protocol{}, host{};
  bool has_authority = false, has_host = false, has_protocol = false, has_cl = false;
  bool has_cookie = false;
  uint64_t content_length = 0;
  H2Request req;

  // Flood accounting.
  uint64_t now_ms = 0;
  uint64_t window_start = 0;
  uint32_t resets = 0, pings = 0, settings_frames = 0, priorities = 0, empty_run = 0;
  uint64_t window_updates = 0, data_frames_sent = 0;
  size_t frame_data_bytes = 0;
  const char* calm = nullptr;  // a limit or a check of ours ended the connection: which
  uint32_t calm_code = NGHTTP2_ENHANCE_YOUR_CALM;  // and the GOAWAY's code
  // The last streams we sent RST_STREAM on. A client may still have frames for them in flight
  // (RFC 9113 §5.1, "closed"): those are ignored, while DATA or HEADERS on any other closed
  // stream is the client's error. A ring: ids older than it are too old to be in flight.
  std::array<int32_t, 256> reset_ring{};
  size_t reset_next = 0;
  // Frame boundaries, tracked ahead of nghttp2 (feed): it drops DATA on a closed stream and
  // PRIORITY frames before any callback could judge them.
  size_t scan_preface = NGHTTP2_CLIENT_MAGIC_LEN;
  uint8_t scan_head[9] = {};
  size_t scan_have = 0;
  size_t scan_payload = 0;

  bool failed = false;
  std::string failure;

  ~Impl() {
    if (session) nghttp2_session_del(session);
  }

  Stream* stream(int32_t id) const {
    return static_cast<Stream*>(nghttp2_session_get_stream_user_data(session, id));
  }
  Stream* newStream(int32_t id) {
    Stream* s;
    if (free_list.empty()) {
      all.push_back(std::make_unique<Stream>());
      s = all.back().get();
    } else {
      s = free_list.back();
      free_list.pop_back();
    }
    s->id = id;
    return s;
  }
  void freeStream(Stream* s) {
    *s = Stream{};  // the queue's memory goes back to the page pool with it
    free_list.push_back(s);
  }
  // The codec still wants to hear of this stream (it did not reset it itself).
  static bool live(const Stream* s) { return s && s->reported && !s->codec_reset; }

  void fail(std::string why) {
    if (failed) return;
    failed = true;
    failure = std::move(why);
  }
  // Ends the connection with GOAWAY `code`; the frame goes out with the next flush.
  void terminate(uint32_t code, std::string why) {
    fail(std::move(why));
    nghttp2_session_terminate_session(session, code);
  }
  int tooMuch(const char* what) { return violation(NGHTTP2_ENHANCE_YOUR_CALM, what); }
  int violation(uint32_t code, const char* what) {
    calm = what;
    calm_code = code;
    return NGHTTP2_ERR_CALLBACK_FAILURE;
  }
  bool weReset(int32_t id) const {
    return std::find(reset_ring.begin(), reset_ring.end(), id) != reset_ring.end();
  }
  // A client stream that has been opened and is over, not by a reset of ours. nghttp2 1.52
  // ignores frames on such a stream; RFC 9113 §5.1 wants an error unless the frame may have
  // crossed our RST_STREAM. HEADERS are judged in onBeginFrame, DATA (which nghttp2 drops
  // before any callback) by feed's frame scan.
  bool closedByClient(int32_t id) const {
    if (id <= 0 || (id & 1) == 0 || id > nghttp2_session_get_last_proc_stream_id(session)) return false;
    return !nghttp2_session_find_stream(session, id) && !weReset(id);
  }
  int checkClosedStream(int32_t id) {
    if (!closedByClient(id)) return 0;
    // §5.1.1: a HEADERS that does not open a new stream (a lower id, implicitly closed, or one
    // that has ended) is a connection error PROTOCOL_ERROR.
    return violation(NGHTTP2_PROTOCOL_ERROR, "HEADERS on a closed stream");
  }

  // Runs nghttp2's send loop into `out`. During feed (control_only) DATA is held back: the
  // frames that matter then are the control ones (a GOAWAY that ends the connection must be
  // seen before feed returns), and body bytes go out only when the codec asks for output.
  void send(base::Buffer& out, bool control);

  // A response head: `content_length` non-empty adds that field.
  base::Result<void> submitHead(int32_t id, int status, const HeaderList& fields,
                                std::string_view content_length, bool end_stream);

  void rollWindow() {
    if (now_ms - window_start < cfg.flood_window_ms) return;
    window_start = now_ms;
    resets = pings = settings_frames = priorities = 0;
  }

  std::string_view at(const Field& f) const { return {text.data() + f.value_off, f.value_len}; }

  void beginHead(int32_t id);
  Field store(std::string_view name, std::string_view value) {
    Field f{static_cast<uint32_t>(text.size()), static_cast<uint32_t>(name.size()), 0,
            static_cast<uint32_t>(value.size())};
    text.append(name);
    f.value_off = static_cast<uint32_t>(text.size());
    text.append(value);
    return f;
  }

  int onHeader(const nghttp2_frame* frame, std::string_view name, std::string_view value);

  // The request head is complete (nghttp2 found its pseudo fields complete and consistent).
  void onRequestHead(const nghttp2_frame* frame);

  // --- nghttp2 callbacks (user_data is the Impl).
  static Impl* self(void* p) { return static_cast<Impl*>(p); }

  static ssize_t onSend(nghttp2_session*, const uint8_t* data, size_t len, int, void* u);

  static int onSendData(nghttp2_session*, nghttp2_frame* frame, const uint8_t* framehd,
                        size_t length, nghttp2_data_source* source, void* u);

  static ssize_t onReadData(nghttp2_session*, int32_t, uint8_t*, size_t length,
                            uint32_t* flags, nghttp2_data_source* source, void* u);

  static int onBeginFrame(nghttp2_session*, const nghttp2_frame_hd* hd, void* u);

  static int onBeginHeaders(nghttp2_session* session, const nghttp2_frame* frame, void* u);

  static int onHeaderCb(nghttp2_session*, const nghttp2_frame* frame, nghttp2_rcbuf* name,
                        nghttp2_rcbuf* value, uint8_t, void* u);

  // nghttp2 would drop a field with a bad name or value and carry on; a proxy must not
  // forward a request its upstream may read differently (the HTTP/1 parser refuses the same
  // bytes), so it is a stream error.
  static int onInvalidHeader(nghttp2_session* session, const nghttp2_frame* frame,
                             nghttp2_rcbuf*, nghttp2_rcbuf*, uint8_t, void*);

  static int onFrameRecv(nghttp2_session*, const nghttp2_frame* frame, void* u);

  static int onDataChunk(nghttp2_session* session, uint8_t, int32_t id, const uint8_t* data,
                         size_t len, void* u);

  static int onFrameSend(nghttp2_session* session, const nghttp2_frame* frame, void* u);

  // The response is out and the client is still sending a body nobody will read (RFC 9113 §8.1).
  void resetUnfinishedRequest(nghttp2_session* sess, Stream* s);

  static int onStreamClose(nghttp2_session*, int32_t id, uint32_t code, void* u);
};

}  // namespace portcullis::http
