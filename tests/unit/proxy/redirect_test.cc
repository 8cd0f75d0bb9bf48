// Redirect specs: what the plain-HTTP listener answers (redirect.h).
#include "proxy/redirect.h"

#include <gtest/gtest.h>

#include <string>

namespace portcullis::proxy {
namespace {

using http::Method;

TEST(Redirect, GetAndHeadGet301) {
  EXPECT_EQ(redirectStatus(Method::Get), 301);
  EXPECT_EQ(redirectStatus(Method::Head), 301);
}

TEST(Redirect, MethodsWithBodiesOrSideEffectsGet308) {
  // 308 keeps the method and body (RFC 9110 §15.4.9); a 301 would let clients turn them into GET.
  for (Method m : {Method::Post, Method::Put, Method::Delete, Method::Patch, Method::Options}) {
    EXPECT_EQ(redirectStatus(m), 308) << "method " << static_cast<int>(m);
  }
}

TEST(Redirect, PlainHttpGoesToHttpsWithPathAndQuery) {
  EXPECT_EQ(buildHttpsLocation("example.com", 443, "/a/b", "x=1&y=2", true),
            "https://example.com/a/b?x=1&y=2");
}

TEST(Redirect, NoQueryMeansNoQuestionMark) {
  EXPECT_EQ(buildHttpsLocation("example.com", 443, "/a", "", false), "https://example.com/a");
}

TEST(Redirect, EmptyQueryIsKept) {
  // "/a?" and "/a" are different URIs (RFC 3986 §6.2.3 leaves them distinct for http).
  EXPECT_EQ(buildHttpsLocation("example.com", 443, "/a", "", true), "https://example.com/a?");
}

TEST(Redirect, HostsOwnPortIsDropped) {
  EXPECT_EQ(buildHttpsLocation("example.com:8080", 443, "/", "", false), "https://example.com/");
}

TEST(Redirect, DefaultHttpsPortIsOmitted) {
  EXPECT_EQ(buildHttpsLocation("example.com:80", 443, "/x", "", false), "https://example.com/x");
}

TEST(Redirect, NonDefaultHttpsPortIsIncluded) {
  EXPECT_EQ(buildHttpsLocation("example.com:8080", 8443, "/x", "q", true),
            "https://example.com:8443/x?q");
}

TEST(Redirect, Ipv6LiteralKeepsItsBrackets) {
  EXPECT_EQ(buildHttpsLocation("[::1]:8080", 8443, "/x", "", false), "https://[::1]:8443/x");
}

TEST(Redirect, Ipv6LiteralWithoutPort) {
  EXPECT_EQ(buildHttpsLocation("[2001:db8::1]", 443, "/", "", false), "https://[2001:db8::1]/");
}

TEST(Redirect, EmptyPathBecomesSlash) {
  EXPECT_EQ(buildHttpsLocation("example.com", 443, "", "", false), "https://example.com/");
}

TEST(Redirect, AcmeChallengePathIsRecognised) {
  EXPECT_TRUE(isAcmeChallenge("/.well-known/acme-challenge/abc123"));
  EXPECT_TRUE(isAcmeChallenge("/.well-known/acme-challenge/"));
}

TEST(Redirect, OtherPathsAreNotAcmeChallenges) {
  EXPECT_FALSE(isAcmeChallenge("/.well-known/acme-challenge"));  // no trailing slash
  EXPECT_FALSE(isAcmeChallenge("/.well-known/security.txt"));
  EXPECT_FALSE(isAcmeChallenge("/x/.well-known/acme-challenge/abc"));
  EXPECT_FALSE(isAcmeChallenge("/"));
}

TEST(RedirectAllowList, EmptyListAllowsEveryHost) { EXPECT_TRUE(hostAllowed("anything.test", {})); }

TEST(RedirectAllowList, ExactNameMatchesCaseInsensitively) {
  EXPECT_TRUE(hostAllowed("Example.COM", {"example.com"}));
  EXPECT_FALSE(hostAllowed("www.example.com", {"example.com"}));
}

TEST(RedirectAllowList, WildcardMatchesSubdomainsOnly) {
  EXPECT_TRUE(hostAllowed("a.b.example.com", {"*.example.com"}));
  EXPECT_FALSE(hostAllowed("example.com", {"*.example.com"}));
  EXPECT_FALSE(hostAllowed("badexample.com", {"*.example.com"}));
}

TEST(Hsts, ValueCarriesMaxAgeAndFlags) {
  EXPECT_EQ(hstsValue(31536000, false, false), "max-age=31536000");
  EXPECT_EQ(hstsValue(31536000, true, true), "max-age=31536000; includeSubDomains; preload");
}


// ---------------------------------------------------------------------------------------------
// assignHttpsLocation: what buildHttpsLocation gives, into a kept string, from the parsed host.

TEST(RedirectLocationInPlace, SameAsBuildHttpsLocation) {
  struct HostCase { std::string_view header, host; };
  const HostCase hosts[] = {{"localhost", "localhost"},
                            {"www.example.com:80", "www.example.com"},
                            {"[2001:db8::1]:8080", "[2001:db8::1]"},
                            {"[::1]", "[::1]"}};
  std::string kept;
  for (const auto& h : hosts) {
    for (uint16_t port : {uint16_t{443}, uint16_t{8443}, uint16_t{1}, uint16_t{65535}}) {
      for (std::string_view path : {"", "/", "/some/page"}) {
        for (int q = 0; q < 3; ++q) {
          bool has_query = q > 0;
          std::string_view query = q == 2 ? "q=1&utm_source=x" : "";
          assignHttpsLocation(kept, h.host, port, path, query, has_query);
          EXPECT_EQ(kept, buildHttpsLocation(h.header, port, path, query, has_query))
              << h.header << " " << port << " " << path << " " << q;
        }
      }
    }
  }
}

TEST(RedirectLocationInPlace, KeepsTheStringsStorage) {
  // The per-connection Location string: after the first redirect, no allocation.
  std::string kept;
  assignHttpsLocation(kept, "www.example.com", 8443, "/articles/2024/05/a-long-slug", "page=2", true);
  const char* storage = kept.data();
  assignHttpsLocation(kept, "localhost", 443, "/some/page", "q=1", true);
  EXPECT_EQ(kept, "https://localhost/some/page?q=1");
  EXPECT_EQ(kept.data(), storage);
}

TEST(RedirectLocationInPlace, NearTheParsersLimits) {
  std::string host(253, 'h');
  std::string path = "/" + std::string(8000, 'p');
  std::string kept;
  assignHttpsLocation(kept, host, 65535, path, std::string(100, 'q'), true);
  EXPECT_EQ(kept, "https://" + host + ":65535" + path + "?" + std::string(100, 'q'));
}

TEST(CertificateCovers, ExactNamesAndOneLabelWildcards) {
  const std::vector<std::string> names = {"example.com", "*.example.net", "192.0.2.1"};
  EXPECT_TRUE(certificateCovers(names, "example.com"));
  EXPECT_TRUE(certificateCovers(names, "EXAMPLE.com."));
  EXPECT_TRUE(certificateCovers(names, "www.example.net"));
  EXPECT_TRUE(certificateCovers(names, "192.0.2.1"));
  EXPECT_FALSE(certificateCovers(names, "www.example.com"));
  EXPECT_FALSE(certificateCovers(names, "example.net"));        // the wildcard needs a label
  EXPECT_FALSE(certificateCovers(names, "a.b.example.net"));    // and exactly one
  EXPECT_FALSE(certificateCovers(names, "badexample.net"));
  EXPECT_FALSE(certificateCovers(names, ""));
}

}  // namespace
}  // namespace portcullis::proxy
