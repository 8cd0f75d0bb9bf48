// On-the-fly compression of proxied responses (a route's `compress:`): the coding the client
// prefers, the rules for what is left alone, the head (Vary, ETag, no Content-Length), HTTP/1.1
// keep-alive and HTTP/2, a streamed response flushed when the upstream pauses, and memory that
// does not grow with the response. Every compressed body is decoded here with the reference
// decoders (zlib, brotli, zstd) and compared byte for byte with what the upstream sent.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <future>
#include <random>
#include <string>
#include <thread>

#include "../unit/support/reference_decoders.h"

#include "harness/h2_client.h"
#include "harness/harness.h"
#include "harness/observability.h"

namespace portcullis::integration {
namespace {

using namespace std::chrono_literals;

constexpr size_t kMiB = 1024 * 1024;

using test_support::decode;
using test_support::Decoded;

// The body decoded completely and equal to `expected`.
::testing::AssertionResult decodesTo(std::string_view coding, std::string_view body, std::string_view expected) {
  Decoded d = decode(coding, body);
  if (d.error) return ::testing::AssertionFailure() << coding << ": not a valid stream";
  if (!d.finished) return ::testing::AssertionFailure() << coding << ": the stream has no end";
  return sameBytes(expected, d.data);
}

// HTML-like text: compresses well, with noise so it is not trivial.
std::string page(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  static const char* words[] = {"<li class=\"row\">", "portcullis ", "reverse ", "proxy ", "</li>\n",
                                "<a href=\"/x\">", "</a>", "lorem "};
  std::string s = "<!doctype html>\n";
  while (s.size() < n) {
    if (rng() % 6 == 0) s += std::to_string(rng() % 100000);
    s += words[rng() % 8];
  }
  s.resize(n);
  return s;
}

uint64_t vmHwmKiB(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stoull(line.substr(6));
  return 0;
}

class Compress : public ::testing::Test {
 protected:
  void SetUp() override {
    html_ = page(kMiB, 1);
    json_ = "{\"items\": [" + page(100 * 1024, 2) + "]}";
    png_ = patternBody(100 * 1024, 3);
    up_.setResponder([this](const RecordedRequest& r) { return replyFor(r.request.target); });
  }

  Reply replyFor(const std::string& target) {
    Reply reply;
    reply.headers = {{"Content-Type", "text/html; charset=utf-8"}};
    reply.body = html_;
    if (target == "/chunked.html") {
      reply.framing = Reply::BodyFraming::kChunked;
      reply.chunk_size = 3000;
    } else if (target == "/data.json") {
      reply.headers = {{"Content-Type", "application/json"}};
      reply.body = json_;
    } else if (target == "/image.png") {
      reply.headers = {{"Content-Type", "image/png"}};
      reply.body = png_;
    } else if (target == "/small.html") {
      reply.body = html_.substr(0, 500);
    } else if (target == "/encoded.html") {
      reply.headers.emplace_back("Content-Encoding", "gzip");
      reply.body = png_;  // opaque bytes: the proxy must not touch them
    } else if (target == "/etag.html") {
      reply.headers.emplace_back("ETag", "\"v42\"");
      reply.headers.emplace_back("Vary", "Cookie");
    } else if (target == "/no-transform.html") {
      reply.headers.emplace_back("Cache-Control", "public, no-transform");
    } else if (target == "/partial.html") {
      reply.status = 206;
      reply.headers.emplace_back("Content-Range", "bytes 0-4999/1048576");
      reply.body = html_.substr(0, 5000);
    }
    return reply;
  }

  ::testing::AssertionResult startProxy(const std::string& compress = "{min_size: 1000}") {
    ProxyConfig config = ProxyConfig::singleUpstream({up_.address()});
    config.workers = 1;
    if (!compress.empty()) config.routes[0].extra = {"compress: " + compress};
    return proxy_.start(config);
  }

  // GET over a connection of its own; `extra`: whole header lines.
  Response get(const std::string& target, const std::string& extra = "", bool head = false) {
    TlsClient c;
    Response r;
    EXPECT_TRUE(c.connect(proxy_.httpsPort()));
    std::string req = head ? "HEAD " + target + " HTTP/1.1\r\nHost: localhost\r\n" + extra + "\r\n"
                           : getRequest(target, "localhost", extra);
    EXPECT_TRUE(c.roundTrip(req, &r, 30s, head));
    return r;
  }

