// Client-side timeouts: slowloris header trickling and idle keep-alive connections.
#include <gtest/gtest.h>

#include "harness/harness.h"

namespace portcullis::integration {
namespace {

using namespace std::chrono_literals;

class ClientTimeouts : public ::testing::Test {
 protected:
  void SetUp() override {
    ProxyConfig config = ProxyConfig::singleUpstream({app_.address()});
    config.timeouts.emplace_back("client_header", "1s");
    config.timeouts.emplace_back("client_idle", "1s");
    ASSERT_TRUE(proxy_.start(config));
  }

  FakeUpstream app_{"app"};
  ProxyProcess proxy_;
};

milliseconds since(Clock::time_point start) {
  return std::chrono::duration_cast<milliseconds>(Clock::now() - start);
}

TEST_F(ClientTimeouts, HeaderTricklingClientIsClosedWhileOthersAreServed) {
  // client_header bounds the whole head, not the gap between reads: one byte every 100 ms
  // would keep an inactivity timer happy forever (slowloris).
  TlsClient slow;
  ASSERT_TRUE(slow.connect(proxy_.httpsPort()));
  const auto start = Clock::now();
  ASSERT_TRUE(slow.send("GET /slow HTTP/1.1\r\nHost: localhost\r\nX-Slow: "));

  // Meanwhile, on the same proxy, a normal client is served at once.
  TlsClient normal;
  ASSERT_TRUE(normal.connect(proxy_.httpsPort()));
  Response resp;
  ASSERT_TRUE(normal.roundTrip(getRequest("/normal"), &resp, 900ms));
  EXPECT_EQ(resp.status, 200);

  bool closed = false;
  std::string received;
  for (int i = 0; i < 50 && !closed; ++i) {  // at most ~5 s
    if (!slow.send("a", 100ms)) {
      closed = true;  // the proxy already closed
      break;
    }
    closed = slow.waitForClose(100ms, &received);
  }
  const milliseconds elapsed = since(start);
  ASSERT_TRUE(closed) << "still open after " << elapsed.count() << " ms of trickling";
  EXPECT_GE(elapsed, 800ms) << "closed before client_header (1s)";
  EXPECT_LE(elapsed, 3s) << "client_header is 1s";
  if (!received.empty()) {  // a 408 before closing is fine; anything else is not
    Response timeout_resp;
    ParseResult r = parseResponse(received, true, false, &timeout_resp);
    EXPECT_EQ(r.status, ParseStatus::kComplete) << received;
    EXPECT_EQ(timeout_resp.status, 408);
  }
  ASSERT_TRUE(app_.waitForRequests(1));
  EXPECT_EQ(app_.requests().size(), 1u) << "the trickled request reached the upstream";
}

TEST_F(ClientTimeouts, SilentConnectionIsClosed) {
  TlsClient silent;
  ASSERT_TRUE(silent.connect(proxy_.httpsPort()));
  const auto start = Clock::now();
  ASSERT_TRUE(silent.waitForClose(4s)) << "a connection that never sends a request is never closed";
  EXPECT_GE(since(start), 800ms);
}

TEST_F(ClientTimeouts, IdleKeepAliveClientIsClosedAfterClientIdle) {
  TlsClient client;
  ASSERT_TRUE(client.connect(proxy_.httpsPort()));
  Response resp;
  ASSERT_TRUE(client.roundTrip(getRequest("/"), &resp));
  EXPECT_EQ(resp.status, 200);
  const auto start = Clock::now();
  ASSERT_TRUE(client.waitForClose(4s));
  EXPECT_GE(since(start), 800ms) << "closed before client_idle (1s)";
}

TEST_F(ClientTimeouts, KeepAliveClientThatComesBackInTimeIsServed) {
  TlsClient client;
  ASSERT_TRUE(client.connect(proxy_.httpsPort()));
  Response first;
  ASSERT_TRUE(client.roundTrip(getRequest("/1"), &first));
  ASSERT_TRUE(client.staysOpenAndSilent(400ms));
  Response second;
  ASSERT_TRUE(client.roundTrip(getRequest("/2"), &second));
  EXPECT_EQ(second.status, 200);
}

}  // namespace
}  // namespace portcullis::integration

namespace portcullis::integration {
namespace {

TEST(ClientBodyTimeout, BoundsTheUploadNotTheUpstreamsWorkAfterIt) {
  // client_body is a gap between the client's reads. Once a buffered body is in, the client has
  // nothing left to send: a view slower than client_body must still be answered (the upstream's
  // own timeout, upstream_response, bounds it).
  FakeUpstream app("app");
  Reply slow;
  slow.delay = milliseconds(1500);
  slow.body = "done";
  app.setReply(slow);
  ProxyConfig config = ProxyConfig::singleUpstream({app.address()});
  config.timeouts.emplace_back("client_body", "500ms");
  ProxyProcess proxy;
  ASSERT_TRUE(proxy.start(config));
  TlsClient client;
  ASSERT_TRUE(client.connect(proxy.httpsPort()));
  Response resp;
  ASSERT_TRUE(client.roundTrip(requestWithBody("POST", "/slow-view", "form=1"), &resp, milliseconds(5000)));
  EXPECT_EQ(resp.status, 200);
  EXPECT_EQ(resp.body, "done");
}

}  // namespace
}  // namespace portcullis::integration
