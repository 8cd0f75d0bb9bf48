// Requests the proxy must refuse itself: smuggling-prone framing, malformed fields, and the
// configured size limits. None of them may reach the upstream.
#include <gtest/gtest.h>

#include "harness/harness.h"

namespace portcullis::integration {
namespace {

using namespace std::chrono_literals;

class BadRequest : public ::testing::Test {
 protected:
  void SetUp() override {
    ProxyConfig config = ProxyConfig::singleUpstream({app_.address()});
    config.limits = {{"request_line", "1k"}, {"header_bytes", "4k"}, {"header_count", "20"}, {"body", "1m"}};
    ASSERT_TRUE(proxy_.start(config));
  }

  // Sends `request` on a fresh TLS connection and reads the proxy's answer.
  ::testing::AssertionResult sendOver(ClientConnection& c, const std::string& request, Response* out) {
    return c.roundTrip(request, out);
  }
  ::testing::AssertionResult tlsRequest(TlsClient& c, const std::string& request, Response* out) {
    auto ok = c.connect(proxy_.httpsPort());
    if (!ok) return ok;
    return c.roundTrip(request, out);
  }

  // The rejected request must not have reached the upstream. A good request sent afterwards is
  // the barrier: once it has arrived, anything forwarded before it would have too.
  void expectUpstreamSawNothing() {
    TlsClient c;
    Response resp;
    ASSERT_TRUE(tlsRequest(c, getRequest("/barrier"), &resp));
    EXPECT_EQ(resp.status, 200);
    ASSERT_TRUE(app_.waitForRequests(1));
    std::vector<RecordedRequest> got = app_.requests();
    ASSERT_EQ(got.size(), 1u) << "first request at the upstream: " << got[0].request.method << " "
                              << got[0].request.target;
    EXPECT_EQ(got[0].request.target, "/barrier");
    EXPECT_TRUE(app_.protocolErrors().empty()) << app_.protocolErrors().front();
  }

  FakeUpstream app_{"app"};
  ProxyProcess proxy_;
};

TEST_F(BadRequest, ContentLengthWithTransferEncodingIs400AndCloses) {
  // RFC 9112 §6.1: both framings at once is the classic smuggling vector; reject and close,
  // since the two ends could disagree on where the next request starts.
  TlsClient c;
  Response resp;
  ASSERT_TRUE(tlsRequest(c,
                         "POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n"
                         "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
                         &resp));
  EXPECT_EQ(resp.status, 400);
  EXPECT_TRUE(c.waitForClose(3s));
  expectUpstreamSawNothing();
}

TEST_F(BadRequest, ContentLengthWithTransferEncodingOnThePlainListenerIs400) {
  RawClient c;
  ASSERT_TRUE(c.connect(proxy_.httpPort()));
  Response resp;
  ASSERT_TRUE(sendOver(c,
                       "POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n"
                       "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
                       &resp));
  EXPECT_EQ(resp.status, 400);
  EXPECT_TRUE(c.waitForClose(3s));
}

TEST_F(BadRequest, DifferingDuplicateContentLengthIs400) {
  TlsClient c;
  Response resp;
  ASSERT_TRUE(tlsRequest(c, "POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
                         &resp));
  EXPECT_EQ(resp.status, 400);
  expectUpstreamSawNothing();
}

TEST_F(BadRequest, UnknownTransferEncodingIs400) {
  TlsClient c;
  Response resp;
  ASSERT_TRUE(tlsRequest(c, "POST / HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: gzip\r\n\r\nxxxx", &resp));
  EXPECT_EQ(resp.status, 400);
  expectUpstreamSawNothing();
}

TEST_F(BadRequest, ObsFoldIs400) {
  // RFC 9112 §5.2: a server may reject obs-fold with 400; a proxy that unfolded differently from
  // the upstream would disagree with it about the field's value.
  TlsClient c;
  Response resp;
  ASSERT_TRUE(tlsRequest(c, "GET / HTTP/1.1\r\nHost: localhost\r\nX-Folded: a\r\n b\r\n\r\n", &resp));
  EXPECT_EQ(resp.status, 400);
  expectUpstreamSawNothing();
}

TEST_F(BadRequest, WhitespaceBeforeColonIs400) {
  // RFC 9112 §5.1: MUST reject with 400 ("Transfer-Encoding : chunked" smuggling).
  TlsClient c;
  Response resp;
  ASSERT_TRUE(tlsRequest(c, "GET / HTTP/1.1\r\nHost: localhost\r\nX-Spaced : b\r\n\r\n", &resp));
  EXPECT_EQ(resp.status, 400);
  expectUpstreamSawNothing();
}

TEST_F(BadRequest, BareCrIs400) {
  // RFC 9112 §2.2: a bare CR must be rejected or replaced by SP; rejecting is the strict choice.
  TlsClient c;
  Response resp;
  ASSERT_TRUE(tlsRequest(c, "GET / HTTP/1.1\r\nHost: localhost\r\nX-Cr: a\rb\r\n\r\n", &resp));
  EXPECT_EQ(resp.status, 400);
  expectUpstreamSawNothing();
}

TEST_F(BadRequest, RequestLineOverTheLimitIs414) {
  TlsClient c;
  Response resp;
  ASSERT_TRUE(tlsRequest(c, getRequest("/" + std::string(2000, 'a')), &resp));
  EXPECT_EQ(resp.status, 414);
  expectUpstreamSawNothing();
}

TEST_F(BadRequest, HeadersOverTheByteLimitAre431) {
  TlsClient c;
  Response resp;
  ASSERT_TRUE(tlsRequest(c, getRequest("/", "localhost", "X-Big: " + std::string(5000, 'b') + "\r\n"), &resp));
  EXPECT_EQ(resp.status, 431);
  expectUpstreamSawNothing();
}

TEST_F(BadRequest, HeadersOverTheCountLimitAre431) {
  std::string many;
  for (int i = 0; i < 30; ++i) many += "X-H" + std::to_string(i) + ": v\r\n";
  TlsClient c;
  Response resp;
  ASSERT_TRUE(tlsRequest(c, getRequest("/", "localhost", many), &resp));
  EXPECT_EQ(resp.status, 431);
  expectUpstreamSawNothing();
}

TEST_F(BadRequest, ContentLengthOverTheBodyLimitIs413BeforeTheBodyIsSent) {
  // Only the head is sent: the proxy must answer from Content-Length alone.
  TlsClient c;
  Response resp;
  ASSERT_TRUE(tlsRequest(c, "POST /upload HTTP/1.1\r\nHost: localhost\r\nContent-Length: 2000000\r\n\r\n", &resp));
  EXPECT_EQ(resp.status, 413);
  expectUpstreamSawNothing();
}

}  // namespace
}  // namespace portcullis::integration
