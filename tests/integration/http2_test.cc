// HTTP/2 on the client side, through the real binary, with real HTTP/2 clients: curl --http2,
// nghttp and h2load (nghttp2-client), and tests/integration/apps/h2_peer.py (python3-h2's
// framing and HPACK) for what no well-behaved client sends (harness/h2_client.h).
//
// The behaviour under test: a TLS listener offers h2 by ALPN next to http/1.1; each HTTP/2
// stream is one request through the HTTP/1.1 pipeline (routing, balancing over HTTP/1.1
// upstreams, local replies, limits); the upstream sees plain HTTP/1.1 with Host from
// :authority, the X-Forwarded-* fields and the cookie crumbs joined; the response comes back
// without HTTP/1.1's hop-by-hop fields. Malformed requests cost one stream (RST_STREAM
// PROTOCOL_ERROR), not the connection; the known HTTP/2 attacks (rapid reset and its
// server-provoked variant, CONTINUATION, PING, SETTINGS, PRIORITY, WINDOW_UPDATE and empty-frame
// floods, too many streams) end the connection with a GOAWAY and leave the proxy serving
// others; idle and non-reading clients are cut after their timeouts; a streamed upload moves
// only as fast as the upstream takes it; SIGTERM sends GOAWAY and lets streams in flight
// finish. (src/http/h2_engine.h lists the limits.)
//
// Every wait is bounded: h2_peer.py runs under its own --timeout-ms and is killed 5 s after it,
// the command-line clients under runCommand's deadline.
//
// Suites:
//   Http2Alpn           what ALPN picks for clients offering h2 and only http/1.1
//   Http2AlpnConfigured a listener with `protocols: [http/1.1]`, and that key on a reload
//   Http2Proxy          requests and responses: heads, bodies both ways, cookies, malformed
//                       heads, trailers, 100-continue, cancel, the client's GOAWAY
//   Http2LocalReplies   404, 502 and 413 answered by the proxy itself over HTTP/2
//   Http2Concurrency    many streams on one connection, and load with h2load
//   Http2Attacks        floods, each answered with GOAWAY, and a second connection still served
//   Http2Timeouts       idle, zero-window and non-reading clients
//   Http2Backpressure   streamed uploads: the window follows what the upstream takes
//   Http2Shutdown       SIGTERM with a stream in flight
//   Http2Observability  HTTP/2 requests in the access log and /metrics
//   Http2Listener       listener-wide behaviour (HSTS) on HTTP/2 responses
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <functional>
#include <set>
#include <thread>

#include "harness/h2_client.h"
#include "harness/harness.h"
#include "harness/observability.h"

namespace portcullis::integration {
namespace {

using namespace std::chrono_literals;

constexpr size_t kMiB = 1024 * 1024;

milliseconds since(Clock::time_point start) {
  return std::chrono::duration_cast<milliseconds>(Clock::now() - start);
}

// Fields HTTP/2 forbids in a response (RFC 9113 §8.2.2): HTTP/1.1's connection-specific ones.
const std::vector<std::string> kHopByHop = {"connection", "keep-alive", "proxy-connection", "transfer-encoding",
                                            "upgrade"};

::testing::AssertionResult noHopByHopAndLowercase(const HeaderList& h) {
  for (const auto& [name, value] : h.entries) {
    if (name != toLower(name)) return ::testing::AssertionFailure() << "field name not lowercase: " << name;
    for (const auto& hop : kHopByHop) {
      if (name == hop) return ::testing::AssertionFailure() << "hop-by-hop field in an HTTP/2 response: " << name;
    }
  }
  return ::testing::AssertionSuccess();
}

// The tools every suite here needs; skips the test when one is missing.
std::string toolsUnavailable() {
  for (const std::string& why : {curlHttp2UnavailableReason(), nghttpUnavailableReason(), h2PeerUnavailableReason()}) {
    if (!why.empty()) return why;
  }
  return "";
}

// A proxy with HTTP/2 on its TLS listener (ALPN offers h2 and http/1.1 by default) and helpers
// to talk to it.
class Http2Fixture : public ::testing::Test {
 protected:
  void SetUp() override {
    if (std::string why = toolsUnavailable(); !why.empty()) GTEST_SKIP() << why;
  }

  uint16_t port() const { return proxy_.httpsPort(); }

  H2PeerResult peer(H2PeerOptions options) {
    H2PeerResult r;
    auto ran = H2Peer::run(port(), options, &r);
    EXPECT_TRUE(ran);
    return r;
  }
  H2PeerResult requests(std::vector<H2Req> reqs, milliseconds timeout = 10000ms) {
    H2PeerOptions o;
    o.requests = std::move(reqs);
    o.timeout = timeout;
    return peer(o);
  }
  CurlResult curl(CurlRequest req) {
    CurlResult r;
    EXPECT_TRUE(runCurl(port(), req, &r));
    EXPECT_EQ(r.exit_code, 0) << r.stderr_text;
    if (req.http2) {
      EXPECT_EQ(r.http_version, "2") << "curl --http2 " << req.path << " was not served over HTTP/2";
    }
    return r;
  }

  // A fresh HTTP/2 connection still gets its GET answered by the upstream.
  ::testing::AssertionResult stillServes(const std::string& path = "/still-served") {
    if (!proxy_.running()) return ::testing::AssertionFailure() << "the proxy is not running any more";
    H2Req get;
    get.path = path;
    H2PeerResult r = requests({get});
    if (auto ok = r.ok(); !ok) return ok;
    if (r.stream(1).status != 200) {
      return ::testing::AssertionFailure() << "a second connection got status " << r.stream(1).status << ":\n"
                                           << r.output;
    }
    return ::testing::AssertionSuccess();
  }

