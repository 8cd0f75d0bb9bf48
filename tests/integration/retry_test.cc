// Retries on another host (`retries`, default 1) when a host fails before any response byte.
// RFC 9110 §9.2.2: only idempotent requests may be repeated automatically, so a GET goes to the
// next host and a POST never reaches a second one; `retries: 0` turns retrying off.
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "harness/harness.h"

namespace portcullis::integration {
namespace {

using namespace std::chrono_literals;

size_t countTarget(const FakeUpstream& up, const std::string& target) {
  size_t n = 0;
  for (const auto& r : up.requests()) n += r.request.target == target ? 1 : 0;
  return n;
}

class Retry : public ::testing::Test {
 protected:
  void SetUp() override {
    Reply hangup;
    hangup.action = Reply::Action::kCloseWithoutResponse;  // reads the request, closes, sends nothing
    bad_.setReply(hangup);
  }

  // Round robin over {bad, good} with one worker, so consecutive requests alternate and a few
  // of them are bound to try `bad` first.
  ::testing::AssertionResult startProxy(int retries) {
    ProxyConfig config = ProxyConfig::singleUpstream({bad_.address(), good_.address()});
    config.workers = 1;
    config.upstreams[0].extra = {"retries: " + std::to_string(retries)};
    config.timeouts.emplace_back("upstream_response", "5s");
    return proxy_.start(config);
  }

  // Sends `request` on a fresh connection (a 502 closes the connection anyway).
  ::testing::AssertionResult send(const std::string& request, Response* out) {
    TlsClient client;
    auto ok = client.connect(proxy_.httpsPort());
    if (!ok) return ok;
    return client.roundTrip(request, out);
  }

  ProxyProcess proxy_;
  FakeUpstream bad_{"bad"};
  FakeUpstream good_{"good"};
};

TEST_F(Retry, GetWhoseHostClosesWithoutAnsweringIsRetriedOnAnotherHost) {
  ASSERT_TRUE(startProxy(1));
  for (int i = 0; i < 4; ++i) {
    const std::string target = "/get/" + std::to_string(i);
    Response resp;
    ASSERT_TRUE(send(getRequest(target), &resp)) << target;
    EXPECT_EQ(resp.status, 200) << target;
    EXPECT_EQ(resp.headers.get("X-Upstream-Name"), "good") << target;
    EXPECT_EQ(countTarget(good_, target), 1u) << target;
  }
  EXPECT_GE(bad_.requestCount(), 1u) << "no request tried the failing host: nothing was retried";
}

TEST_F(Retry, PostIsNeverSentToASecondHost) {
  ASSERT_TRUE(startProxy(1));
  int bad_gateways = 0;
  for (int i = 0; i < 4; ++i) {
    const std::string target = "/post/" + std::to_string(i);
    Response resp;
    ASSERT_TRUE(send(requestWithBody("POST", target, "order=" + std::to_string(i)), &resp)) << target;
    const size_t at_bad = countTarget(bad_, target);
    const size_t at_good = countTarget(good_, target);
    EXPECT_EQ(at_bad + at_good, 1u) << target << " reached the hosts " << at_bad + at_good << " times";
    if (resp.status == 502) {
      ++bad_gateways;
      EXPECT_EQ(at_bad, 1u) << target;
    } else {
      EXPECT_EQ(resp.status, 200) << target;
      EXPECT_EQ(at_good, 1u) << target;
    }
  }
  EXPECT_GE(bad_gateways, 1) << "no POST went to the failing host first: the test proves nothing";
}

TEST_F(Retry, RetriesZeroAnswers502ForAGetWhoseHostFails) {
  ASSERT_TRUE(startProxy(0));
  int bad_gateways = 0;
  for (int i = 0; i < 4; ++i) {
    const std::string target = "/get/" + std::to_string(i);
    Response resp;
    ASSERT_TRUE(send(getRequest(target), &resp)) << target;
    if (countTarget(bad_, target) == 1) {
      ++bad_gateways;
      EXPECT_EQ(resp.status, 502) << target;
      EXPECT_EQ(countTarget(good_, target), 0u) << target << " was retried with retries: 0";
    } else {
      EXPECT_EQ(resp.status, 200) << target;
    }
  }
  EXPECT_GE(bad_gateways, 1) << "no GET went to the failing host: the test proves nothing";
}

}  // namespace
}  // namespace portcullis::integration
