// WebSocket over HTTP/2 (RFC 8441) and HTTP/2 connection coalescing (RFC 9113 §9.1.1), through
// the real binary.
//
// RFC 8441: the proxy offers SETTINGS_ENABLE_CONNECT_PROTOCOL=1; an extended CONNECT
// (:protocol websocket) goes to the HTTP/1.1 upstream as an `Upgrade: websocket` GET with a key
// the proxy makes up; the upstream's 101 comes back as :status 200 (no Sec-WebSocket-Accept) and
// the stream's DATA then carries the WebSocket frames both ways; END_STREAM goes both ways when
// either side half-closes; a refusal (403) is relayed as it is; an upstream 2xx that is not a 101
// (e.g. behind a route with `websocket: false`) is a 502, never a tunnel. The upstreams are the
// real ASGI servers of websocket_test.cc (uvicorn and daphne running apps/ws_app.py, via
// harness/app_server.h); the client is apps/h2_ws_peer.py (hyperframe + hpack, masked frames,
// send-side flow control), driven step by step through harness/h2_client.h's H2WsPeer.
//
// Coalescing: over HTTP/2, a request whose :authority is neither the connection's SNI nor a
// name its certificate covers (exact or one-label wildcard) is answered 421; HTTP/1.1 and
// connections without SNI are never checked. The certificate is made per test process by
// scripts/gen-dev-cert.sh with extra names.
//
// Every wait is bounded: h2_ws_peer.py runs under --timeout-ms and is killed 5 s after it.
//
// Suites:
//   Http2WebSocket     RFC 8441 scenarios, for uvicorn and for daphne
//   Http2Coalescing    421 for names the connection's certificate does not cover
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <map>
#include <memory>
#include <thread>

#include "harness/app_server.h"
#include "harness/h2_client.h"
#include "harness/harness.h"
#include "harness/observability.h"

