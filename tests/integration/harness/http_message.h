#pragma once
// A small, strict HTTP/1.1 message parser for the integration harness: responses for the test
// clients, requests for the fake upstreams. Written apart from src/http on purpose, so a bug in
// the proxy's parser is not repeated here and hidden (an independent oracle).
//
// Stateless: each call parses from the first byte of `data`. That costs a re-scan of the head on
// every read, which is nothing next to a socket read, and it keeps the parser obviously right.
// Strict about what the proxy sends: CRLF line ends, no obs-fold, at most one framing header.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace portcullis::integration {

// Header fields in arrival order; names compare case-insensitively (RFC 9110 §5.1).
struct HeaderList {
  std::vector<std::pair<std::string, std::string>> entries;

  // Value of the first field named `name`, if any.
  std::optional<std::string> get(std::string_view name) const;
  std::vector<std::string> getAll(std::string_view name) const;
  bool has(std::string_view name) const { return get(name).has_value(); }
  size_t count(std::string_view name) const { return getAll(name).size(); }
  // "Name: value" lines, for failure messages.
  std::string toString() const;
};

bool equalsIgnoreCase(std::string_view a, std::string_view b);
std::string toLower(std::string_view s);

enum class Framing { kNone, kContentLength, kChunked, kCloseDelimited };

struct Response {
  std::string version;  // "HTTP/1.1"
  int status = 0;
  std::string reason;
  HeaderList headers;
  std::string body;
  HeaderList trailers;
  Framing framing = Framing::kNone;
};

struct Request {
  std::string method;
  std::string target;
  std::string version;
  HeaderList headers;
  std::string body;
  HeaderList trailers;
  Framing framing = Framing::kNone;
};

enum class ParseStatus { kIncomplete, kComplete, kError };

struct ParseResult {
  ParseStatus status = ParseStatus::kIncomplete;
  size_t consumed = 0;       // bytes of `data` that made up the message (when kComplete)
  bool head_complete = false;  // start line and headers are all there (fields of *out are set)
  std::string error;         // when kError
};

// Parses one response from the start of `data`. `eof`: the peer has closed, which completes a
// close-delimited body. `head_request`: the request was HEAD, so there is no body (RFC 9110 §9.3.2).
// 1xx, 204 and 304 have no body either (RFC 9112 §6.3).
ParseResult parseResponse(std::string_view data, bool eof, bool head_request, Response* out);

// Parses one request from the start of `data`. A request without Content-Length or
// Transfer-Encoding has an empty body (RFC 9112 §6.3 rule 7).
ParseResult parseRequest(std::string_view data, Request* out);

}  // namespace portcullis::integration
