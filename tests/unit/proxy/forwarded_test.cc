// Header rewriting specs (forwarded.h). Requests and responses are real bytes run through the
// http parsers; the rewritten head is parsed again, so each test checks what an upstream (or a
// client) would actually see, not the rewriter's internals.
#include "proxy/forwarded.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "base/buffer.h"
#include "http/parser.h"
#include "http/serializer.h"

namespace portcullis::proxy {
namespace {

using http::Framing;
using http::Method;

ForwardInfo defaultInfo() {
  ForwardInfo info;
  info.client_ip = "203.0.113.7";
  info.https = true;
  info.local_port = 443;
  return info;
}

std::vector<std::string> valuesOf(const std::vector<http::Header>& headers, std::string_view name) {
  std::vector<std::string> out;
  for (const auto& h : headers)
    if (http::iequals(h.name, name)) out.emplace_back(h.value);
  return out;
}

// A client request as the proxy parsed it, and what the proxy sends upstream for it (also
// parsed). Not movable: the heads are views into the strings held here.
class Upstream {
 public:
  explicit Upstream(std::string client_bytes, ForwardInfo info = defaultInfo())
      : client_bytes_(std::move(client_bytes)) {
    http::RequestParser in;
    if (in.parse(client_bytes_, client_) != http::ParseStatus::Complete) {
      ADD_FAILURE() << "client request does not parse: " << in.errorDetail();
      return;
    }
    base::Buffer out;
    http::HeaderList fields;
    ForwardScratch scratch;
    upstreamRequestFields(client_, info, scratch, fields);
    appendUpstreamRequestHead(out, client_, fields);
    finishUpstreamRequestHead(out, client_.framing, client_.content_length);
    sent_ = std::string(out.view());
    http::RequestParser again;
    if (again.parse(sent_, head_) != http::ParseStatus::Complete) {
      ADD_FAILURE() << "upstream request does not parse (" << again.errorDetail() << "):\n" << sent_;
    }
  }
  Upstream(const Upstream&) = delete;
  Upstream& operator=(const Upstream&) = delete;

  const std::string& text() const { return sent_; }
  const http::RequestHead& head() const { return head_; }
  std::string requestLine() const { return sent_.substr(0, sent_.find("\r\n")); }
  std::vector<std::string> values(std::string_view name) const { return valuesOf(head_.headers, name); }
  bool has(std::string_view name) const { return !values(name).empty(); }