  ProxyProcess proxy_;
};

// ---------------------------------------------------------------------------------------------
// ALPN

class Http2Alpn : public Http2Fixture {
 protected:
  void SetUp() override {
    Http2Fixture::SetUp();
    if (IsSkipped()) return;
    ASSERT_TRUE(proxy_.start(ProxyConfig::singleUpstream({app_.address()})));
  }
  FakeUpstream app_{"app"};
};

TEST_F(Http2Alpn, CurlOfferingH2GetsHttp2) {
  CurlRequest req;
  req.path = "/alpn";
  CurlResult r = curl(req);
  EXPECT_EQ(r.http_version, "2");
  EXPECT_EQ(r.status_line, "HTTP/2 200");
  EXPECT_EQ(r.body, "ok");
  RecordedRequest got;
  ASSERT_TRUE(app_.waitForRequest(0, &got));
  EXPECT_EQ(got.request.target, "/alpn");
  EXPECT_EQ(got.request.version, "HTTP/1.1");

  TlsClient tls;
  TlsOptions options;
  options.alpn = {"h2", "http/1.1"};
  ASSERT_TRUE(tls.connect(port(), options));
  EXPECT_EQ(tls.alpnSelected(), "h2");
}

TEST_F(Http2Alpn, ClientOfferingOnlyHttp11GetsHttp11) {
  CurlRequest req;
  req.http2 = false;
  CurlResult r = curl(req);
  EXPECT_EQ(r.http_version, "1.1");
  EXPECT_EQ(r.status, 200);

  TlsClient tls;  // offers only http/1.1
  ASSERT_TRUE(tls.connect(port()));
  EXPECT_EQ(tls.alpnSelected(), "http/1.1");
  Response resp;
  ASSERT_TRUE(tls.roundTrip(getRequest("/h1"), &resp));
  EXPECT_EQ(resp.version, "HTTP/1.1");
  EXPECT_EQ(resp.status, 200);

  TlsClient no_alpn;  // no ALPN at all: HTTP/1.1
  TlsOptions options;
  options.alpn = {};
  ASSERT_TRUE(no_alpn.connect(port(), options));
  EXPECT_EQ(no_alpn.alpnSelected(), "");
  ASSERT_TRUE(no_alpn.roundTrip(getRequest("/no-alpn"), &resp));
  EXPECT_EQ(resp.status, 200);
}

// `protocols: [http/1.1]` on the listener: h2 is not offered, so curl --http2 falls back.
using Http2AlpnConfigured = Http2Fixture;

TEST_F(Http2AlpnConfigured, ListenerWithoutH2ServesCurlOverHttp11) {
  FakeUpstream app{"app"};
  ProxyConfig config = ProxyConfig::singleUpstream({app.address()});
  config.https_extra = {"protocols: [http/1.1]"};
  ASSERT_TRUE(proxy_.start(config));
  CurlResult r;
  CurlRequest req;
  ASSERT_TRUE(runCurl(port(), req, &r));
  EXPECT_EQ(r.exit_code, 0) << r.stderr_text;
  EXPECT_EQ(r.http_version, "1.1");
  EXPECT_EQ(r.status, 200);
  // And a client that insists on h2 gets no HTTP/2 connection.
  H2PeerResult p;
  H2PeerOptions o;
  o.requests = {H2Req{}};
  o.timeout = 3000ms;
  ASSERT_TRUE(H2Peer::run(port(), o, &p));
  EXPECT_NE(p.alpn, "h2") << p.output;
}

// `protocols` is read again on a reload: new connections follow it, each way.
TEST_F(Http2AlpnConfigured, ReloadTurnsH2OnAndOffForNewConnections) {
  FakeUpstream app{"app"};
  ProxyConfig config = ProxyConfig::singleUpstream({app.address()});
  config.https_extra = {"protocols: [http/1.1]"};
  ASSERT_TRUE(proxy_.start(config));
  auto alpnOfNewConnection = [&] {
    TlsClient tls;
    TlsOptions options;
    options.alpn = {"h2", "http/1.1"};
    return tls.connect(port(), options) ? tls.alpnSelected() : std::string("(no connection)");
  };
  EXPECT_EQ(alpnOfNewConnection(), "http/1.1");

  config.https_extra = {};
  ASSERT_TRUE(proxy_.rewriteConfig(config));
  ASSERT_TRUE(proxy_.reload());
  EXPECT_TRUE(pollUntil([&] { return alpnOfNewConnection() == "h2"; }, 5000ms))
      << proxy_.stderrText();

  config.https_extra = {"protocols: [http/1.1]"};
  ASSERT_TRUE(proxy_.rewriteConfig(config));
  ASSERT_TRUE(proxy_.reload());
  EXPECT_TRUE(pollUntil([&] { return alpnOfNewConnection() == "http/1.1"; }, 5000ms))
      << proxy_.stderrText();
  EXPECT_EQ(proxy_.stderrText().find("reload failed"), std::string::npos) << proxy_.stderrText();
}

// ---------------------------------------------------------------------------------------------
// One request at a time

class Http2Proxy : public Http2Fixture {
 protected:
  void SetUp() override {
    Http2Fixture::SetUp();
    if (IsSkipped()) return;
    ASSERT_TRUE(proxy_.start(ProxyConfig::singleUpstream({app_.address()})));
  }
  void TearDown() override {
    EXPECT_TRUE(app_.protocolErrors().empty())
        << "the proxy sent the upstream bytes that are not HTTP/1.1: " << app_.protocolErrors().front();
  }

  // The upstream's requests, by target.
  std::vector<std::string> upstreamTargets() const {
    std::vector<std::string> out;
    for (const auto& r : app_.requests()) out.push_back(r.request.target);
    return out;
  }

  FakeUpstream app_{"app"};
};

TEST_F(Http2Proxy, GetReachesTheUpstreamAsHttp11WithHostFromAuthorityAndForwardedFields) {
  CurlRequest req;
  req.host = "app.example.com";
  req.path = "/get/path?q=1&r=two";
  req.headers = {"X-Custom: value one", "Accept: text/plain"};
  CurlResult r = curl(req);
  EXPECT_EQ(r.http_version, "2");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "ok");

  RecordedRequest got;
  ASSERT_TRUE(app_.waitForRequest(0, &got));
  const HeaderList& h = got.request.headers;
  EXPECT_EQ(got.request.method, "GET");
  EXPECT_EQ(got.request.target, "/get/path?q=1&r=two");
  EXPECT_EQ(got.request.version, "HTTP/1.1");
  // :authority becomes Host, exactly one.
  EXPECT_EQ(h.getAll("Host"), std::vector<std::string>{"app.example.com:" + std::to_string(port())}) << h.toString();
  EXPECT_EQ(h.getAll("X-Forwarded-For"), std::vector<std::string>{"127.0.0.1"}) << h.toString();
  EXPECT_EQ(h.getAll("X-Forwarded-Proto"), std::vector<std::string>{"https"}) << h.toString();
  EXPECT_EQ(h.get("X-Custom"), "value one");
  EXPECT_EQ(h.get("Accept"), "text/plain");
  // No pseudo field leaks into HTTP/1.1, and a GET that ended with its HEADERS has no body.
  for (const auto& [name, value] : h.entries) EXPECT_NE(name.front(), ':') << name;
  EXPECT_FALSE(h.has("Transfer-Encoding")) << h.toString();
  EXPECT_EQ(got.request.body, "");
}

TEST_F(Http2Proxy, ResponseStatusFieldsAndBodyComeBackWithoutHopByHopFields) {
  Reply reply;
  reply.status = 201;
  reply.headers = {{"Connection", "X-Upstream-Hop"}, {"X-Upstream-Hop", "1"}, {"Keep-Alive", "timeout=2"},
                   {"X-App", "kept"}, {"Set-Cookie", "a=1"}, {"Set-Cookie", "b=2"},
                   {"Content-Type", "text/plain"}};
  reply.body = "created, in three chunks";
  reply.framing = Reply::BodyFraming::kChunked;  // Transfer-Encoding: chunked upstream
  reply.chunk_size = 8;
  app_.setReply(reply);

  H2Req get;
  get.path = "/create";
  H2PeerResult r = requests({get});
  ASSERT_TRUE(r.ok());
  const H2Stream& s = r.stream(1);
  EXPECT_EQ(s.status, 201) << r.output;
  EXPECT_TRUE(s.ended) << r.output;
  EXPECT_EQ(s.body, reply.body);
  EXPECT_TRUE(noHopByHopAndLowercase(s.headers)) << s.headers.toString();
  EXPECT_FALSE(s.headers.has("x-upstream-hop")) << "a field the upstream's Connection named was forwarded:\n"
                                                << s.headers.toString();
  EXPECT_EQ(s.headers.get("x-app"), "kept");
  EXPECT_EQ(s.headers.getAll("set-cookie"), (std::vector<std::string>{"a=1", "b=2"}));
  EXPECT_EQ(s.headers.get("content-type"), "text/plain");
  EXPECT_FALSE(r.goaway_code) << r.output;

  // curl's view of the same: an HTTP/2 response with the same fields.
  CurlResult c = curl(CurlRequest{});
  EXPECT_EQ(c.status_line, "HTTP/2 201");
  EXPECT_EQ(c.body, reply.body);
  EXPECT_TRUE(noHopByHopAndLowercase(c.headers)) << c.headers.toString();
}

TEST_F(Http2Proxy, EmptyPostArrivesAsAnEmptyPost) {
  // END_STREAM on the HEADERS: no body, and no content-length either.
  H2Req post;
  post.method = "POST";
  post.path = "/empty-no-length";
  // content-length: 0 and an empty DATA frame with END_STREAM.
  H2Req post_cl = post;
  post_cl.path = "/empty-length-zero";
  post_cl.content_length_value = 0;
  post_cl.body = "";
  H2PeerResult r = requests({post, post_cl});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.stream(1).status, 200) << r.output;
  EXPECT_EQ(r.stream(3).status, 200) << r.output;
  ASSERT_TRUE(app_.waitForRequests(2));
  for (const auto& got : app_.requests()) {
    EXPECT_EQ(got.request.method, "POST") << got.request.target;
    EXPECT_EQ(got.request.body, "") << got.request.target;
    for (const auto& cl : got.request.headers.getAll("Content-Length")) EXPECT_EQ(cl, "0") << got.request.target;
  }
}

