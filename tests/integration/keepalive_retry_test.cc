// Pooled upstream keep-alive connections that the upstream has closed ("stale"). A server may
// close an idle keep-alive connection at any moment, so a proxy that reuses one can find it dead
// just as it sends. RFC 9110 §9.2.2: a request may be retried automatically only if it is
// idempotent; RFC 9112 §9.3.1: a client must not retry a non-idempotent request automatically
// when the connection closes under it. So a GET is retried once on a fresh connection; a POST
// with a body gets 502.
#include <gtest/gtest.h>

#include <algorithm>

#include "harness/harness.h"

namespace portcullis::integration {
namespace {

using namespace std::chrono_literals;

class StaleKeepAlive : public ::testing::Test {
 protected:
  // One worker, so the second client connection lands on the worker whose pool holds the
  // upstream connection of the first request (with two, SO_REUSEPORT may pick the other one
  // and the pooled connection would never be reused).
  void SetUp() override {
    ProxyConfig config = ProxyConfig::singleUpstream({up_.address()});
    config.workers = 1;
    config.upstreams[0].idle_timeout = "10s";  // the pool must not expire it during the test
    config.timeouts.emplace_back("upstream_response", "3s");
    ASSERT_TRUE(proxy_.start(config));
  }
  void TearDown() override {
    EXPECT_TRUE(up_.protocolErrors().empty())
        << "the proxy sent the upstream bytes that are not HTTP/1.1: " << up_.protocolErrors().front();
  }

  // The first request on a new client connection: 200 from the upstream, whose reply (per
  // `stale`) leaves the connection in the proxy's pool with a surprise in store.
  void firstRequest(const Reply& stale) {
    up_.setResponder([this, stale](const RecordedRequest& r) {
      if (r.request.target == "/first") return stale;
      return up_.defaultReply();
    });
    TlsClient first;
    ASSERT_TRUE(first.connect(proxy_.httpsPort()));
    Response resp;
    ASSERT_TRUE(first.roundTrip(getRequest("/first"), &resp));
    ASSERT_EQ(resp.status, 200);
    ASSERT_TRUE(up_.waitForConnections(1));
  }

  FakeUpstream up_{"up"};
  ProxyProcess proxy_;
};

size_t countMethod(const std::vector<RecordedRequest>& requests, const std::string& method) {
  return static_cast<size_t>(std::count_if(requests.begin(), requests.end(),
                                           [&](const RecordedRequest& r) { return r.request.method == method; }));
}

TEST_F(StaleKeepAlive, GetAfterUpstreamClosedIdleConnectionIsServed) {
  Reply closes_soon = up_.defaultReply();  // keep-alive response, no "Connection: close"
  closes_soon.close_when_idle_after = 50ms;
  ASSERT_NO_FATAL_FAILURE(firstRequest(closes_soon));
  ASSERT_TRUE(up_.waitForClosedConnections(1)) << "the upstream did not close its idle connection";

  TlsClient second;
  ASSERT_TRUE(second.connect(proxy_.httpsPort()));
  Response resp;
  ASSERT_TRUE(second.roundTrip(getRequest("/second"), &resp));
  EXPECT_EQ(resp.status, 200);
  EXPECT_EQ(up_.requestCount(), 2u);
}

TEST_F(StaleKeepAlive, GetOnConnectionUpstreamDropsAsItArrivesIsRetriedOnce) {
  // The upstream keeps the pooled connection open, so the proxy cannot know it is dead, and
  // closes it unread when the next request arrives: the race, made certain.
  Reply drops_next = up_.defaultReply();
  drops_next.close_on_next_request = true;
  ASSERT_NO_FATAL_FAILURE(firstRequest(drops_next));

  TlsClient second;
  ASSERT_TRUE(second.connect(proxy_.httpsPort()));
  Response resp;
  ASSERT_TRUE(second.roundTrip(getRequest("/second"), &resp));
  EXPECT_EQ(resp.status, 200);
  EXPECT_EQ(up_.droppedRequests(), 1u) << "the pooled connection was not reused, so nothing was tested";
  EXPECT_EQ(up_.requestCount(), 2u) << "want /first and one retried /second";
  EXPECT_EQ(up_.acceptedConnections(), 2u) << "the retry must use one fresh connection";
}

TEST_F(StaleKeepAlive, PostWithBodyOnConnectionUpstreamDropsIsNotRetried) {
  Reply drops_next = up_.defaultReply();
  drops_next.close_on_next_request = true;
  ASSERT_NO_FATAL_FAILURE(firstRequest(drops_next));

  TlsClient second;
  ASSERT_TRUE(second.connect(proxy_.httpsPort()));
  Response resp;
  ASSERT_TRUE(second.roundTrip(requestWithBody("POST", "/order", "item=1&qty=2"), &resp));
  EXPECT_EQ(resp.status, 502) << "the POST may have been processed; only the client may decide to repeat it";
  EXPECT_EQ(up_.droppedRequests(), 1u) << "the pooled connection was not reused, so nothing was tested";
  // The one copy that reached the upstream was dropped unread; a retry would show up here.
  EXPECT_EQ(countMethod(up_.requests(), "POST"), 0u) << "the POST was sent again";
}

}  // namespace
}  // namespace portcullis::integration
