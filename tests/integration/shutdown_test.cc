// Graceful shutdown on SIGTERM: stop accepting, let requests in flight finish (their responses
// carry "Connection: close"), close idle keep-alive connections at once, cut whatever is still
// running when timeouts.shutdown_grace runs out, and exit 0.
#include <gtest/gtest.h>
#include <signal.h>

#include "harness/harness.h"

namespace portcullis::integration {
namespace {

using namespace std::chrono_literals;

// Allowance on top of an expected exit time: process teardown and an ASan build on a busy host.
constexpr milliseconds kExitMargin{2000};

milliseconds since(Clock::time_point start) {
  return std::chrono::duration_cast<milliseconds>(Clock::now() - start);
}

bool saysClose(const Response& r) {
  for (const auto& v : r.headers.getAll("Connection")) {
    if (toLower(v).find("close") != std::string::npos) return true;
  }
  return false;
}

class Shutdown : public ::testing::Test {
 protected:
  // `grace`: timeouts.shutdown_grace. One worker, so that once one connection shows the worker
  // is draining, every listener of the proxy is known to be closed.
  ::testing::AssertionResult startProxy(const std::string& grace) {
    ProxyConfig config = ProxyConfig::singleUpstream({up_.address()});
    config.workers = 1;
    config.timeouts = {{"shutdown_grace", grace}};
    return proxy_.start(config);
  }
  // Upstream: "/slow" answers after `slow_delay`, everything else at once.
  void slowPath(milliseconds slow_delay) {
    up_.setResponder([this, slow_delay](const RecordedRequest& r) {
      Reply reply = up_.defaultReply();
      if (r.request.target == "/slow") reply.delay = slow_delay;
      return reply;
    });
  }

