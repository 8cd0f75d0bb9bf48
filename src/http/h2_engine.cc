#include "http/h2_engine.h"

#include <nghttp2/nghttp2.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>
#include <string>
#include <utility>

// The only file that knows nghttp2 (scripts/check-layers.sh). nghttp2 does the framing, HPACK,
// flow-control arithmetic and most of RFC 9113 §8 validation; this file adds what a proxy
// needs on top: request heads as plain views, per-stream output queues behind the client's
// windows, windows that open only as the codec consumes, and flood limits nghttp2 1.52 lacks.

namespace portcullis::http {
namespace {

constexpr std::string_view kHopByHop[] = {"connection", "keep-alive", "proxy-connection",
                                          "transfer-encoding", "upgrade", "te"};

bool isHopByHopName(std::string_view name) {
  for (std::string_view h : kHopByHop)
    if (iequals(name, h)) return true;
  return false;
}

std::string_view view(nghttp2_rcbuf* b) {
  nghttp2_vec v = nghttp2_rcbuf_get_buf(b);
  return {reinterpret_cast<const char*>(v.base), v.len};
}

nghttp2_nv makeNv(std::string_view name, std::string_view value) {
  // nghttp2 copies (and lowercases) the names and values when a head is submitted, so views
  // into the caller's fields are enough here.
  return nghttp2_nv{reinterpret_cast<uint8_t*>(const_cast<char*>(name.data())),
                    reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())), name.size(),
                    value.size(), NGHTTP2_NV_FLAG_NONE};
}

}  // namespace

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
  void send(base::Buffer& out, bool control) {
    target = &out;
    control_only = control;
    int rv = nghttp2_session_send(session);
    target = nullptr;
    control_only = false;
    if (rv != 0) fail(std::string("nghttp2 send: ") + nghttp2_strerror(rv));
    for (int32_t id : flush_deferred) {
      Stream* s = stream(id);
      if (s && s->deferred && (!s->out.empty() || s->end_queued)) {
        s->deferred = false;
        nghttp2_session_resume_data(session, id);
      }
    }
    flush_deferred.clear();
    // Told after the send loop so that the codec's reaction (more submitData) never runs
    // inside nghttp2's own.
    for (size_t i = 0; i < drained.size(); ++i) {
      if (live(stream(drained[i]))) obs->onStreamDrained(drained[i]);
    }
    drained.clear();
  }

  // A response head: `content_length` non-empty adds that field.
  base::Result<void> submitHead(int32_t id, int status, const HeaderList& fields,
                                std::string_view content_length, bool end_stream) {
    Stream* s = stream(id);
    if (!live(s) || s->final_sent) return base::makeError("no stream awaiting a response");
    if (status < 100 || status > 999 || status == 101)
      return base::makeError("status not sendable over HTTP/2");
    bool informational = status < 200;
    if (informational && end_stream) return base::makeError("1xx cannot end the stream");
    char code[3] = {char('0' + status / 100), char('0' + status / 10 % 10),
                    char('0' + status % 10)};
    nva.clear();
    nva.push_back(makeNv(":status", {code, 3}));
    for (const Header& h : fields) {
      if (h.name.empty() || h.name[0] == ':' || isHopByHopName(h.name)) continue;
      nva.push_back(makeNv(h.name, h.value));
    }
    if (!content_length.empty()) nva.push_back(makeNv("content-length", content_length));
    int rv;
    if (informational) {
      rv = nghttp2_submit_headers(session, NGHTTP2_FLAG_NONE, id, nullptr, nva.data(), nva.size(),
                                  nullptr);
    } else {
      nghttp2_data_provider prd;
      prd.source.ptr = s;
      prd.read_callback = &Impl::onReadData;
      rv = nghttp2_submit_response(session, id, nva.data(), nva.size(),
                                   end_stream ? nullptr : &prd);
      if (rv == 0) {
        s->final_sent = true;
        s->end_queued = end_stream;
      }
    }
    if (rv != 0) return base::makeError(std::string("nghttp2: ") + nghttp2_strerror(rv));
    return {};
  }

  void rollWindow() {
    if (now_ms - window_start < cfg.flood_window_ms) return;
    window_start = now_ms;
    resets = pings = settings_frames = priorities = 0;
  }

  std::string_view at(const Field& f) const { return {text.data() + f.value_off, f.value_len}; }

  void beginHead(int32_t id) {
    text.clear();
    fields.clear();
    cookie.clear();
    head_bytes = 0;
    head_stream = id;
    has_authority = has_host = has_protocol = has_cl = has_cookie = false;
    content_length = 0;
  }
  Field store(std::string_view name, std::string_view value) {
    Field f{static_cast<uint32_t>(text.size()), static_cast<uint32_t>(name.size()), 0,
            static_cast<uint32_t>(value.size())};
    text.append(name);
    f.value_off = static_cast<uint32_t>(text.size());
    text.append(value);
    return f;
  }

  int onHeader(const nghttp2_frame* frame, std::string_view name, std::string_view value) {
    if (frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;  // trailers: dropped
    Stream* s = stream(frame->hd.stream_id);
    if (!s || frame->hd.stream_id != head_stream) return 0;
    head_bytes += name.size() + value.size() + 32;
    if (head_bytes > cfg.max_header_list_size) s->too_large = true;
    if (s->too_large) return 0;  // keep counting nothing: the answer is 431 whatever follows
    // nghttp2 has checked the field (RFC 9113 §8.2, §8.3): pseudo fields known, once each,
    // first; names lowercase; connection-specific fields refused; content-length digits.
    if (name[0] == ':') {
      Field f = store(name, value);
      if (name == ":method") method = f;
      else if (name == ":scheme") scheme = f;
      else if (name == ":authority") authority = f, has_authority = true;
      else if (name == ":path") path = f;
      else if (name == ":protocol") protocol = f, has_protocol = true;
      return 0;
    }
    if (name == "cookie") {
      // RFC 9113 §8.2.3: crumbs may come as separate fields; HTTP/1 wants one, joined by "; ".
      if (has_cookie) {
        cookie += "; ";
      } else {
        has_cookie = true;
        fields.push_back(Field{0, 0, 0, 0});  // its place; name_len 0 marks it
      }
      cookie.append(value);
      return 0;
    }
    if (name == "host") {
      host = store(name, value);
      has_host = true;
      return 0;
    }
    if (name == "content-length") {
      // nghttp2 has checked it: digits only, at most INT64_MAX.
      std::from_chars(value.data(), value.data() + value.size(), content_length);
      has_cl = true;
    }
    fields.push_back(store(name, value));
    return 0;
  }

  // The request head is complete (nghttp2 found its pseudo fields complete and consistent).
  void onRequestHead(const nghttp2_frame* frame) {
    Stream* s = stream(frame->hd.stream_id);
    if (!s) return;
    bool end = frame->hd.flags & NGHTTP2_FLAG_END_STREAM;
    if (s->too_large) {
      nghttp2_nv nv = makeNv(":status", "431");
      nghttp2_submit_response(session, s->id, &nv, 1, nullptr);
      return;
    }
    // RFC 9113 §8.3.1: a host that names another authority than :authority is malformed.
    if (has_authority && has_host && !iequals(at(authority), at(host))) {
      nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, s->id, NGHTTP2_PROTOCOL_ERROR);
      return;
    }
    req.method = at(method);
    req.method_kind = methodFromText(req.method);
    req.scheme = scheme.value_len ? at(scheme) : std::string_view{};
    req.authority = has_authority ? at(authority) : has_host ? at(host) : std::string_view{};
    req.path = path.value_len ? at(path) : std::string_view{};
    req.protocol = has_protocol ? at(protocol) : std::string_view{};
    req.headers.clear();
    for (const Field& f : fields) {
      if (f.name_len == 0) req.headers.push_back(Header{"cookie", cookie});
      else req.headers.push_back(Header{{text.data() + f.name_off, f.name_len}, at(f)});
    }
    req.has_content_length = has_cl;
    req.content_length = content_length;
    req.end_stream = end;
    s->reported = true;
    ++open;
    obs->onRequest(s->id, req);
  }

  // --- nghttp2 callbacks (user_data is the Impl).
  static Impl* self(void* p) { return static_cast<Impl*>(p); }

  static ssize_t onSend(nghttp2_session*, const uint8_t* data, size_t len, int, void* u) {
    self(u)->target->append(data, len);
    return static_cast<ssize_t>(len);
  }

  static int onSendData(nghttp2_session*, nghttp2_frame* frame, const uint8_t* framehd,
                        size_t length, nghttp2_data_source* source, void* u) {
    Impl* e = self(u);
    auto* s = static_cast<Stream*>(source->ptr);
    e->target->append(framehd, 9);
    e->target->append(s->out.data(), length);
    s->out.consume(length);
    if (s->out.empty() && length > 0) e->drained.push_back(s->id);
    (void)frame;
    return 0;
  }

  static ssize_t onReadData(nghttp2_session*, int32_t, uint8_t*, size_t length,
                            uint32_t* flags, nghttp2_data_source* source, void* u) {
    Impl* e = self(u);
    auto* s = static_cast<Stream*>(source->ptr);
    if (e->control_only) {
      s->deferred = true;
      e->flush_deferred.push_back(s->id);
      return NGHTTP2_ERR_DEFERRED;
    }
    size_t n = std::min(length, s->out.size());
    if (n == s->out.size() && s->end_queued) *flags |= NGHTTP2_DATA_FLAG_EOF;
    if (n == 0 && !(*flags & NGHTTP2_DATA_FLAG_EOF)) {
      s->deferred = true;  // submitData resumes it
      return NGHTTP2_ERR_DEFERRED;
    }
    *flags |= NGHTTP2_DATA_FLAG_NO_COPY;
    return static_cast<ssize_t>(n);
  }

  static int onBeginFrame(nghttp2_session*, const nghttp2_frame_hd* hd, void* u) {
    Impl* e = self(u);
    const H2Settings& c = e->cfg;
    bool ack = hd->flags & NGHTTP2_FLAG_ACK;
    if (hd->type == NGHTTP2_HEADERS) {
      if (int rv = e->checkClosedStream(hd->stream_id)) return rv;
    }
    // With RFC 7540 priorities off nghttp2 skips PRIORITY frames unread; RFC 9113 §6.3 still
    // makes one on stream 0 a connection error.
    if (hd->type == NGHTTP2_PRIORITY && hd->stream_id == 0)
      return e->violation(NGHTTP2_PROTOCOL_ERROR, "PRIORITY on stream 0");
    switch (hd->type) {
      case NGHTTP2_PING:
        if (!ack && ++e->pings > c.max_pings_per_window) return e->tooMuch("PING flood");
        break;
      case NGHTTP2_SETTINGS:
        if (!ack && ++e->settings_frames > c.max_settings_per_window)
          return e->tooMuch("SETTINGS flood");
        break;
      case NGHTTP2_PRIORITY:
        if (++e->priorities > c.max_priority_per_window) return e->tooMuch("PRIORITY flood");
        break;
      case NGHTTP2_WINDOW_UPDATE:
        if (++e->window_updates >
            c.max_window_updates_slack + c.window_updates_per_data_frame * e->data_frames_sent)
          return e->tooMuch("WINDOW_UPDATE flood");
        break;
      case NGHTTP2_RST_STREAM:
        if (++e->resets > c.max_resets_per_window) return e->tooMuch("stream reset flood");
        break;
      case NGHTTP2_HEADERS:
      case NGHTTP2_CONTINUATION:
        if (hd->length == 0) {
          if (++e->empty_run > c.max_empty_frames) return e->tooMuch("empty frame flood");
        } else {
          e->empty_run = 0;
        }
        break;
      case NGHTTP2_DATA:
        e->frame_data_bytes = 0;  // judged in onFrameRecv, once its payload is known
        break;
      default:
        break;
    }
    return 0;
  }

  static int onBeginHeaders(nghttp2_session* session, const nghttp2_frame* frame, void* u) {
    Impl* e = self(u);
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
      return 0;
    Stream* s = e->newStream(frame->hd.stream_id);
    nghttp2_session_set_stream_user_data(session, frame->hd.stream_id, s);
    e->beginHead(frame->hd.stream_id);
    return 0;
  }

  static int onHeaderCb(nghttp2_session*, const nghttp2_frame* frame, nghttp2_rcbuf* name,
                        nghttp2_rcbuf* value, uint8_t, void* u) {
    return self(u)->onHeader(frame, view(name), view(value));
  }

  // nghttp2 would drop a field with a bad name or value and carry on; a proxy must not
  // forward a request its upstream may read differently (the HTTP/1 parser refuses the same
  // bytes), so it is a stream error.
  static int onInvalidHeader(nghttp2_session* session, const nghttp2_frame* frame,
                             nghttp2_rcbuf*, nghttp2_rcbuf*, uint8_t, void*) {
    nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, frame->hd.stream_id,
                              NGHTTP2_PROTOCOL_ERROR);
    return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
  }

  static int onFrameRecv(nghttp2_session*, const nghttp2_frame* frame, void* u) {
    Impl* e = self(u);
    switch (frame->hd.type) {
      case NGHTTP2_HEADERS: {
        if (frame->headers.cat == NGHTTP2_HCAT_REQUEST) {
          e->onRequestHead(frame);
        } else if (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) {  // trailers end the body
          Stream* s = e->stream(frame->hd.stream_id);
          if (live(s)) e->obs->onData(s->id, {}, true);
        }
        break;
      }
      case NGHTTP2_DATA: {
        bool end = frame->hd.flags & NGHTTP2_FLAG_END_STREAM;
        if (e->frame_data_bytes == 0 && !end) {
          if (++e->empty_run > e->cfg.max_empty_frames) return e->tooMuch("empty frame flood");
        } else {
          e->empty_run = 0;
        }
        if (end) {
          Stream* s = e->stream(frame->hd.stream_id);
          if (live(s)) e->obs->onData(s->id, {}, true);
        }
        break;
      }
      case NGHTTP2_RST_STREAM: {
        Stream* s = e->stream(frame->hd.stream_id);
        if (s) s->client_reset = true;
        break;
      }
      case NGHTTP2_GOAWAY:
        e->obs->onGoaway(frame->goaway.error_code, frame->goaway.last_stream_id);
        break;
      default:
        break;
    }
    return 0;
  }

  static int onDataChunk(nghttp2_session* session, uint8_t, int32_t id, const uint8_t* data,
                         size_t len, void* u) {
    Impl* e = self(u);
    e->frame_data_bytes += len;
    Stream* s = e->stream(id);
    if (!live(s)) {
      // Nobody will consume it (a 431 answered here, or a stream the codec reset while the
      // client was still sending): give the window back at once.
      nghttp2_session_consume(session, id, len);
      return 0;
    }
    s->unconsumed += len;
    e->obs->onData(id, {reinterpret_cast<const char*>(data), len}, false);
    return 0;
  }

  static int onFrameSend(nghttp2_session* session, const nghttp2_frame* frame, void* u) {
    Impl* e = self(u);
    if ((frame->hd.type == NGHTTP2_DATA || frame->hd.type == NGHTTP2_HEADERS) &&
        (frame->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
      Stream* s = e->stream(frame->hd.stream_id);
      if (s) {
        s->end_sent = true;
        if (s->rst_after_end) e->resetUnfinishedRequest(session, s);
      }
    }
    switch (frame->hd.type) {
      case NGHTTP2_DATA:
        ++e->data_frames_sent;
        break;
      case NGHTTP2_RST_STREAM: {
        e->reset_ring[e->reset_next++ % e->reset_ring.size()] = frame->hd.stream_id;
        // Resets we send for the client's fault count as its resets: a stream opened only to
        // be refused or reset costs it as little as one it cancels (CVE-2025-8671).
        Stream* s = e->stream(frame->hd.stream_id);
        if (!s || !s->codec_reset) ++e->resets;
        break;
      }
      case NGHTTP2_GOAWAY:
        if (frame->goaway.error_code != NGHTTP2_NO_ERROR)
          e->fail(e->calm ? e->calm
                          : std::string("GOAWAY sent: ") +
                                nghttp2_http2_strerror(frame->goaway.error_code));
        break;
      default:
        break;
    }
    return 0;
  }

  // The response is out and the client is still sending a body nobody will read (RFC 9113 §8.1).
  void resetUnfinishedRequest(nghttp2_session* sess, Stream* s) {
    s->rst_after_end = false;
    if (nghttp2_session_get_stream_remote_close(sess, s->id)) return;  // it has finished meanwhile
    s->codec_reset = true;
    nghttp2_submit_rst_stream(sess, NGHTTP2_FLAG_NONE, s->id, NGHTTP2_NO_ERROR);
  }

  static int onStreamClose(nghttp2_session*, int32_t id, uint32_t code, void* u) {
    Impl* e = self(u);
    Stream* s = e->stream(id);
    if (!s) return 0;
    // Body bytes the codec never consumed would shrink the connection window for good.
    if (s->unconsumed) nghttp2_session_consume_connection(e->session, s->unconsumed);
    if (s->reported) {
      --e->open;
      if (!s->codec_reset && (s->client_reset || code != NGHTTP2_NO_ERROR))
        e->obs->onStreamReset(id, code);
      e->obs->onStreamClosed(id);
    }
    nghttp2_session_set_stream_user_data(e->session, id, nullptr);
    e->freeStream(s);
    return 0;
  }
};

