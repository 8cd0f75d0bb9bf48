// The HTTP/2 engine, second half: what goes out. Response heads, body bytes queued per stream
// and framed as the client's windows allow, resets and GOAWAY. The first half is h2_engine.cc.
#include <nghttp2/nghttp2.h>

#include <algorithm>
#include <charconv>
#include <string>
#include <utility>

#include "http/h2_engine.h"
#include "http/h2_engine_impl.h"

namespace portcullis::http {
namespace {

constexpr std::string_view kHopByHop[] = {"connection", "keep-alive", "proxy-connection",
                                          "transfer-encoding", "upgrade", "te"};

bool isHopByHopName(std::string_view name) {
  for (std::string_view h : kHopByHop)
    if (iequals(name, h)) return true;
  return false;
}

}  // namespace

void H2Engine::Impl::send(base::Buffer& out, bool control) {
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

base::Result<void> H2Engine::Impl::submitHead(int32_t id, int status, const HeaderList& fields,
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

ssize_t H2Engine::Impl::onSend(nghttp2_session*, const uint8_t* data, size_t len, int, void* u) {
  self(u)->target->append(data, len);
  return static_cast<ssize_t>(len);
}

int H2Engine::Impl::onSendData(nghttp2_session*, nghttp2_frame* frame, const uint8_t* framehd,
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

ssize_t H2Engine::Impl::onReadData(nghttp2_session*, int32_t, uint8_t*, size_t length,
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

int H2Engine::Impl::onFrameSend(nghttp2_session* session, const nghttp2_frame* frame, void* u) {
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

void H2Engine::Impl::resetUnfinishedRequest(nghttp2_session* sess, Stream* s) {
  s->rst_after_end = false;
  if (nghttp2_session_get_stream_remote_close(sess, s->id)) return;  // it has finished meanwhile
  s->codec_reset = true;
  nghttp2_submit_rst_stream(sess, NGHTTP2_FLAG_NONE, s->id, NGHTTP2_NO_ERROR);
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