namespace portcullis::integration {
namespace {

using namespace std::chrono_literals;

std::string kindName(const ::testing::TestParamInfo<AppServerKind>& info) { return appServerName(info.param); }

// A connection id unique in this test process, for "?id=".
std::string uniqueId(const std::string& prefix) {
  static std::atomic<int> counter{0};
  return prefix + "-h2-" + std::to_string(getpid()) + "-" + std::to_string(++counter);
}

std::string hexOf(std::string_view s) {
  static const char* d = "0123456789abcdef";
  std::string out;
  for (unsigned char c : s) {
    out += d[c >> 4];
    out += d[c & 15];
  }
  return out;
}

// The payload of a close frame with `code` and no reason.
std::string closePayload(uint16_t code) { return std::string{static_cast<char>(code >> 8), static_cast<char>(code & 0xff)}; }

bool hasField(const HeaderList& h, const std::string& name) {
  for (const auto& [n, v] : h.entries) {
    if (toLower(n) == name) return true;
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// RFC 8441

class Http2WebSocket : public ::testing::TestWithParam<AppServerKind> {
 public:
  static void TearDownTestSuite() { shared_.clear(); }

 protected:
  void SetUp() override {
    if (std::string why = h2PeerUnavailableReason(); !why.empty()) GTEST_SKIP() << why;
    if (std::string why = AppServer::unavailableReason(GetParam()); !why.empty()) GTEST_SKIP() << why;
  }

  // The app server of this kind, shared by the suite (python takes about a second to start).
  AppServer& app() {
    auto& slot = shared_[GetParam()];
    if (!slot || !slot->running()) {
      slot = std::make_unique<AppServer>(GetParam(), appServerName(GetParam()));
      EXPECT_TRUE(slot->start());
    }
    return *slot;
  }
  std::string kind() const { return appServerName(GetParam()); }
  std::string id() { return uniqueId(kind()); }

  ProxyConfig configFor(const AppServer& server) const {
    ProxyConfig config = ProxyConfig::singleUpstream({server.address()});
    config.top_extra = {"admin: {address: \"127.0.0.1:0\"}"};
    return config;
  }
  ::testing::AssertionResult startProxy() { return startProxy(configFor(app())); }
  ::testing::AssertionResult startProxy(const ProxyConfig& config) {
    auto r = proxy_.start(config);
    if (r && proxy_.port("admin") == 0) return ::testing::AssertionFailure() << "no admin line in the ready file";
    return r;
  }

  H2WsPeerResult peer(std::vector<std::string> steps, milliseconds timeout = 5000ms) {
    H2WsPeerOptions o;
    o.steps = std::move(steps);
    o.timeout = timeout;
    H2WsPeerResult r;
    EXPECT_TRUE(H2WsPeer::run(proxy_.httpsPort(), o, &r));
    return r;
  }

  // Polls the app's view of connection `conn_id` until it starts with `prefix`.
  ::testing::AssertionResult appSees(const std::string& conn_id, const std::string& prefix,
                                     milliseconds timeout = kWait) {
    std::string state;
    if (pollUntil([&] { return (state = app().connectionState(conn_id)).rfind(prefix, 0) == 0; }, timeout)) {
      return ::testing::AssertionSuccess();
    }
    return ::testing::AssertionFailure() << "the app says \"" << state << "\" for " << conn_id << ", waited for \""
                                         << prefix << "\" for " << timeout.count() << " ms";
  }

  // The tunnel's answer: 200, none of HTTP/1.1's upgrade fields, no Sec-WebSocket-Accept.
  void expectTunnelHead(const H2WsPeerResult& r, const std::string& name) {
    const H2Stream& s = r.stream(name);
    EXPECT_EQ(s.status, 200) << r.output;
    EXPECT_FALSE(hasField(s.headers, "sec-websocket-accept")) << r.output;
    EXPECT_FALSE(hasField(s.headers, "upgrade")) << r.output;
    EXPECT_FALSE(hasField(s.headers, "connection")) << r.output;
    EXPECT_FALSE(s.reset) << "stream " << name << " was reset:\n" << r.output;
  }

  // The server ended stream `name` cleanly (END_STREAM, no RST_STREAM).
  void expectEnded(const H2WsPeerResult& r, const std::string& name) {
    const H2Stream& s = r.stream(name);
    EXPECT_TRUE(s.ended) << "no END_STREAM on " << name << ":\n" << r.output;
    EXPECT_FALSE(s.reset) << "stream " << name << " was reset:\n" << r.output;
  }

  // Received message `i` on `name` is what was sent as message `j` (same opcode, length, hash).
  void expectEchoOf(const H2WsPeerResult& r, const std::string& name, size_t i, size_t j) {
    const auto& got = r.got(name);
    auto sent_it = r.sent.find(name);
    ASSERT_TRUE(sent_it != r.sent.end() && j < sent_it->second.size()) << r.output;
    ASSERT_LT(i, got.size()) << "message " << i << " on " << name << " never came:\n" << r.output;
    const H2WsMessage& want = sent_it->second[j];
    EXPECT_EQ(got[i].opcode, want.opcode) << r.output;
    EXPECT_EQ(got[i].length, want.length) << r.output;
    EXPECT_EQ(got[i].sha256, want.sha256) << "message " << i << " on " << name << " differs from what was sent";
  }

  // The close frame the app answered ours with carries `code`.
  void expectCloseEcho(const H2WsPeerResult& r, const std::string& name, uint16_t code) {
    const auto& got = r.got(name);
    ASSERT_FALSE(got.empty()) << r.output;
    EXPECT_EQ(got.back().opcode, "close") << r.output;
    EXPECT_EQ(hexOf(got.back().data).substr(0, 4), hexOf(closePayload(code))) << r.output;
  }

  static inline std::map<AppServerKind, std::unique_ptr<AppServer>> shared_;
  ProxyProcess proxy_;
};

TEST_P(Http2WebSocket, ServerAdvertisesExtendedConnect) {
  ASSERT_TRUE(startProxy());
  H2WsPeerResult r = peer({"get g /whoami", "done g"});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.h2.settings["enable_connect_protocol"], "1") << r.output;
  EXPECT_EQ(r.stream("g").status, 200);
}

TEST_P(Http2WebSocket, EchoTextAndBinary) {
  ASSERT_TRUE(startProxy());
  const std::string conn = id();
  H2WsPeerResult r = peer({"ws a /echo?id=" + conn, "head a",
                           "text a hello over h2",  // 0
                           "recv a",
                           "binary a 70000 3",  // 1: past the 16-bit length form
                           "recv a",
                           "binary a 125 4",  // 2: the largest 7-bit length
                           "recv a",
                           "text a h\xc3\xa9llo",  // 3: UTF-8 beyond ASCII
                           "recv a", "close a 1000", "recv a", "end a"});
  ASSERT_TRUE(r.ok());
  expectTunnelHead(r, "a");
  ASSERT_EQ(r.got("a").size(), 5u) << r.output;
  EXPECT_EQ(r.got("a")[0].opcode, "text");
  EXPECT_EQ(r.got("a")[0].data, "hello over h2");
  expectEchoOf(r, "a", 1, 1);
  expectEchoOf(r, "a", 2, 2);
  EXPECT_EQ(r.got("a")[3].data, "h\xc3\xa9llo");
  expectCloseEcho(r, "a", 1000);
  EXPECT_TRUE(appSees(conn, "closed 1000"));
}

TEST_P(Http2WebSocket, OneMebibyteMessageBothWays) {
  ASSERT_TRUE(startProxy());
  // 1 MiB is four times the proxy's stream window and the whole connection window: the sender
  // has to wait for WINDOW_UPDATEs, which come as the upstream takes the bytes.
  const std::string conn = id();
  H2WsPeerResult r = peer({"ws a /echo?id=" + conn, "head a", "binary a 1048576 11", "recv a", "text a after",
                           "recv a", "close a 1000", "recv a", "end a"},
                          10000ms);
  ASSERT_TRUE(r.ok());
  expectTunnelHead(r, "a");
  ASSERT_EQ(r.got("a").size(), 3u) << r.output;
  EXPECT_EQ(r.got("a")[0].length, 1048576u);
  expectEchoOf(r, "a", 0, 0);
  EXPECT_EQ(r.got("a")[1].data, "after") << "the tunnel is out of step after the big message";
  EXPECT_TRUE(appSees(conn, "closed 1000"));
}

TEST_P(Http2WebSocket, BytesSentBeforeThe200AreNotLost) {
  ASSERT_TRUE(startProxy());
  // A message right behind the CONNECT, before the answer: the proxy holds it until the tunnel
  // is open and then forwards it first.
  H2WsPeerResult r = peer({"ws a /echo?id=" + id(), "text a early bird", "head a", "recv a", "close a 1000",
                           "recv a", "end a"});
  ASSERT_TRUE(r.ok());
  expectTunnelHead(r, "a");
  ASSERT_GE(r.got("a").size(), 1u) << r.output;
  EXPECT_EQ(r.got("a")[0].data, "early bird");
}

TEST_P(Http2WebSocket, ServerPush) {
  ASSERT_TRUE(startProxy());
  H2WsPeerResult r = peer({"ws a /push?n=3&id=" + id(), "head a", "recv a 3", "text a then echo", "recv a",
                           "close a 1000", "recv a", "end a"});
  ASSERT_TRUE(r.ok());
  expectTunnelHead(r, "a");
  ASSERT_EQ(r.got("a").size(), 5u) << r.output;
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(r.got("a")[i].opcode, "text");
    EXPECT_EQ(r.got("a")[i].data, "push " + std::to_string(i));
  }
  EXPECT_EQ(r.got("a")[3].data, "then echo");
}

TEST_P(Http2WebSocket, CloseHandshakeEndsTheStreamBothWays) {
  ASSERT_TRUE(startProxy());
  const std::string conn = id();
  // The app closes its side once the handshake is done: that half-close is the proxy's
  // END_STREAM, which comes without the client ending its own side first ("done a" before
  // "end a"). Then the client's END_STREAM, and the connection goes on serving.
  H2WsPeerResult r = peer({"ws a /echo?id=" + conn, "head a", "text a bye soon", "recv a", "close a 1000",
                           "recv a", "done a", "end a", "get g /whoami", "done g"});
  ASSERT_TRUE(r.ok());
  expectTunnelHead(r, "a");
  expectCloseEcho(r, "a", 1000);
  expectEnded(r, "a");
  EXPECT_TRUE(appSees(conn, "closed 1000"));
  EXPECT_EQ(r.stream("g").status, 200) << r.output;
  ASSERT_TRUE(r.stream("g").body);
  EXPECT_EQ(*r.stream("g").body, kind());
  EXPECT_EQ(r.h2.goaway_code, std::nullopt) << r.output;
  AppStats stats;
  ASSERT_TRUE(app().stats(&stats));
  EXPECT_GE(stats.closed, 1);
}

TEST_P(Http2WebSocket, ClientEndStreamHalfClosesTheUpstream) {
  ASSERT_TRUE(startProxy());
  const std::string conn = id();
  // No close frame: the client's END_STREAM alone. The upstream must see its end of the TCP
  // connection (the app: a WebSocket gone without a close frame), and the proxy then ends the
  // stream from its side too, without waiting for anything more from the client (the
  // exchange's end sends the END_STREAM at once, not with the connection's next write).
  H2WsPeerResult r = peer({"ws a /echo?id=" + conn, "head a", "text a x", "recv a", "end a", "done a"});
  EXPECT_TRUE(r.ok()) << "(a timeout in \"done a\": no END_STREAM from the proxy)";
  expectTunnelHead(r, "a");
  expectEnded(r, "a");
  EXPECT_TRUE(appSees(conn, "closed"));
}

TEST_P(Http2WebSocket, QuietWebSocketOutlivesClientBody) {
  // client_body bounds a client that does not read or send what a request needs; a WebSocket
  // quiet for longer is no such client (tunnel_idle bounds it, as over HTTP/1.1).
  ProxyConfig config = configFor(app());
  config.timeouts.push_back({"client_body", "1s"});
  ASSERT_TRUE(startProxy(config));
  const std::string conn = id();
  H2WsPeerResult r = peer({"ws a /echo?id=" + conn, "head a", "text a before", "recv a", "sleep 2500",
                           "text a after", "recv a", "close a 1000", "recv a", "end a"},
                          10000ms);
  ASSERT_TRUE(r.ok()) << r.output;
  expectTunnelHead(r, "a");
  ASSERT_GE(r.got("a").size(), 2u) << r.output;
  EXPECT_EQ(r.got("a")[1].data, "after");
}

TEST_P(Http2WebSocket, ServerInitiatedCloseEndsTheStream) {
  ASSERT_TRUE(startProxy());
  const std::string conn = id();
  // /close/4001 closes after the first message; the client answers the close, the app closes
  // its TCP side, and the proxy ends the stream. (With daphne this fails as of this writing: the
  // exchange ends at once there and meets the same unflushed END_STREAM as
  // ClientEndStreamHalfClosesTheUpstream.)
  H2WsPeerResult r = peer({"ws a /close/4001?id=" + conn, "head a", "text a trigger", "recv a", "close a 4001",
                           "done a", "end a"});
  EXPECT_TRUE(r.ok()) << "(a timeout in \"done a\": no END_STREAM from the proxy)";
  expectTunnelHead(r, "a");
  ASSERT_GE(r.got("a").size(), 1u) << r.output;
  EXPECT_EQ(r.got("a")[0].opcode, "close");
  EXPECT_EQ(hexOf(r.got("a")[0].data).substr(0, 4), hexOf(closePayload(4001)));
  expectEnded(r, "a");
  EXPECT_TRUE(appSees(conn, "closed"));
}

TEST_P(Http2WebSocket, Reject403IsRelayedWithoutTunnel) {
  ASSERT_TRUE(startProxy());
  AppStats before, after;
  ASSERT_TRUE(app().stats(&before));
  H2WsPeerResult r = peer({"ws a /reject403", "done a", "get g /whoami", "done g"});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.stream("a").status, 403) << r.output;
  EXPECT_TRUE(r.stream("a").ended || r.stream("a").reset) << r.output;
  EXPECT_TRUE(r.got("a").empty()) << r.output;
  // The same connection still serves ordinary requests.
  EXPECT_EQ(r.stream("g").status, 200) << r.output;
  ASSERT_TRUE(app().stats(&after));
  EXPECT_EQ(after.accepted, before.accepted);

