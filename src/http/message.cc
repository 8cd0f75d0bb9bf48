#include "http/message.h"

namespace portcullis::http {
namespace {

constexpr char toLowerAscii(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

}  // namespace

// Resets every field but keeps the header vector's capacity: a keep-alive connection parses many
// heads into the same struct, and reusing the storage is what makes the hot path allocation-free.
void RequestHead::clear() {
  method_text = {};
  method = Method::Other;
  target = {};
  path = {};
  query = {};
  has_query = false;
  version_minor = 1;
  version_major = 1;
  headers.clear();
  host = {};
  framing = Framing::None;
  content_length = 0;
  keep_alive = true;
  expect_continue = false;
  head_bytes = 0;
}

void ResponseHead::clear() {
  status = 0;
  reason = {};
  version_minor = 1;
  headers.clear();
  framing = Framing::None;
  content_length = 0;
  keep_alive = true;
  head_bytes = 0;
}

// ASCII-only on purpose: field names and the tokens compared here are ASCII by grammar
// (RFC 9110 §5.1), and locale-dependent folding would make "chunked" match differently per host.
bool iequalsSameLength(const char* a, const char* b, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    if (toLowerAscii(a[i]) != toLowerAscii(b[i])) return false;
  }
  return true;
}

// RFC 9110 §5.6.1: list elements are separated by "," with optional whitespace, and a recipient
// must accept (and ignore) empty elements such as "close,,".
bool listContains(std::string_view value, std::string_view token) {
  return !forEachListElement(value, [&](std::string_view e) { return e.empty() || !iequals(e, token); });
}

Method methodFromText(std::string_view m) {
  // RFC 9110 §9.1: method names are case-sensitive, so "get" is an unknown method, not GET.
  if (m == "GET") return Method::Get;
  if (m == "HEAD") return Method::Head;
  if (m == "POST") return Method::Post;
  if (m == "PUT") return Method::Put;
  if (m == "DELETE") return Method::Delete;
  if (m == "OPTIONS") return Method::Options;
  if (m == "PATCH") return Method::Patch;
  if (m == "TRACE") return Method::Trace;
  if (m == "CONNECT") return Method::Connect;
  return Method::Other;
}

}  // namespace portcullis::http
