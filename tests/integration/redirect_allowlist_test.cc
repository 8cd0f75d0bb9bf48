// redirect_to_https.allowed_hosts: the plain listener redirects only the names it serves.
// Without the list, "Host: evil.test" would get a redirect to https://evil.test/, so the proxy
// would vouch for any name a client (or a cache-poisoning attacker) made up; with it, other
// hosts get 421 Misdirected Request (RFC 9110 §15.5.20) and no Location at all.
#include <gtest/gtest.h>

#include "harness/harness.h"

namespace portcullis::integration {
namespace {

class RedirectAllowList : public ::testing::Test {
 protected:
  void SetUp() override {
    ProxyConfig config = ProxyConfig::singleUpstream({app_.address()});
    config.redirect_port = 443;  // so Location carries no port
    config.redirect_allowed_hosts = {"example.com", "*.example.org"};
    ASSERT_TRUE(proxy_.start(config));
  }

  // One GET on a fresh connection to the plain listener.
  ::testing::AssertionResult get(const std::string& host, Response* out, const std::string& target = "/") {
    RawClient c;
    auto ok = c.connect(proxy_.httpPort());
    if (!ok) return ok;
    return c.roundTrip(getRequest(target, host), out);
  }

  FakeUpstream app_{"app"};
  ProxyProcess proxy_;
};

TEST_F(RedirectAllowList, ExactHostIsRedirectedWithPathAndQuery) {
  Response resp;
  ASSERT_TRUE(get("example.com", &resp, "/a/b?x=1"));
  EXPECT_EQ(resp.status, 301);
  EXPECT_EQ(resp.headers.get("Location"), "https://example.com/a/b?x=1");
}

TEST_F(RedirectAllowList, WildcardMatchesADeeperSubdomain) {
  Response resp;
  ASSERT_TRUE(get("a.b.example.org", &resp, "/p"));
  EXPECT_EQ(resp.status, 301);
  EXPECT_EQ(resp.headers.get("Location"), "https://a.b.example.org/p");
}

TEST_F(RedirectAllowList, HostNotOnTheListGets421WithoutLocation) {
  Response resp;
  ASSERT_TRUE(get("evil.test", &resp, "/p"));
  EXPECT_EQ(resp.status, 421);
  EXPECT_FALSE(resp.headers.has("Location")) << resp.headers.toString();
  EXPECT_EQ(app_.requestCount(), 0u);
}

TEST_F(RedirectAllowList, HostIsMatchedIgnoringCaseAndPortButKeptAsSent) {
  // Host names are case-insensitive (RFC 9110 §4.2.3); the Location keeps the client's
  // spelling, and the :80 of the plain listener gives way to https' default port.
  Response resp;
  ASSERT_TRUE(get("EXAMPLE.com:80", &resp));
  EXPECT_EQ(resp.status, 301);
  EXPECT_EQ(resp.headers.get("Location"), "https://EXAMPLE.com/");
}

TEST_F(RedirectAllowList, WildcardDoesNotMatchTheBareDomain) {
  // "*.example.org" is one or more labels in front of example.org, as in routes.
  Response resp;
  ASSERT_TRUE(get("example.org", &resp));
  EXPECT_EQ(resp.status, 421);
  EXPECT_FALSE(resp.headers.has("Location")) << resp.headers.toString();
}

TEST_F(RedirectAllowList, NamesThatOnlyEndLikeAnAllowedNameGet421) {
  // A suffix match without the dot would hand out redirects for anyone's lookalike domain.
  for (const char* host : {"evilexample.org", "notexample.com", "example.com.evil.test"}) {
    Response resp;
    ASSERT_TRUE(get(host, &resp)) << host;
    EXPECT_EQ(resp.status, 421) << "Host: " << host << " got Location "
                                << resp.headers.get("Location").value_or("(none)");
    EXPECT_FALSE(resp.headers.has("Location")) << host;
  }
}

TEST_F(RedirectAllowList, KeepAliveConnectionGoesOnAfterA421) {
  // A 421 is an ordinary answer: the client may retry the right name on the same connection.
  RawClient c;
  ASSERT_TRUE(c.connect(proxy_.httpPort()));
  Response refused;
  ASSERT_TRUE(c.roundTrip(getRequest("/", "evil.test"), &refused));
  EXPECT_EQ(refused.status, 421);
  Response redirected;
  ASSERT_TRUE(c.roundTrip(getRequest("/", "example.com"), &redirected));
  EXPECT_EQ(redirected.status, 301);
  EXPECT_EQ(redirected.headers.get("Location"), "https://example.com/");
}

}  // namespace
}  // namespace portcullis::integration
