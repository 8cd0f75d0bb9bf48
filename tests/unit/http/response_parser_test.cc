// ResponseParser specs. Like the request specs, every sample is fed whole, at every split point
// and byte by byte, and all three must agree. Any error here becomes a 502 for the client.
#include <gtest/gtest.h>

#include <deque>
#include <string>

#include "http/parser.h"

namespace portcullis::http {
namespace {

std::string describe(ParseStatus st, ParseError err, const ResponseHead& h) {
  std::string s = "status=" + std::to_string(static_cast<int>(st)) +
                  " error=" + std::to_string(static_cast<int>(err));
  if (st != ParseStatus::Complete) return s;
  s += " code=" + std::to_string(h.status) + " reason=" + std::string(h.reason);
  s += " v=1." + std::to_string(h.version_minor);
  s += " framing=" + std::to_string(static_cast<int>(h.framing));
  s += " cl=" + std::to_string(h.content_length) + " ka=" + std::to_string(h.keep_alive);
  s += " head_bytes=" + std::to_string(h.head_bytes);
  for (const Header& hd : h.headers) s += " [" + std::string(hd.name) + ":" + std::string(hd.value) + "]";
  return s;
}

void feedAtEverySplit(const std::string& raw, Method method, ParserLimits limits) {
  ResponseParser whole_parser(limits);
  ResponseHead head;
  ParseStatus whole_status = whole_parser.parse(raw, method, head);
  std::string expected = describe(whole_status, whole_parser.error(), head);
  for (size_t k = 0; k <= raw.size(); ++k) {
    ResponseParser p(limits);
    ResponseHead h;
    ParseStatus st = p.parse(std::string_view(raw).substr(0, k), method, h);
    if (st != ParseStatus::Error) st = p.parse(raw, method, h);
    EXPECT_EQ(describe(st, p.error(), h), expected) << "split at " << k;
  }
  ResponseParser p(limits);
  ResponseHead h;
  ParseStatus st = ParseStatus::NeedMore;
  for (size_t n = 0; n <= raw.size() && st == ParseStatus::NeedMore; ++n) {
    st = p.parse(std::string_view(raw).substr(0, n), method, h);
  }
  EXPECT_EQ(describe(st, p.error(), h), expected) << "byte at a time";
}

const std::string& keep(std::string raw) {
  static std::deque<std::string> store;  // heads hold views into the samples
  return store.emplace_back(std::move(raw));
}

ResponseHead parseOk(std::string sample, Method method = Method::Get, ParserLimits limits = {}) {
  const std::string& raw = keep(std::move(sample));
  feedAtEverySplit(raw, method, limits);
  ResponseParser p(limits);
  ResponseHead out;
  EXPECT_EQ(p.parse(raw, method, out), ParseStatus::Complete) << p.errorDetail();
  return out;
}

void expectRejected(const std::string& raw, ParseError error, Method method = Method::Get,
                    ParserLimits limits = {}) {
  feedAtEverySplit(raw, method, limits);
  ResponseParser p(limits);
  ResponseHead h;
  EXPECT_EQ(p.parse(raw, method, h), ParseStatus::Error);
  EXPECT_EQ(p.error(), error) << p.errorDetail();
}

// --- Status line ----------------------------------------------------------------------------

TEST(ResponseParser, ParsesStatusLineAndHeaders) {
  std::string raw = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nServer: x\r\n\r\nhi";
  ResponseHead h = parseOk(raw);
  EXPECT_EQ(h.status, 200);
  EXPECT_EQ(h.reason, "OK");
  EXPECT_EQ(h.version_minor, 1);
  ASSERT_EQ(h.headers.size(), 2u);
  EXPECT_EQ(h.headers[1].name, "Server");
  EXPECT_EQ(h.head_bytes, raw.size() - 2);
}

TEST(ResponseParser, ReasonMayContainSpacesAndObsText) {
  EXPECT_EQ(parseOk("HTTP/1.1 404 Not  Found \xe2\x9c\x97\r\nContent-Length: 0\r\n\r\n").reason,
            "Not  Found \xe2\x9c\x97");
}

TEST(ResponseParser, AcceptsEmptyReason) {
  ResponseHead h = parseOk("HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n");
  EXPECT_EQ(h.status, 200);
  EXPECT_EQ(h.reason, "");
}

TEST(ResponseParser, AcceptsStatusCodeWithoutTrailingSpace) {
  ResponseHead h = parseOk("HTTP/1.1 204\r\n\r\n");
  EXPECT_EQ(h.status, 204);
  EXPECT_EQ(h.reason, "");
}

TEST(ResponseParser, RejectsStatusBelow100) {
  expectRejected("HTTP/1.1 099 Odd\r\n\r\n", ParseError::BadRequest);
}

TEST(ResponseParser, RejectsStatusAbove599) {
  expectRejected("HTTP/1.1 600 Odd\r\n\r\n", ParseError::BadRequest);
}

TEST(ResponseParser, RejectsTwoDigitStatus) {
  expectRejected("HTTP/1.1 20 OK\r\n\r\n", ParseError::BadRequest);
}

TEST(ResponseParser, RejectsFourDigitStatus) {
  expectRejected("HTTP/1.1 2000 OK\r\n\r\n", ParseError::BadRequest);
}

TEST(ResponseParser, RejectsNonDigitStatus) {
  expectRejected("HTTP/1.1 2x0 OK\r\n\r\n", ParseError::BadRequest);
}

TEST(ResponseParser, RejectsDoubleSpaceBeforeStatus) {
  expectRejected("HTTP/1.1  200 OK\r\n\r\n", ParseError::BadRequest);
}

TEST(ResponseParser, RejectsHttp2Version) {
  expectRejected("HTTP/2.0 200 OK\r\n\r\n", ParseError::VersionNotSupported);
}

TEST(ResponseParser, RejectsGarbageStatusLine) {
  expectRejected("ICY 200 OK\r\n\r\n", ParseError::BadRequest);
  expectRejected("<html>\r\n\r\n", ParseError::BadRequest);
}

TEST(ResponseParser, RejectsEmptyLineBeforeStatusLine) {
  expectRejected("\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", ParseError::BadRequest);
}

// --- Field lines ----------------------------------------------------------------------------

TEST(ResponseParser, RejectsObsFold) {
  expectRejected("HTTP/1.1 200 OK\r\nX: a\r\n b\r\nContent-Length: 0\r\n\r\n", ParseError::BadRequest);
}

TEST(ResponseParser, RejectsBareLfLineEndings) {
  expectRejected("HTTP/1.1 200 OK\nContent-Length: 0\n\n", ParseError::BadRequest);
}

TEST(ResponseParser, RejectsBareCr) {
  expectRejected("HTTP/1.1 200 OK\r\nX: a\rb\r\nContent-Length: 0\r\n\r\n", ParseError::BadRequest);
}

TEST(ResponseParser, RejectsNulInHeaderValue) {
  using namespace std::string_literals;
  expectRejected("HTTP/1.1 200 OK\r\nX: a\0\r\n\r\n"s, ParseError::BadRequest);
}

TEST(ResponseParser, RejectsWhitespaceBetweenNameAndColon) {
  expectRejected("HTTP/1.1 200 OK\r\nContent-Length : 0\r\n\r\n", ParseError::BadRequest);
}

TEST(ResponseParser, RejectsInvalidHeaderName) {
  expectRejected("HTTP/1.1 200 OK\r\nX/Y: 1\r\n\r\n", ParseError::BadRequest);
}

TEST(ResponseParser, RejectsOversizedHead) {
  ParserLimits l;
  l.header_bytes = 64;
  expectRejected("HTTP/1.1 200 OK\r\nX: " + std::string(60, 'v') + "\r\n\r\n", ParseError::HeaderTooLarge,
                 Method::Get, l);
}

TEST(ResponseParser, RejectsTooManyHeaders) {
  ParserLimits l;
  l.header_count = 2;
  expectRejected("HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", ParseError::HeaderTooLarge, Method::Get, l);
}

// --- Framing (RFC 9112 §6.3) ----------------------------------------------------------------

TEST(ResponseParser, ContentLengthFraming) {
  ResponseHead h = parseOk("HTTP/1.1 200 OK\r\nContent-Length: 42\r\n\r\n");
  EXPECT_EQ(h.framing, Framing::ContentLength);
  EXPECT_EQ(h.content_length, 42u);
  EXPECT_TRUE(h.keep_alive);
}

TEST(ResponseParser, ChunkedFraming) {
  ResponseHead h = parseOk("HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\n");
  EXPECT_EQ(h.framing, Framing::Chunked);
  EXPECT_TRUE(h.keep_alive);
}

TEST(ResponseParser, ChunkedAsFinalCodingIsChunked) {
  EXPECT_EQ(parseOk("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n").framing,
            Framing::Chunked);
}

TEST(ResponseParser, TransferEncodingWithoutFinalChunkedReadsUntilClose) {
  ResponseHead h = parseOk("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n");
  EXPECT_EQ(h.framing, Framing::UntilClose);
  EXPECT_FALSE(h.keep_alive);
}

TEST(ResponseParser, NoLengthReadsUntilCloseAndIsNotKeepAlive) {
  ResponseHead h = parseOk("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n");
  EXPECT_EQ(h.framing, Framing::UntilClose);
  EXPECT_FALSE(h.keep_alive);
}

TEST(ResponseParser, ResponseToHeadHasNoBodyDespiteContentLength) {
  ResponseHead h = parseOk("HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n", Method::Head);
  EXPECT_EQ(h.framing, Framing::None);
  EXPECT_EQ(h.content_length, 0u);
  EXPECT_TRUE(h.keep_alive);
}

TEST(ResponseParser, ResponseToHeadHasNoBodyDespiteChunked) {
  EXPECT_EQ(parseOk("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", Method::Head).framing,
            Framing::None);
}

TEST(ResponseParser, NoContentHasNoBody) {
  ResponseHead h = parseOk("HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n");
  EXPECT_EQ(h.framing, Framing::None);
  EXPECT_TRUE(h.keep_alive);
}

TEST(ResponseParser, NotModifiedHasNoBody) {
  ResponseHead h = parseOk("HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\nTransfer-Encoding: chunked\r\n\r\n");
  EXPECT_EQ(h.framing, Framing::None);
  EXPECT_TRUE(h.keep_alive);
}

TEST(ResponseParser, InformationalHeadIsCompleteWithNoBody) {
  std::string buffer =
      "HTTP/1.1 100 Continue\r\n\r\n"
      "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n";
  ResponseParser p;
  ResponseHead h;
  ASSERT_EQ(p.parse(buffer, Method::Post, h), ParseStatus::Complete);
  EXPECT_EQ(h.status, 100);
  EXPECT_EQ(h.framing, Framing::None);
  std::string_view rest = std::string_view(buffer).substr(h.head_bytes);
  p.reset();
  ASSERT_EQ(p.parse(rest, Method::Post, h), ParseStatus::Complete);
  EXPECT_EQ(h.status, 201);
  EXPECT_EQ(h.head_bytes, rest.size());
}

TEST(ResponseParser, EarlyHintsHasNoBody) {
  EXPECT_EQ(parseOk("HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n").framing, Framing::None);
}

TEST(ResponseParser, AcceptsIdenticalContentLengths) {
  EXPECT_EQ(parseOk("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n").content_length, 3u);
}

TEST(ResponseParser, RejectsContentLengthWithTransferEncoding) {
  expectRejected("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
                 ParseError::BadRequest);
}

TEST(ResponseParser, RejectsTransferEncodingInHttp10) {
  expectRejected("HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", ParseError::BadRequest);
}

TEST(ResponseParser, RejectsChunkedAppliedTwice) {
  expectRejected("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", ParseError::BadRequest);
}

TEST(ResponseParser, RejectsMalformedTransferEncoding) {
  expectRejected("HTTP/1.1 200 OK\r\nTransfer-Encoding: \"chunked\"\r\n\r\n", ParseError::BadRequest);
  expectRejected("HTTP/1.1 200 OK\r\nTransfer-Encoding: \r\n\r\n", ParseError::BadRequest);
}

TEST(ResponseParser, RejectsDifferingContentLengths) {
  expectRejected("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n", ParseError::BadRequest);
}

TEST(ResponseParser, RejectsInvalidContentLength) {
  expectRejected("HTTP/1.1 200 OK\r\nContent-Length: 3a\r\n\r\n", ParseError::BadRequest);
  expectRejected("HTTP/1.1 200 OK\r\nContent-Length: -3\r\n\r\n", ParseError::BadRequest);
}

// --- Keep-alive -----------------------------------------------------------------------------

TEST(ResponseParser, Http11ConnectionCloseIsNotKeepAlive) {
  EXPECT_FALSE(parseOk("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n").keep_alive);
}

TEST(ResponseParser, Http10IsNotKeepAliveByDefault) {
  ResponseHead h = parseOk("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n");
  EXPECT_EQ(h.version_minor, 0);
  EXPECT_FALSE(h.keep_alive);
}

TEST(ResponseParser, Http10KeepAliveWithConnectionHeader) {
  EXPECT_TRUE(parseOk("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n").keep_alive);
}

TEST(ResponseParser, Http10KeepAliveIgnoredWhenBodyRunsUntilClose) {
  EXPECT_FALSE(parseOk("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\n").keep_alive);
}

}  // namespace
}  // namespace portcullis::http