  MetricSamples m;
  ASSERT_TRUE(scrapeMetrics(proxy_, &m));
  EXPECT_LE(sampleAt(m, "portcullis_tunnels_total|cluster=app"), 0) << "a refused handshake counted as a tunnel";
}

TEST_P(Http2WebSocket, TwoWebSocketsAndGetsMultiplexedOnOneConnection) {
  ASSERT_TRUE(startProxy());
  const std::string ca = id(), cb = id();
  H2WsPeerResult r = peer({"ws a /echo?id=" + ca, "ws b /push?n=1&id=" + cb, "get g1 /whoami", "head a", "head b",
                           "recv b",  // "push 0"
                           "text a from a", "text b from b", "get g2 /stats", "recv a", "recv b",
                           "binary b 100000 7", "binary a 50000 8", "recv a", "recv b", "done g1", "done g2",
                           "close a 1000", "recv a", "end a",
                           // b is still open after a is closed.
                           "text b still here", "recv b", "close b 1000", "recv b", "end b"});
  ASSERT_TRUE(r.ok());
  EXPECT_NE(r.sids["a"], r.sids["b"]);
  expectTunnelHead(r, "a");
  expectTunnelHead(r, "b");
  ASSERT_EQ(r.got("a").size(), 3u) << r.output;
  ASSERT_EQ(r.got("b").size(), 5u) << r.output;
  EXPECT_EQ(r.got("b")[0].data, "push 0");
  EXPECT_EQ(r.got("a")[0].data, "from a");
  EXPECT_EQ(r.got("b")[1].data, "from b");
  expectEchoOf(r, "a", 1, 1);
  expectEchoOf(r, "b", 2, 1);
  EXPECT_EQ(r.got("b")[3].data, "still here");
  EXPECT_EQ(r.stream("g1").status, 200);
  ASSERT_TRUE(r.stream("g1").body);
  EXPECT_EQ(*r.stream("g1").body, kind());
  EXPECT_EQ(r.stream("g2").status, 200);
  EXPECT_TRUE(appSees(ca, "closed 1000"));
  EXPECT_TRUE(appSees(cb, "closed 1000"));
}

TEST_P(Http2WebSocket, ClientResetClosesTheUpstreamWebSocket) {
  ASSERT_TRUE(startProxy());
  const std::string conn = id();
  H2WsPeer peer;
  const std::string go = peer.dir() + "/go";
  H2WsPeerOptions o;
  // After the RST_STREAM the connection stays open (another stream is served on it) until the
  // test has seen the app's side closed: only the reset can have closed it.
  o.steps = {"ws a /echo?id=" + conn, "head a", "text a x", "recv a", "rst a", "get g /whoami", "done g",
             "wait_file " + go};
  o.timeout = 10000ms;
  ASSERT_TRUE(peer.start(proxy_.httpsPort(), o));
  ASSERT_TRUE(peer.waitForOutput("mark rst_a ", 8000ms)) << peer.outputSoFar();
  EXPECT_TRUE(appSees(conn, "closed"));
  const std::string so_far = peer.outputSoFar();
  EXPECT_EQ(so_far.find("\neof "), std::string::npos) << "the connection closed; the test proves nothing:\n"
                                                       << so_far;
  std::ofstream(go).put('\n');
  H2WsPeerResult r;
  ASSERT_TRUE(peer.wait(&r));
  ASSERT_TRUE(r.ok());
  expectTunnelHead(r, "a");
  EXPECT_EQ(r.stream("g").status, 200) << r.output;
  MetricSamples m;
  EXPECT_TRUE(pollUntil([&] {
    return scrapeMetrics(proxy_, &m) && sampleAt(m, "portcullis_tunnels_open|cluster=app") == 0;
  }, kWait)) << "tunnels_open " << sampleAt(m, "portcullis_tunnels_open|cluster=app");
}

TEST_P(Http2WebSocket, RouteWithWebSocketFalseOpensNoTunnel) {
  ProxyConfig config = configFor(app());
  config.routes = {ProxyConfig::Route("", "/", "app")};
  config.routes[0].extra = {"websocket: false"};
  ASSERT_TRUE(startProxy(config));
  AppStats before, after;
  ASSERT_TRUE(app().stats(&before));
  H2WsPeerResult r = peer({"ws a /echo", "done a", "get g /whoami", "done g"});
  ASSERT_TRUE(r.ok());
  const H2Stream& s = r.stream("a");
  // The app answered the plain GET with a 200, which to an extended CONNECT would mean "tunnel
  // open": the proxy makes it a 502 (a reset would do as well; a 2xx would not).
  EXPECT_TRUE(s.reset || s.status >= 300) << "status " << s.status << ":\n" << r.output;
  EXPECT_EQ(s.status, 502) << r.output;
  EXPECT_TRUE(s.ended || s.reset) << r.output;
  EXPECT_TRUE(r.got("a").empty());
  EXPECT_EQ(r.stream("g").status, 200) << r.output;
  ASSERT_TRUE(app().stats(&after));
  EXPECT_EQ(after.accepted, before.accepted) << "the app accepted a WebSocket behind websocket: false";
}

TEST_P(Http2WebSocket, MetricsAndAccessLogCountTheTunnel) {
  ProxyConfig config = configFor(app());
  const std::string log = proxy_.dir() + "/access.log";
  config.top_extra.push_back("access_log: {path: " + log + ", format: json}");
  ASSERT_TRUE(startProxy(config));
  const std::string open_key = "portcullis_tunnels_open|cluster=app";
  const std::string total_key = "portcullis_tunnels_total|cluster=app";
  const std::string up_key = "portcullis_tunnel_bytes_total|cluster=app,direction=to_upstream";
  const std::string down_key = "portcullis_tunnel_bytes_total|cluster=app,direction=to_client";
  auto value = [](const MetricSamples& s, const std::string& k) { return std::max(0.0, sampleAt(s, k)); };

  H2WsPeer peer;
  const std::string go = peer.dir() + "/go";
  H2WsPeerOptions o;
  o.steps = {"ws a /echo?id=" + id(), "head a", "binary a 20000 9", "recv a", "wait_file " + go, "close a 1000",
             "recv a", "end a"};
  ASSERT_TRUE(peer.start(proxy_.httpsPort(), o));
  ASSERT_TRUE(peer.waitForOutput("mark step_3_done ", 8000ms)) << peer.outputSoFar();
  MetricSamples m;
  EXPECT_TRUE(pollUntil([&] { return scrapeMetrics(proxy_, &m) && value(m, open_key) == 1; }, kWait))
      << "tunnels_open " << sampleAt(m, open_key);
  std::ofstream(go).put('\n');
  H2WsPeerResult r;
  ASSERT_TRUE(peer.wait(&r));
  ASSERT_TRUE(r.ok());
  expectTunnelHead(r, "a");

  EXPECT_TRUE(pollUntil([&] { return scrapeMetrics(proxy_, &m) && value(m, open_key) == 0; }, kWait))
      << "tunnels_open " << sampleAt(m, open_key);
  EXPECT_EQ(value(m, total_key), 1);
  EXPECT_TRUE(pollUntil([&] {
    return scrapeMetrics(proxy_, &m) && value(m, up_key) >= 20000 && value(m, down_key) >= 20000;
  }, kWait)) << "to_upstream " << sampleAt(m, up_key) << ", to_client " << sampleAt(m, down_key);
  EXPECT_EQ(sampleAt(m, "portcullis_connections_accepted_total|listener=https,protocol=h2"), 1);

  std::vector<std::string> lines;
  ASSERT_TRUE(waitForLines(log, 1, &lines));
  std::vector<JsonFields> records;
  ASSERT_TRUE(parseJsonLines(log, &records));
  int tunnels = 0;
  for (JsonFields& f : records) {
    if (f["status"] != "101") continue;
    ++tunnels;
    EXPECT_EQ(f["cluster"], "\"app\"");
    EXPECT_TRUE(f["protocol"] == "\"HTTP/2.0\"" || f["protocol"] == "\"HTTP/2\"") << f["protocol"];
  }
  EXPECT_EQ(tunnels, 1) << readFile(log);
}

INSTANTIATE_TEST_SUITE_P(H2WebSocket, Http2WebSocket,
                         ::testing::Values(AppServerKind::kUvicorn, AppServerKind::kDaphne), kindName);

// ---------------------------------------------------------------------------------------------
// Connection coalescing: 421

// localhost, 127.0.0.1 and ::1 (as every dev certificate), plus a.test, c.test and *.w.test.
const CertFiles& coalescingCert() {
  static const CertFiles files = [] {
    static TempDir dir;
    CertFiles f;
    CommandResult r;
    auto ran = runCommand({std::string(PORTCULLIS_SOURCE_DIR) + "/scripts/gen-dev-cert.sh", "--force", "--name",
                           "a.test", "--name", "c.test", "--name", "*.w.test", dir.path()},
                          &r);
    if (!ran || r.exit_code != 0) {
      f.error = "gen-dev-cert.sh failed: " + (ran ? r.stderr_text : std::string(ran.message()));
      return f;
    }
    f.certificate = dir.path() + "/dev-cert.pem";
    f.key = dir.path() + "/dev-key.pem";
    return f;
  }();
  return files;
}

class Http2Coalescing : public ::testing::Test {
 protected:
  void SetUp() override {
    if (std::string why = h2PeerUnavailableReason(); !why.empty()) GTEST_SKIP() << why;
    ASSERT_TRUE(coalescingCert().error.empty()) << coalescingCert().error;
    ProxyConfig config = ProxyConfig::singleUpstream({up_.address()});
    config.certificate = coalescingCert().certificate;
    config.key = coalescingCert().key;
    ASSERT_TRUE(proxy_.start(config));
  }

