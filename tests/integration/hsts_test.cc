// Strict-Transport-Security (RFC 6797), set per TLS listener with `hsts:`. It goes on every
// response the TLS listener sends, proxied or local, and never on plain HTTP (RFC 6797 §7.2: a
// server must not send it over an insecure transport, and a browser ignores it there anyway).
#include <gtest/gtest.h>

#include "harness/harness.h"

namespace portcullis::integration {
namespace {

using namespace std::chrono_literals;

// Built field by field, so fields added to the harness later keep their defaults.
ProxyConfig::Route route(const std::string& host, const std::string& path, const std::string& upstream) {
  ProxyConfig::Route r;
  r.host = host;
  r.path = path;
  r.upstream = upstream;
  return r;
}

ProxyConfig::Upstream upstream(const std::string& name, const std::string& server) {
  ProxyConfig::Upstream u;
  u.name = name;
  u.servers = {server};
  return u;
}

constexpr char kHstsYaml[] = "hsts: {max_age: 600s, include_subdomains: true, preload: false}";
constexpr char kHstsValue[] = "max-age=600; includeSubDomains";

class Hsts : public ::testing::Test {
 protected:
  // A config whose "https" listener has kHstsYaml (when `hsts`), with one "app" upstream. With
  // `app_host`, its only route is host `app_host` + path /app/, so other requests get local
  // replies (421 for another host, 404 for another path).
  ProxyConfig config(bool hsts = true, const std::string& app_host = "") const {
    ProxyConfig c;
    c.upstreams.push_back(upstream("app", app_.address()));
    if (app_host.empty()) {
      c.routes.push_back(route("", "/", "app"));
    } else {
      c.routes.push_back(route(app_host, "/app/", "app"));
    }
    if (hsts) c.https_extra.push_back(kHstsYaml);
    return c;
  }

  ::testing::AssertionResult startProxy(const ProxyConfig& c) {
    auto ok = proxy_.start(c);
    if (!ok) return ok;
    return client_.connect(proxy_.httpsPort());
  }

