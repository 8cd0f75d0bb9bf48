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
// Standard reason phrase ("OK", "Permanent Redirect", ...); "Unknown" for unlisted codes.
std::string_view reasonPhrase(int status);

}  // namespace portcullis::http