  // GETs each of `authorities` on one HTTP/2 connection made with `sni`; the statuses in order.
  std::vector<int> statuses(const std::string& sni, const std::vector<std::string>& authorities,
                            H2WsPeerResult* out = nullptr) {
    H2WsPeerOptions o;
    o.sni = sni;
    for (size_t i = 0; i < authorities.size(); ++i) {
      o.steps.push_back("get g" + std::to_string(i) + " /coalesce/" + std::to_string(i) + " " + authorities[i]);
    }
    for (size_t i = 0; i < authorities.size(); ++i) o.steps.push_back("done g" + std::to_string(i));
    H2WsPeerResult r;
    EXPECT_TRUE(H2WsPeer::run(proxy_.httpsPort(), o, &r));
    EXPECT_TRUE(r.ok());
    std::vector<int> got;
    for (size_t i = 0; i < authorities.size(); ++i) got.push_back(r.stream("g" + std::to_string(i)).status);
    if (out) *out = std::move(r);
    return got;
  }

  FakeUpstream up_{"app"};
  ProxyProcess proxy_;
};

TEST_F(Http2Coalescing, NameNotCoveredByTheCertificateGets421) {
  H2WsPeerResult r;
  EXPECT_EQ(statuses("a.test", {"b.test", "b.test:443", "example.com"}, &r), (std::vector<int>{421, 421, 421}))
      << r.output;
  EXPECT_EQ(up_.requestCount(), 0u) << "a request the connection does not cover reached the upstream";
  // 421 costs the stream, not the connection.
  EXPECT_EQ(r.h2.goaway_code, std::nullopt) << r.output;
}

TEST_F(Http2Coalescing, NamesTheCertificateCoversAreServed) {
  H2WsPeerResult r;
  // Exact SANs (any case, with a port, with a trailing dot) and one label under the wildcard.
  EXPECT_EQ(statuses("a.test", {"c.test", "C.Test", "c.test:8443", "localhost", "x.w.test", "c.test."}, &r),
            (std::vector<int>{200, 200, 200, 200, 200, 200}))
      << r.output;
  EXPECT_EQ(up_.requestCount(), 6u);
}

TEST_F(Http2Coalescing, WildcardCoversOneLabelOnly) {
  H2WsPeerResult r;
  EXPECT_EQ(statuses("a.test", {"y.w.test", "a.b.w.test", "w.test"}, &r), (std::vector<int>{200, 421, 421}))
      << r.output;
}

TEST_F(Http2Coalescing, TheSniNameIsAlwaysServed) {
  H2WsPeerResult r;
  // a.test is in the certificate; b.test is not, but the client asked for it in SNI itself.
  EXPECT_EQ(statuses("a.test", {"a.test", "A.TEST:443"}, &r), (std::vector<int>{200, 200})) << r.output;
  EXPECT_EQ(statuses("b.test", {"b.test", "a.test", "d.test"}, &r), (std::vector<int>{200, 200, 421})) << r.output;
  // An SNI under the wildcard, and a sibling name.
  EXPECT_EQ(statuses("q.w.test", {"q.w.test", "r.w.test", "b.test"}, &r), (std::vector<int>{200, 200, 421}))
      << r.output;
}

TEST_F(Http2Coalescing, NoSniNoCheck) {
  H2WsPeerResult r;
  EXPECT_EQ(statuses("", {"b.test", "a.test"}, &r), (std::vector<int>{200, 200})) << r.output;
}

TEST_F(Http2Coalescing, Http11IsNeverChecked) {
  TlsClient c;
  TlsOptions options;
  options.sni = "a.test";
  options.alpn = {"http/1.1"};
  ASSERT_TRUE(c.connect(proxy_.httpsPort(), options));
  Response resp;
  ASSERT_TRUE(c.roundTrip(getRequest("/h1", "b.test"), &resp));
  EXPECT_EQ(resp.status, 200) << resp.body;
  RecordedRequest got;
  ASSERT_TRUE(up_.waitForRequest(0, &got));
  EXPECT_EQ(got.request.headers.get("Host"), "b.test");
}

}  // namespace
}  // namespace portcullis::integration
