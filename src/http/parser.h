#pragma once
// Strict HTTP/1.1 message-head parsers (RFC 9110/9112). Pure: bytes in, a head or an error out.
//
// Incremental by rescanning: parse() is called with all unconsumed bytes each time more arrive.
// It remembers how far it has already searched for the blank line ending the head, so repeated
// calls on a trickling client cost O(new bytes), and only parses the head once it is complete
// (the picohttpparser approach). The whole head must therefore be contiguous, which the
// connection's input buffer guarantees; limits bound how large it may get.
//
// Rejections are deliberately strict because a proxy that disagrees with its upstream about
// where a request ends is a request-smuggling hole (RFC 9112 §6.3, §11.2).
#include <cstddef>
#include <string_view>

#include "http/message.h"

namespace portcullis::http {

struct ParserLimits {
  size_t request_line = 8 * 1024;   // longer -> UriTooLong (414)
  size_t header_bytes = 32 * 1024;  // whole head; larger -> HeaderTooLarge (431)
  size_t header_count = 100;        // more -> HeaderTooLarge (431)
};

enum class ParseError : uint8_t {
  None,
  BadRequest,       // 400: syntax, smuggling patterns, bad framing, bad Host, bare CR, ...
  UriTooLong,       // 414
  HeaderTooLarge,   // 431
  NotImplemented,   // 501: Transfer-Encoding we do not implement (other than final chunked)
  VersionNotSupported,  // 505: HTTP/2.0 over h1, HTTP/1.2+, HTTP/0.9...
};

enum class ParseStatus : uint8_t { NeedMore, Complete, Error };

namespace detail {
// Progress of the byte scan that finds the end of a head, kept between parse() calls so each
// byte is examined once. Offsets are from the start of the caller's input. Private to parser.cc.
struct HeadScan {
  size_t line_start = 0;    // first byte of the line being scanned
  size_t head_start = 0;    // first byte of the start line (after skipped empty lines)
  size_t head_end = 0;      // one past the blank line ending the head; 0 while incomplete
  size_t lines = 0;         // complete non-empty lines so far (start line + field lines)
  size_t first_line_end = 0;  // the start line's CR, once that line is complete
  // Request line: its first SP, which ends the method (every byte before it is a tchar); 0
  // until seen (it never is at 0: a line starting with SP is refused).
  size_t method_end = 0;
};
}  // namespace detail

class RequestParser {
 public:
  explicit RequestParser(ParserLimits limits = {}) : limits_(limits) {}
  // `input` is every unconsumed byte, starting at the first byte of the request. On Complete,
  // `out` is filled and out.head_bytes tells how many bytes the head took (the body, if any,
  // starts right after). On Error, error() says why. Call reset() before the next message.
  ParseStatus parse(std::string_view input, RequestHead& out);
  ParseError error() const { return error_; }
  // Human-readable reason for the last error (static string, for logs and the 400 body).
  const char* errorDetail() const { return detail_; }
  void reset() { scanned_ = 0; scan_ = {}; error_ = ParseError::None; detail_ = ""; }

 private:
  ParseStatus fail(ParseError error, const char* detail);
  ParserLimits limits_;
  size_t scanned_ = 0;
  detail::HeadScan scan_;
  ParseError error_ = ParseError::None;
  const char* detail_ = "";
};

class ResponseParser {
 public:
  explicit ResponseParser(ParserLimits limits = {}) : limits_(limits) {}
  // `request_method` decides framing: responses to HEAD, and 1xx/204/304, have no body.
  // 1xx heads are returned as Complete with status 1xx; the caller skips them and parses again.
  ParseStatus parse(std::string_view input, Method request_method, ResponseHead& out);
  ParseError error() const { return error_; }
  const char* errorDetail() const { return detail_; }
  void reset() { scanned_ = 0; scan_ = {}; error_ = ParseError::None; detail_ = ""; }

 private:
  ParseStatus fail(ParseError error, const char* detail);
  ParserLimits limits_;
  size_t scanned_ = 0;
  detail::HeadScan scan_;
  ParseError error_ = ParseError::None;
  const char* detail_ = "";
};

}  // namespace portcullis::http
