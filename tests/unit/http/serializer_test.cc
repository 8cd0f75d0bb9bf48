// Serializer specs: the exact bytes written for heads.
#include <gtest/gtest.h>

#include "http/serializer.h"

#include <string>


namespace portcullis::http {
namespace {

TEST(Serializer, AppendsRequestLineAsHttp11) {
  base::Buffer out;
  appendRequestLine(out, "GET", "/a?b=c");
  EXPECT_EQ(out.view(), "GET /a?b=c HTTP/1.1\r\n");
}

TEST(Serializer, AppendsStatusLineWithReasonPhrase) {
  base::Buffer out;
  appendStatusLine(out, 308);
  EXPECT_EQ(out.view(), "HTTP/1.1 308 Permanent Redirect\r\n");
}

TEST(Serializer, AppendsStatusLineForUnknownCode) {
  base::Buffer out;
  appendStatusLine(out, 599);
  EXPECT_EQ(out.view(), "HTTP/1.1 599 Unknown\r\n");
}

TEST(Serializer, AppendsTextHeader) {
  base::Buffer out;
  appendHeader(out, "Location", "https://example.com/");
  EXPECT_EQ(out.view(), "Location: https://example.com/\r\n");
}

TEST(Serializer, AppendsNumericHeader) {
  base::Buffer out;
  appendHeader(out, "Content-Length", uint64_t{0});
  appendHeader(out, "Content-Length", uint64_t{18446744073709551615u});
  EXPECT_EQ(out.view(), "Content-Length: 0\r\nContent-Length: 18446744073709551615\r\n");
}

TEST(Serializer, AppendsEndOfHead) {
  base::Buffer out;
  appendStatusLine(out, 204);
  appendEndOfHead(out);
  EXPECT_EQ(out.view(), "HTTP/1.1 204 No Content\r\n\r\n");
}

TEST(Serializer, AppendsAfterExistingBytes) {
  base::Buffer out;
  out.append("x");
  appendHeader(out, "A", "b");
  EXPECT_EQ(out.view(), "xA: b\r\n");
}

TEST(ReasonPhrase, KnowsEveryCommonCode) {
  std::vector<int> codes = {100, 101, 103, 300, 301, 302, 303, 304, 305, 307, 308, 451,
                            500, 501, 502, 503, 504, 505};
  for (int c = 200; c <= 206; ++c) codes.push_back(c);
  for (int c = 400; c <= 418; ++c) codes.push_back(c);
  for (int c : {421, 422, 423, 424, 425, 426, 428, 429, 431}) codes.push_back(c);
  for (int code : codes) EXPECT_NE(reasonPhrase(code), "Unknown") << code;
}

TEST(ReasonPhrase, UsesRfc9110Wording) {
  EXPECT_EQ(reasonPhrase(200), "OK");
  EXPECT_EQ(reasonPhrase(413), "Content Too Large");
  EXPECT_EQ(reasonPhrase(414), "URI Too Long");
  EXPECT_EQ(reasonPhrase(431), "Request Header Fields Too Large");
  EXPECT_EQ(reasonPhrase(502), "Bad Gateway");
  EXPECT_EQ(reasonPhrase(505), "HTTP Version Not Supported");
}

TEST(ReasonPhrase, UnknownForUnlistedCodes) {
  EXPECT_EQ(reasonPhrase(299), "Unknown");
  EXPECT_EQ(reasonPhrase(0), "Unknown");
  EXPECT_EQ(reasonPhrase(-1), "Unknown");
}

// ---------------------------------------------------------------------------------------------
// appendResponseHead: the one HTTP/1 writer of response heads.

Response response(int status, std::string_view reason = {}) {
  Response r;
  r.status = status;
  r.reason = reason;
  return r;
}

TEST(ResponseHead, FieldsThenFramingThenConnection) {
  Response r = response(200);
  r.headers.add("Content-Type", "text/html");
  r.headers.add("Set-Cookie", "a=1");
  r.body = BodySize::Known;
  r.length = 1234;
  base::Buffer out;
  out.append("previous");  // a pipelined answer goes behind what is still buffered
  appendResponseHead(out, r, Framing::ContentLength, ConnectionField::Close);
  EXPECT_EQ(out.view(),
            "previousHTTP/1.1 200 OK\r\nContent-Type: text/html\r\nSet-Cookie: a=1\r\n"
            "Content-Length: 1234\r\nConnection: close\r\n\r\n");
}

TEST(ResponseHead, ChunkedAndKeepAlive) {
  base::Buffer out;
  appendResponseHead(out, response(201), Framing::Chunked, ConnectionField::KeepAlive);
  EXPECT_EQ(out.view(), "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n");
}

TEST(ResponseHead, NoFramingFieldWithoutBodyOrUntilClose) {
  base::Buffer a, b;
  appendResponseHead(a, response(304), Framing::None, ConnectionField::None);
  appendResponseHead(b, response(200), Framing::UntilClose, ConnectionField::Close);
  EXPECT_EQ(a.view(), "HTTP/1.1 304 Not Modified\r\n\r\n");
  EXPECT_EQ(b.view(), "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n");
}

TEST(ResponseHead, TheUpstreamsOwnReasonPhrasePasses) {
  base::Buffer a, b, c;
  appendResponseHead(a, response(200, "Okay Then"), Framing::None, ConnectionField::None);
  appendResponseHead(b, response(599, "Network Timeout"), Framing::None, ConnectionField::None);
  appendResponseHead(c, response(599), Framing::None, ConnectionField::None);
  EXPECT_EQ(a.view(), "HTTP/1.1 200 Okay Then\r\n\r\n");
  EXPECT_EQ(b.view(), "HTTP/1.1 599 Network Timeout\r\n\r\n");
  EXPECT_EQ(c.view(), "HTTP/1.1 599 Unknown\r\n\r\n");
}

TEST(ResponseHead, LongFieldsGrowTheBuffer) {
  std::string location = "https://" + std::string(253, 'h') + "/" + std::string(8000, 'p');
  Response r = response(308);
  r.headers.add("Location", location);
  r.body = BodySize::Known;
  r.length = 18446744073709551615u;
  base::Buffer out;
  appendResponseHead(out, r, Framing::ContentLength, ConnectionField::KeepAlive);
  EXPECT_EQ(out.view(), "HTTP/1.1 308 Permanent Redirect\r\nLocation: " + location +
                            "\r\nContent-Length: 18446744073709551615\r\nConnection: keep-alive\r\n\r\n");
}

TEST(H1Framing, UnknownLengthIsChunkedFor11AndCloseDelimitedFor10) {
  EXPECT_EQ(h1Framing(BodySize::None, 1), Framing::None);
  EXPECT_EQ(h1Framing(BodySize::Known, 0), Framing::ContentLength);
  EXPECT_EQ(h1Framing(BodySize::Unknown, 1), Framing::Chunked);
  EXPECT_EQ(h1Framing(BodySize::Unknown, 0), Framing::UntilClose);
}

TEST(StatusBody, IsCodeReasonNewline) {
  EXPECT_EQ(statusBody(301), "301 Moved Permanently\n");
  EXPECT_EQ(statusBody(503), "503 Service Unavailable\n");
}

}  // namespace
}  // namespace portcullis::http
