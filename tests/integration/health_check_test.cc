// Active health checks end to end (upstream/health_checker.h, run by server/control.h on the
// control thread): a host failing its checks gets no traffic, comes back after `rise` passes,
// is probed once per interval by the process (not once per worker), and stays down across a
// reload (its state is shared by name).
//
// Two upstreams behind a catch-all route; "sick" answers 503 to everything while `down_` is
// set. Outlier detection is off so only the active checks decide.
#include <gtest/gtest.h>

#include <atomic>

#include "harness/harness.h"

namespace portcullis::integration {
namespace {

using namespace std::chrono_literals;

constexpr const char* kHealthCheck =
    "health_check: {path: /healthz, interval: 200ms, timeout: 100ms, rise: 2, fall: 2}";

class HealthCheck : public ::testing::Test {
 protected:
  void SetUp() override {
    sick_.setResponder([this](const RecordedRequest&) {
      Reply r = sick_.defaultReply();
      if (down_.load()) r.status = 503;
      return r;
    });
  }

  ProxyConfig config() const {
    ProxyConfig c = ProxyConfig::singleUpstream({good_.address(), sick_.address()});
    c.upstreams[0].extra = {kHealthCheck, "outlier: {consecutive_failures: 0}"};
    return c;
  }

  std::string logPrefix() const { return "upstream app/" + sick_.address() + ": "; }

  // Sends `n` requests on one connection; *to_sick: how many the sick host answered.
  ::testing::AssertionResult sendRequests(int n, int* to_sick) {
    TlsClient client;
    auto ok = client.connect(proxy_.httpsPort());
    if (!ok) return ok;
    *to_sick = 0;
    for (int i = 0; i < n; ++i) {
      Response resp;
      ok = client.roundTrip(getRequest("/r" + std::to_string(i)), &resp);
      if (!ok) return ok << " (request " << i << ")";
      if (resp.headers.get("X-Upstream-Name") == "sick") {
        ++*to_sick;  // whatever it answered: the test decides whether it should have been asked
        continue;
      }
      if (resp.status != 200) return ::testing::AssertionFailure() << "request " << i << ": status " << resp.status;
    }
    return ::testing::AssertionSuccess();
  }

  // Probes received by `up` (requests for /healthz), checking they look like probes.
  static size_t probes(const FakeUpstream& up) {
    size_t n = 0;
    for (const auto& r : up.requests()) {
      if (r.request.target != "/healthz") continue;
      ++n;
      EXPECT_EQ(r.request.method, "GET");
      EXPECT_EQ(r.request.headers.get("User-Agent"), "portcullis-health-check");
      EXPECT_EQ(r.request.headers.get("Connection"), "close");
      EXPECT_EQ(r.request.headers.get("Host"), up.address());
    }
    return n;
  }

  FakeUpstream good_{"good"};
  FakeUpstream sick_{"sick"};
  std::atomic<bool> down_{true};
  ProxyProcess proxy_;
};

TEST_F(HealthCheck, FailingHostGetsNoTrafficAndReturnsAfterRisePasses) {
  const auto started = Clock::now();
  ASSERT_TRUE(proxy_.start(config()));
  ASSERT_TRUE(proxy_.waitForStderr(logPrefix() + "unhealthy after 2 failed checks (status 503)"));

  int to_sick = -1;
  ASSERT_TRUE(sendRequests(20, &to_sick));
  EXPECT_EQ(to_sick, 0) << "requests went to a host marked unhealthy";

  down_ = false;
  ASSERT_TRUE(proxy_.waitForStderr(logPrefix() + "healthy after 2 passed checks"));
  // Round robin alternates once the host is back; a few requests on one connection must reach it.
  bool reached = pollUntil([&] { return sendRequests(4, &to_sick) && to_sick > 0; }, kWait);
  EXPECT_TRUE(reached) << "the recovered host got no traffic";

  // Once per interval per host for the whole process: 2 workers each probing would double this.
  const auto elapsed = std::chrono::duration_cast<milliseconds>(Clock::now() - started);
  const size_t bound = static_cast<size_t>(elapsed.count() / 200) + 2;
  EXPECT_GE(probes(good_), 2u);
  EXPECT_LE(probes(good_), bound) << "over " << elapsed.count() << " ms at a 200 ms interval";
  EXPECT_LE(probes(sick_), bound) << "over " << elapsed.count() << " ms at a 200 ms interval";
}

TEST_F(HealthCheck, AnUnhealthyHostStaysDownAcrossAReload) {
  ASSERT_TRUE(proxy_.start(config()));
  ASSERT_TRUE(proxy_.waitForStderr(logPrefix() + "unhealthy after 2 failed checks"));
  ASSERT_TRUE(proxy_.reload());
  ASSERT_TRUE(proxy_.waitForStderr("reloaded"));
  // Had the reload forgotten the host's health, it would take traffic again until `fall`
  // failures (400 ms) marked it down anew.
  int to_sick = -1;
  ASSERT_TRUE(sendRequests(10, &to_sick));
  EXPECT_EQ(to_sick, 0);
  const std::string log = proxy_.stderrText();
  const std::string marked = logPrefix() + "unhealthy after";
  EXPECT_EQ(log.find(marked, log.find(marked) + 1), std::string::npos)
      << "the host was marked down twice: the reload reset it to healthy";
}

// Every host unhealthy: `when_all_unhealthy` decides. Only the probes fail here (/healthz
// answers 503, everything else 200), so a request that reaches the host is visibly a 200.
class AllUnhealthy : public ::testing::Test {
 protected:
  void SetUp() override {
    host_.setResponder([this](const RecordedRequest& req) {
      Reply r = host_.defaultReply();
      if (req.request.target == "/healthz") r.status = 503;
      return r;
    });
  }

  ::testing::AssertionResult start(const std::string& when_all_unhealthy) {
    ProxyConfig c = ProxyConfig::singleUpstream({host_.address()});
    c.upstreams[0].extra = {kHealthCheck, "outlier: {consecutive_failures: 0}",
                            "when_all_unhealthy: " + when_all_unhealthy};
    auto ok = proxy_.start(c);
    if (!ok) return ok;
    return proxy_.waitForStderr("unhealthy after 2 failed checks");
  }

  size_t appRequests() const {
    size_t n = 0;
    for (const auto& r : host_.requests()) n += r.request.target != "/healthz";
    return n;
  }

  FakeUpstream host_{"only"};
  ProxyProcess proxy_;
};

TEST_F(AllUnhealthy, FailModeAnswers503WithoutAskingTheHost) {
  ASSERT_TRUE(start("fail"));
  TlsClient client;
  ASSERT_TRUE(client.connect(proxy_.httpsPort()));
  Response resp;
  ASSERT_TRUE(client.roundTrip(getRequest("/app"), &resp));
  EXPECT_EQ(resp.status, 503);
  EXPECT_TRUE(resp.headers.get("Retry-After").has_value());
  EXPECT_EQ(appRequests(), 0u);
}

TEST_F(AllUnhealthy, PanicModeStillSpreadsOverTheHosts) {
  ASSERT_TRUE(start("panic"));
  TlsClient client;
  ASSERT_TRUE(client.connect(proxy_.httpsPort()));
  Response resp;
  ASSERT_TRUE(client.roundTrip(getRequest("/app"), &resp));
  EXPECT_EQ(resp.status, 200);
  EXPECT_EQ(appRequests(), 1u);
}

}  // namespace
}  // namespace portcullis::integration
