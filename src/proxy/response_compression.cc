#include "proxy/response_compression.h"

namespace portcullis::proxy {
namespace {

constexpr unsigned kOffered =
    http::codingBit(http::Coding::Brotli) | http::codingBit(http::Coding::Zstd) | http::codingBit(http::Coding::Gzip);

bool statusCompressible(int status) {
  switch (status) {
    case 200: case 201: case 202: case 203: case 403: case 404: case 410:
      return true;
    default:
      return false;
  }
}

bool typeListed(const std::vector<std::string>& types, std::string_view content_type) {
  std::string_view t = http::trimOws(content_type.substr(0, content_type.find(';')));
  if (t.empty()) return false;
  for (const std::string& want : types) {
    std::string_view w = want;
    if (w.size() >= 2 && w.substr(w.size() - 2) == "/*") {
      // "text/*": the top-level type and its slash.
      std::string_view prefix = w.substr(0, w.size() - 1);
      if (t.size() > prefix.size() && http::iequals(t.substr(0, prefix.size()), prefix)) return true;
    } else if (http::iequals(t, w)) {
      return true;
    }
  }
  return false;
}

int levelFor(const config::Compression& conf, http::Coding c) {
  switch (c) {
    case http::Coding::Brotli: return conf.brotli_level;
    case http::Coding::Zstd: return conf.zstd_level;
    case http::Coding::Gzip: return conf.gzip_level;
    case http::Coding::Identity: break;
  }
  return 0;
}

}  // namespace

CompressionDecision decideCompression(const config::Compression& conf, const CompressionRequest& req,
                                      const http::Response& resp) {
  CompressionDecision d;
  if (!conf.enabled || req.range || resp.local || resp.websocket) return d;
  if (!statusCompressible(resp.status)) return d;
  const http::Header* type = nullptr;
  const http::Header* length = nullptr;  // only kept for HEAD (it describes the representation)
  for (const http::Header& h : resp.headers) {
    const std::string_view n = h.name;
    if (http::iequals(n, "content-encoding") || http::iequals(n, "content-range")) return d;
    if (http::iequals(n, "cache-control") && http::listContains(h.value, "no-transform")) return d;
    if (!type && http::iequals(n, "content-type")) type = &h;
    if (!length && http::iequals(n, "content-length")) length = &h;
  }
  if (!type || !typeListed(conf.types, type->value)) return d;
  // The size: the body's when there is one, the representation's for HEAD.
  if (req.head) {
    if (length) {
      uint64_t n = 0;
      for (char ch : length->value) {
        if (!http::isDigit(ch) || n > UINT64_MAX / 10 - 1) return d;
        n = n * 10 + static_cast<uint64_t>(ch - '0');
      }
      if (n < conf.min_size || n == 0) return d;
    }
    d.verdict = CompressionVerdict::VaryOnly;
    return d;
  }
  if (resp.body == http::BodySize::None) return d;
  if (resp.body == http::BodySize::Known && (resp.length == 0 || resp.length < conf.min_size)) return d;
  d.coding = req.accept.choose(kOffered);
  d.verdict = d.coding == http::Coding::Identity ? CompressionVerdict::VaryOnly : CompressionVerdict::Compress;
  return d;
}

void applyCompressionHead(const CompressionDecision& d, http::Response& resp, CompressionScratch& scratch) {
  if (d.verdict == CompressionVerdict::Unchanged) return;
  // Vary: leave `*` and a list that names Accept-Encoding already; extend the first field
  // otherwise (one field: several Vary fields are one list, RFC 9110 §5.3).
  http::Header* vary = nullptr;
  bool varies = false;
  for (http::Header& h : resp.headers) {
    if (!http::iequals(h.name, "vary")) continue;
    if (!vary) vary = &h;
    varies = varies || http::listContains(h.value, "accept-encoding") || http::listContains(h.value, "*");
  }
  if (!varies) {
    if (vary && !http::trimOws(vary->value).empty()) {
      scratch.vary.assign(vary->value);
      scratch.vary += ", Accept-Encoding";
      vary->value = scratch.vary;
    } else if (vary) {
      vary->value = "Accept-Encoding";
    } else {
      resp.headers.add("Vary", "Accept-Encoding");
    }
  }
  if (d.verdict != CompressionVerdict::Compress) return;
  for (http::Header& h : resp.headers) {
    if (!http::iequals(h.name, "etag")) continue;
    // A strong validator promises these exact bytes; the encoder's are not the upstream's.
    if (!h.value.empty() && h.value.front() == '"') {
      scratch.etag.assign("W/");
      scratch.etag += h.value;
      h.value = scratch.etag;
    }
    break;
  }
  resp.body = http::BodySize::Unknown;
  resp.length = 0;
  resp.headers.add("Content-Encoding", http::codingToken(d.coding));
}

void ResponseCompression::onRequest(const http::RequestHead& req, const config::Compression& conf) {
  conf_ = &conf;
  req_ = CompressionRequest{};
  if (!conf.enabled) return;
  req_.head = req.method == http::Method::Head;
  for (const http::Header& h : req.headers) {
    if (http::iequals(h.name, "accept-encoding")) req_.accept.add(h.value);
    else if (http::iequals(h.name, "range")) req_.range = true;
  }
}

bool ResponseCompression::onResponseHead(http::Response& resp) {
  failed_ = unflushed_ = false;
  if (!conf_ || !conf_->enabled) return false;
  CompressionDecision d = decideCompression(*conf_, req_, resp);
  if (d.verdict == CompressionVerdict::Compress && !enc_.start(d.coding, levelFor(*conf_, d.coding))) {
    // No memory for an encoder: the response goes as it is (still a variant of its own).
    d.verdict = CompressionVerdict::VaryOnly;
  }
  applyCompressionHead(d, resp, scratch_);
  return enc_.active();
}

std::string_view ResponseCompression::write(std::string_view data, bool flush) {
  out_.clear();
  if (data.empty()) return {};
  unflushed_ = !flush;
  if (!enc_.write(data, out_) || (flush && !enc_.flush(out_))) failed_ = true;
  return out_;
}

std::string_view ResponseCompression::flush() {
  out_.clear();
  unflushed_ = false;
  if (!enc_.flush(out_)) failed_ = true;
  return out_;
}

std::string_view ResponseCompression::finish() {
  out_.clear();
  unflushed_ = false;
  if (!enc_.finish(out_)) failed_ = true;
  return out_;
}

void ResponseCompression::clear() {
  enc_.reset();
  conf_ = nullptr;
  unflushed_ = failed_ = false;
}

void ResponseCompression::release() {
  clear();
  enc_.release();
  std::string().swap(out_);
  std::string().swap(scratch_.vary);
  std::string().swap(scratch_.etag);
}

}  // namespace portcullis::proxy