TEST_F(Http2Proxy, SmallPostBodyArrivesIntact) {
  CurlRequest req;
  req.path = "/small";
  req.body = "name=h2&value=small body";
  CurlResult r = curl(req);
  EXPECT_EQ(r.http_version, "2");
  EXPECT_EQ(r.status, 200);
  RecordedRequest got;
  ASSERT_TRUE(app_.waitForRequest(0, &got));
  EXPECT_EQ(got.request.method, "POST");
  EXPECT_EQ(got.request.body, *req.body);
  EXPECT_EQ(got.request.headers.get("Content-Length"), std::to_string(req.body->size()));
}

TEST_F(Http2Proxy, MebibytePostWithContentLengthArrivesIntact) {
  const std::string body = patternBody(kMiB, 21);
  app_.setResponder([](const RecordedRequest& r) {
    Reply reply;
    reply.body = "got " + std::to_string(r.request.body.size());
    return reply;
  });
  CurlRequest req;
  req.path = "/upload";
  req.body = body;
  CurlResult r = curl(req);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "got 1048576");
  RecordedRequest got;
  ASSERT_TRUE(app_.waitForRequest(0, &got));
  EXPECT_EQ(got.request.method, "POST");
  EXPECT_EQ(got.request.headers.get("Content-Length"), "1048576");
  EXPECT_TRUE(sameBytes(body, got.request.body));
}

TEST_F(Http2Proxy, MebibytePostWithoutContentLengthArrivesIntact) {
  // An HTTP/2 body needs no length: the upstream gets it chunked (or counted, if buffered).
  const std::string body = patternBody(kMiB, 22);
  app_.setResponder([](const RecordedRequest& r) {
    Reply reply;
    reply.body = "got " + std::to_string(r.request.body.size());
    return reply;
  });
  TempDir dir;
  CommandResult r;
  ASSERT_TRUE(runNghttp(port(), "/upload-unsized", {"--no-content-length", "-d", dir.writeFile("body", body)}, &r));
  EXPECT_EQ(r.exit_code, 0) << r.stderr_text << r.stdout_text;
  EXPECT_EQ(r.stdout_text, "got 1048576");
  RecordedRequest got;
  ASSERT_TRUE(app_.waitForRequest(0, &got));
  EXPECT_EQ(got.request.method, "POST");
  EXPECT_TRUE(sameBytes(body, got.request.body));
  const HeaderList& h = got.request.headers;
  EXPECT_EQ(h.count("Content-Length") + h.count("Transfer-Encoding"), 1u) << h.toString();
}

TEST_F(Http2Proxy, MebibyteResponseBodiesComeBackIntact) {
  app_.setResponder([](const RecordedRequest& r) {
    Reply reply;
    const bool chunked = r.request.target == "/chunked";
    reply.body = patternBody(kMiB, chunked ? 31 : 32);
    reply.framing = chunked ? Reply::BodyFraming::kChunked : Reply::BodyFraming::kContentLength;
    reply.chunk_size = 10000;
    return reply;
  });
  for (const char* path : {"/chunked", "/counted"}) {
    CurlRequest req;
    req.path = path;
    CurlResult r = curl(req);
    EXPECT_EQ(r.status_line, "HTTP/2 200") << path;
    EXPECT_TRUE(sameBytes(patternBody(kMiB, std::string(path) == "/chunked" ? 31 : 32), r.body)) << path;
    EXPECT_TRUE(noHopByHopAndLowercase(r.headers)) << path << "\n" << r.headers.toString();
  }
}

TEST_F(Http2Proxy, CookieCrumbsArriveAsOneCookieField) {
  // RFC 9113 §8.2.3: a client may split Cookie into crumbs; HTTP/1.1 wants one field, "; "-joined.
  H2Req get;
  get.path = "/cookies";
  get.headers = {{"cookie", "a=1"}, {"accept", "*/*"}, {"cookie", "b=2"}};
  H2PeerResult r = requests({get});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.stream(1).status, 200) << r.output;
  RecordedRequest got;
  ASSERT_TRUE(app_.waitForRequest(0, &got));
  EXPECT_EQ(got.request.headers.getAll("Cookie"), std::vector<std::string>{"a=1; b=2"})
      << got.request.headers.toString();
}

TEST_F(Http2Proxy, MalformedHeadsAreResetAndTheConnectionStaysUsable) {
  // RFC 9113 §8.2.2 connection-specific fields, §8.2.2 te other than "trailers", §8.2 uppercase
  // names: each is a malformed request, a stream error, never the upstream's business.
  auto bad = [](const std::string& path, std::pair<std::string, std::string> field) {
    H2Req r;
    r.path = path;
    r.headers = {std::move(field)};
    r.after_prev = true;
    return r;
  };
  auto good = [](const std::string& path) {
    H2Req r;
    r.path = path;
    r.after_prev = true;
    return r;
  };
  H2PeerResult r = requests({bad("/bad-connection", {"connection", "keep-alive"}), good("/ok-1"),
                             bad("/bad-te", {"te", "gzip"}), good("/ok-2"),
                             bad("/bad-uppercase", {"X-Upper", "1"}), good("/ok-3"),
                             bad("/bad-keep-alive", {"keep-alive", "timeout=5"}), good("/ok-4"),
                             // §8.3.1: a host naming another authority than :authority.
                             bad("/bad-host", {"host", "other.example.org"}), good("/ok-5")});
  ASSERT_TRUE(r.ok());
  for (int32_t sid : {1, 5, 9, 13, 17}) {
    EXPECT_EQ(r.stream(sid).reset, kH2ProtocolError) << "stream " << sid << ":\n" << r.output;
    EXPECT_EQ(r.stream(sid).status, 0) << "stream " << sid << " got a response:\n" << r.output;
  }
  for (int32_t sid : {3, 7, 11, 15, 19}) {
    EXPECT_EQ(r.stream(sid).status, 200) << "stream " << sid << ":\n" << r.output;
  }
  EXPECT_FALSE(r.goaway_code) << "a malformed request cost the whole connection:\n" << r.output;
  ASSERT_TRUE(app_.waitForRequests(5));
  EXPECT_EQ(upstreamTargets(), (std::vector<std::string>{"/ok-1", "/ok-2", "/ok-3", "/ok-4", "/ok-5"}));

  // A te of "trailers" is the one allowed value (and it is not forwarded as is).
  H2Req te;
  te.path = "/te-trailers";
  te.headers = {{"te", "trailers"}};
  H2PeerResult r2 = requests({te});
  ASSERT_TRUE(r2.ok());
  EXPECT_EQ(r2.stream(1).status, 200) << r2.output;
}

