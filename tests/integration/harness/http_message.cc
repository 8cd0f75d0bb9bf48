#include "harness/http_message.h"

#include <cctype>
#include <charconv>
#include <cstdint>

namespace portcullis::integration {
namespace {

// A head larger than this is a runaway peer, not a message we wait for.
constexpr size_t kMaxHead = 1 << 20;

bool isTokenChar(char c) {
  if (std::isalnum(static_cast<unsigned char>(c))) return true;
  switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+': case '-':
    case '.': case '^': case '_': case '`': case '|': case '~':
      return true;
    default:
      return false;
  }
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Splits the head (without its final empty line) into CRLF-terminated lines. Fails on a bare CR
// or LF inside a line: the proxy must emit clean CRLF.
bool splitLines(std::string_view head, std::vector<std::string_view>* lines, std::string* error) {
  size_t pos = 0;
  while (pos < head.size()) {
    size_t end = head.find("\r\n", pos);
    if (end == std::string_view::npos) end = head.size();
    std::string_view line = head.substr(pos, end - pos);
    if (line.find_first_of("\r\n") != std::string_view::npos) {
      *error = "bare CR or LF in line: " + std::string(line);
      return false;
    }
    lines->push_back(line);
    pos = end + 2;
  }
  return true;
}

bool parseFieldLines(const std::vector<std::string_view>& lines, size_t first, HeaderList* out,
                     std::string* error) {
  for (size_t i = first; i < lines.size(); ++i) {
    std::string_view line = lines[i];
    if (!line.empty() && (line.front() == ' ' || line.front() == '\t')) {
      *error = "obs-fold line: " + std::string(line);
      return false;
    }
    size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) {
      *error = "field line without name: " + std::string(line);
      return false;
    }
    std::string_view name = line.substr(0, colon);
    for (char c : name) {
      if (!isTokenChar(c)) {
        *error = "bad field name: " + std::string(name);
        return false;
      }
    }
    out->entries.emplace_back(std::string(name), std::string(trim(line.substr(colon + 1))));
  }
  return true;
}

struct BodyFraming {
  Framing framing = Framing::kNone;
  uint64_t length = 0;
};

// RFC 9112 §6.3. `allow_close_delimited`: responses only.
bool decideFraming(const HeaderList& headers, bool allow_close_delimited, BodyFraming* out,
                   std::string* error) {
  std::vector<std::string> te = headers.getAll("transfer-encoding");
  std::vector<std::string> cl = headers.getAll("content-length");
  if (!te.empty() && !cl.empty()) {
    *error = "both Transfer-Encoding and Content-Length";
    return false;
  }
  if (!te.empty()) {
    std::string all;
    for (const auto& v : te) all += (all.empty() ? "" : ",") + v;
    size_t comma = all.rfind(',');
    std::string last = toLower(trim(comma == std::string::npos ? all : all.substr(comma + 1)));
    if (last == "chunked") {
      out->framing = Framing::kChunked;
      return true;
    }
    if (!allow_close_delimited) {
      *error = "request Transfer-Encoding without final chunked: " + all;
      return false;
    }
    out->framing = Framing::kCloseDelimited;
    return true;
  }
  if (!cl.empty()) {
    for (const auto& v : cl) {
      if (v != cl.front()) {
        *error = "differing Content-Length values";
        return false;
      }
    }
    const std::string& v = cl.front();
    auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), out->length);
    if (v.empty() || ec != std::errc() || p != v.data() + v.size()) {
      *error = "bad Content-Length: " + v;
      return false;
    }
    out->framing = Framing::kContentLength;
    return true;
  }
  out->framing = allow_close_delimited ? Framing::kCloseDelimited : Framing::kNone;
  return true;
}

