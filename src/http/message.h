#pragma once
// Parsed HTTP/1.x message heads. Every string_view points into the caller's input buffer and is
// valid until the caller consumes those bytes (DESIGN 3.4 rule 2): nothing here allocates per
// message once the header vector has grown to its working size.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace portcullis::http {

struct Header {
  std::string_view name;   // as received (case preserved); compare with iequals()
  std::string_view value;  // leading/trailing OWS stripped
};

enum class Method : uint8_t { Get, Head, Post, Put, Delete, Options, Patch, Trace, Connect, Other };
// The method token as sent (HTTP/1 request line, HTTP/2 :method); unknown ones are Other.
Method methodFromText(std::string_view m);

// How the message body is delimited (RFC 9112 §6.3).
enum class Framing : uint8_t {
  None,           // no body
  ContentLength,  // exactly content_length bytes
  Chunked,        // chunked transfer coding
  UntilClose,     // responses only: body ends when the upstream closes
};

struct RequestHead {
  std::string_view method_text;
  Method method = Method::Other;
  std::string_view target;        // request-target as sent (origin-form, absolute-form, ...)
  std::string_view path;          // target up to '?' (for absolute-form: the path part)
  std::string_view query;         // after '?', without it; empty if none
  bool has_query = false;         // distinguishes "/a?" from "/a"
  int version_minor = 1;          // HTTP/1.<minor>; only 0 and 1 are accepted
  int version_major = 1;          // 2: the request came over HTTP/2 (forwarded as HTTP/1.1)
  std::vector<Header> headers;
  std::string_view host;          // Host header value (or authority of absolute-form); empty if none
  Framing framing = Framing::None;
  uint64_t content_length = 0;
  bool keep_alive = true;         // from version + Connection header
  bool expect_continue = false;   // "Expect: 100-continue" present
  size_t head_bytes = 0;          // bytes of request line + headers + final CRLF
  void clear();
};

struct ResponseHead {
  int status = 0;
  std::string_view reason;
  int version_minor = 1;
  std::vector<Header> headers;
  Framing framing = Framing::None;  // already accounts for HEAD requests, 1xx, 204, 304
  uint64_t content_length = 0;
  bool keep_alive = true;
  size_t head_bytes = 0;
  void clear();
};

// ASCII case-insensitive equality. Inline because header loops compare each name against many
// constants and nearly all differ in length: that test should cost no call.
bool iequalsSameLength(const char* a, const char* b, size_t n);
inline bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && iequalsSameLength(a.data(), b.data(), a.size());
}
// Character classes shared by the parser, the body decoder and the URI checks.
constexpr bool isDigit(char c) { return c >= '0' && c <= '9'; }
constexpr bool isOws(char c) { return c == ' ' || c == '\t'; }
// RFC 9110 §5.5: field values are VCHAR / obs-text / SP / HTAB. NUL, DEL and the other controls
// (CR and LF included: a bare one is a line end to some parsers) are refused everywhere in a
// head, a chunk extension or a trailer, because peers disagree on them.
constexpr bool isForbiddenControl(char ch) {
  auto c = static_cast<unsigned char>(ch);
  return (c < 0x20 && c != '\t') || c == 0x7f;
}
inline std::string_view trimOws(std::string_view s) {
  while (!s.empty() && isOws(s.front())) s.remove_prefix(1);
  while (!s.empty() && isOws(s.back())) s.remove_suffix(1);
  return s;
}
// Calls fn(element) for every comma-separated element of `list` (RFC 9110 §5.6.1), OWS-trimmed
// and including empty ones ("5," has two: callers that must ignore them skip them), until fn
// returns false. Returns false if fn did.
template <class Fn>
bool forEachListElement(std::string_view list, Fn fn) {
  while (true) {
    size_t comma = list.find(',');
    if (!fn(trimOws(list.substr(0, comma)))) return false;
    if (comma == std::string_view::npos) return true;
    list.remove_prefix(comma + 1);
  }
}
// True if the comma-separated list `value` contains `token` (case-insensitive, OWS-trimmed).
bool listContains(std::string_view value, std::string_view token);

}  // namespace portcullis::http
