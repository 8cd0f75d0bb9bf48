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

// The parts that depend only on the status, for the two a redirect uses (redirectStatus); any
// other status is built the general way. Spelled out: the reason phrase's switch and two
// integer formats were ~40 of the ~200 instructions per redirect.
struct StatusParts {
  std::string_view line;    // "HTTP/1.1 301 Moved Permanently"
  std::string_view length;  // Content-Length of the body
  std::string_view body;    // "301 Moved Permanently\n"
};
constexpr StatusParts k301{"HTTP/1.1 301 Moved Permanently", "22", "301 Moved Permanently\n"};
constexpr StatusParts k308{"HTTP/1.1 308 Permanent Redirect", "23", "308 Permanent Redirect\n"};

}  // namespace

size_t appendHttpsRedirect(base::Buffer& out, const HttpsRedirect& r) {
  using namespace std::string_view_literals;
  constexpr auto kDate = "\r\nDate: "sv;
  constexpr auto kContentType = "\r\nContent-Type: text/plain; charset=utf-8\r\nLocation: https://"sv;
  constexpr auto kHsts = "\r\nStrict-Transport-Security: "sv;
  constexpr auto kLength = "\r\nContent-Length: "sv;
  constexpr auto kClose = "\r\nConnection: close"sv;
  constexpr auto kKeepAlive = "\r\nConnection: keep-alive"sv;
  StatusParts st;
  char line_buf[48], length_buf[8], body_buf[48];  // other statuses; reasons are <= 31 bytes
  if (r.status == 301) {
    st = k301;
  } else if (r.status == 308) {
    st = k308;
  } else {
    std::string_view reason = http::reasonPhrase(r.status);
    char code[3] = {static_cast<char>('0' + r.status / 100 % 10),
                    static_cast<char>('0' + r.status / 10 % 10), static_cast<char>('0' + r.status % 10)};
    char* p = put(line_buf, "HTTP/1.1 "sv);
    char* b = body_buf;
    p = put(p, {code, 3});
    b = put(b, {code, 3});
    *p++ = ' ';
    *b++ = ' ';
    p = put(p, reason);
    b = put(b, reason);
    *b++ = '\n';
    st.line = {line_buf, static_cast<size_t>(p - line_buf)};
    st.body = {body_buf, static_cast<size_t>(b - body_buf)};
    st.length = {length_buf, static_cast<size_t>(std::to_chars(length_buf, length_buf + sizeof length_buf,
                                                                st.body.size()).ptr - length_buf)};
  }
  std::string_view date = http::httpDateNow();
  std::string_view path = r.path.empty() ? "/"sv : r.path;
  // Upper bound of what follows: every part at its longest (":65535", keep-alive over close).
  size_t cap = st.line.size() + kDate.size() + date.size() + kContentType.size() + r.host.size() + 6 +
               path.size() + 1 + r.query.size() + kHsts.size() + r.hsts.size() + kLength.size() +
               st.length.size() + kKeepAlive.size() + 4 + st.body.size();
  char* const start = out.reserveTail(cap);
  char* p = start;
  p = put(p, st.line);
  p = put(p, kDate);
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
  p = put(p, st.length);
  if (r.close) p = put(p, kClose);
  else if (r.http10_keep_alive) p = put(p, kKeepAlive);
  p = put(p, "\r\n\r\n"sv);
  if (!r.head) p = put(p, st.body);
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
