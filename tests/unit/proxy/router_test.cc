// Router specs: host/path -> cluster, with nginx-like precedence (router.h). Configs are built
// by hand so each test shows exactly the routes it relies on.
#include "proxy/router.h"

#include <gtest/gtest.h>

#include <initializer_list>
#include <string>

#include "config/model.h"

namespace portcullis::proxy {
namespace {

struct R {
  std::string host;
  std::string path;
  std::string upstream;
};

// Upstreams "app0".."app5" (cluster index = the digit), plus the given routes.
config::Config makeConfig(std::initializer_list<R> routes) {
  config::Config cfg;
  for (int i = 0; i < 6; ++i) {
    config::Upstream u;
    u.name = "app" + std::to_string(i);
    cfg.upstreams.push_back(u);
  }
  for (const R& r : routes) {
    config::Route route;
    route.host = r.host;
    route.path_prefix = r.path;
    route.upstream = r.upstream;
    cfg.routes.push_back(route);
  }
  return cfg;
}

::testing::AssertionResult forwardsTo(const RouteMatch& m, size_t cluster) {
  if (m.kind != RouteMatch::Kind::Forward)
    return ::testing::AssertionFailure() << "not Forward (kind " << static_cast<int>(m.kind) << ")";
  if (m.cluster != cluster)
    return ::testing::AssertionFailure() << "cluster " << m.cluster << ", expected " << cluster;
  return ::testing::AssertionSuccess();
}

TEST(Router, ExactHostRouteMatchesItsHost) {
  Router r(makeConfig({{"example.com", "/", "app1"}}));
  EXPECT_TRUE(forwardsTo(r.match("example.com", "/"), 1));
}

TEST(Router, ExactHostDoesNotMatchOtherHosts) {
  Router r(makeConfig({{"example.com", "/", "app1"}}));
  EXPECT_EQ(r.match("example.org", "/").kind, RouteMatch::Kind::NoHost);
  EXPECT_EQ(r.match("www.example.com", "/").kind, RouteMatch::Kind::NoHost);
}

TEST(Router, HostComparisonIsCaseInsensitive) {
  Router r(makeConfig({{"Example.COM", "/", "app1"}}));
  EXPECT_TRUE(forwardsTo(r.match("eXAMPLE.com", "/"), 1));
}

TEST(Router, WildcardMatchesOneLabel) {
  Router r(makeConfig({{"*.example.com", "/", "app2"}}));
  EXPECT_TRUE(forwardsTo(r.match("a.example.com", "/"), 2));
}

TEST(Router, WildcardMatchesSeveralLabels) {
  Router r(makeConfig({{"*.example.com", "/", "app2"}}));
  EXPECT_TRUE(forwardsTo(r.match("a.b.example.com", "/"), 2));
}

TEST(Router, WildcardIsCaseInsensitive) {
  Router r(makeConfig({{"*.Example.com", "/", "app2"}}));
  EXPECT_TRUE(forwardsTo(r.match("A.EXAMPLE.COM", "/"), 2));
}

TEST(Router, WildcardDoesNotMatchTheBareDomain) {
  Router r(makeConfig({{"*.example.com", "/", "app2"}}));
  EXPECT_EQ(r.match("example.com", "/").kind, RouteMatch::Kind::NoHost);
}

TEST(Router, WildcardNeedsALabelBoundary) {
  Router r(makeConfig({{"*.example.com", "/", "app2"}}));
  EXPECT_EQ(r.match("badexample.com", "/").kind, RouteMatch::Kind::NoHost);
}

TEST(Router, AnyHostRouteMatchesEveryHost) {
  Router r(makeConfig({{"", "/", "app3"}}));
  EXPECT_TRUE(forwardsTo(r.match("example.com", "/"), 3));
  EXPECT_TRUE(forwardsTo(r.match("10.0.0.1", "/x"), 3));
}

TEST(Router, ExactHostBeatsWildcard) {
  // Declaration order must not matter: the wildcard comes first on purpose.
  Router r(makeConfig({{"*.example.com", "/", "app2"}, {"www.example.com", "/", "app1"}}));
  EXPECT_TRUE(forwardsTo(r.match("www.example.com", "/"), 1));
  EXPECT_TRUE(forwardsTo(r.match("api.example.com", "/"), 2));
}

TEST(Router, ExactHostBeatsAnyHost) {
  Router r(makeConfig({{"", "/", "app3"}, {"example.com", "/", "app1"}}));
  EXPECT_TRUE(forwardsTo(r.match("example.com", "/"), 1));
  EXPECT_TRUE(forwardsTo(r.match("other.test", "/"), 3));
}

TEST(Router, WildcardBeatsAnyHost) {
  Router r(makeConfig({{"", "/", "app3"}, {"*.example.com", "/", "app2"}}));
  EXPECT_TRUE(forwardsTo(r.match("a.example.com", "/"), 2));
}

TEST(Router, LongestWildcardSuffixWins) {
  Router r(makeConfig({{"*.example.com", "/", "app2"}, {"*.b.example.com", "/", "app4"}}));
  EXPECT_TRUE(forwardsTo(r.match("a.b.example.com", "/"), 4));
  EXPECT_TRUE(forwardsTo(r.match("a.c.example.com", "/"), 2));
}

TEST(Router, LongestPathPrefixWins) {
  Router r(makeConfig({{"example.com", "/", "app1"},
                       {"example.com", "/api/v2/", "app4"},
                       {"example.com", "/api/", "app2"}}));
  EXPECT_TRUE(forwardsTo(r.match("example.com", "/api/v2/users"), 4));
  EXPECT_TRUE(forwardsTo(r.match("example.com", "/api/v1/users"), 2));
  EXPECT_TRUE(forwardsTo(r.match("example.com", "/static/a.css"), 1));
}

TEST(Router, PathPrefixIsCaseSensitive) {
  // RFC 3986 §6.2.2.1: only scheme and host are case-insensitive; the path is not.
  Router r(makeConfig({{"example.com", "/api/", "app2"}}));
  EXPECT_EQ(r.match("example.com", "/API/x").kind, RouteMatch::Kind::NoPath);
}

TEST(Router, PathIsChosenOnlyWithinTheWinningHostTier) {
  // The exact host wins the host tier even though only the any-host route has a matching
  // path: the request is a 404 for example.com, not silently sent to the catch-all app.
  Router r(makeConfig({{"example.com", "/api/", "app1"}, {"", "/", "app3"}}));
  EXPECT_EQ(r.match("example.com", "/other").kind, RouteMatch::Kind::NoPath);
}

TEST(Router, UnknownHostIsNoHost) {
  Router r(makeConfig({{"example.com", "/", "app1"}, {"*.example.org", "/", "app2"}}));
  EXPECT_EQ(r.match("unknown.test", "/").kind, RouteMatch::Kind::NoHost);
}

TEST(Router, KnownHostWithoutMatchingPathIsNoPath) {
  Router r(makeConfig({{"example.com", "/api/", "app1"}}));
  EXPECT_EQ(r.match("example.com", "/").kind, RouteMatch::Kind::NoPath);
}

TEST(Router, EmptyRouterMatchesNothing) {
  Router r;
  EXPECT_EQ(r.match("example.com", "/").kind, RouteMatch::Kind::NoHost);
}

TEST(Router, ClusterIsTheIndexOfTheNamedUpstream) {
  Router r(makeConfig({{"a.test", "/", "app5"}, {"b.test", "/", "app0"}}));
  EXPECT_TRUE(forwardsTo(r.match("a.test", "/"), 5));
  EXPECT_TRUE(forwardsTo(r.match("b.test", "/"), 0));
}

TEST(Router, AcmeOnlyMatchesAcmeChallengeRoutes) {
  Router r(makeConfig({{"", "/", "app1"}, {"", "/.well-known/acme-challenge/", "app5"}}));
  EXPECT_TRUE(forwardsTo(r.match("example.com", "/.well-known/acme-challenge/tok", true), 5));
}

TEST(Router, AcmeOnlyIgnoresOrdinaryRoutes) {
  Router r(makeConfig({{"", "/", "app1"}, {"", "/.well-known/acme-challenge/", "app5"}}));
  EXPECT_EQ(r.match("example.com", "/index.html", true).kind, RouteMatch::Kind::NoPath);
}

TEST(Router, AcmeOnlyWithoutAcmeRoutesIsNoHost) {
  Router r(makeConfig({{"example.com", "/", "app1"}}));
  EXPECT_EQ(r.match("example.com", "/.well-known/acme-challenge/tok", true).kind,
            RouteMatch::Kind::NoHost);
}

TEST(Router, AcmeOnlyIsNotShadowedByAMoreSpecificOrdinaryHost) {
  // The exact-host app route would win normally; on the redirect listener only the ACME route
  // counts, so the challenge still reaches the ACME client.
  Router r(makeConfig({{"example.com", "/", "app1"}, {"", "/.well-known/acme-challenge/", "app5"}}));
  EXPECT_TRUE(forwardsTo(r.match("example.com", "/.well-known/acme-challenge/tok", true), 5));
  EXPECT_TRUE(forwardsTo(r.match("example.com", "/.well-known/acme-challenge/tok", false), 1));
}

TEST(Router, AStaticRouteWithoutUpstreamHasNoCluster) {
  // A static route without fallback names no upstream: it must not borrow cluster 0.
  config::Config cfg = makeConfig({{"", "/static/", ""}, {"", "/", "app3"}});
  cfg.routes[0].static_files = config::StaticFiles{};
  Router r(cfg);
  RouteMatch m = r.match("example.com", "/static/app.css");
  EXPECT_EQ(m.kind, RouteMatch::Kind::Forward);
  EXPECT_EQ(m.route, 0u);
  EXPECT_EQ(m.cluster, RouteMatch::kNoCluster);
  EXPECT_TRUE(forwardsTo(r.match("example.com", "/other"), 3));
}

}  // namespace
}  // namespace portcullis::proxy