// Decodes a chunked body starting at data[pos]. On kComplete, *end is one past the message.
ParseStatus parseChunked(std::string_view data, size_t pos, std::string* body, HeaderList* trailers,
                         size_t* end, std::string* error) {
  // `body` may be null: a framing-only pass, so a caller re-parsing a growing buffer does not
  // copy a multi-megabyte body on every read.
  if (body) body->clear();
  trailers->entries.clear();
  for (;;) {
    size_t eol = data.find("\r\n", pos);
    if (eol == std::string_view::npos) {
      if (data.size() - pos > 1024) {
        *error = "chunk size line too long";
        return ParseStatus::kError;
      }
      return ParseStatus::kIncomplete;
    }
    std::string_view line = data.substr(pos, eol - pos);
    std::string_view hex = trim(line.substr(0, line.find(';')));
    uint64_t size = 0;
    auto [p, ec] = std::from_chars(hex.data(), hex.data() + hex.size(), size, 16);
    if (hex.empty() || ec != std::errc() || p != hex.data() + hex.size()) {
      *error = "bad chunk size line: " + std::string(line);
      return ParseStatus::kError;
    }
    pos = eol + 2;
    if (size == 0) break;
    if (data.size() - pos < size + 2) return ParseStatus::kIncomplete;
    if (body) body->append(data.substr(pos, size));
    if (data.substr(pos + size, 2) != "\r\n") {
      *error = "chunk data not followed by CRLF";
      return ParseStatus::kError;
    }
    pos += size + 2;
  }
  // Trailer section: field lines up to an empty line.
  size_t trailer_end = data.find("\r\n", pos);
  if (trailer_end == pos) {
    *end = pos + 2;
    return ParseStatus::kComplete;
  }
  trailer_end = data.find("\r\n\r\n", pos);
  if (trailer_end == std::string_view::npos) return ParseStatus::kIncomplete;
  std::vector<std::string_view> lines;
  if (!splitLines(data.substr(pos, trailer_end - pos), &lines, error) ||
      !parseFieldLines(lines, 0, trailers, error)) {
    return ParseStatus::kError;
  }
  *end = trailer_end + 4;
  return ParseStatus::kComplete;
}

// Finds the head; fills `lines`. Returns the offset just past the blank line, or 0 if incomplete.
ParseStatus splitHead(std::string_view data, std::vector<std::string_view>* lines, size_t* body_start,
                      std::string* error) {
  size_t end = data.find("\r\n\r\n");
  if (end == std::string_view::npos) {
    if (data.size() > kMaxHead) {
      *error = "no end of head within " + std::to_string(kMaxHead) + " bytes";
      return ParseStatus::kError;
    }
    return ParseStatus::kIncomplete;
  }
  if (!splitLines(data.substr(0, end), lines, error)) return ParseStatus::kError;
  if (lines->empty() || (*lines)[0].empty()) {
    *error = "empty start line";
    return ParseStatus::kError;
  }
  *body_start = end + 4;
  return ParseStatus::kComplete;
}

ParseResult fail(std::string error) {
  ParseResult r;
  r.status = ParseStatus::kError;
  r.error = std::move(error);
  return r;
}

}  // namespace

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

std::string toLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::optional<std::string> HeaderList::get(std::string_view name) const {
  for (const auto& [n, v] : entries) {
    if (equalsIgnoreCase(n, name)) return v;
  }
  return std::nullopt;
}

std::vector<std::string> HeaderList::getAll(std::string_view name) const {
  std::vector<std::string> out;
  for (const auto& [n, v] : entries) {
    if (equalsIgnoreCase(n, name)) out.push_back(v);
  }
  return out;
}

std::string HeaderList::toString() const {
  std::string out;
  for (const auto& [n, v] : entries) out += n + ": " + v + "\n";
  return out;
}