base::Result<H2Engine> H2Engine::forServer(const H2Settings& cfg, H2Observer& observer) {
  H2Engine engine;
  engine.impl_ = std::make_unique<Impl>();
  Impl& e = *engine.impl_;
  e.cfg = cfg;
  e.obs = &observer;

  nghttp2_session_callbacks* cbs = nullptr;
  if (nghttp2_session_callbacks_new(&cbs) != 0) return base::makeError("nghttp2: out of memory");
  nghttp2_session_callbacks_set_send_callback(cbs, &Impl::onSend);
  nghttp2_session_callbacks_set_send_data_callback(cbs, &Impl::onSendData);
  nghttp2_session_callbacks_set_on_begin_frame_callback(cbs, &Impl::onBeginFrame);
  nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, &Impl::onBeginHeaders);
  nghttp2_session_callbacks_set_on_header_callback2(cbs, &Impl::onHeaderCb);
  nghttp2_session_callbacks_set_on_invalid_header_callback2(cbs, &Impl::onInvalidHeader);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, &Impl::onFrameRecv);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, &Impl::onDataChunk);
  nghttp2_session_callbacks_set_on_frame_send_callback(cbs, &Impl::onFrameSend);
  nghttp2_session_callbacks_set_on_stream_close_callback(cbs, &Impl::onStreamClose);

  nghttp2_option* opt = nullptr;
  if (nghttp2_option_new(&opt) != 0) {
    nghttp2_session_callbacks_del(cbs);
    return base::makeError("nghttp2: out of memory");
  }
  nghttp2_option_set_no_auto_window_update(opt, 1);  // windows open as the codec consumes
  nghttp2_option_set_no_closed_streams(opt, 1);      // no priority tree to keep them for
  nghttp2_option_set_max_continuations(opt, cfg.max_continuations);
  nghttp2_option_set_max_settings(opt, cfg.max_settings_entries);
  nghttp2_option_set_max_outbound_ack(opt, cfg.max_outbound_ack);
  nghttp2_option_set_max_send_header_block_length(opt, cfg.max_response_head_bytes);
  nghttp2_option_set_max_deflate_dynamic_table_size(opt, 4096);
  // A backstop behind max_resets_per_window (it runs on nghttp2's own clock).
  uint64_t burst = std::max<uint64_t>(1000, 2 * uint64_t{cfg.max_resets_per_window});
  nghttp2_option_set_stream_reset_rate_limit(opt, burst, 33);

  int rv = nghttp2_session_server_new2(&e.session, cbs, &e, opt);
  nghttp2_option_del(opt);
  nghttp2_session_callbacks_del(cbs);
  if (rv != 0) return base::makeError(std::string("nghttp2: ") + nghttp2_strerror(rv));

  std::vector<nghttp2_settings_entry> iv = {
      {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, cfg.max_concurrent_streams},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, cfg.initial_window_size},
      {NGHTTP2_SETTINGS_MAX_FRAME_SIZE, cfg.max_frame_size},
      {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, cfg.max_header_list_size},
      {NGHTTP2_SETTINGS_HEADER_TABLE_SIZE, cfg.header_table_size},
      // RFC 9218: no RFC 7540 priority tree (and nghttp2 keeps no closed streams for one).
      {NGHTTP2_SETTINGS_NO_RFC7540_PRIORITIES, 1},
  };
  if (cfg.enable_connect_protocol) iv.push_back({NGHTTP2_SETTINGS_ENABLE_CONNECT_PROTOCOL, 1});
  rv = nghttp2_submit_settings(e.session, NGHTTP2_FLAG_NONE, iv.data(), iv.size());
  if (rv == 0 && cfg.connection_window_size > NGHTTP2_INITIAL_CONNECTION_WINDOW_SIZE)
    rv = nghttp2_session_set_local_window_size(e.session, NGHTTP2_FLAG_NONE, 0,
                                               static_cast<int32_t>(cfg.connection_window_size));
  if (rv != 0) return base::makeError(std::string("nghttp2: ") + nghttp2_strerror(rv));
  return engine;
}

