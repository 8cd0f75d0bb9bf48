// The plain-HTTP listener: everything goes to https, except ACME HTTP-01 challenges.
#include <gtest/gtest.h>

#include "harness/harness.h"

namespace portcullis::integration {
namespace {

using namespace std::chrono_literals;

class Redirect : public ::testing::Test {
 protected:
  // An "http" listener redirecting to `https_port`, an app upstream on "/", and (if
  // `acme_route`) an acme upstream on /.well-known/acme-challenge/.
  ::testing::AssertionResult startProxy(bool acme_route = true, uint16_t https_port = 8443) {
    ProxyConfig config = ProxyConfig::singleUpstream({app_.address()});
    config.redirect_port = https_port;
    if (acme_route) {
      config.upstreams.push_back({"acme", {acme_.address()}});
      config.routes.insert(config.routes.begin(), {"", "/.well-known/acme-challenge/", "acme"});
    }
    auto ok = proxy_.start(config);
    if (!ok) return ok;
    return client_.connect(proxy_.httpPort());
  }

  FakeUpstream app_{"app"};
  FakeUpstream acme_{"acme"};
  ProxyProcess proxy_;
  RawClient client_;
};

TEST_F(Redirect, PlainHttpGoesToHttpsWithPathAndQuery) {
  ASSERT_TRUE(startProxy());
  Response resp;
  ASSERT_TRUE(client_.roundTrip(getRequest("/a/b?x=1&y=2", "example.com"), &resp));
  EXPECT_EQ(resp.status, 301);
  EXPECT_EQ(resp.headers.get("Location"), "https://example.com:8443/a/b?x=1&y=2");
  EXPECT_EQ(app_.requestCount(), 0u) << "a redirected request must not reach the upstream";
}

TEST_F(Redirect, HostPortIsReplacedByTheHttpsPort) {
  ASSERT_TRUE(startProxy());
  Response resp;
  ASSERT_TRUE(client_.roundTrip(getRequest("/login", "example.com:8080"), &resp));
  EXPECT_EQ(resp.status, 301);
  EXPECT_EQ(resp.headers.get("Location"), "https://example.com:8443/login");
}

TEST_F(Redirect, Ipv6LiteralHostKeepsItsBrackets) {
  ASSERT_TRUE(startProxy());
  Response resp;
  ASSERT_TRUE(client_.roundTrip(getRequest("/", "[::1]:8080"), &resp));
  EXPECT_EQ(resp.status, 301);
  EXPECT_EQ(resp.headers.get("Location"), "https://[::1]:8443/");
}

TEST_F(Redirect, PortIsOmittedWhenTheHttpsPortIs443) {
  ASSERT_TRUE(startProxy(/*acme_route=*/true, /*https_port=*/443));
  Response resp;
  ASSERT_TRUE(client_.roundTrip(getRequest("/p?q=1", "example.com:80"), &resp));
  EXPECT_EQ(resp.status, 301);
  EXPECT_EQ(resp.headers.get("Location"), "https://example.com/p?q=1");
}

TEST_F(Redirect, HeadGets301WithoutBody) {
  ASSERT_TRUE(startProxy());
  Response resp;
  ASSERT_TRUE(client_.roundTrip("HEAD /x HTTP/1.1\r\nHost: example.com\r\n\r\n", &resp, kWait,
                                /*head_request=*/true));
  EXPECT_EQ(resp.status, 301);
  EXPECT_EQ(resp.headers.get("Location"), "https://example.com:8443/x");
  // Nothing may follow the head: the next response must parse cleanly.
  Response next;
  ASSERT_TRUE(client_.roundTrip(getRequest("/y", "example.com"), &next));
  EXPECT_EQ(next.status, 301);
}

TEST_F(Redirect, OtherMethodsGet308SoTheMethodIsKept) {
  // RFC 9110 §15.4.9: 308, unlike 301, forbids turning a POST into a GET.
  ASSERT_TRUE(startProxy());
  for (const char* method : {"POST", "PUT", "DELETE"}) {
    RawClient c;
    ASSERT_TRUE(c.connect(proxy_.httpPort()));
    Response resp;
    ASSERT_TRUE(c.roundTrip(requestWithBody(method, "/form?id=7", "a=1&b=2", "example.com"), &resp)) << method;
    EXPECT_EQ(resp.status, 308) << method;
    EXPECT_EQ(resp.headers.get("Location"), "https://example.com:8443/form?id=7") << method;
  }
  EXPECT_EQ(app_.requestCount(), 0u);
}

TEST_F(Redirect, KeepAliveClientGetsBothRedirectsOnOneConnection) {
  ASSERT_TRUE(startProxy());
  Response first;
  ASSERT_TRUE(client_.roundTrip(getRequest("/first", "example.com"), &first));
  EXPECT_EQ(first.status, 301);
  Response second;
  ASSERT_TRUE(client_.roundTrip(requestWithBody("POST", "/second", "body", "example.com"), &second));
  EXPECT_EQ(second.status, 308);
  EXPECT_EQ(second.headers.get("Location"), "https://example.com:8443/second");
}

TEST_F(Redirect, MissingHostInHttp11Is400) {
  // RFC 9112 §3.2: a 1.1 request without Host gets 400; there is nothing to redirect to anyway.
  ASSERT_TRUE(startProxy());
  Response resp;
  ASSERT_TRUE(client_.roundTrip("GET / HTTP/1.1\r\n\r\n", &resp));
  EXPECT_EQ(resp.status, 400);
  EXPECT_FALSE(resp.headers.has("Location"));
}

TEST_F(Redirect, MalformedHostIs400) {
  // Each would put attacker-chosen text into Location ("example.com/evil" makes
  // https://example.com/evil:8443/... ).
  ASSERT_TRUE(startProxy());
  for (const char* host : {"example.com/evil", "exa mple.com", "example.com:notaport", "user@example.com",
                           "[::1"}) {
    RawClient c;
    ASSERT_TRUE(c.connect(proxy_.httpPort()));
    Response resp;
    ASSERT_TRUE(c.roundTrip(getRequest("/", host), &resp)) << host;
    EXPECT_EQ(resp.status, 400) << "Host: " << host << " got Location "
                                << resp.headers.get("Location").value_or("(none)");
  }
}

TEST_F(Redirect, AcmeChallengeIsProxiedNotRedirected) {
  // Let's Encrypt's HTTP-01 check fetches over plain http and must get the token itself.
  ASSERT_TRUE(startProxy());
  Reply token;
  token.body = "token123.thumbprint";
  acme_.setReply(token);
  Response resp;
  ASSERT_TRUE(client_.roundTrip(getRequest("/.well-known/acme-challenge/token123", "example.com"), &resp));
  EXPECT_EQ(resp.status, 200);
  EXPECT_EQ(resp.body, "token123.thumbprint");
  RecordedRequest got;
  ASSERT_TRUE(acme_.waitForRequest(0, &got));
  EXPECT_EQ(got.request.target, "/.well-known/acme-challenge/token123");
  EXPECT_EQ(app_.requestCount(), 0u);
}

TEST_F(Redirect, AcmeChallengeWithoutAnAcmeRouteIs404) {
  ASSERT_TRUE(startProxy(/*acme_route=*/false));
  Response resp;
  ASSERT_TRUE(client_.roundTrip(getRequest("/.well-known/acme-challenge/token123", "example.com"), &resp));
  EXPECT_EQ(resp.status, 404);
  EXPECT_EQ(app_.requestCount(), 0u) << "the catch-all route must not serve ACME challenges over http";
}

}  // namespace
}  // namespace portcullis::integration
