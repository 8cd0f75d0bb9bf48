#include "proxy/forwarded.h"

#include <algorithm>
#include <charconv>
#include <cstring>

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

// RFC 7239 §6: IPv6 addresses are bracketed and the value quoted.
std::string_view formatForwarded(std::string_view ip, bool https, ForwardScratch& scratch) {
  char* p = scratch.forwarded;
  char* const end = p + sizeof scratch.forwarded;
  auto put = [&p, end](std::string_view s) {
    size_t n = std::min(s.size(), static_cast<size_t>(end - p));
    std::memcpy(p, s.data(), n);
    p += n;
  };
  if (ip.find(':') != std::string_view::npos) {
    put("for=\"[");
    put(ip);
    put("]\"");
  } else {
    put("for=");
    put(ip);
  }
  put(https ? ";proto=https" : ";proto=http");
  return {scratch.forwarded, static_cast<size_t>(p - scratch.forwarded)};
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

namespace {
bool headerListsToken(const std::vector<http::Header>& headers, std::string_view name, std::string_view token) {
  for (const auto& h : headers)
    if (iequals(h.name, name) && http::listContains(h.value, token)) return true;
  return false;
}
}  // namespace

bool isWebSocketUpgrade(const http::RequestHead& req) {
  return req.method == http::Method::Get && req.version_minor >= 1 && req.framing == http::Framing::None &&
         headerListsToken(req.headers, "upgrade", "websocket") && headerListsToken(req.headers, "connection", "upgrade");
}

bool isWebSocketAccept(const http::ResponseHead& resp) {
  return resp.status == 101 && headerListsToken(resp.headers, "upgrade", "websocket");
}

void upstreamRequestFields(const http::RequestHead& req, const ForwardInfo& info, ForwardScratch& scratch,
                           http::HeaderList& out) {
  out.clear();
  std::string_view host = req.host.empty() ? info.fallback_host : req.host;
  out.add("Host", host);
  if (info.websocket) {
    out.add("Connection", "upgrade");
    out.add("Upgrade", "websocket");
  }
  const ConnectionTokens listed(req.headers);
  out.addIf(req.headers, [&](const http::Header& h) {
    std::string_view n = h.name;
    if (iequals(n, "host") || iequals(n, "content-length") || iequals(n, "expect")) return false;
    if (isHopByHop(n) || isProxyOwned(n)) return false;
    if (n.find('_') != std::string_view::npos) return false;
    if (listed.lists(n)) return false;
    if (!info.client_subject_header.empty() && iequals(n, info.client_subject_header)) return false;
    if (!info.client_fingerprint_header.empty() && iequals(n, info.client_fingerprint_header)) return false;
    return info.request_id_header.empty() || !iequals(n, info.request_id_header);
  });
  if (!info.client_subject.empty() && !info.client_subject_header.empty())
    out.add(info.client_subject_header, info.client_subject);
  if (!info.client_fingerprint.empty() && !info.client_fingerprint_header.empty())
    out.add(info.client_fingerprint_header, info.client_fingerprint);
  if (!info.request_id_header.empty() && !info.request_id.empty()) out.add(info.request_id_header, info.request_id);
  out.add("X-Forwarded-For", info.client_ip);
  out.add("X-Forwarded-Proto", info.https ? "https" : "http");
  out.add("X-Forwarded-Host", host);
  char* port_end = std::to_chars(scratch.port, scratch.port + sizeof scratch.port, info.local_port).ptr;
  out.add("X-Forwarded-Port", {scratch.port, static_cast<size_t>(port_end - scratch.port)});
  out.add("X-Real-IP", info.client_ip);
  out.add("Forwarded", formatForwarded(info.client_ip, info.https, scratch));
  // RFC 9110 §7.6.3: a gateway must add Via to requests it forwards; the client's own Via
  // lines (if any) were kept above, and this one comes after them.
  out.add("Via", req.version_major == 2 ? "2 portcullis" : req.version_minor == 0 ? "1.0 portcullis" : "1.1 portcullis");
}

void appendUpstreamRequestHead(base::Buffer& out, const http::RequestHead& req, const http::HeaderList& fields) {
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
  http::appendFields(out, fields);
}

void finishUpstreamRequestHead(base::Buffer& out, http::Framing framing, uint64_t length) {
  if (framing == http::Framing::ContentLength) {
    http::appendHeader(out, "Content-Length", length);
  } else if (framing == http::Framing::Chunked) {
    http::appendHeader(out, "Transfer-Encoding", "chunked");
  }
  http::appendEndOfHead(out);
}

void downstreamResponse(const http::ResponseHead& up, std::string_view hsts, http::Response& out) {
  out.clear();
  out.status = up.status;
  out.reason = up.reason;
  switch (up.framing) {
    case http::Framing::None: out.body = http::BodySize::None; break;
    case http::Framing::ContentLength:
      out.body = http::BodySize::Known;
      out.length = up.content_length;
      break;
    case http::Framing::Chunked:
    case http::Framing::UntilClose: out.body = http::BodySize::Unknown; break;
  }
  // HEAD and 304 keep the upstream's Content-Length: it describes the representation
  // (RFC 9110 §8.6), not a body on this message.
  const bool keep_length = out.body == http::BodySize::None && up.status != 204 && up.status >= 200;
  bool has_hsts = false;
  const ConnectionTokens listed(up.headers);
  out.headers.addIf(up.headers, [&](const http::Header& h) {
    std::string_view n = h.name;
    if (isHopByHop(n) || listed.lists(n)) return false;
    if (iequals(n, "content-length") && !keep_length) return false;
    has_hsts = has_hsts || iequals(n, "strict-transport-security");
    return true;
  });
  if (!hsts.empty() && !has_hsts) out.headers.add("Strict-Transport-Security", hsts);
}

}  // namespace portcullis::proxy
