// Serializer specs: the exact bytes written for heads.
#include <gtest/gtest.h>

#include "http/serializer.h"

#include <string>

#include "http/date.h"

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
// appendLocalReply: one pass, the same bytes as H1Connection::sendLocalReply wrote with the
// appends above (main, 2026-12-03), for every combination it can see.

std::string appendsReference(const LocalReply& r) {
  base::Buffer out;
  appendStatusLine(out, r.status);
  appendHeader(out, "Date", httpDateNow());
  appendHeader(out, "Content-Type", "text/plain; charset=utf-8");
  if (!r.location.empty()) appendHeader(out, "Location", r.location);
  if (!r.hsts.empty()) appendHeader(out, "Strict-Transport-Security", r.hsts);
  if (r.status == 503) appendHeader(out, "Retry-After", "1");
  std::string_view reason = reasonPhrase(r.status);
  char code[3] = {static_cast<char>('0' + r.status / 100), static_cast<char>('0' + r.status / 10 % 10),
                  static_cast<char>('0' + r.status % 10)};
  appendHeader(out, "Content-Length", static_cast<uint64_t>(3 + 1 + reason.size() + 1));
  if (r.close) appendHeader(out, "Connection", "close");
  else if (r.http10_keep_alive) appendHeader(out, "Connection", "keep-alive");
  appendEndOfHead(out);
  if (!r.head) {
    out.append(code, 3);
    out.append(" ");
    out.append(reason);
    out.append("\n");
  }
  return std::string(out.view());
}

TEST(LocalReply, SameBytesAsTheAppends) {
  for (int status : {301, 308, 302, 307, 400, 404, 408, 413, 421, 431, 499, 502, 503, 504, 599}) {
    for (int flags = 0; flags < 32; ++flags) {
      LocalReply r;
      r.status = status;
      r.location = (flags & 1) ? "https://localhost/some/page?q=1" : "";
      r.hsts = (flags & 2) ? "max-age=31536000; includeSubDomains" : "";
      r.close = flags & 4;
      r.http10_keep_alive = flags & 8;
      r.head = flags & 16;
      // The Date can tick between the two writes: once more then (it cannot tick twice).
      for (int attempt = 0; attempt < 2; ++attempt) {
        base::Buffer out;
        size_t n = appendLocalReply(out, r);
        std::string got(out.view());
        std::string want = appendsReference(r);
        if (got != want && attempt == 0) continue;
        EXPECT_EQ(got, want) << "status " << status << " flags " << flags;
        EXPECT_EQ(n, got.size());
        break;
      }
    }
  }
}

TEST(LocalReply, ExactBytesOfTheBenchmarkRedirect) {
  LocalReply r;
  r.status = 301;
  r.location = "https://localhost/some/page?q=1";
  base::Buffer out;
  out.append("previous");  // a pipelined answer goes behind what is still buffered
  appendLocalReply(out, r);
  std::string got(out.view());
  size_t d = got.find("Date: ");
  ASSERT_NE(d, std::string::npos);
  EXPECT_EQ(got.find("\r\n", d) - d - 6, 29u);  // "Sun, 06 Nov 1994 08:49:37 GMT"
  got.replace(d + 6, 29, "D");
  EXPECT_EQ(got,
            "previousHTTP/1.1 301 Moved Permanently\r\n"
            "Date: D\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n"
            "Location: https://localhost/some/page?q=1\r\n"
            "Content-Length: 22\r\n"
            "\r\n"
            "301 Moved Permanently\n");
}

TEST(LocalReply, LongLocationGrowsTheBuffer) {
  std::string location = "https://" + std::string(253, 'h') + "/" + std::string(8000, 'p');
  LocalReply r;
  r.status = 308;
  r.location = location;
  r.head = true;
  base::Buffer out;
  appendLocalReply(out, r);
  std::string got(out.view());
  EXPECT_NE(got.find("\r\nLocation: " + location + "\r\n"), std::string::npos);
  EXPECT_TRUE(got.ends_with("\r\nContent-Length: 23\r\n\r\n"));  // HEAD: no body
}

}  // namespace
}  // namespace portcullis::http