ParseResult parseResponse(std::string_view data, bool eof, bool head_request, Response* out) {
  std::vector<std::string_view> lines;
  size_t body_start = 0;
  std::string error;
  ParseStatus s = splitHead(data, &lines, &body_start, &error);
  if (s == ParseStatus::kError) return fail(error);
  if (s == ParseStatus::kIncomplete) return {};

  *out = Response{};
  std::string_view start = lines[0];
  // status-line = HTTP-version SP status-code SP [ reason-phrase ]
  if (start.size() < 12 || start.substr(0, 5) != "HTTP/" || start[8] != ' ' ||
      (start.size() > 12 && start[12] != ' ')) {
    return fail("bad status line: " + std::string(start));
  }
  out->version = std::string(start.substr(0, 8));
  std::string_view code = start.substr(9, 3);
  for (char c : code) {
    if (c < '0' || c > '9') return fail("bad status code: " + std::string(start));
  }
  out->status = (code[0] - '0') * 100 + (code[1] - '0') * 10 + (code[2] - '0');
  if (start.size() > 13) out->reason = std::string(start.substr(13));
  if (!parseFieldLines(lines, 1, &out->headers, &error)) return fail(error);

  ParseResult r;
  r.head_complete = true;
  bool no_body = head_request || (out->status >= 100 && out->status < 200) || out->status == 204 ||
                 out->status == 304;
  if (no_body) {
    out->framing = Framing::kNone;
    r.status = ParseStatus::kComplete;
    r.consumed = body_start;
    return r;
  }
  BodyFraming framing;
  if (!decideFraming(out->headers, /*allow_close_delimited=*/true, &framing, &error)) return fail(error);
  out->framing = framing.framing;
  std::string_view rest = data.substr(body_start);
  switch (framing.framing) {
    case Framing::kContentLength:
      if (rest.size() < framing.length) return r;
      out->body = std::string(rest.substr(0, framing.length));
      r.consumed = body_start + framing.length;
      r.status = ParseStatus::kComplete;
      return r;
    case Framing::kChunked: {
      size_t end = 0;
      ParseStatus cs = parseChunked(data, body_start, nullptr, &out->trailers, &end, &error);
      if (cs == ParseStatus::kError) return fail(error);
      if (cs == ParseStatus::kIncomplete) return r;
      parseChunked(data, body_start, &out->body, &out->trailers, &end, &error);
      r.consumed = end;
      r.status = ParseStatus::kComplete;
      return r;
    }
    case Framing::kCloseDelimited:
    case Framing::kNone:
      if (!eof) return r;
      out->body = std::string(rest);
      r.consumed = data.size();
      r.status = ParseStatus::kComplete;
      return r;
  }
  return r;
}

ParseResult parseRequest(std::string_view data, Request* out) {
  std::vector<std::string_view> lines;
  size_t body_start = 0;
  std::string error;
  ParseStatus s = splitHead(data, &lines, &body_start, &error);
  if (s == ParseStatus::kError) return fail(error);
  if (s == ParseStatus::kIncomplete) return {};

  *out = Request{};
  // request-line = method SP request-target SP HTTP-version
  std::string_view start = lines[0];
  size_t sp1 = start.find(' ');
  size_t sp2 = sp1 == std::string_view::npos ? sp1 : start.find(' ', sp1 + 1);
  if (sp1 == std::string_view::npos || sp2 == std::string_view::npos ||
      start.find(' ', sp2 + 1) != std::string_view::npos || sp1 == 0 || sp2 == sp1 + 1) {
    return fail("bad request line: " + std::string(start));
  }
  out->method = std::string(start.substr(0, sp1));
  out->target = std::string(start.substr(sp1 + 1, sp2 - sp1 - 1));
  out->version = std::string(start.substr(sp2 + 1));
  if (out->version != "HTTP/1.1" && out->version != "HTTP/1.0") {
    return fail("bad request version: " + std::string(start));
  }
  if (!parseFieldLines(lines, 1, &out->headers, &error)) return fail(error);

  ParseResult r;
  r.head_complete = true;
  BodyFraming framing;
  if (!decideFraming(out->headers, /*allow_close_delimited=*/false, &framing, &error)) return fail(error);
  out->framing = framing.framing;
  switch (framing.framing) {
    case Framing::kContentLength:
      if (data.size() - body_start < framing.length) return r;
      out->body = std::string(data.substr(body_start, framing.length));
      r.consumed = body_start + framing.length;
      r.status = ParseStatus::kComplete;
      return r;
    case Framing::kChunked: {
      size_t end = 0;
      ParseStatus cs = parseChunked(data, body_start, nullptr, &out->trailers, &end, &error);
      if (cs == ParseStatus::kError) return fail(error);
      if (cs == ParseStatus::kIncomplete) return r;
      parseChunked(data, body_start, &out->body, &out->trailers, &end, &error);
      r.consumed = end;
      r.status = ParseStatus::kComplete;
      return r;
    }
    case Framing::kNone:
    case Framing::kCloseDelimited:
      r.consumed = body_start;
      r.status = ParseStatus::kComplete;
      return r;
  }
  return r;
}

}  // namespace portcullis::integration
