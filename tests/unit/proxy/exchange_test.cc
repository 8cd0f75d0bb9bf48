// Exchange specs through the codec-neutral interface (stream.h): a fake DownstreamStream stands
// in for the HTTP/1 codec, a real loop and a real loopback socket for the upstream, and every
// request must end in exactly one record whatever way it goes.
#include "proxy/exchange.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "../support/loop_runner.h"
#include "http/parser.h"
#include "net/loop.h"
#include "net/socket.h"
#include "proxy/router.h"

#include <zlib.h>

namespace portcullis::proxy {
namespace {

using testing_support::runUntil;

// What the codec was asked to do, in order.
class FakeStream final : public DownstreamStream {
 public:
  explicit FakeStream(const ListenerInfo& l) {
    facts_.listener = &l;
    facts_.client_ip = "203.0.113.9";
    facts_.client_port = 40000;
    facts_.local_port = 443;
  }
  const ConnectionFacts& facts() const override { return facts_; }
  uint64_t bytesOut() const override { return bytes_out; }
  void requestBodyWanted() override { ++body_wanted; }
  void sendResponseHead(const http::Response& r) override {
    if (r.local) {
      const http::Header* location = r.headers.find("location");
      events.push_back("local " + std::to_string(r.status) + (location ? " " + std::string(location->value) : ""));
    } else {
      events.push_back("head " + std::to_string(r.status));
    }
    started = true;
    bytes_out += 100;
  }
  void sendBody(std::string_view data) override {
    body.append(data);
    bytes_out += data.size();
    if (++sends >= above_after_sends) above = true;
  }
  base::Result<size_t> sendBodyFrom(BodyBuffer& from, size_t max) override {
    base::Buffer b;
    auto n = from.readInto(b, max);
    if (n) body.append(b.view());
    return n;
  }
  void endResponse() override { events.push_back("end"); }
  void flush() override {}
  bool aboveHighWatermark() const override { return above; }
  bool responseStarted() const override { return started; }
  void rearmTimer() override {}
  void reset() override { events.push_back("reset"); }
  void startTunnel() override { events.push_back("tunnel"); }
  void closeWrite() override { events.push_back("close-write"); }
  void onExchangeDone() override { events.push_back("done"); }

  ConnectionFacts facts_;
  std::vector<std::string> events;
  std::string body;
  uint64_t bytes_out = 0;
  int body_wanted = 0;
  bool started = false;
  // The client's queue: above its high watermark from the `above_after_sends`th sendBody on.
  bool above = false;
  size_t sends = 0;
  size_t above_after_sends = SIZE_MAX;
};

class Records final : public RequestObserver {
 public:
  void onRequestDone(const RequestRecord& r) override { all.push_back(r); }
  bool readsText() const override { return true; }
  std::vector<RequestRecord> all;
};

// A loopback upstream the test drives by hand: accepts one connection, collects what arrives.
class RawUpstream {
 public:
  RawUpstream() {
    fd_ = *net::bindReusePort("127.0.0.1", 0);
    port_ = *net::boundPort(fd_);
  }
  ~RawUpstream() {
    if (conn_ >= 0) ::close(conn_);
    ::close(fd_);
  }
  uint16_t port() const { return port_; }
  // Non-blocking: accepts and reads what is there. True once a whole head has arrived.
  bool poll() {
    if (conn_ < 0) conn_ = ::accept4(fd_, nullptr, nullptr, SOCK_NONBLOCK);
    if (conn_ < 0) return false;
    char buf[4096];
    ssize_t n;
    while ((n = ::recv(conn_, buf, sizeof buf, 0)) > 0) got.append(buf, static_cast<size_t>(n));
    return got.find("\r\n\r\n") != std::string::npos;
  }
  void send(std::string_view bytes) { (void)!::send(conn_, bytes.data(), bytes.size(), MSG_NOSIGNAL); }
  // Reads what is there; true once the proxy's side has sent its FIN (recv returns 0).
  bool sawEof() {
    char buf[4096];
    ssize_t n;
    while ((n = ::recv(conn_, buf, sizeof buf, 0)) > 0) got.append(buf, static_cast<size_t>(n));
    return n == 0;
  }
  void closeConnection() {
    ::close(conn_);
    conn_ = -1;
  }
  void shutdownWrite() { ::shutdown(conn_, SHUT_WR); }
  std::string got;