TEST_F(Http2Proxy, ContentLengthDisagreeingWithTheDataResetsTheStream) {
  H2Req shorter;  // says 10, sends 3
  shorter.method = "POST";
  shorter.path = "/bad-short";
  shorter.body = "abc";
  shorter.content_length_value = 10;
  H2Req longer = shorter;  // says 2, sends 5
  longer.path = "/bad-long";
  longer.body = "abcde";
  longer.content_length_value = 2;
  longer.after_prev = true;
  H2Req good;
  good.method = "POST";
  good.path = "/ok";
  good.body = "fine";
  good.after_prev = true;
  H2PeerResult r = requests({shorter, longer, good});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.stream(1).reset, kH2ProtocolError) << r.output;
  EXPECT_EQ(r.stream(3).reset, kH2ProtocolError) << r.output;
  EXPECT_NE(r.stream(1).status, 200) << r.output;
  EXPECT_NE(r.stream(3).status, 200) << r.output;
  EXPECT_EQ(r.stream(5).status, 200) << r.output;
  EXPECT_FALSE(r.goaway_code) << r.output;
  // The upstream got the good one whole; neither bad body was completed to it.
  ASSERT_TRUE(app_.waitForRequests(1));
  std::this_thread::sleep_for(100ms);  // a late bad request would show up by now
  for (const auto& got : app_.requests()) {
    EXPECT_EQ(got.request.target, "/ok");
    EXPECT_EQ(got.request.body, "fine");
  }
}

TEST_F(Http2Proxy, OversizedHeaderListGets431AndOtherStreamsGoOn) {
  app_.setResponder([](const RecordedRequest& r) {
    Reply reply;
    reply.body = r.request.target;
    if (r.request.target == "/slow") reply.delay = 400ms;
    return reply;
  });
  H2Req slow;  // in flight while the oversized one comes
  slow.path = "/slow";
  H2Req big;
  big.path = "/big-head";
  big.big_header = 40000;  // over limits.header_bytes (32 KiB)
  H2Req after;
  after.path = "/after";
  after.after_ms = 50;
  H2PeerResult r = requests({slow, big, after});
  ASSERT_TRUE(r.ok());
  const H2Stream& s = r.stream(3);
  EXPECT_TRUE(s.status == 431 || s.reset) << "the oversized head got neither 431 nor a reset:\n" << r.output;
  EXPECT_EQ(s.status, 431) << "(a reset is allowed; 431 is what h2_engine.h promises)\n" << r.output;
  EXPECT_EQ(r.stream(1).status, 200) << r.output;
  EXPECT_EQ(r.stream(1).body, "/slow");
  EXPECT_EQ(r.stream(5).status, 200) << r.output;
  EXPECT_EQ(r.stream(5).body, "/after");
  EXPECT_FALSE(r.goaway_code) << r.output;
  for (const auto& got : app_.requests()) EXPECT_NE(got.request.target, "/big-head");
}

TEST_F(Http2Proxy, CancelledStreamLetsGoOfItsUpstreamAndTheOthersGoOn) {
  app_.setResponder([](const RecordedRequest& r) {
    Reply reply;
    reply.body = r.request.target;
    if (r.request.target == "/hang") reply.action = Reply::Action::kNeverRespond;
    return reply;
  });
  H2Req hang;  // the upstream never answers; the client gives up with RST_STREAM CANCEL
  hang.path = "/hang";
  hang.rst_after_ms = 300;
  H2Req fast;
  fast.path = "/fast";
  fast.after_ms = 100;
  H2Req after;
  after.path = "/after-cancel";
  after.after_prev = true;
  H2PeerResult r = requests({hang, fast, after});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.stream(1).status, 0) << r.output;
  EXPECT_EQ(r.stream(3).status, 200) << r.output;
  EXPECT_EQ(r.stream(3).body, "/fast");
  EXPECT_EQ(r.stream(5).status, 200) << r.output;
  EXPECT_FALSE(r.goaway_code) << r.output;
  // The cancelled exchange's upstream connection, mid-request, cannot be reused: it is closed.
  EXPECT_TRUE(app_.waitForClosedConnections(1, 2000ms)) << "the proxy kept waiting on a cancelled request";
}

TEST_F(Http2Proxy, RequestTrailersAreDroppedAndTheBodyArrives) {
  H2Req post;
  post.method = "POST";
  post.path = "/with-trailers";
  post.body = "abc";
  post.content_length = false;
  post.trailers = {{"x-checksum", "900150983cd24fb0"}};
  H2PeerResult r = requests({post});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.stream(1).status, 200) << r.output;
  RecordedRequest got;
  ASSERT_TRUE(app_.waitForRequest(0, &got));
  EXPECT_EQ(got.request.body, "abc");
  EXPECT_FALSE(got.request.headers.has("x-checksum")) << got.request.headers.toString();
}

TEST_F(Http2Proxy, HeadNoContentAndNotModifiedResponsesHaveNoBody) {
  app_.setResponder([this](const RecordedRequest& r) {
    Reply reply = app_.defaultReply();
    if (r.request.target == "/empty") {
      reply.status = 204;
      reply.body.clear();
    } else if (r.request.target == "/cached") {
      reply.status = 304;
      reply.headers.emplace_back("Content-Length", "500");
      reply.body.clear();
    }
    return reply;
  });
  H2Req head;
  head.method = "HEAD";
  head.path = "/thing";
  H2Req empty;
  empty.path = "/empty";
  H2Req cached;
  cached.path = "/cached";
  cached.headers = {{"if-none-match", "\"v1\""}};
  H2Req after;
  after.path = "/after";
  after.after_prev = true;
  H2PeerResult r = requests({head, empty, cached, after});
  ASSERT_TRUE(r.ok());
  const std::vector<std::pair<int32_t, int>> expected = {{1, 200}, {3, 204}, {5, 304}};
  for (const auto& [sid, status] : expected) {
    EXPECT_EQ(r.stream(sid).status, status) << r.output;
    EXPECT_TRUE(r.stream(sid).ended) << "stream " << sid << " never ended:\n" << r.output;
    EXPECT_EQ(r.stream(sid).body_len, 0u) << "stream " << sid << ":\n" << r.output;
  }
  EXPECT_EQ(r.stream(7).status, 200) << r.output;
  EXPECT_EQ(r.stream(7).body, "ok");
}

TEST_F(Http2Proxy, ExpectContinueGets100ThenTheBodyArrives) {
  const std::string body = patternBody(256 * 1024, 24);
  app_.setResponder([](const RecordedRequest& r) {
    Reply reply;
    reply.body = "got " + std::to_string(r.request.body.size());
    return reply;
  });
  TempDir dir;
  CommandResult r;
  ASSERT_TRUE(runNghttp(port(), "/expect", {"-v", "--expect-continue", "-d", dir.writeFile("body", body)}, &r));
  EXPECT_EQ(r.exit_code, 0) << r.stderr_text;
  EXPECT_NE(r.stdout_text.find(":status: 100"), std::string::npos) << r.stdout_text.substr(0, 3000);
  EXPECT_NE(r.stdout_text.find("got 262144"), std::string::npos) << r.stdout_text.substr(0, 3000);
  RecordedRequest got;
  ASSERT_TRUE(app_.waitForRequest(0, &got));
  EXPECT_TRUE(sameBytes(body, got.request.body));
}