  FakeUpstream app_{"app"};
  ProxyProcess proxy_;
  TlsClient client_;
};

TEST_F(Hsts, ProxiedResponseGetsTheConfiguredHeader) {
  ASSERT_TRUE(startProxy(config()));
  Response resp;
  ASSERT_TRUE(client_.roundTrip(getRequest("/"), &resp));
  EXPECT_EQ(resp.status, 200);
  EXPECT_EQ(resp.headers.getAll("Strict-Transport-Security"), std::vector<std::string>{kHstsValue})
      << resp.headers.toString();
}

TEST_F(Hsts, EveryResponseOnAKeepAliveConnectionGetsIt) {
  ASSERT_TRUE(startProxy(config()));
  for (int i = 0; i < 3; ++i) {
    Response resp;
    ASSERT_TRUE(client_.roundTrip(getRequest("/" + std::to_string(i)), &resp)) << "request " << i;
    EXPECT_EQ(resp.headers.getAll("Strict-Transport-Security"), std::vector<std::string>{kHstsValue})
        << "request " << i << ":\n" << resp.headers.toString();
  }
}

TEST_F(Hsts, UpstreamsOwnHeaderIsKeptAndNotDuplicated) {
  // The application knows its own policy (e.g. preload on the apex only); the proxy's is a
  // default. Two STS fields would make a browser use the first and ignore the other (§8.1).
  Reply reply = app_.defaultReply();
  reply.headers.push_back({"strict-transport-security", "max-age=31536000; preload"});
  app_.setReply(reply);
  ASSERT_TRUE(startProxy(config()));
  Response resp;
  ASSERT_TRUE(client_.roundTrip(getRequest("/"), &resp));
  EXPECT_EQ(resp.status, 200);
  EXPECT_EQ(resp.headers.getAll("Strict-Transport-Security"),
            std::vector<std::string>{"max-age=31536000; preload"})
      << resp.headers.toString();
}

TEST_F(Hsts, MisdirectedRequestReplyCarriesIt) {
  ASSERT_TRUE(startProxy(config(true, "example.com")));
  Response resp;
  ASSERT_TRUE(client_.roundTrip(getRequest("/app/x", "other.test"), &resp));
  EXPECT_EQ(resp.status, 421);
  EXPECT_EQ(resp.headers.getAll("Strict-Transport-Security"), std::vector<std::string>{kHstsValue})
      << resp.headers.toString();
  EXPECT_EQ(app_.requestCount(), 0u);
}

TEST_F(Hsts, NotFoundReplyCarriesIt) {
  ASSERT_TRUE(startProxy(config(true, "example.com")));
  Response resp;
  ASSERT_TRUE(client_.roundTrip(getRequest("/elsewhere", "example.com"), &resp));
  EXPECT_EQ(resp.status, 404);
  EXPECT_EQ(resp.headers.getAll("Strict-Transport-Security"), std::vector<std::string>{kHstsValue})
      << resp.headers.toString();
  EXPECT_EQ(app_.requestCount(), 0u);
}

TEST_F(Hsts, BadGatewayReplyCarriesIt) {
  // The upstream refuses connections (nothing listens on its port): a 502 made by the proxy.
  ProxyConfig c = config();
  c.upstreams[0].servers = {"127.0.0.1:" + std::to_string(unusedPort())};
  ASSERT_TRUE(startProxy(c));
  Response resp;
  ASSERT_TRUE(client_.roundTrip(getRequest("/"), &resp));
  EXPECT_EQ(resp.status, 502);
  EXPECT_EQ(resp.headers.getAll("Strict-Transport-Security"), std::vector<std::string>{kHstsValue})
      << resp.headers.toString();
}

TEST_F(Hsts, RedirectOverPlainHttpNeverCarriesIt) {
  ASSERT_TRUE(proxy_.start(config()));
  RawClient plain;
  ASSERT_TRUE(plain.connect(proxy_.httpPort()));
  Response resp;
  ASSERT_TRUE(plain.roundTrip(getRequest("/login", "example.com"), &resp));
  EXPECT_EQ(resp.status, 301);
  EXPECT_FALSE(resp.headers.has("Strict-Transport-Security")) << resp.headers.toString();
}

TEST_F(Hsts, AcmeChallengeProxiedOverPlainHttpNeverCarriesIt) {
  // The one thing the plain listener proxies; it is still plain HTTP (RFC 6797 §7.2).
  ProxyConfig c = config();
  c.routes.insert(c.routes.begin(), route("", "/.well-known/acme-challenge/", "app"));
  ASSERT_TRUE(proxy_.start(c));
  RawClient plain;
  ASSERT_TRUE(plain.connect(proxy_.httpPort()));
  Response resp;
  ASSERT_TRUE(plain.roundTrip(getRequest("/.well-known/acme-challenge/token", "example.com"), &resp));
  EXPECT_EQ(resp.status, 200);
  EXPECT_EQ(app_.requestCount(), 1u);
  EXPECT_FALSE(resp.headers.has("Strict-Transport-Security")) << resp.headers.toString();
}

TEST_F(Hsts, WithoutHstsConfiguredNoHeaderIsAdded) {
  ASSERT_TRUE(startProxy(config(/*hsts=*/false)));
  Response resp;
  ASSERT_TRUE(client_.roundTrip(getRequest("/"), &resp));
  EXPECT_EQ(resp.status, 200);
  EXPECT_FALSE(resp.headers.has("Strict-Transport-Security")) << resp.headers.toString();
}

TEST_F(Hsts, WithoutHstsConfiguredLocalRepliesGetNoHeaderEither) {
  ASSERT_TRUE(startProxy(config(/*hsts=*/false, "example.com")));
  Response resp;
  ASSERT_TRUE(client_.roundTrip(getRequest("/", "other.test"), &resp));
  EXPECT_EQ(resp.status, 421);
  EXPECT_FALSE(resp.headers.has("Strict-Transport-Security")) << resp.headers.toString();
}

}  // namespace
}  // namespace portcullis::integration
