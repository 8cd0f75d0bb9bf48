#include "proxy/forwarded.h"

#include "http/serializer.h"

namespace portcullis::proxy {

using http::iequals;

namespace {

// The names a message's Connection header(s) list (RFC 9110 §7.6.1), gathered once per message
// so that filtering n headers costs O(n * listed) instead of rescanning every header for each
// one. "close" and "keep-alive" are options, not header names, and are skipped. More than
// kMax listed names is unheard of; past it the slow exact check takes over.
class ConnectionTokens {
 public:
  explicit ConnectionTokens(const std::vector<http::Header>& headers) : headers_(headers) {
    for (const auto& h : headers) {
      if (!iequals(h.name, "connection")) continue;
      http::forEachListElement(h.value, [this](std::string_view t) {
        if (!t.empty() && !isOption(t)) {
          if (n_ < kMax) tokens_[n_++] = t;
          else overflow_ = true;
        }
        return true;
      });
    }
  }
  bool lists(std::string_view name) const {
    for (size_t i = 0; i < n_; ++i)
      if (iequals(tokens_[i], name)) return true;
    if (!overflow_ || isOption(name)) return false;  // as on the fast path: options are no names
    for (const auto& h : headers_)
      if (iequals(h.name, "connection") && http::listContains(h.value, name)) return true;
    return false;
  }