TEST_F(Http2Proxy, LargeResponseHeadComesBackWhole) {
  // 20,000 bytes of fields: more than one frame (16 KiB), so HEADERS and CONTINUATION.
  Reply reply = app_.defaultReply();
  reply.headers.emplace_back("X-Large", std::string(20000, 'v'));
  app_.setReply(reply);
  H2Req get;
  get.path = "/large-head";
  H2PeerResult r = requests({get});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.stream(1).status, 200) << r.output.substr(0, 2000);
  EXPECT_EQ(r.stream(1).headers.get("x-large"), std::string(20000, 'v'));
  EXPECT_EQ(r.stream(1).body, "ok");
}

TEST_F(Http2Proxy, ClientGoawayLetsTheStreamInFlightFinish) {
  Reply reply = app_.defaultReply();
  reply.delay = 500ms;
  app_.setReply(reply);
  H2PeerOptions o;
  H2Req get;
  get.path = "/before-client-goaway";
  o.requests = {get};
  o.goaway_after_ms = 100;
  o.until_eof = true;
  o.timeout = 3000ms;
  H2PeerResult r = peer(o);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.stream(1).status, 200) << r.output;
  EXPECT_EQ(r.stream(1).body, "ok");
  // Nothing more can happen on the connection: the proxy closes it once the stream is done.
  ASSERT_GE(r.eof_ms, 0) << "the connection stayed open after the client's GOAWAY and its last stream:\n"
                         << r.output;
  EXPECT_LT(r.eof_ms - r.stream(1).end_ms, 1500) << r.output;
}

// HSTS is the listener's: it goes on HTTP/2 responses too, the upstream's and the proxy's own.
using Http2Listener = Http2Fixture;

TEST_F(Http2Listener, HstsGoesOnUpstreamAndLocalResponses) {
  FakeUpstream app{"app"};
  ProxyConfig config;
  config.upstreams = {{"app", {app.address()}}};
  config.routes = {{"", "/app/", "app"}};
  config.https_extra = {"hsts: {max_age: 600s, include_subdomains: true, preload: false}"};
  ASSERT_TRUE(proxy_.start(config));
  for (const char* path : {"/app/x", "/nowhere"}) {
    CurlRequest req;
    req.path = path;
    CurlResult r = curl(req);
    EXPECT_EQ(r.headers.getAll("strict-transport-security"),
              std::vector<std::string>{"max-age=600; includeSubDomains"})
        << path << "\n" << r.headers.toString();
  }
}

// ---------------------------------------------------------------------------------------------
// Local replies

class Http2LocalReplies : public Http2Fixture {
 protected:
  void SetUp() override {
    Http2Fixture::SetUp();
    if (IsSkipped()) return;
    ProxyConfig config;
    config.upstreams = {{"app", {app_.address()}}, {"down", {"127.0.0.1:" + std::to_string(unusedPort())}}};
    config.routes = {{"", "/app/", "app"}, {"", "/down/", "down"}};
    config.limits = {{"body", "64k"}};
    ASSERT_TRUE(proxy_.start(config));
  }
  FakeUpstream app_{"app"};
};

TEST_F(Http2LocalReplies, UnroutedPathGets404) {
  CurlRequest req;
  req.path = "/nowhere";
  CurlResult r = curl(req);
  EXPECT_EQ(r.status_line, "HTTP/2 404");
  EXPECT_TRUE(noHopByHopAndLowercase(r.headers)) << r.headers.toString();
  EXPECT_EQ(app_.requestCount(), 0u);
}

TEST_F(Http2LocalReplies, UpstreamDownGets502) {
  CurlRequest req;
  req.path = "/down/x";
  CurlResult r = curl(req);
  EXPECT_EQ(r.status_line, "HTTP/2 502");
  EXPECT_TRUE(noHopByHopAndLowercase(r.headers)) << r.headers.toString();
}

TEST_F(Http2LocalReplies, BodyOverTheLimitGets413) {
  // nghttp, not curl: the proxy answers before the upload ends and then resets the stream with
  // NO_ERROR (RFC 9113 §8.1), and Debian's curl 7.88 drops such a response (exit 92).
  TempDir dir;
  const std::string big = dir.writeFile("body", patternBody(100 * 1024, 41));
  // With content-length: refused from the head; without: once the DATA passes the limit.
  for (const char* path : {"/app/upload", "/app/upload-unsized"}) {
    std::vector<std::string> args = {"-v", "-d", big};
    if (std::string(path) == "/app/upload-unsized") args.insert(args.begin() + 1, "--no-content-length");
    CommandResult n;
    ASSERT_TRUE(runNghttp(port(), path, args, &n));
    EXPECT_NE(n.stdout_text.find(":status: 413"), std::string::npos)
        << path << "\n" << n.stdout_text.substr(0, 4000) << n.stderr_text;
  }
  // Neither reached the upstream whole.
  EXPECT_EQ(app_.requestCount(), 0u);
  // Under the limit is fine.
  CurlRequest req;
  req.path = "/app/upload";
  req.body = patternBody(10 * 1024, 43);
  CurlResult r = curl(req);
  EXPECT_EQ(r.status_line, "HTTP/2 200");
}

// ---------------------------------------------------------------------------------------------
// Concurrency

class Http2Concurrency : public Http2Fixture {
 protected:
  void startWithTwoUpstreams(milliseconds delay) {
    for (FakeUpstream* u : {&a_, &b_}) {
      Reply reply = u->defaultReply();
      reply.delay = delay;
      u->setReply(reply);
    }
    ASSERT_TRUE(proxy_.start(ProxyConfig::singleUpstream({a_.address(), b_.address()})));
  }
  FakeUpstream a_{"a"};
  FakeUpstream b_{"b"};
};

TEST_F(Http2Concurrency, FiftyConcurrentStreamsOnOneConnectionAreSpreadOverTwoUpstreams) {
  // Each response takes 50 ms upstream: 500 of them one after another would take 25 s.
  startWithTwoUpstreams(50ms);
  auto start = Clock::now();
  H2loadResult r;
  ASSERT_TRUE(runH2load(port(), "/many", 500, 1, 50, &r));
  const auto took = since(start);
  EXPECT_EQ(r.protocol, "h2") << r.output;
  EXPECT_EQ(r.succeeded, 500u) << r.output;
  EXPECT_EQ(r.status_2xx, 500u) << r.output;
  EXPECT_EQ(a_.requestCount() + b_.requestCount(), 500u);
  EXPECT_GT(a_.requestCount(), 100u) << "load not spread: a " << a_.requestCount() << ", b " << b_.requestCount();
  EXPECT_GT(b_.requestCount(), 100u) << "load not spread: a " << a_.requestCount() << ", b " << b_.requestCount();
  EXPECT_GE(a_.maxConcurrentRequests() + b_.maxConcurrentRequests(), 20u)
      << "the streams of one connection were not served concurrently";
  EXPECT_LT(took, 10s);
  RecordProperty("h2load_500x50_ms", static_cast<int>(took.count()));
}