  std::string html_, json_, png_;
  FakeUpstream up_{"up"};
  ProxyProcess proxy_;
};

TEST_F(Compress, CodingFollowsAcceptEncodingOverOneKeepAliveConnection) {
  ASSERT_TRUE(startProxy());
  TlsClient c;
  ASSERT_TRUE(c.connect(proxy_.httpsPort()));
  struct Case {
    const char* accept;
    const char* coding;
    const char* target;
  };
  const Case cases[] = {
      {"br", "br", "/page.html"},
      {"gzip, deflate, br, zstd", "br", "/chunked.html"},
      {"zstd", "zstd", "/data.json"},
      {"gzip", "gzip", "/chunked.html"},
      {"gzip;q=1.0, br;q=0.5, zstd;q=0.8", "gzip", "/page.html"},
      {"br;q=0, gzip, zstd", "zstd", "/data.json"},
      {"*", "br", "/page.html"},
  };
  for (const Case& k : cases) {
    Response r;
    ASSERT_TRUE(c.roundTrip(getRequest(k.target, "localhost", std::string("Accept-Encoding: ") + k.accept + "\r\n"),
                            &r, 30s));
    ASSERT_EQ(r.status, 200) << k.accept;
    EXPECT_EQ(r.headers.get("content-encoding").value_or("(none)"), k.coding) << k.accept;
    EXPECT_FALSE(r.headers.has("content-length")) << "the upstream's length describes the identity body";
    EXPECT_EQ(r.framing, Framing::kChunked);
    EXPECT_EQ(r.headers.get("vary").value_or(""), "Accept-Encoding");
    const std::string& want = std::string(k.target) == "/data.json" ? json_ : html_;
    EXPECT_TRUE(decodesTo(k.coding, r.body, want)) << k.accept << " " << k.target;
    EXPECT_LT(r.body.size(), want.size() / 3) << k.accept;
  }
  EXPECT_EQ(up_.acceptedConnections(), 1u);
}

TEST_F(Compress, WithoutAnAcceptedCodingTheBodyIsIdentityWithVary) {
  ASSERT_TRUE(startProxy());
  for (const char* extra : {"", "Accept-Encoding: identity\r\n", "Accept-Encoding: br;q=0, gzip;q=0, zstd;q=0\r\n"}) {
    Response r = get("/page.html", extra);
    ASSERT_EQ(r.status, 200);
    EXPECT_FALSE(r.headers.has("content-encoding")) << extra;
    EXPECT_EQ(r.headers.get("content-length").value_or(""), std::to_string(html_.size())) << extra;
    EXPECT_EQ(r.headers.get("vary").value_or(""), "Accept-Encoding") << extra;
    EXPECT_TRUE(sameBytes(html_, r.body));
  }
}

// Left exactly as the upstream sent them: no Content-Encoding, no Vary, the same bytes.
TEST_F(Compress, ResponsesThatAreNotCandidatesAreUntouched) {
  ASSERT_TRUE(startProxy());
  const std::string ae = "Accept-Encoding: gzip, br, zstd\r\n";
  struct Case {
    std::string target, extra, why;
    const std::string* body;
  };
  const std::string small = html_.substr(0, 500);
  const std::string partial = html_.substr(0, 5000);
  const Case cases[] = {
      {"/image.png", ae, "a type outside `types`", &png_},
      {"/small.html", ae, "below min_size", &small},
      {"/no-transform.html", ae, "Cache-Control: no-transform", &html_},
      {"/page.html", ae + "Range: bytes=0-99\r\n", "a Range request", &html_},
      {"/partial.html", ae, "a 206", &partial},
  };
  for (const Case& k : cases) {
    Response r = get(k.target, k.extra);
    EXPECT_FALSE(r.headers.has("content-encoding")) << k.why;
    EXPECT_FALSE(r.headers.has("vary")) << k.why;
    EXPECT_EQ(r.headers.get("content-length").value_or(""), std::to_string(k.body->size())) << k.why;
    EXPECT_TRUE(sameBytes(*k.body, r.body)) << k.why;
  }
  // Already encoded by the upstream: never twice.
  Response r = get("/encoded.html", ae);
  EXPECT_EQ(r.headers.getAll("content-encoding"), std::vector<std::string>{"gzip"});
  EXPECT_TRUE(sameBytes(png_, r.body));
}

TEST_F(Compress, RouteWithoutCompressIsUntouched) {
  ASSERT_TRUE(startProxy(""));
  Response r = get("/page.html", "Accept-Encoding: gzip, br, zstd\r\n");
  EXPECT_FALSE(r.headers.has("content-encoding"));
  EXPECT_FALSE(r.headers.has("vary"));
  EXPECT_TRUE(sameBytes(html_, r.body));
}

TEST_F(Compress, StrongETagIsWeakenedAndVaryExtended) {
  ASSERT_TRUE(startProxy());
  Response r = get("/etag.html", "Accept-Encoding: gzip\r\n");
  EXPECT_EQ(r.headers.get("content-encoding").value_or(""), "gzip");
  EXPECT_EQ(r.headers.get("etag").value_or(""), "W/\"v42\"");
  EXPECT_EQ(r.headers.getAll("vary"), std::vector<std::string>{"Cookie, Accept-Encoding"});
  EXPECT_TRUE(decodesTo("gzip", r.body, html_));
  // Not compressed for this client: the validator is the upstream's, still strong.
  Response plain = get("/etag.html");
  EXPECT_EQ(plain.headers.get("etag").value_or(""), "\"v42\"");
  EXPECT_EQ(plain.headers.getAll("vary"), std::vector<std::string>{"Cookie, Accept-Encoding"});
}

TEST_F(Compress, HeadGetsTheIdentityHeadWithVary) {
  ASSERT_TRUE(startProxy());
  Response r = get("/page.html", "Accept-Encoding: br\r\n", true);
  EXPECT_EQ(r.status, 200);
  EXPECT_FALSE(r.headers.has("content-encoding"));
  EXPECT_EQ(r.headers.get("content-length").value_or(""), std::to_string(html_.size()));
  EXPECT_EQ(r.headers.get("vary").value_or(""), "Accept-Encoding");
  EXPECT_TRUE(r.body.empty());
}

// HTTP/1.0 has no chunked coding (RFC 9112 §6.1): the compressed body, of unknown length, ends
// with the connection.
TEST_F(Compress, Http10ClientGetsACloseDelimitedBody) {
  ASSERT_TRUE(startProxy());
  TlsClient c;
  ASSERT_TRUE(c.connect(proxy_.httpsPort()));
  Response r;
  ASSERT_TRUE(c.roundTrip("GET /page.html HTTP/1.0\r\nHost: localhost\r\nAccept-Encoding: gzip\r\n\r\n", &r, 30s));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.headers.get("content-encoding").value_or(""), "gzip");
  EXPECT_FALSE(r.headers.has("transfer-encoding"));
  EXPECT_FALSE(r.headers.has("content-length"));
  EXPECT_EQ(r.framing, Framing::kCloseDelimited);
  EXPECT_TRUE(decodesTo("gzip", r.body, html_));
}

TEST_F(Compress, OverHttp2TheBodyEndsWithTheStream) {
  if (std::string why = curlHttp2UnavailableReason(); !why.empty()) GTEST_SKIP() << why;
  ASSERT_TRUE(startProxy());
  for (const char* coding : {"br", "zstd", "gzip"}) {
    for (const char* target : {"/page.html", "/chunked.html"}) {
      CurlRequest req;
      req.path = target;
      req.headers = {std::string("Accept-Encoding: ") + coding};
      CurlResult r;
      ASSERT_TRUE(runCurl(proxy_.httpsPort(), req, &r, 30s));
      ASSERT_EQ(r.exit_code, 0) << r.stderr_text;
      EXPECT_EQ(r.http_version, "2");
      EXPECT_EQ(r.status, 200);
      EXPECT_EQ(r.headers.get("content-encoding").value_or(""), coding);
      EXPECT_FALSE(r.headers.has("content-length"));
      EXPECT_EQ(r.headers.get("vary").value_or(""), "Accept-Encoding");
      EXPECT_TRUE(decodesTo(coding, r.body, html_)) << coding << " " << target;
    }
  }
  CurlRequest plain;
  plain.path = "/page.html";
  CurlResult r;
  ASSERT_TRUE(runCurl(proxy_.httpsPort(), plain, &r, 30s));
  EXPECT_FALSE(r.headers.has("content-encoding"));
  EXPECT_EQ(r.headers.get("vary").value_or(""), "Accept-Encoding");
  EXPECT_TRUE(sameBytes(html_, r.body));
}

// An upstream that sends the head and a first chunk, then waits for the test's word before the
// rest: a streamed page (or SSE) whose first part must reach the client while the upstream
// still works on the rest.
class PausingUpstream {
 public:
  PausingUpstream(std::string first, std::string rest) : first_(std::move(first)), rest_(std::move(rest)) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    listen(fd_, 4);
    socklen_t len = sizeof a;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~PausingUpstream() {
    release();
    shutdown(fd_, SHUT_RDWR);
    close(fd_);
    thread_.join();
  }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  void release() {
    if (!released_) {
      released_ = true;
      go_.set_value();
    }
  }

