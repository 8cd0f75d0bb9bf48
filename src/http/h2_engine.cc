// The HTTP/2 engine, first half: the session's creation and what comes in (frames, request
// heads, flood limits, stream ends). The second half, what goes out, is h2_engine_send.cc.
#include <nghttp2/nghttp2.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <string>
#include <utility>

#include "http/h2_engine.h"
#include "http/h2_engine_impl.h"

namespace portcullis::http {
namespace {

std::string_view view(nghttp2_rcbuf* b) {
  nghttp2_vec v = nghttp2_rcbuf_get_buf(b);
  return {reinterpret_cast<const char*>(v.base), v.len};
}

}  // namespace

void H2Engine::Impl::beginHead(int32_t id) {
  text.clear();
  fields.clear();
  cookie.clear();
  head_bytes = 0;
  head_stream = id;
  has_authority = has_host = has_protocol = has_cl = has_cookie = false;
  content_length = 0;
}

int H2Engine::Impl::onHeader(const nghttp2_frame* frame, std::string_view name, std::string_view value) {
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

void H2Engine::Impl::onRequestHead(const nghttp2_frame* frame) {
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

int H2Engine::Impl::onBeginFrame(nghttp2_session*, const nghttp2_frame_hd* hd, void* u) {
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

int H2Engine::Impl::onBeginHeaders(nghttp2_session* session, const nghttp2_frame* frame, void* u) {
  Impl* e = self(u);
  if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
    return 0;
  Stream* s = e->newStream(frame->hd.stream_id);
  nghttp2_session_set_stream_user_data(session, frame->hd.stream_id, s);
  e->beginHead(frame->hd.stream_id);
  return 0;
}

int H2Engine::Impl::onHeaderCb(nghttp2_session*, const nghttp2_frame* frame, nghttp2_rcbuf* name,
                               nghttp2_rcbuf* value, uint8_t, void* u) {
  return self(u)->onHeader(frame, view(name), view(value));
}

int H2Engine::Impl::onInvalidHeader(nghttp2_session* session, const nghttp2_frame* frame,
                                    nghttp2_rcbuf*, nghttp2_rcbuf*, uint8_t, void*) {
  nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, frame->hd.stream_id,
                            NGHTTP2_PROTOCOL_ERROR);
  return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
}

int H2Engine::Impl::onFrameRecv(nghttp2_session*, const nghttp2_frame* frame, void* u) {
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

int H2Engine::Impl::onDataChunk(nghttp2_session* session, uint8_t, int32_t id, const uint8_t* data,
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

int H2Engine::Impl::onStreamClose(nghttp2_session*, int32_t id, uint32_t code, void* u) {
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

}  // namespace portcullis::http