TEST_F(Http2Concurrency, NghttpFiftyStreamsAllSucceed) {
  startWithTwoUpstreams(20ms);
  CommandResult r;
  ASSERT_TRUE(runNghttp(port(), "/nghttp", {"-n", "-s", "-m", "50"}, &r));
  EXPECT_EQ(r.exit_code, 0) << r.stderr_text << r.stdout_text;
  ASSERT_TRUE(pollUntil([&] { return a_.requestCount() + b_.requestCount() >= 50; }, kWait));
  EXPECT_EQ(a_.requestCount() + b_.requestCount(), 50u);
  EXPECT_GT(a_.requestCount(), 0u);
  EXPECT_GT(b_.requestCount(), 0u);
  // -s prints one line per stream with its status.
  size_t ok_lines = 0;
  for (size_t at = r.stdout_text.find(" 200 "); at != std::string::npos; at = r.stdout_text.find(" 200 ", at + 1)) {
    ++ok_lines;
  }
  EXPECT_EQ(ok_lines, 50u) << r.stdout_text;
}

TEST_F(Http2Concurrency, H2loadSmokeTwoThousandRequestsAllSucceed) {
  startWithTwoUpstreams(0ms);
  auto start = Clock::now();
  H2loadResult r;
  ASSERT_TRUE(runH2load(port(), "/smoke", 2000, 8, 10, &r));
  EXPECT_EQ(r.protocol, "h2") << r.output;
  EXPECT_EQ(r.succeeded, 2000u) << r.output;
  EXPECT_EQ(r.status_2xx, 2000u) << r.output;
  EXPECT_EQ(r.failed + r.errored + r.timeout, 0u) << r.output;
  RecordProperty("h2load_2000_ms", static_cast<int>(since(start).count()));
  EXPECT_TRUE(proxy_.running());
}

TEST_F(Http2Concurrency, LargeResponsesOnManyStreamsShareSmallWindows) {
  // 40 responses of 1 MiB, 10 at a time on one connection whose windows are 64 KiB (stream and
  // connection): every byte goes out as the client's WINDOW_UPDATEs allow.
  for (FakeUpstream* u : {&a_, &b_}) {
    Reply reply = u->defaultReply();
    reply.body = patternBody(kMiB, 61);
    u->setReply(reply);
  }
  ASSERT_TRUE(proxy_.start(ProxyConfig::singleUpstream({a_.address(), b_.address()})));
  H2loadResult r;
  ASSERT_TRUE(runH2load(port(), "/large", 40, 1, 10, &r, 30000ms, {"-w", "16", "-W", "16"}));
  EXPECT_EQ(r.protocol, "h2") << r.output;
  EXPECT_EQ(r.succeeded, 40u) << r.output;
  EXPECT_EQ(r.status_2xx, 40u) << r.output;
  EXPECT_NE(r.output.find("traffic: 40."), std::string::npos) << "not 40 MiB of traffic:\n" << r.output;
}

// ---------------------------------------------------------------------------------------------
// Attacks

class Http2Attacks : public Http2Fixture {
 protected:
  void SetUp() override {
    Http2Fixture::SetUp();
    if (IsSkipped()) return;
    ASSERT_TRUE(proxy_.start(ProxyConfig::singleUpstream({app_.address()})));
  }

  // Floods one connection with `count` frames (or streams) of `kind`; the proxy must answer with
  // GOAWAY (one of `codes`) and close within `bound` of the flood's start, and go on serving.
  void expectGoawayAndClose(const std::string& kind, int count, std::set<uint32_t> codes, int batch = 50,
                            milliseconds bound = 3000ms) {
    const uint64_t rss_before = residentKiB(proxy_.pid());
    H2PeerOptions o;
    o.scenario = "flood";
    o.kind = kind;
    o.count = count;
    o.batch = batch;
    o.timeout = 10000ms;
    H2PeerResult r = peer(o);
    ASSERT_TRUE(r.ok());
    ASSERT_TRUE(r.goaway_code) << "no GOAWAY for a " << kind << " flood:\n" << r.output.substr(0, 4000);
    EXPECT_TRUE(codes.count(*r.goaway_code)) << "GOAWAY code " << *r.goaway_code << ":\n" << r.output.substr(0, 4000);
    ASSERT_GE(r.eof_ms, 0) << "the connection was still open " << o.timeout.count() << " ms after a " << kind
                           << " flood:\n" << r.output.substr(0, 4000);
    ASSERT_TRUE(r.marks.count("flood_start"));
    EXPECT_GE(r.eof_ms, r.goaway_ms) << "closed before the GOAWAY";
    EXPECT_LT(r.eof_ms - r.marks["flood_start"], bound.count()) << r.output.substr(0, 4000);
    RecordProperty(kind + "_frames_sent", static_cast<int>(r.values["flood_frames"]));
    RecordProperty(kind + "_goaway_ms", static_cast<int>(r.goaway_ms - r.marks["flood_start"]));
    const uint64_t rss_after = residentKiB(proxy_.pid());
    EXPECT_LT(rss_after, rss_before + 64 * 1024) << "proxy RSS " << rss_before << " KiB before, " << rss_after;
    EXPECT_TRUE(stillServes());
    last_ = r;
  }

  FakeUpstream app_{"app"};
  H2PeerResult last_;
};

TEST_F(Http2Attacks, RapidResetGetsGoaway) {
  // CVE-2023-44487: HEADERS then RST_STREAM at once, thousands of times.
  expectGoawayAndClose("rapid_reset", 3000, {kH2EnhanceYourCalm});
}

TEST_F(Http2Attacks, ContinuationFloodGetsGoaway) {
  // CVE-2024-28182: HEADERS without END_HEADERS, then CONTINUATION for ever.
  expectGoawayAndClose("continuation", 2000, {kH2EnhanceYourCalm, kH2ProtocolError});
  EXPECT_EQ(app_.requestCount(), 1u) << "only stillServes()'s request may reach the upstream";
}

TEST_F(Http2Attacks, PingFloodGetsGoaway) {
  // CVE-2019-9512.
  expectGoawayAndClose("ping", 2000, {kH2EnhanceYourCalm});
}

TEST_F(Http2Attacks, SettingsFloodGetsGoaway) {
  // CVE-2019-9515.
  expectGoawayAndClose("settings", 2000, {kH2EnhanceYourCalm});
}

TEST_F(Http2Attacks, EmptyDataFloodGetsGoaway) {
  // CVE-2019-9518: DATA frames with no payload and no END_STREAM.
  expectGoawayAndClose("empty_data", 2000, {kH2EnhanceYourCalm, kH2ProtocolError});
}

TEST_F(Http2Attacks, StreamsBeyondMaxConcurrentStreamsGetGoaway) {
  // After our SETTINGS (max_concurrent_streams 100) are acknowledged, the 101st open stream is a
  // connection error (RFC 9113 §5.1.2).
  expectGoawayAndClose("streams", 150, {kH2ProtocolError, kH2EnhanceYourCalm}, 150);
  EXPECT_EQ(last_.values["max_concurrent_streams"], 100) << last_.output.substr(0, 2000);
}

TEST_F(Http2Attacks, MalformedRequestFloodGetsGoaway) {
  // CVE-2025-8671 ("MadeYouReset"): requests the server must reset itself cost the client as
  // little as its own RST_STREAM, so they count towards the same limit.
  expectGoawayAndClose("malformed", 3000, {kH2EnhanceYourCalm});
  EXPECT_EQ(app_.requestCount(), 1u) << "only stillServes()'s request may reach the upstream";
}

TEST_F(Http2Attacks, WindowUpdateFloodGetsGoaway) {
  // WINDOW_UPDATE frames with no DATA of ours to justify them.
  expectGoawayAndClose("window_update", 5000, {kH2EnhanceYourCalm});
}