  FakeUpstream up_{"up"};
  ProxyProcess proxy_;
};

TEST_F(Shutdown, InFlightRequestCompletesWithConnectionClose) {
  slowPath(1000ms);
  ASSERT_TRUE(startProxy("5s"));
  TlsClient client;
  ASSERT_TRUE(client.connect(proxy_.httpsPort()));
  ASSERT_TRUE(client.send(getRequest("/slow")));
  ASSERT_TRUE(up_.waitForRequests(1));  // in flight: the upstream has it and is taking its time

  ASSERT_TRUE(proxy_.sendSignal(SIGTERM));
  Response resp;
  ASSERT_TRUE(client.readResponse(&resp));
  EXPECT_EQ(resp.status, 200);
  EXPECT_EQ(resp.body, "ok");
  EXPECT_TRUE(saysClose(resp)) << "response during shutdown lacks Connection: close:\n"
                               << resp.headers.toString();
  EXPECT_TRUE(client.waitForClose(2s)) << "the connection outlived its last response";
}

TEST_F(Shutdown, ExitsWithStatusZeroOnceInFlightRequestIsDone) {
  slowPath(1000ms);
  ASSERT_TRUE(startProxy("5s"));
  TlsClient client;
  ASSERT_TRUE(client.connect(proxy_.httpsPort()));
  ASSERT_TRUE(client.send(getRequest("/slow")));
  ASSERT_TRUE(up_.waitForRequests(1));

  const auto start = Clock::now();
  ASSERT_TRUE(proxy_.sendSignal(SIGTERM));
  Response resp;
  ASSERT_TRUE(client.readResponse(&resp));
  EXPECT_EQ(resp.status, 200);
  // As a real client does after "Connection: close", so the exit time does not depend on the
  // proxy's lingering close (up to kLingerMs, 2 s, in src/net/connection.cc).
  client.close();
  // Nothing is left once the response is out: no reason to sit out the 5 s grace.
  EXPECT_TRUE(proxy_.waitForExit(5000ms + kExitMargin));
  EXPECT_LT(since(start), 1000ms + kExitMargin) << "the proxy waited although nothing was in flight";
}

TEST_F(Shutdown, IdleKeepAliveConnectionIsClosedAtOnce) {
  ASSERT_TRUE(startProxy("5s"));
  TlsClient idle;
  ASSERT_TRUE(idle.connect(proxy_.httpsPort()));
  Response resp;
  ASSERT_TRUE(idle.roundTrip(getRequest("/"), &resp));
  ASSERT_EQ(resp.status, 200);
  ASSERT_FALSE(saysClose(resp));

  const auto start = Clock::now();
  ASSERT_TRUE(proxy_.sendSignal(SIGTERM));
  ASSERT_TRUE(idle.waitForClose(4s));
  EXPECT_LT(since(start), kExitMargin) << "an idle connection was kept for the shutdown grace (5 s)";
  idle.close();
  EXPECT_TRUE(proxy_.waitForExit(kWait));
}

TEST_F(Shutdown, NewConnectionsAfterSigtermAreRefused) {
  slowPath(3000ms);
  ASSERT_TRUE(startProxy("5s"));
  // An idle keep-alive connection: its close tells us the worker has begun draining, and the
  // worker closes its listeners before that.
  TlsClient idle;
  ASSERT_TRUE(idle.connect(proxy_.httpsPort()));
  Response first;
  ASSERT_TRUE(idle.roundTrip(getRequest("/"), &first));
  ASSERT_EQ(first.status, 200);
  // A slow request in flight keeps the proxy running while we knock.
  TlsClient busy;
  ASSERT_TRUE(busy.connect(proxy_.httpsPort()));
  ASSERT_TRUE(busy.send(getRequest("/slow")));
  ASSERT_TRUE(up_.waitForRequests(2));

  ASSERT_TRUE(proxy_.sendSignal(SIGTERM));
  ASSERT_TRUE(idle.waitForClose(4s)) << "the proxy never started draining";
  idle.close();
  ASSERT_TRUE(proxy_.running()) << "the proxy exited with a request in flight";

  // HTTPS listener: the connect is refused, or the connection ends without a response.
  TlsClient late;
  if (late.connect(proxy_.httpsPort(), {}, 2s)) {
    (void)late.send(getRequest("/late"), 1s);  // may fail: the proxy may already have closed
    std::string received;
    EXPECT_TRUE(late.waitForClose(3s, &received)) << "a connection accepted after SIGTERM is kept open";
    EXPECT_EQ(received, "") << "a connection accepted after SIGTERM was answered";
  }
  // The plain-HTTP redirect listener too.
  RawClient late_plain;
  if (late_plain.connect(proxy_.httpPort(), 2s)) {
    (void)late_plain.send(getRequest("/late"), 1s);
    std::string received;
    EXPECT_TRUE(late_plain.waitForClose(3s, &received)) << "redirect listener: connection kept open";
    EXPECT_EQ(received, "") << "redirect listener: answered after SIGTERM";
  }
  for (const auto& r : up_.requests()) EXPECT_NE(r.request.target, "/late");

  Response slow;
  ASSERT_TRUE(busy.readResponse(&slow));
  EXPECT_EQ(slow.status, 200);
  busy.close();
  EXPECT_TRUE(proxy_.waitForExit(kWait));
}

TEST_F(Shutdown, RequestThatOutlivesShutdownGraceIsCutAndProxyExitsZero) {
  Reply silent;
  silent.action = Reply::Action::kNeverRespond;
  up_.setReply(silent);
  ASSERT_TRUE(startProxy("1s"));  // upstream_response stays at its default 60 s
  TlsClient client;
  ASSERT_TRUE(client.connect(proxy_.httpsPort()));
  ASSERT_TRUE(client.send(getRequest("/never")));
  ASSERT_TRUE(up_.waitForRequests(1));

  const auto start = Clock::now();
  ASSERT_TRUE(proxy_.sendSignal(SIGTERM));
  EXPECT_TRUE(proxy_.waitForExit(1000ms + kExitMargin)) << "the proxy hangs on a request that never ends";
  const milliseconds elapsed = since(start);
  EXPECT_GE(elapsed, 900ms) << "the request in flight did not get its shutdown grace (1 s)";
  EXPECT_TRUE(client.waitForClose(1s));
}

}  // namespace
}  // namespace portcullis::integration
