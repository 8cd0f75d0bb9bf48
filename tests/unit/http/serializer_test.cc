// Serializer specs: the exact bytes written for heads.
#include <gtest/gtest.h>

#include "http/serializer.h"

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

}  // namespace
}  // namespace portcullis::http
