// Local reply specs: a reply of the proxy's own goes through the same serializer as an upstream's
// response, and its bytes are those the proxy has always sent (the per-field appends below are
// what H1Connection wrote before replies became responses, 2026-12-03).
#include "proxy/local_reply.h"

#include <gtest/gtest.h>

#include <string>

#include "http/date.h"
#include "http/serializer.h"

namespace portcullis::proxy {
namespace {

struct Case {
  int status;
  std::string_view location, hsts;
  bool head;
  http::ConnectionField conn;
};

std::string reference(const Case& c) {
  base::Buffer out;
  http::appendStatusLine(out, c.status);
  http::appendHeader(out, "Date", http::httpDateNow());
  http::appendHeader(out, "Content-Type", "text/plain; charset=utf-8");
  if (!c.location.empty()) http::appendHeader(out, "Location", c.location);
  if (!c.hsts.empty()) http::appendHeader(out, "Strict-Transport-Security", c.hsts);
  if (c.status == 503) http::appendHeader(out, "Retry-After", "1");
  std::string body = std::to_string(c.status) + " " + std::string(http::reasonPhrase(c.status)) + "\n";
  http::appendHeader(out, "Content-Length", static_cast<uint64_t>(body.size()));
  if (c.conn == http::ConnectionField::Close) http::appendHeader(out, "Connection", "close");
  if (c.conn == http::ConnectionField::KeepAlive) http::appendHeader(out, "Connection", "keep-alive");
  http::appendEndOfHead(out);
  if (!c.head) out.append(body);
  return std::string(out.view());
}

std::string sent(const Case& c) {
  LocalReplyScratch scratch;
  http::Response r;
  std::string_view body = localReply(c.status, c.location, c.hsts, c.head, scratch, r);
  EXPECT_TRUE(r.local);
  base::Buffer out;
  http::appendResponseHead(out, r, http::h1Framing(r.body, 1), c.conn);
  out.append(body);
  return std::string(out.view());
}

TEST(LocalReply, SameBytesAsEver) {
  for (int status : {301, 308, 400, 404, 405, 408, 413, 414, 421, 431, 500, 501, 502, 503, 504, 505}) {
    for (int flags = 0; flags < 24; ++flags) {
      Case c{status, (flags & 1) ? "https://localhost/some/page?q=1" : "",
             (flags & 2) ? "max-age=31536000; includeSubDomains" : "", (flags & 4) != 0,
             static_cast<http::ConnectionField>(flags >> 3)};
      // The Date can tick between the two writes: once more then (it cannot tick twice).
      std::string got = sent(c), want = reference(c);
      if (got != want) got = sent(c), want = reference(c);
      EXPECT_EQ(got, want) << "status " << status << " flags " << flags;
    }
  }
}

TEST(LocalReply, ExactBytesOfTheBenchmarkRedirect) {
  std::string got = sent({301, "https://localhost/some/page?q=1", "", false, http::ConnectionField::None});
  size_t d = got.find("Date: ");
  ASSERT_NE(d, std::string::npos);
  EXPECT_EQ(got.find("\r\n", d) - d - 6, 29u);  // "Sun, 06 Nov 1994 08:49:37 GMT"
  got.replace(d + 6, 29, "D");
  EXPECT_EQ(got,
            "HTTP/1.1 301 Moved Permanently\r\n"
            "Date: D\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n"
            "Location: https://localhost/some/page?q=1\r\n"
            "Content-Length: 22\r\n"
            "\r\n"
            "301 Moved Permanently\n");
}

TEST(LocalReply, HeadKeepsTheLengthAsAFieldAndSendsNoBody) {
  LocalReplyScratch scratch;
  http::Response r;
  EXPECT_EQ(localReply(308, "https://x/", "", true, scratch, r), "");
  EXPECT_EQ(r.body, http::BodySize::None);
  const http::Header* length = r.headers.find("content-length");
  ASSERT_NE(length, nullptr);
  EXPECT_EQ(length->value, "23");
}

}  // namespace
}  // namespace portcullis::proxy
