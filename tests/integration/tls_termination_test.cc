// The TLS listener: protocol versions, ALPN, SNI, forwarding, and round robin over two hosts.
#include <gtest/gtest.h>

#include "harness/harness.h"

namespace portcullis::integration {
namespace {

using namespace std::chrono_literals;

class TlsTermination : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(proxy_.start(ProxyConfig::singleUpstream({app_.address()}))); }

  FakeUpstream app_{"app"};
  ProxyProcess proxy_;
  TlsClient client_;
};

TEST_F(TlsTermination, Tls12ClientIsServed) {
  TlsOptions options;
  options.min_version = options.max_version = TLS1_2_VERSION;
  ASSERT_TRUE(client_.connect(proxy_.httpsPort(), options));
  EXPECT_EQ(client_.protocolVersion(), TLS1_2_VERSION);
  Response resp;
  ASSERT_TRUE(client_.roundTrip(getRequest("/"), &resp));
  EXPECT_EQ(resp.status, 200);
  EXPECT_EQ(resp.body, "ok");
}

TEST_F(TlsTermination, Tls13ClientIsServed) {
  TlsOptions options;
  options.min_version = options.max_version = TLS1_3_VERSION;
  ASSERT_TRUE(client_.connect(proxy_.httpsPort(), options));
  EXPECT_EQ(client_.protocolVersion(), TLS1_3_VERSION);
  Response resp;
  ASSERT_TRUE(client_.roundTrip(getRequest("/"), &resp));
  EXPECT_EQ(resp.status, 200);
}

TEST_F(TlsTermination, Tls11ClientIsRefused) {
  // RFC 8996 deprecates TLS 1.0 and 1.1.
  TlsOptions options;
  options.min_version = options.max_version = TLS1_1_VERSION;
  EXPECT_FALSE(client_.connect(proxy_.httpsPort(), options, 3s));
  EXPECT_EQ(app_.requestCount(), 0u);
}

TEST_F(TlsTermination, AlpnPrefersH2AndServesHttp11ToTheRest) {
  // The default `protocols` is [h2, http/1.1].
  TlsOptions options;
  options.alpn = {"h2", "http/1.1"};
  ASSERT_TRUE(client_.connect(proxy_.httpsPort(), options));
  EXPECT_EQ(client_.alpnSelected(), "h2");
  TlsClient http11;
  options.alpn = {"http/1.1"};
  ASSERT_TRUE(http11.connect(proxy_.httpsPort(), options));
  EXPECT_EQ(http11.alpnSelected(), "http/1.1");
  Response resp;
  ASSERT_TRUE(http11.roundTrip(getRequest("/"), &resp));
  EXPECT_EQ(resp.status, 200);
}

TEST(TlsProtocols, AlpnSelectsHttp11EvenWhenH2IsOfferedIfTheListenerOffersOnlyHttp11) {
  FakeUpstream app{"app"};
  ProxyConfig config = ProxyConfig::singleUpstream({app.address()});
  config.https_extra = {"protocols: [http/1.1]"};
  ProxyProcess proxy;
  ASSERT_TRUE(proxy.start(config));
  TlsClient client;
  TlsOptions options;
  options.alpn = {"h2", "http/1.1"};
  ASSERT_TRUE(client.connect(proxy.httpsPort(), options));
  EXPECT_EQ(client.alpnSelected(), "http/1.1");
  Response resp;
  ASSERT_TRUE(client.roundTrip(getRequest("/"), &resp));
  EXPECT_EQ(resp.status, 200);
}

TEST_F(TlsTermination, ClientWithoutAlpnIsServed) {
  TlsOptions options;
  options.alpn.clear();
  ASSERT_TRUE(client_.connect(proxy_.httpsPort(), options));
  EXPECT_EQ(client_.alpnSelected(), "");
  Response resp;
  ASSERT_TRUE(client_.roundTrip(getRequest("/"), &resp));
  EXPECT_EQ(resp.status, 200);
}

TEST_F(TlsTermination, ClientWithoutSniIsServed) {
  // A client connecting by IP address (curl https://127.0.0.1/) sends no SNI.
  TlsOptions options;
  options.sni.clear();
  ASSERT_TRUE(client_.connect(proxy_.httpsPort(), options));
  Response resp;
  ASSERT_TRUE(client_.roundTrip(getRequest("/", "127.0.0.1"), &resp));
  EXPECT_EQ(resp.status, 200);
}

TEST_F(TlsTermination, RequestAndResponseAreRelayed) {
  Reply reply;
  reply.status = 201;
  reply.headers = {{"X-App", "created"}, {"Set-Cookie", "a=1"}, {"Set-Cookie", "b=2"}};
  reply.body = "{\"id\":3}";
  app_.setReply(reply);
  ASSERT_TRUE(client_.connect(proxy_.httpsPort()));
  Response resp;
  ASSERT_TRUE(client_.roundTrip(
      requestWithBody("POST", "/api/items?id=3", "{\"name\":\"x\"}", "localhost", "Content-Type: application/json\r\n"),
      &resp));
  EXPECT_EQ(resp.status, 201);
  EXPECT_EQ(resp.headers.get("X-App"), "created");
  EXPECT_EQ(resp.headers.getAll("Set-Cookie"), (std::vector<std::string>{"a=1", "b=2"}));
  EXPECT_EQ(resp.body, "{\"id\":3}");

  RecordedRequest got;
  ASSERT_TRUE(app_.waitForRequest(0, &got));
  EXPECT_EQ(got.request.method, "POST");
  EXPECT_EQ(got.request.target, "/api/items?id=3");
  EXPECT_EQ(got.request.headers.get("Content-Type"), "application/json");
  EXPECT_EQ(got.request.body, "{\"name\":\"x\"}");
}

TEST(RoundRobin, TenSequentialRequestsSplitFiveAndFive) {
  // One worker, so one balancer sees every request (each worker keeps its own round-robin state).
  FakeUpstream first("first");
  FakeUpstream second("second");
  ProxyProcess proxy;
  ProxyConfig config = ProxyConfig::singleUpstream({first.address(), second.address()});
  config.workers = 1;
  ASSERT_TRUE(proxy.start(config));
  TlsClient client;
  ASSERT_TRUE(client.connect(proxy.httpsPort()));
  for (int i = 0; i < 10; ++i) {
    Response resp;
    ASSERT_TRUE(client.roundTrip(getRequest("/" + std::to_string(i)), &resp)) << "request " << i;
    EXPECT_EQ(resp.status, 200);
  }
  EXPECT_EQ(first.requestCount(), 5u);
  EXPECT_EQ(second.requestCount(), 5u);
}

}  // namespace
}  // namespace portcullis::integration
