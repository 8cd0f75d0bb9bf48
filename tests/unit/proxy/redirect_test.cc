// Redirect specs: what the plain-HTTP listener answers (redirect.h).
#include "proxy/redirect.h"

#include <gtest/gtest.h>

#include <string>

#include "base/buffer.h"
#include "http/date.h"
#include "http/serializer.h"

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
// appendHttpsRedirect: the one-pass writer must send exactly what the session sent before with
// buildHttpsLocation + the serializer (sendLocalReply), for every combination it can see.

namespace one_pass {

std::string contents(base::Buffer& b) { return std::string(b.view()); }

// What Session::sendLocalReply(status, buildHttpsLocation(...)) wrote (main, 2026-12-03).
std::string reference(const HttpsRedirect& r, std::string_view host_header) {
  base::Buffer out;
  std::string location = buildHttpsLocation(host_header, r.https_port, r.path, r.query, r.has_query);
  http::appendStatusLine(out, r.status);
  http::appendHeader(out, "Date", http::httpDateNow());
  http::appendHeader(out, "Content-Type", "text/plain; charset=utf-8");
  http::appendHeader(out, "Location", location);
  if (!r.hsts.empty()) http::appendHeader(out, "Strict-Transport-Security", r.hsts);
  std::string_view reason = http::reasonPhrase(r.status);
  http::appendHeader(out, "Content-Length", static_cast<uint64_t>(3 + 1 + reason.size() + 1));
  if (r.close) http::appendHeader(out, "Connection", "close");
  else if (r.http10_keep_alive) http::appendHeader(out, "Connection", "keep-alive");
  http::appendEndOfHead(out);
  if (!r.head) {
    out.append(std::to_string(r.status));
    out.append(" ");
    out.append(reason);
    out.append("\n");
  }
  return contents(out);
}

// The Date can tick between the two writes: retry once (a second cannot tick twice in a row).
void expectSame(const HttpsRedirect& r, std::string_view host_header) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    base::Buffer out;
    size_t n = appendHttpsRedirect(out, r);
    std::string got = contents(out);
    std::string want = reference(r, host_header);
    if (got != want && attempt == 0) continue;
    EXPECT_EQ(got, want) << "host " << host_header;
    EXPECT_EQ(n, got.size());
  }
}

}  // namespace one_pass

TEST(RedirectOnePass, SameBytesAsLocationPlusSerializer) {
  struct HostCase { std::string_view header, host; };
  const HostCase hosts[] = {{"localhost", "localhost"},
                            {"www.example.com:80", "www.example.com"},
                            {"[2001:db8::1]:8080", "[2001:db8::1]"},
                            {"[::1]", "[::1]"}};
  for (const auto& h : hosts) {
    // 301 and 308 are what redirectStatus gives (spelled out in appendHttpsRedirect); 302, 307
    // and 503 go the general way.
    for (int status : {301, 308, 302, 307, 503}) {
      for (uint16_t port : {uint16_t{443}, uint16_t{8443}, uint16_t{1}, uint16_t{65535}}) {
        for (int flags = 0; flags < 32; ++flags) {
          HttpsRedirect r;
          r.status = status;
          r.host = h.host;
          r.https_port = port;
          r.path = (flags & 1) ? "/some/page" : "";
          r.has_query = flags & 2;
          r.query = (flags & 2) && (flags & 4) ? "q=1&utm_source=x" : "";
          r.hsts = (flags & 8) ? "max-age=31536000; includeSubDomains" : "";
          r.close = flags & 16;
          r.http10_keep_alive = !r.close && (flags & 4);
          r.head = (flags & 3) == 3;
          one_pass::expectSame(r, h.header);
        }
      }
    }
  }
}

TEST(RedirectOnePass, ExactBytesOfTheBenchmarkRedirect) {
  HttpsRedirect r;
  r.host = "localhost";
  r.path = "/some/page";
  r.query = "q=1";
  r.has_query = true;
  base::Buffer out;
  appendHttpsRedirect(out, r);
  std::string got(out.view());
  std::string date(http::httpDateNow());
  // A tick between the two reads only changes the Date: compare around it.
  size_t d = got.find("Date: ");
  ASSERT_NE(d, std::string::npos);
  got.replace(d + 6, got.find("\r\n", d) - d - 6, "D");
  EXPECT_EQ(got,
            "HTTP/1.1 301 Moved Permanently\r\n"
            "Date: D\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n"
            "Location: https://localhost/some/page?q=1\r\n"
            "Content-Length: 22\r\n"
            "\r\n"
            "301 Moved Permanently\n");
}

TEST(RedirectOnePass, AppendsAfterWhatIsAlreadyBuffered) {
  // A pipelined request's answer goes behind the previous one still in the output buffer.
  base::Buffer out;
  out.append("previous");
  HttpsRedirect r;
  r.status = 308;
  r.host = "a.test";
  r.path = "/x";
  r.head = true;
  size_t n = appendHttpsRedirect(out, r);
  std::string got(out.view());
  EXPECT_EQ(got.rfind("previousHTTP/1.1 308 Permanent Redirect\r\n", 0), 0u);
  EXPECT_EQ(got.size(), 8 + n);
  EXPECT_NE(got.find("\r\nLocation: https://a.test/x\r\n"), std::string::npos);
  EXPECT_TRUE(got.ends_with("\r\n\r\n"));  // HEAD: no body
}

TEST(RedirectOnePass, LongHostAndPathGrowTheBuffer) {
  // Near the limits the parser allows (8 KiB request line): the reserve covers them.
  std::string host(253, 'h');
  std::string path = "/" + std::string(8000, 'p');
  std::string query(100, 'q');
  HttpsRedirect r;
  r.host = host;
  r.https_port = 65535;
  r.path = path;
  r.query = query;
  r.has_query = true;
  base::Buffer out;
  appendHttpsRedirect(out, r);
  std::string got(out.view());
  EXPECT_NE(got.find("Location: https://" + host + ":65535" + path + "?" + query + "\r\n"), std::string::npos);
  EXPECT_TRUE(got.ends_with("\r\n\r\n301 Moved Permanently\n"));
}

}  // namespace
}  // namespace portcullis::proxy