 private:
  int fd_ = -1;
  int conn_ = -1;
  uint16_t port_ = 0;
};

// One upstream "app" at `port`, a catch-all route for `route_host`; `tweak` edits the config.
std::shared_ptr<const Runtime> runtimeFor(uint16_t port, std::string route_host = "",
                                          const std::function<void(config::Config&)>& tweak = {}) {
  auto cfg = std::make_shared<config::Config>();
  config::Upstream u;
  u.name = "app";
  config::UpstreamServer s;
  s.host = "127.0.0.1";
  s.port = port;
  u.servers.push_back(s);
  cfg->upstreams.push_back(u);
  config::Route r;
  r.host = std::move(route_host);
  r.upstream = "app";
  cfg->routes.push_back(r);
  cfg->limits.body = 1000;
  if (tweak) tweak(*cfg);
  auto rt = std::make_shared<Runtime>();
  rt->config = cfg;
  rt->router = Router(*cfg);
  std::vector<upstream::Host> hosts;
  auto addr = (*net::resolve("127.0.0.1", port))[0];
  hosts.push_back(upstream::Host{"app1", addr, "", std::make_shared<upstream::HostState>("app1", 1, 0)});
  rt->clusters.push_back(std::make_shared<const upstream::Cluster>("app", std::move(hosts), upstream::ClusterOptions{}));
  return rt;
}

class ExchangeTest : public ::testing::Test {
 protected:
  void start(std::shared_ptr<const Runtime> rt) {
    worker_ = std::make_unique<WorkerContext>(loop_, std::move(rt));
    worker_->addObserver(&records_);
    listener_.name = "https";
    listener_.tls = true;
    stream_ = std::make_unique<FakeStream>(listener_);
    ex_ = std::make_unique<Exchange>(*worker_, *stream_);
  }
  void TearDown() override {
    if (ex_) ex_->teardown();
    ex_.reset();
    worker_.reset();
    testing_support::runFor(loop_, 5);  // close callbacks
  }
  // Parses `head` and hands it to the exchange as the codec would.
  void request(const std::string& head) {
    head_bytes_ = head;
    http::RequestParser parser;
    ASSERT_EQ(parser.parse(head_bytes_, req_), http::ParseStatus::Complete);
    ex_->begin(worker_->current());
    ex_->onRequestHead(req_, req_.framing != http::Framing::None);
    ex_->proceed();
  }
  // A WebSocket upgrade through `up`, answered 101 (plus `after` in the same write): the
  // exchange is a tunnel when this returns true.
  ::testing::AssertionResult openTunnel(RawUpstream& up, const std::string& after = "");
  bool sawEvent(const std::string& e) const {
    for (const auto& x : stream_->events)
      if (x == e) return true;
    return false;
  }
  const upstream::HostState& host() const { return *worker_->current()->runtime->clusters[0]->hosts()[0].state; }