H2Engine::H2Engine(H2Engine&&) noexcept = default;
H2Engine& H2Engine::operator=(H2Engine&&) noexcept = default;
H2Engine::~H2Engine() = default;

base::Result<void> H2Engine::feed(std::string_view bytes, uint64_t now_ms) {
  Impl& e = *impl_;
  if (e.failed) return base::makeError(e.failure);
  e.now_ms = now_ms;
  e.rollWindow();
  size_t fed = 0;
  // Hands bytes [fed, upto) to nghttp2. False: the connection failed.
  auto recv = [&](size_t upto) {
    if (upto <= fed) return !e.failed;
    ssize_t rv = nghttp2_session_mem_recv(e.session, reinterpret_cast<const uint8_t*>(bytes.data() + fed),
                                          upto - fed);
    fed = upto;
    if (rv < 0) {
      if (e.calm) {
        e.terminate(e.calm_code, e.calm);
      } else if (rv == NGHTTP2_ERR_FLOODED || rv == NGHTTP2_ERR_TOO_MANY_CONTINUATIONS) {
        e.terminate(NGHTTP2_ENHANCE_YOUR_CALM, nghttp2_strerror(static_cast<int>(rv)));
      } else if (rv == NGHTTP2_ERR_BAD_CLIENT_MAGIC) {
        e.terminate(NGHTTP2_PROTOCOL_ERROR, "bad connection preface");
      } else {
        e.terminate(NGHTTP2_PROTOCOL_ERROR, nghttp2_strerror(static_cast<int>(rv)));
      }
    }
    return !e.failed;
  };
  // Judges DATA and PRIORITY frames at their headers, once every frame before them has been
  // processed (RFC 9113 §5.1: DATA on a stream the client closed is STREAM_CLOSED; §5.3.1: a
  // stream cannot depend on itself).
  bool ok = true;
  for (size_t i = 0; ok && i < bytes.size();) {
    if (e.scan_preface || e.scan_payload) {
      size_t& left = e.scan_preface ? e.scan_preface : e.scan_payload;
      size_t n = std::min(left, bytes.size() - i);
      left -= n;
      i += n;
      continue;
    }
    while (e.scan_have < 9 && i < bytes.size()) e.scan_head[e.scan_have++] = static_cast<uint8_t>(bytes[i++]);
    if (e.scan_have < 9) break;
    e.scan_have = 0;
    const uint8_t* h = e.scan_head;
    e.scan_payload = (size_t{h[0]} << 16) | (size_t{h[1]} << 8) | h[2];
    const uint8_t type = h[3];
    const int32_t id = static_cast<int32_t>((uint32_t{h[5] & 0x7fu} << 24) | (uint32_t{h[6]} << 16) |
                                            (uint32_t{h[7]} << 8) | h[8]);
    if (type != NGHTTP2_DATA && type != NGHTTP2_PRIORITY) continue;
    // A header begun in an earlier feed: what came before it is processed already.
    ok = recv(i >= 9 ? i - 9 : 0);
    if (!ok) break;
    if (type == NGHTTP2_DATA && e.closedByClient(id)) {
      e.terminate(NGHTTP2_STREAM_CLOSED, "DATA on a closed stream");
      ok = false;
    } else if (type == NGHTTP2_PRIORITY && e.scan_payload == 5 && bytes.size() - i >= 4) {
      const auto* p = reinterpret_cast<const uint8_t*>(bytes.data() + i);
      int32_t dep = static_cast<int32_t>((uint32_t{p[0] & 0x7fu} << 24) | (uint32_t{p[1]} << 16) |
                                         (uint32_t{p[2]} << 8) | p[3]);
      if (dep == id) {
        e.terminate(NGHTTP2_PROTOCOL_ERROR, "PRIORITY depends on its own stream");
        ok = false;
      }
    }
  }
  if (ok) recv(bytes.size());
  e.send(e.pending, true);
  if (!e.failed && e.resets > e.cfg.max_resets_per_window) {
    e.calm = "stream reset flood";
    e.terminate(NGHTTP2_ENHANCE_YOUR_CALM, e.calm);
    e.send(e.pending, true);
  }
  if (e.failed) return base::makeError(e.failure);
  return {};
}