 private:
  static bool isOption(std::string_view t) { return iequals(t, "close") || iequals(t, "keep-alive"); }
  static constexpr size_t kMax = 8;
  const std::vector<http::Header>& headers_;
  std::string_view tokens_[kMax];
  size_t n_ = 0;
  bool overflow_ = false;
};

// Headers the proxy sets itself from what it saw; whatever the client sent is dropped.
bool isProxyOwned(std::string_view n) {
  static constexpr std::string_view kOwned[] = {
      "x-forwarded-for",  "x-forwarded-proto", "x-forwarded-protocol", "x-forwarded-ssl",
      "x-forwarded-host", "x-forwarded-port",  "forwarded",            "x-real-ip",
  };
  for (auto o : kOwned)
    if (iequals(n, o)) return true;
  return false;
}

void appendForwardedFor(base::Buffer& out, std::string_view ip) {
  // RFC 7239 §6: IPv6 addresses are bracketed and the value quoted.
  if (ip.find(':') != std::string_view::npos) {
    out.append("for=\"[");
    out.append(ip);
    out.append("]\"");
  } else {
    out.append("for=");
    out.append(ip);
  }
}

}  // namespace

bool isHopByHop(std::string_view n) {
  static constexpr std::string_view kHop[] = {
      "connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade",
  };
  for (auto h : kHop)
    if (iequals(n, h)) return true;
  return false;
}

void appendUpstreamRequestHead(base::Buffer& out, const http::RequestHead& req,
                               const ForwardInfo& info, bool finish) {
  // absolute-form is turned into origin-form: the upstream is an origin server (RFC 9112 §3.2.2).
  if (!req.target.empty() && req.target[0] != '/' && req.target != "*") {
    out.append(req.method_text);
    out.append(" ");
    out.append(req.path.empty() ? std::string_view("/") : req.path);
    if (req.has_query) {
      out.append("?");
      out.append(req.query);
    }
    out.append(" HTTP/1.1\r\n");
  } else {
    http::appendRequestLine(out, req.method_text, req.target);
  }
  std::string_view host = req.host.empty() ? info.fallback_host : req.host;
  http::appendHeader(out, "Host", host);

  const ConnectionTokens listed(req.headers);
  for (const auto& h : req.headers) {
    std::string_view n = h.name;
    if (iequals(n, "host") || iequals(n, "content-length") || iequals(n, "expect")) continue;
    if (isHopByHop(n) || isProxyOwned(n)) continue;
    if (n.find('_') != std::string_view::npos) continue;
    if (listed.lists(n)) continue;
    if (!info.client_subject_header.empty() && iequals(n, info.client_subject_header)) continue;
    if (!info.client_fingerprint_header.empty() && iequals(n, info.client_fingerprint_header)) continue;
    if (!info.request_id_header.empty() && iequals(n, info.request_id_header)) continue;
    http::appendHeader(out, n, h.value);
  }
  if (!info.client_subject.empty() && !info.client_subject_header.empty())
    http::appendHeader(out, info.client_subject_header, info.client_subject);
  if (!info.client_fingerprint.empty() && !info.client_fingerprint_header.empty())
    http::appendHeader(out, info.client_fingerprint_header, info.client_fingerprint);

  if (!info.request_id_header.empty() && !info.request_id.empty())
    http::appendHeader(out, info.request_id_header, info.request_id);
  http::appendHeader(out, "X-Forwarded-For", info.client_ip);
  http::appendHeader(out, "X-Forwarded-Proto", info.https ? "https" : "http");
  http::appendHeader(out, "X-Forwarded-Host", host);
  http::appendHeader(out, "X-Forwarded-Port", info.local_port);
  http::appendHeader(out, "X-Real-IP", info.client_ip);
  out.append("Forwarded: ");
  appendForwardedFor(out, info.client_ip);
  out.append(info.https ? ";proto=https" : ";proto=http");
  out.append("\r\n");
  // RFC 9110 §7.6.3: a gateway must add Via to requests it forwards; the client's own Via
  // lines (if any) were forwarded above, and this one is appended after them.
  out.append(req.version_minor == 0 ? "Via: 1.0 portcullis\r\n" : "Via: 1.1 portcullis\r\n");

  if (finish) finishUpstreamRequestHead(out, req.framing, req.content_length);
}

void finishUpstreamRequestHead(base::Buffer& out, http::Framing framing, uint64_t length) {
  if (framing == http::Framing::ContentLength) {
    http::appendHeader(out, "Content-Length", length);
  } else if (framing == http::Framing::Chunked) {
    http::appendHeader(out, "Transfer-Encoding", "chunked");
  }
  http::appendEndOfHead(out);
}

bool onlyChunkedTransferCoding(const http::ResponseHead& resp) {
  for (const auto& h : resp.headers) {
    if (!iequals(h.name, "transfer-encoding")) continue;
    bool only_chunked = true;
    http::forEachListElement(h.value, [&](std::string_view item) {
      if (item.empty()) return true;
      only_chunked = iequals(item, "chunked");
      return only_chunked;
    });
    if (!only_chunked) return false;
  }
  return true;
}

DownstreamFraming chooseDownstreamFraming(const http::ResponseHead& resp, int client_version_minor) {
  switch (resp.framing) {
    case http::Framing::None: return DownstreamFraming::None;
    case http::Framing::ContentLength: return DownstreamFraming::ContentLength;
    case http::Framing::Chunked:
    case http::Framing::UntilClose:
      return client_version_minor >= 1 ? DownstreamFraming::Chunked : DownstreamFraming::UntilClose;
  }
  return DownstreamFraming::UntilClose;
}

void appendDownstreamResponseHead(base::Buffer& out, const http::ResponseHead& resp,
                                  DownstreamFraming framing, bool close, bool keep_alive_10,
                                  std::string_view hsts) {
  out.append("HTTP/1.1 ");
  char code[4] = {static_cast<char>('0' + resp.status / 100), static_cast<char>('0' + resp.status / 10 % 10),
                  static_cast<char>('0' + resp.status % 10), ' '};
  out.append(code, 4);
  out.append(resp.reason.empty() ? http::reasonPhrase(resp.status) : resp.reason);
  out.append("\r\n");
  // HEAD and 304 keep the upstream's Content-Length: it describes the representation
  // (RFC 9110 §8.6), not a body on this message.
  bool keep_length = framing == DownstreamFraming::None && resp.status != 204 && resp.status >= 200;
  bool has_hsts = false;
  const ConnectionTokens listed(resp.headers);
  for (const auto& h : resp.headers) {
    std::string_view n = h.name;
    if (isHopByHop(n) || listed.lists(n)) continue;
    if (iequals(n, "content-length") && !keep_length) continue;
    has_hsts = has_hsts || iequals(n, "strict-transport-security");
    http::appendHeader(out, n, h.value);
  }
  if (!hsts.empty() && !has_hsts) http::appendHeader(out, "Strict-Transport-Security", hsts);
  if (framing == DownstreamFraming::ContentLength) http::appendHeader(out, "Content-Length", resp.content_length);
  if (framing == DownstreamFraming::Chunked) http::appendHeader(out, "Transfer-Encoding", "chunked");
  if (close || framing == DownstreamFraming::UntilClose) {
    http::appendHeader(out, "Connection", "close");
  } else if (keep_alive_10) {
    http::appendHeader(out, "Connection", "keep-alive");
  }
  http::appendEndOfHead(out);
}

}  // namespace portcullis::proxy