  net::Loop loop_;
  std::unique_ptr<WorkerContext> worker_;
  Records records_;
  ListenerInfo listener_;
  std::unique_ptr<FakeStream> stream_;
  std::unique_ptr<Exchange> ex_;
  std::string head_bytes_;
  http::RequestHead req_;
};

TEST_F(ExchangeTest, ForwardsAndRelaysTheResponseThenRecordsItOnce) {
  RawUpstream up;
  start(runtimeFor(up.port()));
  request("GET /a?b=1 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: ua/1\r\n\r\n");
  ASSERT_TRUE(runUntil(loop_, [&] { return up.poll(); }));
  EXPECT_NE(up.got.find("GET /a?b=1 HTTP/1.1\r\n"), std::string::npos);
  EXPECT_NE(up.got.find("X-Request-Id: "), std::string::npos);
  up.send("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello");
  ASSERT_TRUE(runUntil(loop_, [&] { return sawEvent("done"); }));
  EXPECT_EQ(stream_->events, (std::vector<std::string>{"head 200", "end", "done"}));
  EXPECT_EQ(stream_->body, "hello");
  ASSERT_EQ(records_.all.size(), 1u);
  const RequestRecord& r = records_.all[0];
  EXPECT_EQ(r.status, 200);
  EXPECT_FALSE(r.has_error);
  EXPECT_EQ(r.method, "GET");
  EXPECT_EQ(r.target, "/a?b=1");
  EXPECT_EQ(r.user_agent, "ua/1");
  EXPECT_EQ(r.route, 0);
  EXPECT_EQ(r.cluster_name, "app");
  EXPECT_EQ(r.upstream_host, "app1");
  EXPECT_EQ(r.attempts, 1u);
  EXPECT_EQ(r.request_id.size(), 32u);
  EXPECT_NE(up.got.find("X-Request-Id: " + r.request_id), std::string::npos);
  EXPECT_GE(r.upstream_first_byte_us, r.upstream_connect_us);
  EXPECT_GE(r.upstream_connect_us, 0);
  EXPECT_EQ(r.bytes_out, 105u);
  EXPECT_EQ(host().inFlight(), 0u);
}

TEST_F(ExchangeTest, UnknownHostIsALocalReply421) {
  RawUpstream up;
  start(runtimeFor(up.port(), "example.com"));
  request("GET / HTTP/1.1\r\nHost: other.test\r\n\r\n");
  EXPECT_EQ(stream_->events, (std::vector<std::string>{"local 421", "end", "done"}));
  ASSERT_EQ(records_.all.size(), 1u);
  EXPECT_EQ(records_.all[0].status, 421);
  EXPECT_EQ(records_.all[0].error, ErrorKind::NoRouteHost);
  EXPECT_EQ(records_.all[0].route, -1);
}

// An HTTP/2 request as the h2 codec hands it over (the parser makes the fields; the codec sets
// the version), on a connection whose certificate covers example.com and *.example.com.
class CoalescingTest : public ExchangeTest {
 protected:
  void h2Request(const std::string& host) {
    tls_.sni = "example.com";
    tls_.certificate_names = {"example.com", "*.example.com"};
    stream_->facts_.tls = &tls_;
    head_bytes_ = "GET / HTTP/1.1\r\nHost: " + host + "\r\n\r\n";
    http::RequestParser parser;
    ASSERT_EQ(parser.parse(head_bytes_, req_), http::ParseStatus::Complete);
    req_.version_major = 2;
    ex_->begin(worker_->current());
    ex_->onRequestHead(req_, false);
    ex_->proceed();
  }
  base::TlsInfo tls_;
};

TEST_F(CoalescingTest, NameTheCertificateDoesNotCoverIs421) {
  RawUpstream up;
  start(runtimeFor(up.port()));
  h2Request("other.test");
  EXPECT_EQ(stream_->events, (std::vector<std::string>{"local 421", "end", "done"}));
  EXPECT_EQ(records_.all.at(0).error, ErrorKind::NoRouteHost);
}

TEST_F(CoalescingTest, NamesTheCertificateCoversAreServed) {
  RawUpstream up;
  start(runtimeFor(up.port()));
  h2Request("www.example.com:443");  // the wildcard, and the port is not part of the name
  ASSERT_TRUE(runUntil(loop_, [&] { return up.poll(); }));
  EXPECT_NE(up.got.find("Via: 2 portcullis"), std::string::npos);
  EXPECT_TRUE(stream_->events.empty());
}

TEST_F(CoalescingTest, HTTP11IsNeverCoalesced) {
  RawUpstream up;
  start(runtimeFor(up.port()));
  tls_.sni = "example.com";
  tls_.certificate_names = {"example.com"};
  stream_->facts_.tls = &tls_;
  request("GET / HTTP/1.1\r\nHost: other.test\r\n\r\n");  // domain fronting is the client's business
  ASSERT_TRUE(runUntil(loop_, [&] { return up.poll(); }));
}

TEST_F(ExchangeTest, DeclaredBodyOverTheLimitIs413BeforeAnyUpstream) {
  RawUpstream up;
  start(runtimeFor(up.port()));
  request("POST / HTTP/1.1\r\nHost: example.com\r\nContent-Length: 5000\r\n\r\n");
  EXPECT_EQ(stream_->events, (std::vector<std::string>{"local 413", "end", "done"}));
  ASSERT_EQ(records_.all.size(), 1u);
  EXPECT_EQ(records_.all[0].error, ErrorKind::BodyTooLarge);
  EXPECT_EQ(records_.all[0].attempts, 0u);
}

TEST_F(ExchangeTest, RefusedUpstreamIs502AfterTryingIt) {
  uint16_t closed_port;
  {
    RawUpstream gone;  // bound, then closed: connects are refused
    closed_port = gone.port();
  }
  start(runtimeFor(closed_port));
  request("GET / HTTP/1.1\r\nHost: example.com\r\n\r\n");
  ASSERT_TRUE(runUntil(loop_, [&] { return sawEvent("done"); }));
  EXPECT_EQ(stream_->events, (std::vector<std::string>{"local 502", "end", "done"}));
  ASSERT_EQ(records_.all.size(), 1u);
  EXPECT_EQ(records_.all[0].error, ErrorKind::UpstreamConnect);
  EXPECT_EQ(records_.all[0].attempts, 1u);
  EXPECT_EQ(host().inFlight(), 0u);
}

TEST_F(ExchangeTest, ClientGoneWhileWaitingIsRecorded499AndFreesTheHost) {
  RawUpstream up;
  start(runtimeFor(up.port()));
  request("GET /slow HTTP/1.1\r\nHost: example.com\r\n\r\n");
  ASSERT_TRUE(runUntil(loop_, [&] { return up.poll(); }));
  EXPECT_EQ(host().inFlight(), 1u);
  ex_->onDownstreamClosed();
  ex_->teardown();
  ASSERT_EQ(records_.all.size(), 1u);
  EXPECT_EQ(records_.all[0].status, 499);
  EXPECT_EQ(records_.all[0].error, ErrorKind::ClientClosed);
  EXPECT_EQ(host().inFlight(), 0u);
  ex_->onDownstreamClosed();  // a second close records nothing more
  EXPECT_EQ(records_.all.size(), 1u);
}

TEST_F(ExchangeTest, UpstreamResetMidBodyResetsTheClientSide) {
  RawUpstream up;
  start(runtimeFor(up.port()));
  request("GET / HTTP/1.1\r\nHost: example.com\r\n\r\n");
  ASSERT_TRUE(runUntil(loop_, [&] { return up.poll(); }));
  up.send("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial");
  ASSERT_TRUE(runUntil(loop_, [&] { return stream_->body == "partial"; }));
  up.closeConnection();
  ASSERT_TRUE(runUntil(loop_, [&] { return sawEvent("reset"); }));
  // The record is the codec's to close when its connection goes (here, by hand).
  ex_->onDownstreamClosed();
  ASSERT_EQ(records_.all.size(), 1u);
  EXPECT_EQ(records_.all[0].status, 200);
  EXPECT_EQ(records_.all[0].error, ErrorKind::UpstreamProtocol);
  EXPECT_FALSE(sawEvent("done"));
}

TEST_F(ExchangeTest, RedirectListenerAnswersWithTheHttpsLocation) {
  RawUpstream up;
  start(runtimeFor(up.port()));
  listener_.tls = false;
  listener_.https_port = 8443;
  request("GET /x?y=1 HTTP/1.1\r\nHost: example.com\r\n\r\n");
  EXPECT_EQ(stream_->events, (std::vector<std::string>{"local 301 https://example.com:8443/x?y=1", "end", "done"}));
  ASSERT_EQ(records_.all.size(), 1u);
  EXPECT_EQ(records_.all[0].status, 301);
  EXPECT_FALSE(records_.all[0].has_error);
}

TEST_F(ExchangeTest, BodyIsBufferedWholeBeforeAnUpstreamIsTaken) {
  RawUpstream up;
  start(runtimeFor(up.port()));
  request("POST /up HTTP/1.1\r\nHost: example.com\r\nContent-Length: 6\r\n\r\n");
  EXPECT_EQ(stream_->body_wanted, 1);
  EXPECT_TRUE(ex_->takesBody());
  ASSERT_TRUE(ex_->onRequestBody("abc", 3));
  ex_->onRequestBodyPumped(true, false);
  testing_support::runFor(loop_, 20);
  EXPECT_TRUE(up.got.empty());
  EXPECT_EQ(host().inFlight(), 0u);  // no host held while the client is still uploading
  ASSERT_TRUE(ex_->onRequestBody("def", 3));
  ex_->onRequestBodyPumped(true, true);
  ASSERT_TRUE(runUntil(loop_, [&] { return up.poll() && up.got.find("abcdef") != std::string::npos; }));
  EXPECT_NE(up.got.find("Content-Length: 6\r\n"), std::string::npos);
}

// ---- WebSocket tunnels -------------------------------------------------------------------

constexpr const char* kUpgrade =
    "GET /ws HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
constexpr const char* k101 =
    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";

::testing::AssertionResult ExchangeTest::openTunnel(RawUpstream& up, const std::string& after) {
  start(runtimeFor(up.port()));
  request(kUpgrade);
  if (auto r = runUntil(loop_, [&] { return up.poll(); }); !r) return r;
  up.send(std::string(k101) + after);
  return runUntil(loop_, [&] { return sawEvent("tunnel") && stream_->body == after; });
}

TEST_F(ExchangeTest, UpstreamsRealWebSocket101TurnsTheExchangeIntoATunnel) {
  RawUpstream up;
  start(runtimeFor(up.port()));
  request(kUpgrade);
  ASSERT_TRUE(runUntil(loop_, [&] { return up.poll(); }));
  EXPECT_NE(up.got.find("\r\nUpgrade: websocket\r\n"), std::string::npos) << up.got;
  EXPECT_NE(up.got.find("\r\nConnection: upgrade\r\n"), std::string::npos) << up.got;
  up.got.clear();
  up.send(std::string(k101) + "server-first");
  ASSERT_TRUE(runUntil(loop_, [&] { return sawEvent("tunnel") && stream_->body == "server-first"; }));
  EXPECT_EQ(stream_->events, (std::vector<std::string>{"head 101", "tunnel"}));
  EXPECT_TRUE(ex_->inTunnel());
  // Answered: the host's max_requests slot is free for HTTP while the socket stays open.
  EXPECT_EQ(host().inFlight(), 0u);
  EXPECT_TRUE(records_.all.empty()) << "the record comes when the tunnel ends";

  base::Buffer from_client;
  from_client.append("client-bytes");
  ex_->onTunnelData(from_client);
  EXPECT_TRUE(from_client.empty());
  ASSERT_TRUE(runUntil(loop_, [&] { up.poll(); return up.got == "client-bytes"; }));

  up.closeConnection();  // the app ends the socket: its FIN goes on to the client
  ASSERT_TRUE(runUntil(loop_, [&] { return sawEvent("close-write"); }));
  ex_->onTunnelEof();  // and the client's FIN comes back: the tunnel is over
  ASSERT_TRUE(sawEvent("done"));
  ASSERT_EQ(records_.all.size(), 1u);
  EXPECT_EQ(records_.all[0].status, 101);
  EXPECT_TRUE(records_.all[0].tunnel);
  EXPECT_FALSE(records_.all[0].has_error);
  EXPECT_EQ(records_.all[0].bytes_in, std::string(kUpgrade).size() + 12);
}

TEST_F(ExchangeTest, ClientHalfCloseReachesTheUpstreamAndItsLastBytesStillCome) {
  RawUpstream up;
  ASSERT_TRUE(openTunnel(up));
  ex_->onTunnelEof();
  ASSERT_TRUE(runUntil(loop_, [&] { return up.sawEof(); }));
  EXPECT_FALSE(sawEvent("done")) << "the other direction is still open";
  up.send("goodbye");
  ASSERT_TRUE(runUntil(loop_, [&] { return stream_->body == "goodbye"; }));
  up.closeConnection();
  ASSERT_TRUE(runUntil(loop_, [&] { return sawEvent("done"); }));
  EXPECT_EQ(records_.all.size(), 1u);
}

TEST_F(ExchangeTest, UpstreamHalfCloseIsPassedToTheClient) {
  RawUpstream up;
  ASSERT_TRUE(openTunnel(up));
  up.shutdownWrite();
  ASSERT_TRUE(runUntil(loop_, [&] { return sawEvent("close-write"); }));
  EXPECT_FALSE(sawEvent("done"));
  ex_->onTunnelEof();  // both directions done: the tunnel ends
  EXPECT_TRUE(sawEvent("done"));
  EXPECT_EQ(records_.all.size(), 1u);
}

TEST_F(ExchangeTest, UpgradeAnsweredWithoutA101IsAnOrdinaryResponse) {
  RawUpstream up;
  start(runtimeFor(up.port()));
  request(kUpgrade);
  ASSERT_TRUE(runUntil(loop_, [&] { return up.poll(); }));
  up.send("HTTP/1.1 403 Forbidden\r\nContent-Length: 6\r\n\r\nno way");
  ASSERT_TRUE(runUntil(loop_, [&] { return sawEvent("done"); }));
  EXPECT_EQ(stream_->events, (std::vector<std::string>{"head 403", "end", "done"}));
  EXPECT_EQ(stream_->body, "no way");
  EXPECT_FALSE(records_.all.at(0).tunnel);
}

TEST_F(ExchangeTest, A101ThatWasNotAskedForIsABadGateway) {
  RawUpstream up;
  start(runtimeFor(up.port()));
  request("GET /x HTTP/1.1\r\nHost: example.com\r\nUpgrade: h2c\r\nConnection: Upgrade, HTTP2-Settings\r\n\r\n");
  ASSERT_TRUE(runUntil(loop_, [&] { return up.poll(); }));
  EXPECT_EQ(up.got.find("Upgrade"), std::string::npos) << up.got;
  up.send("HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n");
  ASSERT_TRUE(runUntil(loop_, [&] { return sawEvent("done"); }));
  EXPECT_TRUE(sawEvent("local 502"));
  EXPECT_FALSE(sawEvent("tunnel"));
}

TEST_F(ExchangeTest, ARouteWithoutWebSocketSendsAPlainRequest) {
  RawUpstream up;
  auto rt = std::const_pointer_cast<Runtime>(runtimeFor(up.port()));
  auto cfg = std::make_shared<config::Config>(*rt->config);
  cfg->routes[0].websocket = false;
  rt->config = cfg;
  start(rt);
  request(kUpgrade);
  ASSERT_TRUE(runUntil(loop_, [&] { return up.poll(); }));
  EXPECT_EQ(up.got.find("Upgrade"), std::string::npos) << up.got;
  up.send(k101);  // an app that switches anyway gets no tunnel
  ASSERT_TRUE(runUntil(loop_, [&] { return sawEvent("done"); }));
  EXPECT_TRUE(sawEvent("local 502"));
}

// gzip-decodes as far as `in` goes (a flushed prefix decodes whole).
std::string gunzipPrefix(std::string_view in, bool* finished = nullptr) {
  z_stream z{};
  inflateInit2(&z, 15 + 16);
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  std::string out;
  char buf[16384];
  int rc = Z_OK;
  while (rc == Z_OK) {
    z.next_out = reinterpret_cast<Bytef*>(buf);
    z.avail_out = sizeof buf;
    rc = inflate(&z, Z_NO_FLUSH);
    out.append(buf, sizeof buf - z.avail_out);
    if (rc == Z_OK && z.avail_in == 0 && z.avail_out != 0) break;
  }
  if (finished) *finished = rc == Z_STREAM_END;
  inflateEnd(&z);
  return out;
}

std::string chunk(std::string_view s) {
  char size[32];
  snprintf(size, sizeof size, "%zx\r\n", s.size());
  return size + std::string(s) + "\r\n";
}

// A route with compress: the head is rewritten, what the upstream sent before it paused is
// decodable at the client at once (the flush), the stream ends before endResponse, the record
// counts the compressed bytes, and the next request on the same exchange (keep-alive) starts a
// fresh stream on the reused encoder.
TEST_F(ExchangeTest, CompressedBodyIsFlushedWhenTheUpstreamPausesAndFinishedBeforeTheEnd) {
  RawUpstream up;
  start(runtimeFor(up.port(), "", [](config::Config& c) { c.routes[0].compress.enabled = true; }));
  const std::string first(3000, 'a'), rest = std::string(5000, 'b') + "end";
  for (int round = 0; round < 2; ++round) {
    stream_->events.clear();
    stream_->body.clear();
    request("GET /page HTTP/1.1\r\nHost: example.com\r\nAccept-Encoding: gzip\r\n\r\n");
    ASSERT_TRUE(runUntil(loop_, [&] { return up.poll(); }));
    up.got.clear();
    up.send("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nETag: \"e1\"\r\nTransfer-Encoding: chunked\r\n\r\n" +
            chunk(first));
    ASSERT_TRUE(runUntil(loop_, [&] { return gunzipPrefix(stream_->body) == first; }))
        << "round " << round << ": the first part is held in the encoder";
    EXPECT_FALSE(sawEvent("end"));
    up.send(chunk(rest) + "0\r\n\r\n");
    ASSERT_TRUE(runUntil(loop_, [&] { return sawEvent("done"); }));
    EXPECT_EQ(stream_->events, (std::vector<std::string>{"head 200", "end", "done"}));
    bool finished = false;
    EXPECT_EQ(gunzipPrefix(stream_->body, &finished), first + rest);
    EXPECT_TRUE(finished) << "the gzip trailer was not sent before endResponse";
    ASSERT_EQ(records_.all.size(), static_cast<size_t>(round + 1));
    EXPECT_EQ(records_.all.back().bytes_out, 100u + stream_->body.size());
  }
}

// The client falls behind right after the encoder gave out part of a large step: what it still
// holds comes out (at the flush) larger than a small memory-only response buffer. It goes to the
// codec directly (nothing is queued yet), buffering stays on (no "cannot spill" fallback), and
// the rest queues and drains in order.
TEST_F(ExchangeTest, CompressedBytesHeldWhenTheClientFallsBehindDoNotOverflowATightBuffer) {
  RawUpstream up;
  start(runtimeFor(up.port(), "", [](config::Config& c) {
    c.routes[0].compress.enabled = true;
    c.routes[0].buffering.memory = 1024;
    c.routes[0].buffering.max_file = 0;
  }));
  stream_->above_after_sends = 1;
  request("GET /page HTTP/1.1\r\nHost: example.com\r\nAccept-Encoding: gzip\r\n\r\n");
  ASSERT_TRUE(runUntil(loop_, [&] { return up.poll(); }));
  std::string body;
  for (int i = 0; body.size() < 300000; ++i) body += "<li>row " + std::to_string(i * 7919 % 100003) + " of the table</li>\n";
  ::testing::internal::CaptureStderr();
  up.send("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: " + std::to_string(body.size()) +
          "\r\n\r\n" + body);
  // The client reads whenever the exchange waits on it.
  bool done = runUntil(loop_, [&] {
    if (sawEvent("done")) return true;
    if (stream_->above && ex_->waitingOnClient()) {
      stream_->above = false;
      ex_->onDownstreamDrained();
      stream_->above = true;
    }
    return false;
  });
  const std::string err = ::testing::internal::GetCapturedStderr();
  ASSERT_TRUE(done);
  EXPECT_EQ(err.find("cannot spill"), std::string::npos) << err;
  bool finished = false;
  EXPECT_TRUE(gunzipPrefix(stream_->body, &finished) == body);
  EXPECT_TRUE(finished);
}

}  // namespace
}  // namespace portcullis::proxy
