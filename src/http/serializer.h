#pragma once
// Writers for HTTP/1.1 heads into an output buffer. No allocation beyond the buffer's growth.
#include <cstdint>
#include <string_view>

#include "base/buffer.h"

namespace portcullis::http {

void appendRequestLine(base::Buffer& out, std::string_view method, std::string_view target);  // "M T HTTP/1.1\r\n"
void appendStatusLine(base::Buffer& out, int status);  // "HTTP/1.1 <status> <reasonPhrase>\r\n"
void appendHeader(base::Buffer& out, std::string_view name, std::string_view value);  // "N: V\r\n"
void appendHeader(base::Buffer& out, std::string_view name, uint64_t value);
void appendEndOfHead(base::Buffer& out);  // "\r\n"

// A reply of the proxy's own (a redirect, 4xx, 5xx): status line, Date, Content-Type,
// [Location], [Strict-Transport-Security], [Retry-After: 1 on 503], Content-Length,
// [Connection], and the text body "<status> <reason>\n" (none for HEAD).
struct LocalReply {
  int status = 0;
  std::string_view location;        // non-empty: Location
  std::string_view hsts;            // non-empty: Strict-Transport-Security
  bool close = false;               // "Connection: close"
  bool http10_keep_alive = false;   // (when not closing) "Connection: keep-alive" for HTTP/1.0
  bool head = false;                // HEAD: head only
};
// Writes the reply in one pass: one reserve, status parts of 301/308 as constants. The same
// bytes as appendStatusLine + one appendHeader per field + the body appends; callgrind, for
// scenario (5)'s 301 (a 31-byte Location): ~200 instructions against ~680. Returns the bytes
// written.
size_t appendLocalReply(base::Buffer& out, const LocalReply& r);

// Standard reason phrase ("OK", "Permanent Redirect", ...); "Unknown" for unlisted codes.
std::string_view reasonPhrase(int status);

}  // namespace portcullis::http
