#include "http/serializer.h"

#include <algorithm>
#include <charconv>
#include <cstring>

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

// RFC 9110 §15 phrases (plus 103 from RFC 8297, 308 from RFC 7538 now in 9110, 422 from 9110,
// 425 RFC 8470, 428/429/431 RFC 6585, 451 RFC 7725). Clients ignore the phrase (RFC 9112 §4),
// so an unlisted code gets "Unknown" rather than failing. One list, spelled out at compile time
// as the phrase, the whole status line and the local reply's body: a redirect's status line and
// body are two constants, not a format per request.
#define PORTCULLIS_STATUSES(X)                                                                   \
  X(100, "Continue") X(101, "Switching Protocols") X(102, "Processing") X(103, "Early Hints")     \
  X(200, "OK") X(201, "Created") X(202, "Accepted") X(203, "Non-Authoritative Information")      \
  X(204, "No Content") X(205, "Reset Content") X(206, "Partial Content")                         \
  X(300, "Multiple Choices") X(301, "Moved Permanently") X(302, "Found") X(303, "See Other")     \
  X(304, "Not Modified") X(305, "Use Proxy") X(307, "Temporary Redirect")                        \
  X(308, "Permanent Redirect") X(400, "Bad Request") X(401, "Unauthorized")                      \
  X(402, "Payment Required") X(403, "Forbidden") X(404, "Not Found")                             \
  X(405, "Method Not Allowed") X(406, "Not Acceptable") X(407, "Proxy Authentication Required")  \
  X(408, "Request Timeout") X(409, "Conflict") X(410, "Gone") X(411, "Length Required")          \
  X(412, "Precondition Failed") X(413, "Content Too Large") X(414, "URI Too Long")               \
  X(415, "Unsupported Media Type") X(416, "Range Not Satisfiable") X(417, "Expectation Failed")  \
  X(418, "I'm a teapot") X(421, "Misdirected Request") X(422, "Unprocessable Content")           \
  X(423, "Locked") X(424, "Failed Dependency") X(425, "Too Early") X(426, "Upgrade Required")    \
  X(428, "Precondition Required") X(429, "Too Many Requests")                                    \
  X(431, "Request Header Fields Too Large") X(451, "Unavailable For Legal Reasons")              \
  X(500, "Internal Server Error") X(501, "Not Implemented") X(502, "Bad Gateway")                \
  X(503, "Service Unavailable") X(504, "Gateway Timeout") X(505, "HTTP Version Not Supported")

struct StatusText {
  std::string_view reason;  // "Moved Permanently"
  std::string_view line;    // "HTTP/1.1 301 Moved Permanently\r\n"
  std::string_view body;    // "301 Moved Permanently\n"
};

const StatusText* statusText(int status) {
  switch (status) {
#define PORTCULLIS_STATUS_CASE(code, phrase)                                                     \
  case code: {                                                                                   \
    static constexpr StatusText t{phrase, "HTTP/1.1 " #code " " phrase "\r\n", #code " " phrase "\n"}; \
    return &t;                                                                                   \
  }
    PORTCULLIS_STATUSES(PORTCULLIS_STATUS_CASE)
#undef PORTCULLIS_STATUS_CASE
    default: return nullptr;
  }
}

// An unlisted code's status line, into `buf` (at least 32 bytes).
std::string_view unlistedStatusLine(int status, char* buf) {
  char* p = put(buf, "HTTP/1.1 ");
  *p++ = static_cast<char>('0' + status / 100 % 10);
  *p++ = static_cast<char>('0' + status / 10 % 10);
  *p++ = static_cast<char>('0' + status % 10);
  p = put(p, " Unknown\r\n");
  return {buf, static_cast<size_t>(p - buf)};
}

size_t fieldsSize(const HeaderList& fields) {
  size_t n = 0;
  for (const Header& h : fields) n += h.name.size() + h.value.size() + 4;
  return n;
}

char* putFields(char* p, const HeaderList& fields) {
  for (const Header& h : fields) {
    p = put(p, h.name);
    *p++ = ':';
    *p++ = ' ';
    p = put(p, h.value);
    *p++ = '\r';
    *p++ = '\n';
  }
  return p;
}

}  // namespace

void appendStatusLine(base::Buffer& out, int status) {
  char buf[40];
  const StatusText* t = statusText(status);
  out.append(t ? t->line : unlistedStatusLine(status, buf));
}

std::string_view reasonPhrase(int status) {
  const StatusText* t = statusText(status);
  return t ? t->reason : std::string_view("Unknown");
}

std::string_view statusBody(int status) {
  const StatusText* t = statusText(status);
  return t ? t->body : std::string_view("500 Internal Server Error\n");
}

void appendFields(base::Buffer& out, const HeaderList& fields) {
  char* start = out.reserveTail(fieldsSize(fields));
  out.commit(static_cast<size_t>(putFields(start, fields) - start));
}

Framing h1Framing(BodySize body, int client_minor) {
  switch (body) {
    case BodySize::None: return Framing::None;
    case BodySize::Known: return Framing::ContentLength;
    case BodySize::Unknown: break;
  }
  return client_minor >= 1 ? Framing::Chunked : Framing::UntilClose;
}

void appendResponseHead(base::Buffer& out, const Response& r, Framing framing, ConnectionField conn) {
  using namespace std::string_view_literals;
  constexpr auto kLength = "Content-Length: "sv;
  constexpr auto kChunked = "Transfer-Encoding: chunked\r\n"sv;
  constexpr auto kClose = "Connection: close\r\n"sv;
  constexpr auto kKeepAlive = "Connection: keep-alive\r\n"sv;
  constexpr auto kUpgrade = "Upgrade: websocket\r\nConnection: upgrade\r\n"sv;
  // The whole status line as one constant when the phrase is the standard one; an upstream's
  // own phrase passes as it came, written in pieces.
  char line_buf[40];
  std::string_view line;
  const StatusText* t = statusText(r.status);
  if (r.reason.empty() || (t && r.reason == t->reason)) line = t ? t->line : unlistedStatusLine(r.status, line_buf);
  size_t cap = (line.empty() ? 9 + 4 + r.reason.size() + 2 : line.size()) + fieldsSize(r.headers) +
               kLength.size() + 20 + 2 + kChunked.size() + kUpgrade.size() + 2;
  char* const start = out.reserveTail(cap);
  char* p = start;
  if (!line.empty()) {
    p = put(p, line);
  } else {
    p = put(p, "HTTP/1.1 "sv);
    *p++ = static_cast<char>('0' + r.status / 100 % 10);
    *p++ = static_cast<char>('0' + r.status / 10 % 10);
    *p++ = static_cast<char>('0' + r.status % 10);
    *p++ = ' ';
    p = put(p, r.reason);
    *p++ = '\r';
    *p++ = '\n';
  }
  p = putFields(p, r.headers);
  if (framing == Framing::ContentLength) {
    p = put(p, kLength);
    p = std::to_chars(p, p + 20, r.length).ptr;
    *p++ = '\r';
    *p++ = '\n';
  } else if (framing == Framing::Chunked) {
    p = put(p, kChunked);
  }
  if (conn == ConnectionField::Close) p = put(p, kClose);
  else if (conn == ConnectionField::KeepAlive) p = put(p, kKeepAlive);
  else if (conn == ConnectionField::Upgrade) p = put(p, kUpgrade);
  *p++ = '\r';
  *p++ = '\n';
  out.commit(static_cast<size_t>(p - start));
}

}  // namespace portcullis::http
