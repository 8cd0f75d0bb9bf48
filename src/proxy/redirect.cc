#include "proxy/redirect.h"

#include <charconv>
#include <cstring>

#include "http/date.h"
#include "http/message.h"
#include "http/serializer.h"
#include "http/uri.h"

namespace portcullis::proxy {

int redirectStatus(http::Method m) {
  return (m == http::Method::Get || m == http::Method::Head) ? 301 : 308;
}

std::string buildHttpsLocation(std::string_view host_header, uint16_t https_port,
                               std::string_view path, std::string_view query, bool has_query) {
  std::string_view host = host_header;
  if (auto a = http::parseAuthority(host_header)) host = a->host;
  std::string out;
  out.reserve(8 + host.size() + 6 + path.size() + query.size() + 1);
  out.append("https://").append(host);
  if (https_port != 443) out.append(":").append(std::to_string(https_port));
  out.append(path.empty() ? std::string_view("/") : path);
  if (has_query) out.append("?").append(query);
  return out;
}

namespace {

char* put(char* p, std::string_view s) {
  std::memcpy(p, s.data(), s.size());
  return p + s.size();
}

}  // namespace

size_t appendHttpsRedirect(base::Buffer& out, const HttpsRedirect& r) {
  using namespace std::string_view_literals;
  constexpr auto kContentType = "\r\nContent-Type: text/plain; charset=utf-8\r\nLocation: https://"sv;
  constexpr auto kHsts = "\r\nStrict-Transport-Security: "sv;
  constexpr auto kLength = "\r\nContent-Length: "sv;
  constexpr auto kClose = "\r\nConnection: close"sv;
  constexpr auto kKeepAlive = "\r\nConnection: keep-alive"sv;
  std::string_view reason = http::reasonPhrase(r.status);
  std::string_view date = http::httpDateNow();
  std::string_view path = r.path.empty() ? "/"sv : r.path;
  // Upper bound: the fixed text, the variable parts, 3-digit status and length fields, ":65535".
  size_t cap = 16 + reason.size() + 8 + date.size() + kContentType.size() + r.host.size() + 6 +
               path.size() + 1 + r.query.size() + kHsts.size() + r.hsts.size() + kLength.size() + 20 +
               kKeepAlive.size() + 4 + 5 + reason.size() + 1;
  char* const start = out.reserveTail(cap);
  char* p = start;
  char code[3] = {static_cast<char>('0' + r.status / 100 % 10), static_cast<char>('0' + r.status / 10 % 10),
                  static_cast<char>('0' + r.status % 10)};
  p = put(p, "HTTP/1.1 "sv);
  p = put(p, {code, 3});
  *p++ = ' ';
  p = put(p, reason);
  p = put(p, "\r\nDate: "sv);
  p = put(p, date);
  p = put(p, kContentType);
  p = put(p, r.host);
  if (r.https_port != 443) {
    *p++ = ':';
    p = std::to_chars(p, p + 5, r.https_port).ptr;
  }
  p = put(p, path);
  if (r.has_query) {
    *p++ = '?';
    p = put(p, r.query);
  }
  if (!r.hsts.empty()) {
    p = put(p, kHsts);
    p = put(p, r.hsts);
  }
  p = put(p, kLength);
  p = std::to_chars(p, p + 20, 3 + 1 + reason.size() + 1).ptr;  // the body below
  if (r.close) p = put(p, kClose);
  else if (r.http10_keep_alive) p = put(p, kKeepAlive);
  p = put(p, "\r\n\r\n"sv);
  if (!r.head) {
    p = put(p, {code, 3});
    *p++ = ' ';
    p = put(p, reason);
    *p++ = '\n';
  }
  size_t n = static_cast<size_t>(p - start);
  out.commit(n);
  return n;
}

bool hostAllowed(std::string_view host, const std::vector<std::string>& patterns) {
  if (patterns.empty()) return true;
  for (const auto& p : patterns) {
    if (p.rfind("*.", 0) == 0) {
      if (matchesWildcard(host, std::string_view(p).substr(1))) return true;
    } else if (http::iequals(host, p)) {
      return true;
    }
  }
  return false;
}

bool matchesWildcard(std::string_view host, std::string_view dot_suffix) {
  return host.size() > dot_suffix.size() &&
         http::iequals(host.substr(host.size() - dot_suffix.size()), dot_suffix);
}

std::string hstsValue(uint64_t max_age_seconds, bool include_subdomains, bool preload) {
  std::string v = "max-age=" + std::to_string(max_age_seconds);
  if (include_subdomains) v += "; includeSubDomains";
  if (preload) v += "; preload";
  return v;
}

bool isAcmeChallenge(std::string_view path) {
  return path.rfind("/.well-known/acme-challenge/", 0) == 0;
}

}  // namespace portcullis::proxy