size_t H2Engine::output(base::Buffer& out) {
  Impl& e = *impl_;
  size_t before = out.size();
  if (!e.pending.empty()) {
    if (out.empty()) out.swap(e.pending);
    else out.append(e.pending.view());
    e.pending.clear();
  }
  // onStreamDrained may have submitted more (it runs after nghttp2's send loop): send that too,
  // so one output() call leaves nothing behind that the windows would allow.
  for (int round = 0; round < 8; ++round) {
    size_t had = out.size();
    e.send(out, false);
    if (out.size() == had || !nghttp2_session_want_write(e.session)) break;
  }
  return out.size() - before;
}

base::Result<void> H2Engine::submitResponse(int32_t id, int status, const HeaderList& fields,
                                            bool end_stream) {
  return impl_->submitHead(id, status, fields, {}, end_stream);
}

base::Result<void> H2Engine::submitResponse(int32_t id, const Response& r) {
  if (r.body != BodySize::Known)
    return impl_->submitHead(id, r.status, r.headers, {}, r.body == BodySize::None);
  char len[24];
  auto res = std::to_chars(len, len + sizeof len, r.length);
  return impl_->submitHead(id, r.status, r.headers, {len, static_cast<size_t>(res.ptr - len)},
                           false);
}

base::Result<void> H2Engine::submitData(int32_t id, std::string_view data, bool end_stream) {
  Impl& e = *impl_;
  Impl::Stream* s = e.stream(id);
  if (!Impl::live(s) || !s->final_sent || s->end_queued)
    return base::makeError("no response body open on this stream");
  s->out.append(data);
  s->end_queued = end_stream;
  if (s->deferred && (!data.empty() || end_stream)) {
    s->deferred = false;
    nghttp2_session_resume_data(e.session, id);
  }
  return {};
}

