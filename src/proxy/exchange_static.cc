// Exchange, static files: a route with `static:` answers from a directory (Django's STATIC_ROOT
// and MEDIA_ROOT) through the same DownstreamStream calls and the same finish() as a proxied
// response. The decisions (path mapping, validators, conditions, ranges, types, caching) are
// http/static_file.h's; the disk is touched only on libuv's thread pool (net/file_io.h) and
// most requests not at all (the worker's open-file cache, net/file_cache.h).
//
// The body goes out one 64 KiB pread at a time, the next read starting only once the client's
// side is below its watermark: a slow client holds one chunk, never the file. A file that
// shrinks while it is sent cannot fill the length its head promised: the stream is reset
// (h1 closes) rather than leaving the client waiting.
#include <charconv>

#include "base/log.h"
#include "http/date.h"
#include "proxy/exchange.h"
#include "proxy/exchange_static.h"

namespace portcullis::proxy {

namespace {

constexpr size_t kChunk = 64 * 1024;
constexpr http::Coding kSiblings[] = {http::Coding::Brotli, http::Coding::Zstd, http::Coding::Gzip};

std::string_view header(const http::RequestHead& req, std::string_view name) {
  for (const auto& h : req.headers)
    if (http::iequals(h.name, name)) return h.value;
  return {};
}

// Cache key: how symlinks resolve (two routes may share a root with different rules), the root
// and the name (NUL cannot occur in either), and the variant's suffix.
void cacheKey(const config::StaticFiles& cfg, const std::string& rel, std::string_view suffix, std::string& out) {
  out.assign(cfg.allow_symlinks_outside ? "o" : "b");
  out.append(cfg.root);
  out.push_back('\0');
  out.append(rel);
  out.append(suffix);
}

}  // namespace

void Exchange::prepareStatic(const http::RequestHead& req, const config::StaticFiles& st, bool can_fall_back) {
  if (!static_) static_ = std::make_unique<StaticState>();
  StaticState& s = *static_;
  s.cfg = &st;
  s.pre_status = 0;
  s.fallback = can_fall_back;
  s.head = req.method == http::Method::Head;
  if (req.method != http::Method::Get && req.method != http::Method::Head) {
    // Files answer GET and HEAD only; with a fallback the upstream answers the rest.
    if (can_fall_back) return;
    s.pre_status = 405;
    verdict_ = Verdict::Static;
    return;
  }
  verdict_ = Verdict::Static;
  const std::string& prefix = rt_->config->routes[route_].path_prefix;
  std::string_view encoded = req.path.substr(std::min(prefix.size(), req.path.size()));
  switch (http::mapStaticPath(encoded, s.rel)) {
    case http::PathCheck::BadRequest:
      s.pre_status = 400;
      return;
    case http::PathCheck::Forbidden:
      s.pre_status = 403;
      return;
    case http::PathCheck::Ok:
      break;
  }
  // The root itself or a name ending in '/': a directory, never listed.
  if (s.rel.empty() || s.rel.back() == '/') {
    s.pre_status = 403;
    return;
  }
  s.if_match = header(req, "if-match");
  s.if_none_match = header(req, "if-none-match");
  s.if_modified_since = header(req, "if-modified-since");
  s.if_unmodified_since = header(req, "if-unmodified-since");
  // Ranges are for GET only (RFC 9110 §14.2): a HEAD gets the whole file's head.
  s.range = s.head ? std::string_view() : header(req, "range");
  s.if_range = s.head ? std::string_view() : header(req, "if-range");
  s.accept = http::AcceptEncoding();
  for (const auto& h : req.headers)
    if (http::iequals(h.name, "accept-encoding")) s.accept.add(h.value);
  // A range is of the identity file: siblings are looked for only without one.
  s.candidates = 0;
  if (st.precompressed && s.range.empty() && !s.accept.empty()) {
    for (http::Coding c : kSiblings)
      if (s.accept.choose(http::codingBit(c)) == c) s.candidates |= http::codingBit(c);
  }
}

void Exchange::startStatic() {
  StaticState& s = *static_;
  resp_state_ = RespState::Body;
  if (s.pre_status) {
    staticReply(s.pre_status);
    return;
  }
  // Names to open: the file, then its accepted siblings.
  std::vector<net::OpenResult>& cached = s.cached;
  cached.clear();
  net::FileCache& cache = worker_.fileCache();
  const uint64_t now = worker_.loop().nowMs();
  bool all_cached = true;
  cacheKey(*s.cfg, s.rel, {}, s.key);
  if (const net::OpenResult* r = cache.find(s.key, now)) cached.push_back(*r);
  else all_cached = false;
  for (http::Coding c : kSiblings) {
    if (!all_cached || !(s.candidates & http::codingBit(c))) continue;
    cacheKey(*s.cfg, s.rel, http::codingSuffix(c), s.key);
    if (const net::OpenResult* r = cache.find(s.key, now)) cached.push_back(*r);
    else all_cached = false;
  }
  if (all_cached) {
    onStaticOpened(cached);
    return;
  }
  std::vector<net::OpenRequest> reqs;
  const bool beneath = !s.cfg->allow_symlinks_outside;
  reqs.push_back({s.cfg->root, s.rel, beneath});
  for (http::Coding c : kSiblings)
    if (s.candidates & http::codingBit(c)) reqs.push_back({s.cfg->root, s.rel + std::string(http::codingSuffix(c)), beneath});
  s.task = net::openFiles(worker_.loop(), std::move(reqs), [this](std::vector<net::OpenResult>& results) {
    StaticState& st = *static_;
    st.task = nullptr;
    net::FileCache& fc = worker_.fileCache();
    const uint64_t at = worker_.loop().nowMs();
    size_t i = 0;
    cacheKey(*st.cfg, st.rel, {}, st.key);
    fc.put(st.key, results[i++], at);
    for (http::Coding c : kSiblings) {
      if (!(st.candidates & http::codingBit(c))) continue;
      cacheKey(*st.cfg, st.rel, http::codingSuffix(c), st.key);
      fc.put(st.key, results[i++], at);
    }
    onStaticOpened(results);
  });
  if (!s.task) {
    base::log::error("static files: cannot queue an open on the thread pool");
    rec_.setError(ErrorKind::Internal);
    staticReply(500);
  }
}

void Exchange::onStaticOpened(std::vector<net::OpenResult>& results) {
  StaticState& s = *static_;
  const net::OpenResult& base = results[0];
  using Kind = net::OpenResult::Kind;
  switch (base.kind) {
    case Kind::File:
      break;
    case Kind::NotFound:
      if (s.fallback) {
        resp_state_ = RespState::None;
        forward();
        return;
      }
      staticReply(404);
      return;
    case Kind::Forbidden:
    case Kind::Escape:
      staticReply(403);
      return;
    case Kind::Error:
      base::log::error("static files: cannot open ", s.rel, " under ", s.cfg->root, ": errno ", base.err);
      rec_.setError(ErrorKind::Internal);
      staticReply(500);
      return;
  }
  // The best sibling the client takes (the file itself when none).
  const net::OpenResult* chosen = &base;
  http::Coding coding = http::Coding::Identity;
  unsigned have = 0;
  for (size_t i = 1, ci = 0; ci < 3; ++ci) {
    http::Coding c = kSiblings[ci];
    if (!(s.candidates & http::codingBit(c))) continue;
    if (results[i].kind == Kind::File) have |= http::codingBit(c);
    ++i;
  }
  if (have) {
    coding = s.accept.choose(have);
    if (coding != http::Coding::Identity) {
      for (size_t i = 1, ci = 0; ci < 3; ++ci) {
        if (!(s.candidates & http::codingBit(kSiblings[ci]))) continue;
        if (kSiblings[ci] == coding) chosen = &results[i];
        ++i;
      }
    }
  }

  // The response is the proxy's: no upstream, no cluster in the record.
  rec_.cluster = -1;
  rec_.cluster_name = {};
  rec_.upstream_host = "static";
  rec_.static_file = true;

  http::FileFacts facts;
  facts.size = chosen->size;
  facts.mtime_sec = chosen->mtime_sec;
  facts.mtime_nsec = chosen->mtime_nsec;
  http::makeEtag(facts, coding, s.etag);
  http::lastModified(facts, s.last_modified);
  http::cacheControl(http::isHashedName(s.rel), s.cfg->max_age, s.cache_control);
  http::Plan plan = http::planResponse(s.conditions(), facts, s.etag);

  resp_.clear();
  resp_.local = true;  // h1: a request body left unread closes the connection after it
  resp_.headers.add("Date", http::httpDateNow());
  int status = 200;
  switch (plan.outcome) {
    case http::Outcome::Full: status = 200; break;
    case http::Outcome::Partial: status = 206; break;
    case http::Outcome::NotModified: status = 304; break;
    case http::Outcome::RangeNotSatisfiable: status = 416; break;
    case http::Outcome::PreconditionFailed: status = 412; break;
  }
  rec_.status = status;
  resp_.status = status;
  const bool has_body = status == 200 || status == 206;
  if (status != 412) {
    if (status != 416) resp_.headers.add("Content-Type", rt_->mime_types ? rt_->mime_types->lookup(s.rel)
                                                                         : std::string_view("application/octet-stream"));
    if (coding != http::Coding::Identity && status != 416) resp_.headers.add("Content-Encoding", http::codingToken(coding));
    resp_.headers.add("ETag", s.etag);
    resp_.headers.add("Last-Modified", s.last_modified);
    resp_.headers.add("Cache-Control", s.cache_control);
    resp_.headers.add("Accept-Ranges", "bytes");
    // Always with precompressed on: whether a sibling exists may change with any deploy, and a
    // cache keyed without it could hand gzip to a client that does not take it.
    if (s.cfg->precompressed) resp_.headers.add("Vary", "Accept-Encoding");
  }
  if (status == 206 || status == 416) {
    http::contentRange(plan, facts.size, s.content_range);
    resp_.headers.add("Content-Range", s.content_range);
  }
  const std::string_view hsts = stream_.facts().listener->hsts;
  if (!hsts.empty()) resp_.headers.add("Strict-Transport-Security", hsts);
  uint64_t length = has_body ? plan.length : 0;
  if (has_body && s.head) {
    // HEAD: the length of what GET would send, as a field; no body.
    char* end = std::to_chars(s.length, s.length + sizeof s.length, length).ptr;
    resp_.headers.add("Content-Length", {s.length, static_cast<size_t>(end - s.length)});
    resp_.body = http::BodySize::None;
  } else if (status == 304) {
    resp_.body = http::BodySize::None;
  } else {
    resp_.body = http::BodySize::Known;
    resp_.length = length;
  }
  stream_.sendResponseHead(resp_);
  if (dead_) return;
  if (!has_body || s.head || length == 0) {
    resp_state_ = RespState::Done;
    stream_.endResponse();
    if (dead_) return;
    finish();
    return;
  }
  s.file = chosen->file;
  s.offset = plan.offset;
  s.remaining = length;
  if (!s.buf) s.buf = std::make_shared<std::vector<char>>(kChunk);
  // The head leaves now, before the first read (a large file's first byte is not held up).
  stream_.flush();
  if (dead_) return;
  sendStaticChunk();
}

void Exchange::sendStaticChunk() {
  StaticState& s = *static_;
  if (stream_.aboveHighWatermark()) {
    // The client reads slower than the disk: wait for onDownstreamDrained.
    static_waiting_ = true;
    stream_.rearmTimer();
    return;
  }
  if (static_waiting_) {
    static_waiting_ = false;
    stream_.rearmTimer();
  }
  const size_t asked = static_cast<size_t>(std::min<uint64_t>(s.remaining, kChunk));
  s.task = net::readFile(worker_.loop(), s.file, s.offset, asked, s.buf,
                         [this, asked](int64_t got) { onStaticRead(got, asked); });
  if (!s.task) onStaticRead(-1, asked);
}

void Exchange::onStaticRead(int64_t got, size_t asked) {
  StaticState& s = *static_;
  s.task = nullptr;
  if (got != static_cast<int64_t>(asked)) {
    // Changed under us (truncated) or unreadable: the head promised more than there is. The
    // only honest end is to cut the response (h1 closes, h2 resets the stream).
    base::log::warn("static files: ", s.rel, " under ", s.cfg->root,
                    got < 0 ? ": read failed" : ": the file shrank while it was being sent");
    rec_.setError(ErrorKind::Internal);
    s.file.reset();
    stream_.reset();
    return;
  }
  stream_.sendBody(std::string_view(s.buf->data(), asked));
  s.offset += asked;
  s.remaining -= asked;
  if (s.remaining == 0) {
    s.file.reset();
    resp_state_ = RespState::Done;
    stream_.endResponse();
    if (dead_) return;
    finish();
    return;
  }
  stream_.flush();
  if (dead_) return;
  sendStaticChunk();
}

void Exchange::staticReply(int status) {
  resp_state_ = RespState::Done;
  rec_.status = status;
  std::string_view body = localReply(status, {}, stream_.facts().listener->hsts, method_ == http::Method::Head,
                                     reply_scratch_, resp_);
  if (status == 405) resp_.headers.add("Allow", "GET, HEAD");
  stream_.sendResponseHead(resp_);
  if (!body.empty()) stream_.sendBody(body);
  stream_.endResponse();
  if (dead_) return;
  finish();
}

void Exchange::cancelStatic() {
  static_waiting_ = false;
  if (!static_) return;
  if (static_->task) {
    static_->task->cancel();
    static_->task = nullptr;
    // The cancelled read still writes into the buffer: it is the task's now.
    static_->buf.reset();
  }
  static_->file.reset();
  static_->cached.clear();  // no fd kept open past the request (finish() comes here)
}

}  // namespace portcullis::proxy
