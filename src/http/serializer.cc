#include "http/serializer.h"

#include <algorithm>
#include <charconv>
#include <cstring>

#include "http/date.h"

namespace portcullis::http {

void appendRequestLine(base::Buffer& out, std::string_view method, std::string_view target) {
  // Always HTTP/1.1 upstream: we need chunked bodies and keep-alive, both 1.1 features
  // (RFC 9110 §6.2: a sender uses the highest minor version it conforms to).
  size_t n = method.size() + 1 + target.size() + 11;
  char* p = out.reserveTail(n);
  char* start = p;
  p = std::copy(method.begin(), method.end(), p);
  *p++ = ' ';
  p = std::copy(target.begin(), target.end(), p);
  constexpr std::string_view kVersion = " HTTP/1.1\r\n";
  p = std::copy(kVersion.begin(), kVersion.end(), p);
  out.commit(static_cast<size_t>(p - start));
}

void appendStatusLine(base::Buffer& out, int status) {
  std::string_view reason = reasonPhrase(status);
  char* p = out.reserveTail(9 + 11 + 1 + reason.size() + 2);
  char* start = p;
  constexpr std::string_view kVersion = "HTTP/1.1 ";
  p = std::copy(kVersion.begin(), kVersion.end(), p);
  p = std::to_chars(p, p + 11, status).ptr;
  *p++ = ' ';
  p = std::copy(reason.begin(), reason.end(), p);
  *p++ = '\r';
  *p++ = '\n';
  out.commit(static_cast<size_t>(p - start));
}

void appendHeader(base::Buffer& out, std::string_view name, std::string_view value) {
  char* p = out.reserveTail(name.size() + 2 + value.size() + 2);
  char* start = p;
  p = std::copy(name.begin(), name.end(), p);
  *p++ = ':';
  *p++ = ' ';
  p = std::copy(value.begin(), value.end(), p);
  *p++ = '\r';
  *p++ = '\n';
  out.commit(static_cast<size_t>(p - start));
}

void appendHeader(base::Buffer& out, std::string_view name, uint64_t value) {
  char digits[20];  // 2^64-1 has 20 decimal digits
  auto res = std::to_chars(digits, digits + sizeof digits, value);
  appendHeader(out, name, std::string_view(digits, static_cast<size_t>(res.ptr - digits)));
}

void appendEndOfHead(base::Buffer& out) { out.append("\r\n"); }

namespace {

char* put(char* p, std::string_view s) {
  std::memcpy(p, s.data(), s.size());
  return p + s.size();
}

// What depends only on the status, spelled out for the two redirects (the plain-HTTP listener's
// every answer); other statuses are built from reasonPhrase. The switch and two integer formats
// were ~40 of the ~200 instructions per redirect.
struct StatusParts {
  std::string_view line;    // "HTTP/1.1 301 Moved Permanently"
  std::string_view length;  // Content-Length of the body
  std::string_view body;    // "301 Moved Permanently\n"
};
constexpr StatusParts k301{"HTTP/1.1 301 Moved Permanently", "22", "301 Moved Permanently\n"};
constexpr StatusParts k308{"HTTP/1.1 308 Permanent Redirect", "23", "308 Permanent Redirect\n"};

}  // namespace

size_t appendLocalReply(base::Buffer& out, const LocalReply& r) {
  using namespace std::string_view_literals;
  constexpr auto kDate = "\r\nDate: "sv;
  constexpr auto kContentType = "\r\nContent-Type: text/plain; charset=utf-8"sv;
  constexpr auto kLocation = "\r\nLocation: "sv;
  constexpr auto kHsts = "\r\nStrict-Transport-Security: "sv;
  constexpr auto kRetryAfter = "\r\nRetry-After: 1"sv;
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
    std::string_view reason = reasonPhrase(r.status);
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
  std::string_view date = httpDateNow();
  // Every part at its longest (keep-alive is longer than close).
  size_t cap = st.line.size() + kDate.size() + date.size() + kContentType.size() + kLocation.size() +
               r.location.size() + kHsts.size() + r.hsts.size() + kRetryAfter.size() + kLength.size() +
               st.length.size() + kKeepAlive.size() + 4 + st.body.size();
  char* const start = out.reserveTail(cap);
  char* p = start;
  p = put(p, st.line);
  p = put(p, kDate);
  p = put(p, date);
  p = put(p, kContentType);
  if (!r.location.empty()) {
    p = put(p, kLocation);
    p = put(p, r.location);
  }
  if (!r.hsts.empty()) {
    p = put(p, kHsts);
    p = put(p, r.hsts);
  }
  // Overloaded: when to come back (RFC 9110 §10.2.3), as sendLocalReply always said.
  if (r.status == 503) p = put(p, kRetryAfter);
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

// RFC 9110 §15 phrases (plus 103 from RFC 8297, 308 from RFC 7538 now in 9110, 422 from 9110,
// 425 RFC 8470, 428/429/431 RFC 6585, 451 RFC 7725). Clients ignore the phrase (RFC 9112 §4),
// so an unlisted code gets "Unknown" rather than failing.
std::string_view reasonPhrase(int status) {
  switch (status) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 102: return "Processing";
    case 103: return "Early Hints";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 203: return "Non-Authoritative Information";
    case 204: return "No Content";
    case 205: return "Reset Content";
    case 206: return "Partial Content";
    case 300: return "Multiple Choices";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 305: return "Use Proxy";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 402: return "Payment Required";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 407: return "Proxy Authentication Required";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 412: return "Precondition Failed";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 416: return "Range Not Satisfiable";
    case 417: return "Expectation Failed";
    case 418: return "I'm a teapot";
    case 421: return "Misdirected Request";
    case 422: return "Unprocessable Content";
    case 423: return "Locked";
    case 424: return "Failed Dependency";
    case 425: return "Too Early";
    case 426: return "Upgrade Required";
    case 428: return "Precondition Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 451: return "Unavailable For Legal Reasons";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
  }
}

}  // namespace portcullis::http