 private:
  std::string client_bytes_;
  http::RequestHead client_;
  std::string sent_;
  http::RequestHead head_;
};

using Strings = std::vector<std::string>;

// ---- Request: headers the proxy sets -----------------------------------------------------

TEST(UpstreamRequest, XForwardedForIsTheClientAddress) {
  Upstream u("GET / HTTP/1.1\r\nHost: example.com\r\n\r\n");
  EXPECT_EQ(u.values("X-Forwarded-For"), Strings{"203.0.113.7"});
}

TEST(UpstreamRequest, XForwardedProtoIsHttpsOnTheTlsListener) {
  Upstream u("GET / HTTP/1.1\r\nHost: example.com\r\n\r\n");
  EXPECT_EQ(u.values("X-Forwarded-Proto"), Strings{"https"});
}

TEST(UpstreamRequest, XForwardedProtoIsHttpOnAPlainListener) {
  ForwardInfo info = defaultInfo();
  info.https = false;
  info.local_port = 80;
  Upstream u("GET / HTTP/1.1\r\nHost: example.com\r\n\r\n", info);
  EXPECT_EQ(u.values("X-Forwarded-Proto"), Strings{"http"});
  EXPECT_EQ(u.values("Forwarded"), Strings{"for=203.0.113.7;proto=http"});
}

TEST(UpstreamRequest, RequestIdReplacesTheClientSentOne) {
  ForwardInfo info = defaultInfo();
  info.request_id_header = "X-Request-Id";
  info.request_id = "0123456789abcdef0123456789abcdef";
  Upstream u("GET / HTTP/1.1\r\nHost: example.com\r\nx-request-id: forged\r\n\r\n", info);
  EXPECT_EQ(u.values("X-Request-Id"), Strings{"0123456789abcdef0123456789abcdef"});
}

TEST(UpstreamRequest, NoRequestIdHeaderWhenIdsAreOff) {
  Upstream u("GET / HTTP/1.1\r\nHost: example.com\r\nX-Request-Id: from-client\r\n\r\n");
  // Off: the header is an ordinary one and passes through.
  EXPECT_EQ(u.values("X-Request-Id"), Strings{"from-client"});
}

TEST(UpstreamRequest, XForwardedHostIsTheHostHeader) {
  Upstream u("GET / HTTP/1.1\r\nHost: example.com:8443\r\n\r\n");
  EXPECT_EQ(u.values("X-Forwarded-Host"), Strings{"example.com:8443"});
}

TEST(UpstreamRequest, XForwardedPortIsTheListenerPort) {
  ForwardInfo info = defaultInfo();
  info.local_port = 8443;
  Upstream u("GET / HTTP/1.1\r\nHost: example.com\r\n\r\n", info);
  EXPECT_EQ(u.values("X-Forwarded-Port"), Strings{"8443"});
}

TEST(UpstreamRequest, XRealIpIsTheClientAddress) {
  Upstream u("GET / HTTP/1.1\r\nHost: example.com\r\n\r\n");
  EXPECT_EQ(u.values("X-Real-IP"), Strings{"203.0.113.7"});
}

TEST(UpstreamRequest, ForwardedCarriesClientAndProto) {
  Upstream u("GET / HTTP/1.1\r\nHost: example.com\r\n\r\n");
  EXPECT_EQ(u.values("Forwarded"), Strings{"for=203.0.113.7;proto=https"});
}

TEST(UpstreamRequest, Ipv6ClientInForwardedIsQuotedAndBracketed) {
  // RFC 7239 §6: an IPv6 node is "[...]", and ':' / '[' need a quoted-string.
  ForwardInfo info = defaultInfo();
  info.client_ip = "2001:db8::1";
  Upstream u("GET / HTTP/1.1\r\nHost: example.com\r\n\r\n", info);
  EXPECT_EQ(u.values("Forwarded"), Strings{"for=\"[2001:db8::1]\";proto=https"});
  EXPECT_EQ(u.values("X-Forwarded-For"), Strings{"2001:db8::1"});  // de-facto: no brackets
}

// ---- Request: what a client may not claim ------------------------------------------------

TEST(UpstreamRequest, ClientCannotClaimHttpsThroughXForwardedProto) {
  ForwardInfo info = defaultInfo();
  info.https = false;
  Upstream u("GET / HTTP/1.1\r\nHost: example.com\r\nX-Forwarded-Proto: http, https\r\n\r\n", info);
  EXPECT_EQ(u.values("X-Forwarded-Proto"), Strings{"http"});
}

TEST(UpstreamRequest, ClientXForwardedProtocolIsRemoved) {
  Upstream u("GET / HTTP/1.1\r\nHost: example.com\r\nX-Forwarded-Protocol: https\r\n\r\n");
  EXPECT_FALSE(u.has("X-Forwarded-Protocol"));
}

TEST(UpstreamRequest, ClientXForwardedSslIsRemoved) {
  Upstream u("GET / HTTP/1.1\r\nHost: example.com\r\nX-Forwarded-Ssl: on\r\n\r\n");
  EXPECT_FALSE(u.has("X-Forwarded-Ssl"));
}

TEST(UpstreamRequest, ClientForwardedIsReplaced) {
  Upstream u("GET / HTTP/1.1\r\nHost: example.com\r\nForwarded: for=10.0.0.1;proto=https\r\n\r\n");
  EXPECT_EQ(u.values("Forwarded"), Strings{"for=203.0.113.7;proto=https"});
}

TEST(UpstreamRequest, ClientXRealIpIsReplaced) {
  Upstream u("GET / HTTP/1.1\r\nHost: example.com\r\nX-Real-IP: 10.0.0.1\r\n\r\n");
  EXPECT_EQ(u.values("X-Real-IP"), Strings{"203.0.113.7"});
}

TEST(UpstreamRequest, ClientXForwardedForIsReplacedNotAppended) {
  Upstream u("GET / HTTP/1.1\r\nHost: example.com\r\nX-Forwarded-For: 10.0.0.1\r\n\r\n");
  EXPECT_EQ(u.values("X-Forwarded-For"), Strings{"203.0.113.7"});
}

TEST(UpstreamRequest, ClientXForwardedHostAndPortAreReplaced) {
  Upstream u("GET / HTTP/1.1\r\nHost: example.com\r\nX-Forwarded-Host: evil.test\r\n"
             "X-Forwarded-Port: 1\r\n\r\n");
  EXPECT_EQ(u.values("X-Forwarded-Host"), Strings{"example.com"});
  EXPECT_EQ(u.values("X-Forwarded-Port"), Strings{"443"});
}

TEST(UpstreamRequest, HeaderNamesWithUnderscoreAreDropped) {
  // WSGI maps '-' and '_' both to '_': these would impersonate trusted environ keys.
  Upstream u("GET / HTTP/1.1\r\nHost: example.com\r\nX_Forwarded_Proto: https\r\n"
             "Script_Name: /admin\r\nX-Custom: kept\r\n\r\n");
  EXPECT_FALSE(u.has("X_Forwarded_Proto"));
  EXPECT_FALSE(u.has("Script_Name"));
  EXPECT_EQ(u.values("X-Custom"), Strings{"kept"});
}

// ---- Request: hop-by-hop and framing -----------------------------------------------------

TEST(UpstreamRequest, HopByHopHeadersAreRemoved) {
  Upstream u("GET / HTTP/1.1\r\nHost: example.com\r\nConnection: keep-alive\r\n"
             "Keep-Alive: timeout=5\r\nProxy-Connection: keep-alive\r\nTE: trailers\r\n"
             "Trailer: X-Checksum\r\nUpgrade: websocket\r\n\r\n");
  for (const char* name : {"Connection", "Keep-Alive", "Proxy-Connection", "TE", "Trailer", "Upgrade"}) {
    EXPECT_FALSE(u.has(name)) << name << " was forwarded:\n" << u.text();
  }
}

TEST(UpstreamRequest, HeadersListedInConnectionAreRemoved) {
  Upstream u("GET / HTTP/1.1\r\nHost: example.com\r\nConnection: close, X-Secret\r\n"
             "X-Secret: hop-only\r\nX-Other: end-to-end\r\n\r\n");
  EXPECT_FALSE(u.has("X-Secret"));
  EXPECT_EQ(u.values("X-Other"), Strings{"end-to-end"});
}

TEST(UpstreamRequest, ConnectionOptionsNameNoHeaderHoweverManyNamesAreListed) {
  // "close" and "keep-alive" in Connection are options, not header names: a header called
  // "Close" stays, also past the 8 names the fast path keeps (then every header is rechecked).
  for (const char* list : {"close, X-A", "close, X-A, X-B, X-C, X-D, X-E, X-F, X-G, X-H, X-I"}) {
    Upstream u(std::string("GET / HTTP/1.1\r\nHost: example.com\r\nConnection: ") + list +
               "\r\nX-A: hop\r\nClose: end-to-end\r\n\r\n");
    EXPECT_FALSE(u.has("X-A")) << list;
    EXPECT_EQ(u.values("Close"), Strings{"end-to-end"}) << list;
  }
}

TEST(UpstreamRequest, EndToEndHeadersPassUnchangedInOrder) {
  Upstream u("GET / HTTP/1.1\r\nHost: example.com\r\nAccept: text/html\r\n"
             "Cookie: a=1\r\nCookie: b=2\r\nUser-Agent: test/1.0\r\n\r\n");
  EXPECT_EQ(u.values("Accept"), Strings{"text/html"});
  EXPECT_EQ(u.values("Cookie"), (Strings{"a=1", "b=2"}));
  EXPECT_EQ(u.values("User-Agent"), Strings{"test/1.0"});
}

TEST(UpstreamRequest, ContentLengthBodyKeepsOneContentLength) {
  Upstream u("POST /f HTTP/1.1\r\nHost: example.com\r\nContent-Length: 5\r\n\r\n");
  EXPECT_EQ(u.values("Content-Length"), Strings{"5"});
  EXPECT_FALSE(u.has("Transfer-Encoding"));
  EXPECT_EQ(u.head().framing, Framing::ContentLength);
  EXPECT_EQ(u.head().content_length, 5u);
}

TEST(UpstreamRequest, ChunkedBodyIsReframedAsChunked) {
  Upstream u("POST /f HTTP/1.1\r\nHost: example.com\r\nTransfer-Encoding: chunked\r\n\r\n");
  EXPECT_EQ(u.values("Transfer-Encoding"), Strings{"chunked"});
  EXPECT_FALSE(u.has("Content-Length"));
  EXPECT_EQ(u.head().framing, Framing::Chunked);
}

TEST(UpstreamRequest, BodilessRequestHasNoFramingHeaders) {
  Upstream u("GET / HTTP/1.1\r\nHost: example.com\r\n\r\n");
  EXPECT_FALSE(u.has("Content-Length"));
  EXPECT_FALSE(u.has("Transfer-Encoding"));
}

TEST(UpstreamRequest, ExpectIsRemoved) {
  // The proxy answers 100-continue itself; the upstream gets the body without asking.
  Upstream u("POST /f HTTP/1.1\r\nHost: example.com\r\nExpect: 100-continue\r\n"
             "Content-Length: 3\r\n\r\n");
  EXPECT_FALSE(u.has("Expect"));
}

// ---- Request: request line and Host ------------------------------------------------------

TEST(UpstreamRequest, OriginFormTargetIsForwardedAsSent) {
  Upstream u("GET /a%2Fb/c?x=1&y= HTTP/1.1\r\nHost: example.com\r\n\r\n");
  EXPECT_EQ(u.requestLine(), "GET /a%2Fb/c?x=1&y= HTTP/1.1");
}

TEST(UpstreamRequest, AbsoluteFormTargetBecomesOriginForm) {
  Upstream u("GET http://example.com/a/b?x=1 HTTP/1.1\r\nHost: example.com\r\n\r\n");
  EXPECT_EQ(u.requestLine(), "GET /a/b?x=1 HTTP/1.1");
}

TEST(UpstreamRequest, AbsoluteFormWithoutPathBecomesSlash) {
  Upstream u("GET http://example.com HTTP/1.1\r\nHost: example.com\r\n\r\n");
  EXPECT_EQ(u.requestLine(), "GET / HTTP/1.1");
}

TEST(UpstreamRequest, AbsoluteFormKeepsAnEmptyQuery) {
  Upstream u("GET http://example.com/a? HTTP/1.1\r\nHost: example.com\r\n\r\n");
  EXPECT_EQ(u.requestLine(), "GET /a? HTTP/1.1");
}

TEST(UpstreamRequest, AbsoluteFormAuthorityBecomesHost) {
  Upstream u("GET http://example.com:8080/ HTTP/1.1\r\nHost: example.com:8080\r\n\r\n");
  EXPECT_EQ(u.values("Host"), Strings{"example.com:8080"});
}

TEST(UpstreamRequest, MethodIsForwardedAsSent) {
  Upstream u("PROPFIND /dav HTTP/1.1\r\nHost: example.com\r\n\r\n");
  EXPECT_EQ(u.requestLine(), "PROPFIND /dav HTTP/1.1");
}

TEST(UpstreamRequest, HostPassesUnchanged) {
  // Django's CSRF check compares Origin with scheme + Host: case and port must survive.
  Upstream u("GET / HTTP/1.1\r\nHost: Example.COM:8443\r\n\r\n");
  EXPECT_EQ(u.values("Host"), Strings{"Example.COM:8443"});
}

TEST(UpstreamRequest, Http10ClientWithoutHostGetsTheFallbackHost) {
  ForwardInfo info = defaultInfo();
  info.fallback_host = "example.com";
  Upstream u("GET / HTTP/1.0\r\n\r\n", info);
  EXPECT_EQ(u.values("Host"), Strings{"example.com"});
  EXPECT_EQ(u.values("X-Forwarded-Host"), Strings{"example.com"});
}

TEST(UpstreamRequest, Http10RequestIsSentAsHttp11) {
  // The proxy speaks 1.1 to its upstreams (keep-alive pools); RFC 9110 §6.2 lets an
  // intermediary send its own version.
  Upstream u("GET /x HTTP/1.0\r\nHost: example.com\r\n\r\n");
  EXPECT_EQ(u.requestLine(), "GET /x HTTP/1.1");
}

// ---- Response ----------------------------------------------------------------------------

// An upstream response as the proxy parsed it, and the head sent to the client for it
// (parsed again). Not movable: heads are views into the strings held here.
class Downstream {
 public:
  Downstream(std::string upstream_bytes, Method method, int client_minor, bool close = false,
             bool keep_alive_10 = false, std::string_view hsts = {})
      : upstream_bytes_(std::move(upstream_bytes)) {
    http::ResponseParser in;
    if (in.parse(upstream_bytes_, method, upstream_) != http::ParseStatus::Complete) {
      ADD_FAILURE() << "upstream response does not parse: " << in.errorDetail();
      return;
    }
    http::Response r;
    downstreamResponse(upstream_, hsts, r);
    framing_ = http::h1Framing(r.body, client_minor);
    auto conn = http::ConnectionField::None;
    if (close || framing_ == Framing::UntilClose) conn = http::ConnectionField::Close;
    else if (keep_alive_10) conn = http::ConnectionField::KeepAlive;
    base::Buffer out;
    http::appendResponseHead(out, r, framing_, conn);
    sent_ = std::string(out.view());
    http::ResponseParser again;
    if (again.parse(sent_, method, head_) != http::ParseStatus::Complete) {
      ADD_FAILURE() << "client response does not parse (" << again.errorDetail() << "):\n" << sent_;
    }
  }
  Downstream(const Downstream&) = delete;
  Downstream& operator=(const Downstream&) = delete;