TEST_F(Http2Attacks, PriorityFloodGetsGoaway) {
  // CVE-2019-9513: priority churn.
  expectGoawayAndClose("priority", 5000, {kH2EnhanceYourCalm});
}

// ---------------------------------------------------------------------------------------------
// Timeouts

class Http2Timeouts : public Http2Fixture {
 protected:
  ::testing::AssertionResult start(std::vector<std::pair<std::string, std::string>> timeouts,
                                   const std::string& buffering = "") {
    ProxyConfig config = ProxyConfig::singleUpstream({app_.address()});
    config.timeouts.insert(config.timeouts.end(), timeouts.begin(), timeouts.end());
    config.routes[0].buffering = buffering;
    return proxy_.start(config);
  }
  FakeUpstream app_{"app"};
};

TEST_F(Http2Timeouts, IdleConnectionGetsGoawayThenIsClosed) {
  ASSERT_TRUE(start({{"client_idle", "1s"}, {"client_header", "1s"}}));
  H2PeerOptions o;
  H2Req get;
  get.path = "/then-idle";
  o.requests = {get};
  o.until_eof = true;
  o.timeout = 8000ms;
  H2PeerResult r = peer(o);
  ASSERT_TRUE(r.ok());
  const H2Stream& s = r.stream(1);
  ASSERT_EQ(s.status, 200) << r.output;
  ASSERT_TRUE(r.goaway_code) << "no GOAWAY before the idle close:\n" << r.output;
  EXPECT_EQ(*r.goaway_code, kH2NoError) << r.output;
  EXPECT_GE(r.goaway_last_stream, 1) << r.output;
  ASSERT_GE(r.eof_ms, 0) << "an idle connection was still open after " << o.timeout.count() << " ms:\n" << r.output;
  EXPECT_GE(r.eof_ms, r.goaway_ms);
  const int64_t idle_ms = r.goaway_ms - s.end_ms;
  EXPECT_GE(idle_ms, 800) << "closed before the idle timeout (1 s):\n" << r.output;
  EXPECT_LT(r.eof_ms - s.end_ms, 3500) << "closed long after the idle timeout (1 s):\n" << r.output;
  RecordProperty("idle_goaway_after_ms", static_cast<int>(idle_ms));
}

TEST_F(Http2Timeouts, ZeroWindowClientIsCutAfterTheSendTimeout) {
  // The client reads everything but never opens its window: the body cannot move.
  ASSERT_TRUE(start({{"client_body", "1s"}}));
  Reply reply;
  reply.body = patternBody(16 * kMiB, 51);  // more than the loopback socket buffers hold
  app_.setReply(reply);
  H2PeerOptions o;
  o.scenario = "noread";
  o.mode = "zero_window";
  o.path = "/big";
  o.timeout = 8000ms;
  H2PeerResult r = peer(o);
  ASSERT_TRUE(r.ok());
  const H2Stream& s = r.stream(1);
  EXPECT_EQ(s.body_len, 0u) << "DATA beyond a zero window:\n" << r.output;
  EXPECT_FALSE(s.ended) << r.output;
  // Cut: the stream reset, or the connection closed (with GOAWAY).
  int64_t cut_ms = s.reset ? s.reset_ms : r.eof_ms;
  ASSERT_GE(cut_ms, 0) << "a zero-window client was never cut:\n" << r.output;
  EXPECT_GE(cut_ms, 800) << "cut before the send timeout (1 s):\n" << r.output;
  EXPECT_LT(cut_ms, 5000) << r.output;
  RecordProperty("zero_window_cut_ms", static_cast<int>(cut_ms));
  EXPECT_TRUE(stillServes());
}

TEST_F(Http2Timeouts, NonReadingClientIsCutAndProxyMemoryStaysBounded) {
  // Windows wide open, but the client does not read its socket at all: TCP backs up. Streaming
  // (`buffering: off`), so the backpressure must reach the upstream: with buffering on the proxy
  // would take the whole response into its temp file, by design.
  ASSERT_TRUE(start({{"client_body", "1s"}}, "off"));
  constexpr size_t kBody = 64 * kMiB;
  Reply reply;
  reply.body = patternBody(kBody, 52);
  app_.setReply(reply);
  const uint64_t rss_before = residentKiB(proxy_.pid());
  ASSERT_GT(rss_before, 0u);

  H2Peer client;
  H2PeerOptions o;
  o.scenario = "noread";
  o.mode = "no_read";
  o.path = "/big";
  o.stall_ms = 4000;
  o.timeout = 10000ms;
  ASSERT_TRUE(client.start(port(), o));
  ASSERT_TRUE(app_.waitForRequests(1));
  const auto requested = Clock::now();
  // The proxy stops reading the upstream once the client's side backs up ...
  uint64_t last = 0;
  auto last_growth = Clock::now();
  while (since(last_growth) < 500ms && since(requested) < 8s) {
    std::this_thread::sleep_for(20ms);  // sampling, not a readiness wait
    uint64_t now = app_.responseBodyBytesSent();
    if (now != last) {
      last = now;
      last_growth = Clock::now();
    }
  }
  EXPECT_LT(last, 24 * kMiB) << "the proxy kept reading a response its client was not taking";
  const uint64_t rss_stalled = residentKiB(proxy_.pid());
  EXPECT_LT(rss_stalled, rss_before + 32 * 1024) << "proxy RSS " << rss_before << " KiB before, " << rss_stalled
                                                 << " KiB while stalled";
  // ... and gives up on it after the send timeout: the upstream connection goes.
  EXPECT_TRUE(app_.waitForClosedConnections(1, 6000ms)) << "a client that does not read was never cut";
  const auto cut_after = since(requested);
  EXPECT_LT(cut_after, 7000ms);
  RecordProperty("non_reading_cut_ms", static_cast<int>(cut_after.count()));

  H2PeerResult r;
  ASSERT_TRUE(client.wait(&r));
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r.stream(1).ended) << "the whole 64 MiB went through?\n" << r.output.substr(0, 2000);
  EXPECT_LT(r.values["body_bytes"], static_cast<int64_t>(kBody));
  EXPECT_GE(r.eof_ms, 0) << "the connection of a client cut for not reading stayed open:\n"
                         << r.output.substr(0, 2000);
  EXPECT_TRUE(stillServes());
}

// ---------------------------------------------------------------------------------------------
// Request body backpressure

// Uploads through a streaming route (`buffering: off`): the proxy must pass the body on as the
// upstream takes it, opening the client's window only as it goes.
class Http2Backpressure : public Http2Fixture {
 protected:
  void SetUp() override {
    Http2Fixture::SetUp();
    if (IsSkipped()) return;
    ProxyConfig config = ProxyConfig::singleUpstream({app_.address()});
    config.routes[0].buffering = "off";
    ASSERT_TRUE(proxy_.start(config));
  }
  void TearDown() override {
    if (curl_pid_ > 0 && !curlExited()) {
      kill(curl_pid_, SIGKILL);
      waitpid(curl_pid_, &curl_status_, 0);
    }
  }

