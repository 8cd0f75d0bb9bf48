// Flow control end to end: a side that stops reading must stop the other side's writes, so the
// proxy's memory per connection stays bounded (kHighWatermark 256 KiB of pending output, in
// src/net/connection.h), and nothing is lost when reading resumes.
#include <gtest/gtest.h>

#include <functional>
#include <thread>

#include "harness/harness.h"

namespace portcullis::integration {
namespace {

using namespace std::chrono_literals;

constexpr size_t kMiB = 1024 * 1024;
constexpr size_t kBodySize = 64 * kMiB;

// How far a stalled transfer may get. Without backpressure it gets to all 64 MiB; with it, only
// as far as the kernel buffers on the two loopback hops (client<->proxy, proxy<->upstream) plus
// the proxy's own 256 KiB. Each hop holds a send buffer (tcp_wmem max 4 MiB) and a receive
// buffer (autotuned, tcp_rmem max 6-32 MiB depending on the kernel). Measured on Linux 6.x with
// tcp_rmem max 32 MiB: 7-9 MiB stalled in each direction (request side counted in whole 1 MiB
// TLS write pieces). 24 MiB leaves room for more autotuning on another host and is still far
// below the 64 MiB body.
constexpr uint64_t kStallBound = 24 * kMiB;
// Proxy RSS growth allowed while a transfer is stalled: the proxy holds at most a few 256 KiB
// buffers for it, plus TLS and allocator slack (and the ASan build's quarantine).
constexpr uint64_t kRssGrowthBoundKiB = 32 * 1024;

// Polls `progress` until it has not grown for `quiet`, for at most `cap`. *stalled_at: the
// value it settled at. Fails if it was still growing at the cap (the writer never stalled).
::testing::AssertionResult waitForStall(const std::function<uint64_t()>& progress, milliseconds quiet,
                                        milliseconds cap, uint64_t* stalled_at) {
  const auto deadline = Clock::now() + cap;
  uint64_t last = progress();
  auto last_growth = Clock::now();
  for (int i = 0; i < 100000 && Clock::now() < deadline; ++i) {
    std::this_thread::sleep_for(10ms);  // sampling period, not a readiness wait
    uint64_t now = progress();
    if (now != last) {
      last = now;
      last_growth = Clock::now();
    } else if (Clock::now() - last_growth >= quiet) {
      *stalled_at = last;
      return ::testing::AssertionSuccess();
    }
  }
  *stalled_at = last;
  return ::testing::AssertionFailure() << "still growing after " << cap.count() << " ms, at " << last
                                       << " bytes";
}

// Streaming mode (`buffering: off`, for SSE and long polling): the proxy holds no body, so a
// slow reader on one side must pause the other. With buffering on (the default) the proxy
// would spill to disk instead; that is BufferingTest's subject.
class Backpressure : public ::testing::Test {
 protected:
  void SetUp() override {
    ProxyConfig config = ProxyConfig::singleUpstream({up_.address()});
    config.routes[0].buffering = "off";
    ASSERT_TRUE(proxy_.start(config));
    ASSERT_TRUE(client_.connect(proxy_.httpsPort()));
  }

  FakeUpstream up_{"up"};
  ProxyProcess proxy_;
  TlsClient client_;
};

TEST_F(Backpressure, ClientThatStopsReadingStallsTheUpstreamAndGetsTheWholeBodyLater) {
  const std::string body = patternBody(kBodySize, 17);
  Reply big = up_.defaultReply();
  big.body = body;
  up_.setReply(big);
  const uint64_t rss_before = residentKiB(proxy_.pid());
  ASSERT_GT(rss_before, 0u) << "cannot read /proc/" << proxy_.pid() << "/status";

  ASSERT_TRUE(client_.send(getRequest("/big")));
  Response head;
  ASSERT_TRUE(client_.readResponseHead(&head));
  ASSERT_EQ(head.status, 200);
  ASSERT_EQ(head.headers.get("Content-Length"), std::to_string(kBodySize));

  // The client now reads nothing. The upstream writes as fast as the kernel takes the bytes.
  uint64_t sent = 0;
  ASSERT_TRUE(waitForStall([&] { return up_.responseBodyBytesSent(); }, 500ms, 8s, &sent))
      << "the upstream's writes never stalled";
  EXPECT_LT(sent, kStallBound) << "the proxy kept reading a response its client was not taking";
  const uint64_t rss_stalled = residentKiB(proxy_.pid());
  EXPECT_LT(rss_stalled, rss_before + kRssGrowthBoundKiB)
      << "proxy RSS " << rss_before << " KiB before, " << rss_stalled << " KiB while stalled";
  RecordProperty("stalled_response_bytes", std::to_string(sent));
  RecordProperty("proxy_rss_growth_kib", std::to_string(rss_stalled - std::min(rss_stalled, rss_before)));

  Response resp;
  ASSERT_TRUE(client_.readResponse(&resp, 30s));
  EXPECT_EQ(resp.status, 200);
  EXPECT_TRUE(sameBytes(body, resp.body));
  EXPECT_EQ(up_.responseBodyBytesSent(), kBodySize);
}

TEST_F(Backpressure, UpstreamThatStopsReadingStallsTheClientAndGetsTheWholeBodyLater) {
  const std::string body = patternBody(kBodySize, 23);
  const std::string request = requestWithBody("POST", "/upload", body);
  up_.holdRequestBodies();

  // Send until the client's writes stop making progress (or all is sent, which fails below).
  size_t sent = 0;
  auto last_growth = Clock::now();
  const auto cap = Clock::now() + 8s;
  for (int i = 0; i < 100000 && sent < request.size() && Clock::now() < cap &&
                  Clock::now() - last_growth < 500ms;
       ++i) {
    size_t n = 0;
    ASSERT_TRUE(client_.sendSome(std::string_view(request).substr(sent), 100ms, &n));
    if (n > 0) {
      sent += n;
      last_growth = Clock::now();
    }
  }
  ASSERT_LT(Clock::now(), cap) << "the client's writes never stalled; " << sent << " bytes sent";
  ASSERT_TRUE(up_.waitForHeldRequests(1)) << "the request head never reached the upstream";
  EXPECT_LT(sent, kStallBound) << "the proxy kept reading a body its upstream was not taking";
  EXPECT_EQ(up_.requestCount(), 0u);
  RecordProperty("stalled_request_bytes", std::to_string(sent));

  up_.releaseRequestBodies();
  ASSERT_TRUE(client_.send(std::string_view(request).substr(sent), 30s));
  RecordedRequest got;
  ASSERT_TRUE(up_.waitForRequest(0, &got, 30s));
  EXPECT_EQ(got.request.method, "POST");
  EXPECT_TRUE(sameBytes(body, got.request.body));
  Response resp;
  ASSERT_TRUE(client_.readResponse(&resp));
  EXPECT_EQ(resp.status, 200);
  EXPECT_EQ(resp.body, "ok");
}

}  // namespace
}  // namespace portcullis::integration