 private:
  static std::string chunk(std::string_view s) {
    char size[32];
    snprintf(size, sizeof size, "%zx\r\n", s.size());
    return size + std::string(s) + "\r\n";
  }
  void sendAll(int c, const std::string& s) {
    for (size_t off = 0; off < s.size();) {
      ssize_t n = ::send(c, s.data() + off, s.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return;
      off += static_cast<size_t>(n);
    }
  }
  void serve() {
    int c = accept(fd_, nullptr, nullptr);
    if (c < 0) return;
    std::string in;
    char buf[4096];
    while (in.find("\r\n\r\n") == std::string::npos) {
      ssize_t n = recv(c, buf, sizeof buf, 0);
      if (n <= 0) break;
      in.append(buf, static_cast<size_t>(n));
    }
    sendAll(c, "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk(first_));
    // Bounded: the test releases it, or it gives up and ends the response anyway.
    go_.get_future().wait_for(15s);
    sendAll(c, chunk(rest_) + "0\r\n\r\n");
    std::this_thread::sleep_for(200ms);  // let the proxy read the end before the close
    close(c);
  }

  std::string first_, rest_;
  int fd_ = -1;
  uint16_t port_ = 0;
  std::promise<void> go_;
  bool released_ = false;
  std::thread thread_;
};

// The body bytes of a chunked response received so far (complete chunks only).
std::string dechunkedSoFar(std::string_view raw) {
  size_t p = raw.find("\r\n\r\n");
  if (p == std::string_view::npos) return {};
  raw.remove_prefix(p + 4);
  std::string out;
  while (true) {
    size_t eol = raw.find("\r\n");
    if (eol == std::string_view::npos) break;
    size_t n = std::stoul(std::string(raw.substr(0, eol)), nullptr, 16);
    if (n == 0 || raw.size() < eol + 2 + n + 2) break;
    out.append(raw.substr(eol + 2, n));
    raw.remove_prefix(eol + 2 + n + 2);
  }
  return out;
}

TEST_F(Compress, StreamedResponseIsFlushedWhenTheUpstreamPauses) {
  const std::string first = "<!doctype html><title>report</title>\n" + page(3000, 7);
  const std::string rest = page(50000, 8);
  for (const char* coding : {"br", "zstd", "gzip"}) {
    PausingUpstream slow(first, rest);
    ProxyConfig config = ProxyConfig::singleUpstream({slow.address()});
    config.workers = 1;
    config.routes[0].extra = {"compress: on"};  // buffering on (the default): flushed all the same
    ProxyProcess proxy;
    ASSERT_TRUE(proxy.start(config));
    TlsClient c;
    ASSERT_TRUE(c.connect(proxy.httpsPort()));
    ASSERT_TRUE(c.send(getRequest("/report", "localhost", std::string("Accept-Encoding: ") + coding + "\r\n")));
    // The first part decodes at the client while the upstream is still holding the rest.
    bool got_first = pollUntil(
        [&] {
          c.readMore(50ms);
          return decode(coding, dechunkedSoFar(c.buffered())).data == first;
        },
        5s);
    EXPECT_TRUE(got_first) << coding << ": the first part is held back in the encoder; decoded "
                           << decode(coding, dechunkedSoFar(c.buffered())).data.size() << " of " << first.size();
    slow.release();
    Response r;
    ASSERT_TRUE(c.readResponse(&r, 10s));
    EXPECT_EQ(r.headers.get("content-encoding").value_or(""), coding);
    EXPECT_TRUE(decodesTo(coding, r.body, first + rest)) << coding;
  }
}

// 64 MiB through one connection: the proxy's peak memory grows by far less (no whole-body
// buffering, the encoder's window is bounded).
TEST_F(Compress, LargeResponseKeepsMemoryBounded) {
#if defined(__SANITIZE_ADDRESS__)
  // ASan's quarantine keeps freed blocks resident, so peak RSS says nothing about what the
  // proxy holds; the Release run measures it.
  GTEST_SKIP() << "peak RSS is not meaningful under AddressSanitizer";
#endif
  const std::string big = page(64 * kMiB, 11);
  Reply reply;
  reply.headers = {{"Content-Type", "text/html"}};
  reply.body = big;
  reply.framing = Reply::BodyFraming::kChunked;
  reply.chunk_size = 64 * 1024;
  up_.setReply(reply);
  ProxyConfig config = ProxyConfig::singleUpstream({up_.address()});
  config.workers = 1;
  config.routes[0].extra = {"compress: on"};
  config.routes[0].buffering = "off";
  ASSERT_TRUE(proxy_.start(config));
  // Warm up (TLS, the encoder), then measure one large response per coding.
  Response warm = get("/", "Accept-Encoding: gzip\r\n");
  ASSERT_EQ(warm.status, 200);
  const uint64_t before = vmHwmKiB(proxy_.pid());
  ASSERT_GT(before, 0u);
  for (const char* coding : {"br", "zstd", "gzip"}) {
    Response r = get("/", std::string("Accept-Encoding: ") + coding + "\r\n");
    EXPECT_EQ(r.headers.get("content-encoding").value_or(""), coding);
    EXPECT_TRUE(decodesTo(coding, r.body, big)) << coding;
  }
  const uint64_t after = vmHwmKiB(proxy_.pid());
  EXPECT_LT(after - before, 16u * 1024) << "peak RSS grew by " << (after - before) << " KiB for 64 MiB responses";
}

// Backpressure holds with compression: a client that stops reading a streamed (buffering: off)
// response stops the upstream, and nothing is lost once it reads again. The body does not
// compress (random bytes labelled text/html), so the compressed stream is as large as the
// upstream's: 32 MiB, more than the loopback sockets hold.
TEST_F(Compress, SlowClientStillStallsTheUpstream) {
  const std::string big = patternBody(32 * kMiB, 5);
  Reply reply;
  reply.headers = {{"Content-Type", "text/html"}};
  reply.body = big;
  up_.setReply(reply);
  ProxyConfig config = ProxyConfig::singleUpstream({up_.address()});
  config.workers = 1;
  config.routes[0].extra = {"compress: on"};
  config.routes[0].buffering = "off";
  ASSERT_TRUE(proxy_.start(config));
  TlsClient c;
  ASSERT_TRUE(c.connect(proxy_.httpsPort()));
  ASSERT_TRUE(c.send(getRequest("/", "localhost", "Accept-Encoding: zstd\r\n")));
  Response head;
  ASSERT_TRUE(c.readResponseHead(&head, 10s));
  EXPECT_EQ(head.headers.get("content-encoding").value_or(""), "zstd");
  // Sampled until it stops growing for 500 ms (at most 15 s).
  uint64_t last = up_.responseBodyBytesSent();
  auto last_growth = Clock::now();
  const auto deadline = Clock::now() + 15s;
  while (Clock::now() < deadline && Clock::now() - last_growth < 500ms) {
    std::this_thread::sleep_for(10ms);
    if (uint64_t now = up_.responseBodyBytesSent(); now != last) {
      last = now;
      last_growth = Clock::now();
    }
  }
  EXPECT_LT(last, big.size()) << "the upstream sent everything to a client that reads nothing";
  EXPECT_EQ(up_.responsesSent(), 0u);
  Response r;
  ASSERT_TRUE(c.readResponse(&r, 60s));
  EXPECT_TRUE(decodesTo("zstd", r.body, big));
}

// With response buffering in memory only (`max_file: 0`), resp_buf_ holds compressed bytes and
// its limit holds them: while the buffer is tight each relay step is flushed through the
// encoder, so a step's output fits the room its input was measured against, and what the
// encoder held from before the client fell behind goes straight to the codec. No "cannot spill"
// fallback to unbounded memory, nothing lost or reordered. Random bytes labelled text/html
// (the encoder's output a little larger than its input: the upstream must stall) and a page
// that compresses (brotli holds up to a metablock before it writes).
struct BufferedCase {
  const char* coding;
  bool compressible;
};

class CompressBuffered : public Compress, public ::testing::WithParamInterface<BufferedCase> {};

TEST_P(CompressBuffered, MemoryOnlyBufferFillsThenStallsTheUpstreamQuietly) {
  const char* coding = GetParam().coding;
  const std::string big = GetParam().compressible ? page(32 * kMiB, 9) : patternBody(32 * kMiB, 6);
  Reply reply;
  reply.headers = {{"Content-Type", "text/html"}};
  reply.body = big;
  up_.setReply(reply);
  ProxyConfig config = ProxyConfig::singleUpstream({up_.address()});
  config.workers = 1;
  config.routes[0].extra = {"compress: on"};
  config.routes[0].buffering = "{memory: 50k, max_file: 0}";
  ASSERT_TRUE(proxy_.start(config));
  TlsClient c;
  ASSERT_TRUE(c.connect(proxy_.httpsPort()));
  ASSERT_TRUE(c.send(getRequest("/", "localhost", std::string("Accept-Encoding: ") + coding + "\r\n")));
  Response head;
  ASSERT_TRUE(c.readResponseHead(&head, 10s));
  ASSERT_EQ(head.headers.get("content-encoding").value_or(""), coding);
  uint64_t last = up_.responseBodyBytesSent();
  auto last_growth = Clock::now();
  const auto deadline = Clock::now() + 15s;
  while (Clock::now() < deadline && Clock::now() - last_growth < 500ms) {
    std::this_thread::sleep_for(10ms);
    if (uint64_t now = up_.responseBodyBytesSent(); now != last) {
      last = now;
      last_growth = Clock::now();
    }
  }
  // The compressible page may fit the sockets' buffers whole once compressed.
  if (!GetParam().compressible) {
    EXPECT_LT(last, big.size());
  }
  Response r;
  ASSERT_TRUE(c.readResponse(&r, 60s));
  EXPECT_TRUE(decodesTo(coding, r.body, big));
  EXPECT_EQ(proxy_.stderrText().find("cannot spill"), std::string::npos) << proxy_.stderrText();
}

INSTANTIATE_TEST_SUITE_P(Codings, CompressBuffered,
                         ::testing::Values(BufferedCase{"br", false}, BufferedCase{"zstd", false},
                                           BufferedCase{"gzip", false}, BufferedCase{"br", true},
                                           BufferedCase{"zstd", true}, BufferedCase{"gzip", true}),
                         [](const auto& info) {
                           return std::string(info.param.coding) + (info.param.compressible ? "_page" : "_random");
                         });

// The access log's bytes_out is what the client got: the compressed body (and its framing).
TEST_F(Compress, AccessLogCountsTheCompressedBytes) {
  TempDir dir;
  const std::string log = dir.path() + "/access.log";
  ProxyConfig config = ProxyConfig::singleUpstream({up_.address()});
  config.workers = 1;
  config.routes[0].extra = {"compress: on"};
  config.top_extra = {"access_log: {path: " + log + ", format: json}"};
  ASSERT_TRUE(proxy_.start(config));
  Response r = get("/page.html", "Accept-Encoding: br\r\n");
  ASSERT_TRUE(decodesTo("br", r.body, html_));
  std::vector<std::string> lines;
  ASSERT_TRUE(waitForLines(log, 1, &lines));
  std::vector<JsonFields> recs;
  ASSERT_TRUE(parseJsonLines(log, &recs));
  ASSERT_EQ(recs.size(), 1u);
  const uint64_t out = std::stoull(recs[0]["bytes_out"]);
  EXPECT_GT(out, r.body.size());             // the head and the chunk framing too
  EXPECT_LT(out, r.body.size() + 4096);      // but nothing like the identity body
  EXPECT_LT(out, html_.size() / 3);
}

}  // namespace
}  // namespace portcullis::integration