  // curl --http2 uploading `body` to /upload, in the background.
  void startUpload(const std::string& body) {
    const std::string file = dir_.writeFile("body", body);
    std::string error;
    curl_pid_ = spawnProcess({"/usr/bin/curl", "-sS", "-k", "--http2", "--data-binary", "@" + file, "-o",
                              dir_.path() + "/out", "-w", "%{http_version} %{http_code}",
                              "https://127.0.0.1:" + std::to_string(port()) + "/upload"},
                             dir_.path() + "/stdout", dir_.path() + "/stderr", &error);
    ASSERT_GT(curl_pid_, 0) << error;
  }
  bool curlExited() {
    if (!curl_done_ && curl_pid_ > 0) curl_done_ = waitpid(curl_pid_, &curl_status_, WNOHANG) == curl_pid_;
    return curl_done_;
  }
  // Waits for curl to end; "<http version> <status>" as curl printed them.
  ::testing::AssertionResult finishUpload(milliseconds timeout, std::string* result) {
    if (!pollUntil([&] { return curlExited(); }, timeout)) {
      return ::testing::AssertionFailure() << "the upload was still going after " << timeout.count() << " ms";
    }
    *result = readFile(dir_.path() + "/stdout");
    if (!WIFEXITED(curl_status_) || WEXITSTATUS(curl_status_) != 0) {
      return ::testing::AssertionFailure() << "curl failed: " << readFile(dir_.path() + "/stderr");
    }
    return ::testing::AssertionSuccess();
  }

  FakeUpstream app_{"app"};
  TempDir dir_;
  pid_t curl_pid_ = -1;
  int curl_status_ = 0;
  bool curl_done_ = false;
};

TEST_F(Http2Backpressure, StreamedUploadOf64MiBArrivesIntact) {
  // Past every window and watermark: the upstream socket's queue fills and drains many times.
  const std::string body = patternBody(64 * kMiB, 62);
  startUpload(body);
  std::string result;
  ASSERT_TRUE(finishUpload(10000ms, &result));
  EXPECT_EQ(result, "2 200");
  RecordedRequest got;
  ASSERT_TRUE(app_.waitForRequest(0, &got));
  EXPECT_TRUE(sameBytes(body, got.request.body));
}

TEST_F(Http2Backpressure, UpstreamThatStopsReadingStallsTheUploadAndGetsItWholeLater) {
  const std::string body = patternBody(64 * kMiB, 63);
  app_.holdRequestBodies();
  const uint64_t rss_before = residentKiB(proxy_.pid());
  startUpload(body);
  ASSERT_TRUE(app_.waitForHeldRequests(1)) << "the request head never reached the upstream";
  std::this_thread::sleep_for(1500ms);  // the upload runs into the stall (nothing to wait for)
  EXPECT_FALSE(curlExited()) << "curl finished a 64 MiB upload its upstream was not reading";
  const uint64_t rss_stalled = residentKiB(proxy_.pid());
  EXPECT_LT(rss_stalled, rss_before + 32 * 1024) << "proxy RSS " << rss_before << " KiB before, " << rss_stalled
                                                 << " KiB while stalled";

  app_.releaseRequestBodies();
  std::string result;
  ASSERT_TRUE(finishUpload(10000ms, &result));
  EXPECT_EQ(result, "2 200");
  RecordedRequest got;
  ASSERT_TRUE(app_.waitForRequest(0, &got));
  EXPECT_TRUE(sameBytes(body, got.request.body));
}

// ---------------------------------------------------------------------------------------------
// Shutdown

class Http2Shutdown : public Http2Fixture {
 protected:
  FakeUpstream app_{"app"};
};

TEST_F(Http2Shutdown, SigtermSendsGoawayAndTheStreamInFlightCompletes) {
  Reply reply;
  reply.body = "finished after SIGTERM";
  reply.delay = 1000ms;
  app_.setReply(reply);
  ProxyConfig config = ProxyConfig::singleUpstream({app_.address()});
  config.timeouts = {{"shutdown_grace", "5s"}};
  ASSERT_TRUE(proxy_.start(config));

  H2Peer client;
  H2PeerOptions o;
  H2Req get;
  get.path = "/slow";
  o.requests = {get};
  o.until_eof = true;
  o.timeout = 8000ms;
  ASSERT_TRUE(client.start(port(), o));
  ASSERT_TRUE(app_.waitForRequests(1));  // in flight: the upstream has it and is taking its time
  ASSERT_TRUE(proxy_.sendSignal(SIGTERM));

  H2PeerResult r;
  ASSERT_TRUE(client.wait(&r));
  ASSERT_TRUE(r.ok());
  const H2Stream& s = r.stream(1);
  EXPECT_EQ(s.status, 200) << r.output;
  EXPECT_TRUE(s.ended) << r.output;
  EXPECT_EQ(s.body, reply.body);
  ASSERT_TRUE(r.goaway_code) << "no GOAWAY on SIGTERM:\n" << r.output;
  EXPECT_EQ(*r.goaway_code, kH2NoError) << r.output;
  EXPECT_GE(r.goaway_last_stream, 1) << "the GOAWAY refused the stream in flight:\n" << r.output;
  EXPECT_LT(r.goaway_ms, s.end_ms) << "the GOAWAY came only after the response, not on SIGTERM:\n" << r.output;
  EXPECT_GE(r.eof_ms, s.end_ms) << "the connection closed before the response was done:\n" << r.output;
  RecordProperty("close_after_last_stream_ms", static_cast<int>(r.eof_ms - s.end_ms));
  // Draining: the connection closes once its last stream is done, not at shutdown_grace (5 s).
  EXPECT_LT(r.eof_ms - s.end_ms, 1500) << "the connection outlived its last stream after GOAWAY:\n" << r.output;
  EXPECT_TRUE(proxy_.waitForExit(5000ms));
}

// ---------------------------------------------------------------------------------------------
// Observability

class Http2Observability : public Http2Fixture {
 protected:
  FakeUpstream app_{"app"};
  TempDir dir_;
  const std::string log_ = dir_.path() + "/access.log";
};

TEST_F(Http2Observability, StreamsAreLoggedAndCountedLikeHttp11Requests) {
  ProxyConfig config = ProxyConfig::singleUpstream({app_.address()});
  config.top_extra = {"access_log: {path: " + log_ + ", format: json}", "admin: {address: \"127.0.0.1:0\"}"};
  ASSERT_TRUE(proxy_.start(config));
  H2loadResult r;
  ASSERT_TRUE(runH2load(port(), "/logged?x=1", 20, 1, 5, &r));
  ASSERT_EQ(r.status_2xx, 20u) << r.output;

  std::vector<std::string> lines;
  ASSERT_TRUE(waitForLines(log_, 20, &lines));
  std::vector<JsonFields> recs;
  ASSERT_TRUE(parseJsonLines(log_, &recs));
  ASSERT_EQ(recs.size(), 20u);
  for (auto& f : recs) {
    EXPECT_TRUE(f["protocol"] == "\"HTTP/2.0\"" || f["protocol"] == "\"HTTP/2\"") << f["protocol"];
    EXPECT_EQ(f["method"], "\"GET\"");
    EXPECT_EQ(f["path"], "\"/logged\"");
    EXPECT_EQ(f["query"], "\"x=1\"");
    EXPECT_EQ(f["host"], "\"127.0.0.1:" + std::to_string(port()) + "\"");  // from :authority
    EXPECT_EQ(f["status"], "200");
    EXPECT_EQ(f["cluster"], "\"app\"");
  }

  MetricSamples m;
  const std::string ok = "portcullis_requests_total|cluster=app,code=2xx,listener=https,route=*/";
  EXPECT_TRUE(pollUntil([&] { return scrapeMetrics(proxy_, &m) && sampleAt(m, ok) == 20; }, kWait))
      << ok << " = " << sampleAt(m, ok);
  EXPECT_EQ(sampleAt(m, "portcullis_connections_accepted_total|listener=https,protocol=h2"), 1);
}

}  // namespace
}  // namespace portcullis::integration