  Framing framing() const { return framing_; }
  const std::string& text() const { return sent_; }
  std::string statusLine() const { return sent_.substr(0, sent_.find("\r\n")); }
  std::vector<std::string> values(std::string_view name) const { return valuesOf(head_.headers, name); }
  bool has(std::string_view name) const { return !values(name).empty(); }

 private:
  std::string upstream_bytes_;
  http::ResponseHead upstream_;
  Framing framing_ = Framing::None;
  std::string sent_;
  http::ResponseHead head_;
};

TEST(DownstreamResponse, ContentLengthResponseKeepsItsLength) {
  Downstream d("HTTP/1.1 200 OK\r\nContent-Length: 42\r\n\r\n", Method::Get, 1);
  EXPECT_EQ(d.framing(), Framing::ContentLength);
  EXPECT_EQ(d.values("Content-Length"), Strings{"42"});
  EXPECT_FALSE(d.has("Transfer-Encoding"));
}

TEST(DownstreamResponse, HeadResponseKeepsContentLength) {
  // RFC 9110 §9.3.2: the length of the body a GET would have returned.
  Downstream d("HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n", Method::Head, 1);
  EXPECT_EQ(d.framing(), Framing::None);
  EXPECT_EQ(d.values("Content-Length"), Strings{"1234"});
}

TEST(DownstreamResponse, NotModifiedKeepsContentLength) {
  Downstream d("HTTP/1.1 304 Not Modified\r\nContent-Length: 1234\r\nETag: \"v1\"\r\n\r\n",
               Method::Get, 1);
  EXPECT_EQ(d.framing(), Framing::None);
  EXPECT_EQ(d.values("Content-Length"), Strings{"1234"});
}

TEST(DownstreamResponse, NoContentDropsContentLength) {
  // RFC 9110 §8.6: a server MUST NOT send Content-Length in a 204.
  Downstream d("HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n", Method::Get, 1);
  EXPECT_EQ(d.framing(), Framing::None);
  EXPECT_FALSE(d.has("Content-Length"));
  EXPECT_FALSE(d.has("Transfer-Encoding"));
}

TEST(DownstreamResponse, ChunkedUpstreamIsChunkedToAnHttp11Client) {
  Downstream d("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", Method::Get, 1);
  EXPECT_EQ(d.framing(), Framing::Chunked);
  EXPECT_EQ(d.values("Transfer-Encoding"), Strings{"chunked"});
  EXPECT_FALSE(d.has("Connection"));
}

TEST(DownstreamResponse, CloseDelimitedUpstreamIsChunkedToAnHttp11Client) {
  // Re-framing keeps the client connection reusable although the upstream one is not.
  Downstream d("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n", Method::Get, 1);
  EXPECT_EQ(d.framing(), Framing::Chunked);
  EXPECT_EQ(d.values("Transfer-Encoding"), Strings{"chunked"});
}

TEST(DownstreamResponse, ChunkedUpstreamToAnHttp10ClientEndsWithClose) {
  // RFC 9112 §7: chunked must not be sent to a 1.0 recipient.
  Downstream d("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", Method::Get, 0);
  EXPECT_EQ(d.framing(), Framing::UntilClose);
  EXPECT_FALSE(d.has("Transfer-Encoding"));
  EXPECT_EQ(d.values("Connection"), Strings{"close"});
}

TEST(DownstreamResponse, CloseDelimitedUpstreamToAnHttp10ClientEndsWithClose) {
  Downstream d("HTTP/1.0 200 OK\r\n\r\n", Method::Get, 0);
  EXPECT_EQ(d.framing(), Framing::UntilClose);
  EXPECT_EQ(d.values("Connection"), Strings{"close"});
}

TEST(DownstreamResponse, Http10KeepAliveClientIsToldKeepAlive) {
  Downstream d("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n", Method::Get, 0, false, true);
  EXPECT_EQ(d.framing(), Framing::ContentLength);
  EXPECT_EQ(d.values("Connection"), Strings{"keep-alive"});
}

TEST(DownstreamResponse, CloseAddsConnectionClose) {
  Downstream d("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n", Method::Get, 1, true);
  EXPECT_EQ(d.values("Connection"), Strings{"close"});
}

TEST(DownstreamResponse, HopByHopResponseHeadersAreRemoved) {
  Downstream d("HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: keep-alive, X-Hop\r\n"
               "Keep-Alive: timeout=5\r\nProxy-Connection: keep-alive\r\nUpgrade: h2c\r\n"
               "Trailer: X-Checksum\r\nX-Hop: secret\r\nX-End: kept\r\n\r\n",
               Method::Get, 1);
  for (const char* name : {"Connection", "Keep-Alive", "Proxy-Connection", "Upgrade", "Trailer", "X-Hop"}) {
    EXPECT_FALSE(d.has(name)) << name << " was forwarded:\n" << d.text();
  }
  EXPECT_EQ(d.values("X-End"), Strings{"kept"});
}

TEST(DownstreamResponse, EverySetCookieIsKeptInOrder) {
  // Set-Cookie cannot be folded into one line (RFC 6265 §3).
  Downstream d("HTTP/1.1 200 OK\r\nSet-Cookie: a=1; Path=/\r\nContent-Length: 0\r\n"
               "Set-Cookie: b=2; Expires=Wed, 21 Oct 2015 07:28:00 GMT\r\n\r\n",
               Method::Get, 1);
  EXPECT_EQ(d.values("Set-Cookie"),
            (Strings{"a=1; Path=/", "b=2; Expires=Wed, 21 Oct 2015 07:28:00 GMT"}));
}

TEST(DownstreamResponse, StatusLineIsHttp11WithTheUpstreamReason) {
  Downstream d("HTTP/1.0 404 Nope\r\nContent-Length: 0\r\n\r\n", Method::Get, 1);
  EXPECT_EQ(d.statusLine(), "HTTP/1.1 404 Nope");
}

TEST(DownstreamResponse, MissingReasonGetsTheStandardPhrase) {
  Downstream d("HTTP/1.1 503\r\nContent-Length: 0\r\n\r\n", Method::Get, 1);
  EXPECT_EQ(d.statusLine(), "HTTP/1.1 503 Service Unavailable");
}

TEST(HopByHop, ListedNamesAreHopByHopInAnyCase) {
  for (const char* n : {"Connection", "keep-alive", "PROXY-CONNECTION", "TE", "Trailer",
                        "Transfer-Encoding", "Upgrade"}) {
    EXPECT_TRUE(isHopByHop(n)) << n;
  }
}

TEST(HopByHop, EndToEndNamesAreNot) {
  for (const char* n : {"Content-Length", "Trailers", "Host", "Set-Cookie", "X-Forwarded-For"}) {
    EXPECT_FALSE(isHopByHop(n)) << n;
  }
}

TEST(DownstreamResponse, HstsIsAddedWhenConfigured) {
  Downstream d("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", Method::Get, 1, false, false,
               "max-age=600; includeSubDomains");
  EXPECT_EQ(d.values("Strict-Transport-Security"), Strings{"max-age=600; includeSubDomains"});
}

TEST(DownstreamResponse, UpstreamHstsWinsOverTheConfiguredOne) {
  Downstream d("HTTP/1.1 200 OK\r\nStrict-Transport-Security: max-age=5\r\nContent-Length: 0\r\n\r\n",
               Method::Get, 1, false, false, "max-age=600");
  EXPECT_EQ(d.values("Strict-Transport-Security"), Strings{"max-age=5"});
}

TEST(DownstreamResponse, NoHstsWhenNotConfigured) {
  Downstream d("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", Method::Get, 1);
  EXPECT_FALSE(d.has("Strict-Transport-Security"));
}

// ---- WebSocket -------------------------------------------------------------------------

bool upgrade(const std::string& bytes) {
  http::RequestParser p;
  http::RequestHead head;
  std::string copy = bytes;
  if (p.parse(copy, head) != http::ParseStatus::Complete) {
    ADD_FAILURE() << "does not parse: " << p.errorDetail();
    return false;
  }
  return isWebSocketUpgrade(head);
}

TEST(WebSocket, AnUpgradeIsGet11WithUpgradeWebsocketAndConnectionUpgrade) {
  EXPECT_TRUE(upgrade("GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"));
  // Tokens are case-insensitive list elements (Firefox sends "keep-alive, Upgrade").
  EXPECT_TRUE(upgrade("GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: WebSocket\r\nConnection: keep-alive, Upgrade\r\n\r\n"));
}

TEST(WebSocket, AnythingElseIsNot) {
  EXPECT_FALSE(upgrade("GET / HTTP/1.1\r\nHost: a\r\nUpgrade: h2c\r\nConnection: Upgrade, HTTP2-Settings\r\n\r\n"));
  EXPECT_FALSE(upgrade("GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n"));
  EXPECT_FALSE(upgrade("GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\n\r\n"));
  EXPECT_FALSE(upgrade("POST / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"));
  EXPECT_FALSE(upgrade("GET / HTTP/1.0\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"));
  // A body would be bytes the tunnel's peer reads as frames: not an upgrade.
  EXPECT_FALSE(upgrade("GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                       "Content-Length: 3\r\n\r\nabc"));
}

TEST(WebSocket, AllowedUpgradeGoesUpstreamWithItsHandshakeFields) {
  ForwardInfo info = defaultInfo();
  info.websocket = true;
  Upstream u("GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n"
             "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
             "Sec-WebSocket-Protocol: chat\r\nOrigin: https://a\r\n\r\n",
             info);
  EXPECT_EQ(u.values("Upgrade"), Strings{"websocket"});
  EXPECT_EQ(u.values("Connection"), Strings{"upgrade"});
  EXPECT_EQ(u.values("Sec-WebSocket-Key"), Strings{"dGhlIHNhbXBsZSBub25jZQ=="});
  EXPECT_EQ(u.values("Sec-WebSocket-Version"), Strings{"13"});
  EXPECT_EQ(u.values("Sec-WebSocket-Protocol"), Strings{"chat"});
  EXPECT_EQ(u.values("Origin"), Strings{"https://a"});
  EXPECT_EQ(u.values("X-Forwarded-Proto"), Strings{"https"});
}

TEST(WebSocket, WithoutLeaveUpgradeAndConnectionEndHere) {
  // websocket: false, or any other protocol: the app sees a plain request.
  Upstream u("GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n");
  EXPECT_FALSE(u.has("Upgrade"));
  EXPECT_FALSE(u.has("Connection"));
}

TEST(WebSocket, OnlyA101WithUpgradeWebsocketAccepts) {
  auto accepts = [](std::string bytes) {
    http::ResponseParser p;
    http::ResponseHead head;
    EXPECT_EQ(p.parse(bytes, Method::Get, head), http::ParseStatus::Complete);
    return isWebSocketAccept(head);
  };
  EXPECT_TRUE(accepts("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"));
  EXPECT_FALSE(accepts("HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n"));
  EXPECT_FALSE(accepts("HTTP/1.1 101 Switching Protocols\r\n\r\n"));
  EXPECT_FALSE(accepts("HTTP/1.1 200 OK\r\nUpgrade: websocket\r\nContent-Length: 0\r\n\r\n"));
}

TEST(WebSocket, The101ToTheClientCarriesUpgradeAndConnection) {
  Downstream d("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
               Method::Get, 1);
  // The relay drops both as hop-by-hop; the codec writes them for a tunnel's 101.
  EXPECT_FALSE(d.has("Upgrade"));
  http::Response r;
  http::ResponseParser p;
  http::ResponseHead up;
  std::string bytes = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                      "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
  ASSERT_EQ(p.parse(bytes, Method::Get, up), http::ParseStatus::Complete);
  downstreamResponse(up, {}, r);
  base::Buffer out;
  http::appendResponseHead(out, r, Framing::None, http::ConnectionField::Upgrade);
  EXPECT_EQ(out.view(),
            "HTTP/1.1 101 Switching Protocols\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
            "Upgrade: websocket\r\nConnection: upgrade\r\n\r\n");
}

}  // namespace
}  // namespace portcullis::proxy
