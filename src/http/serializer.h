#pragma once
// Writers for HTTP/1.1 heads into an output buffer. No allocation beyond the buffer's growth.
#include <cstdint>
#include <string_view>

#include "base/buffer.h"
#include "http/headers.h"

namespace portcullis::http {

void appendRequestLine(base::Buffer& out, std::string_view method, std::string_view target);  // "M T HTTP/1.1\r\n"
void appendStatusLine(base::Buffer& out, int status);  // "HTTP/1.1 <status> <reasonPhrase>\r\n"
void appendHeader(base::Buffer& out, std::string_view name, std::string_view value);  // "N: V\r\n"
void appendHeader(base::Buffer& out, std::string_view name, uint64_t value);
void appendEndOfHead(base::Buffer& out);  // "\r\n"

// The one HTTP/1 writer of response heads, for the upstream's responses and the proxy's own
// alike: status line, the fields, the framing field (Content-Length from r.length, or
// Transfer-Encoding: chunked) and the Connection field, sized first and written in one pass.
// Upgrade: "Upgrade: websocket" and "Connection: upgrade" (a 101 to WebSocket).
enum class ConnectionField : uint8_t { None, Close, KeepAlive, Upgrade };
void appendResponseHead(base::Buffer& out, const Response& r, Framing framing, ConnectionField conn);
// Every field as "N: V\r\n", in one pass.
void appendFields(base::Buffer& out, const HeaderList& fields);
// How an HTTP/1.<client_minor> client gets a body of this size: an unknown length is chunked
// for 1.1 and delimited by the close for 1.0 (RFC 9112 §7: no chunked to a 1.0 recipient).
Framing h1Framing(BodySize body, int client_minor);

// The body of a reply of the proxy's own: "<status> <reason>\n".
std::string_view statusBody(int status);
// Standard reason phrase ("OK", "Permanent Redirect", ...); "Unknown" for unlisted codes.
std::string_view reasonPhrase(int status);

}  // namespace portcullis::http
