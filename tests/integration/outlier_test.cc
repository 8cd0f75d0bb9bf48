// Passive health (`outlier`): a host whose real responses fail (5xx or failed connects)
// `consecutive_failures` times in a row is ejected for `base_ejection` (doubling per repeat, up
// to max_ejection), then gets traffic again, as Envoy's outlier detection.
#include <gtest/gtest.h>

#include <thread>

#include "harness/harness.h"

namespace portcullis::integration {
namespace {

using namespace std::chrono_literals;

class Outlier : public ::testing::Test {
 protected:
  void SetUp() override {
    Reply broken = bad_.defaultReply();
    broken.status = 500;
    bad_.setReply(broken);
    // Round robin over two hosts, one worker: requests alternate while both are in.
    ProxyConfig config = ProxyConfig::singleUpstream({bad_.address(), good_.address()});
    config.workers = 1;
    config.upstreams[0].extra = {"outlier: {consecutive_failures: 3, base_ejection: 2s}"};
    ASSERT_TRUE(proxy_.start(config));
    ASSERT_TRUE(client_.connect(proxy_.httpsPort()));
  }

  ::testing::AssertionResult get(int i, Response* out) {
    return client_.roundTrip(getRequest("/" + std::to_string(i)), out);
  }

  // Sends requests until `bad` has answered its 3rd 500 (bounded); *ejected_at: when the client
  // got that answer. A 500 is relayed as it is: the ejection is no retry.
  ::testing::AssertionResult ejectBad(Clock::time_point* ejected_at) {
    for (int i = 0; i < 20; ++i) {
      Response resp;
      auto ok = get(i, &resp);
      if (!ok) return ok;
      if (bad_.requestCount() == 3) {
        *ejected_at = Clock::now();
        if (resp.status != 500) return ::testing::AssertionFailure() << "3rd 500 relayed as " << resp.status;
        return ::testing::AssertionSuccess();
      }
    }
    return ::testing::AssertionFailure() << "bad got " << bad_.requestCount() << " of 20 requests";
  }

  ProxyProcess proxy_;
  FakeUpstream bad_{"bad"};
  FakeUpstream good_{"good"};
  TlsClient client_;
};

TEST_F(Outlier, HostIsEjectedAfterItsThirdConsecutive500) {
  Clock::time_point ejected_at;
  ASSERT_TRUE(ejectBad(&ejected_at));
  for (int i = 100; i < 110; ++i) {
    Response resp;
    ASSERT_TRUE(get(i, &resp)) << "request " << i;
    EXPECT_EQ(resp.status, 200) << "request " << i;
    EXPECT_EQ(resp.headers.get("X-Upstream-Name"), "good") << "request " << i;
  }
  EXPECT_EQ(bad_.requestCount(), 3u) << "an ejected host got requests";
  EXPECT_LT(Clock::now() - ejected_at, 1500ms) << "too slow to tell ejection from its end";
}

TEST_F(Outlier, EjectedHostGetsTrafficAgainAfterBaseEjection) {
  Clock::time_point ejected_at;
  ASSERT_TRUE(ejectBad(&ejected_at));
  // A steady trickle of requests, until one reaches `bad` again (bounded: 2 s ejection + slack).
  bool back = false;
  for (int i = 100; i < 1000 && !back && Clock::now() - ejected_at < 5s; ++i) {
    Response resp;
    ASSERT_TRUE(get(i, &resp)) << "request " << i;
    back = bad_.requestCount() > 3;
    if (!back) std::this_thread::sleep_for(20ms);  // request pacing, not a readiness wait
  }
  const auto away = std::chrono::duration_cast<milliseconds>(Clock::now() - ejected_at);
  ASSERT_TRUE(back) << "bad still ejected " << away.count() << " ms later (base_ejection 2s)";
  EXPECT_GE(away, 1800ms) << "back before base_ejection ran out";
  EXPECT_LE(away, 3000ms);
}

}  // namespace
}  // namespace portcullis::integration