size_t H2Engine::queuedBytes(int32_t id) const {
  const Impl::Stream* s = impl_->stream(id);
  return s ? s->out.size() : 0;
}

void H2Engine::consume(int32_t id, size_t n) {
  Impl& e = *impl_;
  Impl::Stream* s = e.stream(id);
  if (!s) return;
  n = std::min(n, s->unconsumed);
  s->unconsumed -= n;
  if (n) nghttp2_session_consume(e.session, id, n);
}

void H2Engine::resetStream(int32_t id, H2Error code) {
  Impl& e = *impl_;
  Impl::Stream* s = e.stream(id);
  if (!s || s->codec_reset) return;
  s->codec_reset = true;
  s->out.clear();
  nghttp2_submit_rst_stream(e.session, NGHTTP2_FLAG_NONE, id, static_cast<uint32_t>(code));
}

void H2Engine::resetAfterResponse(int32_t id) {
  Impl& e = *impl_;
  Impl::Stream* s = e.stream(id);
  if (!s || s->codec_reset) return;
  s->rst_after_end = true;
  if (s->end_sent) e.resetUnfinishedRequest(e.session, s);
}

void H2Engine::goaway(H2Error code) {
  Impl& e = *impl_;
  nghttp2_submit_goaway(e.session, NGHTTP2_FLAG_NONE,
                        nghttp2_session_get_last_proc_stream_id(e.session),
                        static_cast<uint32_t>(code), nullptr, 0);
}

void H2Engine::shutdownNotice() { nghttp2_submit_shutdown_notice(impl_->session); }

void H2Engine::releaseIdleMemory() {
  Impl& e = *impl_;
  if (e.open != 0 || e.free_list.size() != e.all.size()) return;  // a stream is still held
  e.free_list.clear();
  e.all.clear();
  std::string().swap(e.text);
  std::string().swap(e.cookie);
  std::vector<Impl::Field>().swap(e.fields);
  std::vector<Header>().swap(e.req.headers);
  std::vector<nghttp2_nv>().swap(e.nva);
  if (e.pending.empty()) e.pending.release();
}

bool H2Engine::wantsRead() const { return !impl_->failed && nghttp2_session_want_read(impl_->session); }
bool H2Engine::wantsWrite() const {
  return !impl_->pending.empty() || nghttp2_session_want_write(impl_->session);
}
size_t H2Engine::openStreams() const { return impl_->open; }
uint64_t H2Engine::dataFramesSent() const { return impl_->data_frames_sent; }
std::string_view H2Engine::failure() const { return impl_->failure; }

}  // namespace portcullis::http
