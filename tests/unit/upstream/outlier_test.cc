// Outlier detection specs (outlier.h): one rule per test, time passed in.
#include "upstream/outlier.h"

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "balancer_test_util.h"

namespace portcullis::upstream {
namespace {

using testing::makeHosts;

OutlierOptions opts(uint32_t failures = 3) {
  return OutlierOptions{.consecutive_failures = failures, .base_ejection_ms = 1000, .max_ejection_ms = 5000};
}

// Fails `host` until just before ejection: n - 1 failures.
void failTimes(OutlierDetector& d, size_t host, int n, uint64_t now) {
  for (int i = 0; i < n; ++i) d.onFailure(host, now);
}

TEST(Outlier, EjectsOnTheNthConsecutiveFailure) {
  HostList hosts = makeHosts({1, 1, 1, 1});
  OutlierDetector d(hosts, opts(3));
  EXPECT_FALSE(d.onFailure(0, 100));
  EXPECT_FALSE(d.onFailure(0, 100));
  EXPECT_TRUE(d.onFailure(0, 100));
  EXPECT_FALSE(hosts[0]->available(100));
  EXPECT_EQ(hosts[0]->ejectedUntil(), 1100u);
}

TEST(Outlier, CountsEveryOutcomeForMetricsEvenWhenOffOrEjected) {
  HostList hosts = makeHosts({1, 1, 1, 1});
  OutlierDetector off(hosts, opts(0));
  off.onSuccess(0);
  off.onFailure(0, 100);
  OutlierDetector on(hosts, opts(1));
  EXPECT_TRUE(on.onFailure(0, 100));
  on.onFailure(0, 100);  // already ejected: ignored for ejection, still a failed attempt
  EXPECT_EQ(hosts[0]->counters().requests.load(), 4u);
  EXPECT_EQ(hosts[0]->counters().failures.load(), 3u);
  EXPECT_EQ(hosts[1]->counters().requests.load(), 0u);
}

TEST(Outlier, CountersOutliveTheHostState) {
  auto counters = std::make_shared<HostCounters>();
  {
    HostState first("a:1", 1, 0, counters);
    first.countOutcome(true);
  }
  HostState again("a:1", 1, 0, counters);  // the host left the cluster and came back
  again.countOutcome(false);
  EXPECT_EQ(again.counters().requests.load(), 2u);
  EXPECT_EQ(again.counters().failures.load(), 1u);
}

TEST(Outlier, SuccessResetsTheFailureCount) {
  HostList hosts = makeHosts({1, 1, 1, 1});
  OutlierDetector d(hosts, opts(3));
  failTimes(d, 0, 2, 100);
  d.onSuccess(0);
  EXPECT_EQ(hosts[0]->consecutiveFailures(), 0u);
  EXPECT_FALSE(d.onFailure(0, 100));
  EXPECT_FALSE(d.onFailure(0, 100));
  EXPECT_TRUE(hosts[0]->available(100));
}

TEST(Outlier, HostReturnsWhenTheEjectionTimePasses) {
  HostList hosts = makeHosts({1, 1, 1, 1});
  OutlierDetector d(hosts, opts(1));
  ASSERT_TRUE(d.onFailure(0, 100));
  EXPECT_FALSE(hosts[0]->available(1099));
  EXPECT_TRUE(hosts[0]->available(1100));
}

TEST(Outlier, EjectionTimeDoublesPerEjectionUpToMax) {
  OutlierDetector d(makeHosts({1}), opts());
  EXPECT_EQ(d.ejectionMs(1), 1000u);
  EXPECT_EQ(d.ejectionMs(2), 2000u);
  EXPECT_EQ(d.ejectionMs(3), 4000u);
  EXPECT_EQ(d.ejectionMs(4), 5000u);
  EXPECT_EQ(d.ejectionMs(200), 5000u);  // no shift overflow
}

TEST(Outlier, RepeatEjectionLastsLonger) {
  HostList hosts = makeHosts({1, 1, 1, 1});
  OutlierDetector d(hosts, opts(1));
  ASSERT_TRUE(d.onFailure(0, 0));       // 1000 ms
  ASSERT_TRUE(d.onFailure(0, 1000));    // back, fails again at once: 2000 ms
  EXPECT_EQ(hosts[0]->ejectedUntil(), 3000u);
  EXPECT_EQ(hosts[0]->ejections(), 2u);
}

TEST(Outlier, HostInServiceForMaxEjectionIsForgiven) {
  HostList hosts = makeHosts({1, 1, 1, 1});
  OutlierDetector d(hosts, opts(1));
  ASSERT_TRUE(d.onFailure(0, 0));
  ASSERT_TRUE(d.onFailure(0, 1000));    // until 3000, ejections 2
  ASSERT_TRUE(d.onFailure(0, 8000));    // 5000 ms in service since 3000: back to base
  EXPECT_EQ(hosts[0]->ejectedUntil(), 9000u);
  EXPECT_EQ(hosts[0]->ejections(), 1u);
}

TEST(Outlier, FailuresWhileEjectedDoNotCount) {
  HostList hosts = makeHosts({1, 1, 1, 1});
  OutlierDetector d(hosts, opts(2));
  failTimes(d, 0, 2, 0);
  ASSERT_FALSE(hosts[0]->available(0));
  failTimes(d, 0, 5, 500);  // replies to requests sent before the ejection
  EXPECT_EQ(hosts[0]->consecutiveFailures(), 0u);
  EXPECT_FALSE(d.onFailure(0, 1000));  // back: needs 2 fresh failures again
  EXPECT_TRUE(hosts[0]->available(1000));
}

TEST(Outlier, AtMostHalfTheHostsAreEjected) {
  HostList hosts = makeHosts({1, 1, 1, 1});
  OutlierDetector d(hosts, opts(1));
  EXPECT_TRUE(d.onFailure(0, 0));
  EXPECT_TRUE(d.onFailure(1, 0));
  EXPECT_FALSE(d.onFailure(2, 0));
  EXPECT_TRUE(hosts[2]->available(0));
  EXPECT_EQ(d.ejectedCount(0), 2u);
}

TEST(Outlier, BlockedEjectionHappensOnTheNextFailureOnceAllowed) {
  HostList hosts = makeHosts({1, 1, 1, 1});
  OutlierDetector d(hosts, opts(1));
  ASSERT_TRUE(d.onFailure(0, 0));
  ASSERT_TRUE(d.onFailure(1, 0));
  ASSERT_FALSE(d.onFailure(2, 500));   // cap reached
  EXPECT_TRUE(d.onFailure(2, 1000));   // 0 and 1 are back
}

TEST(Outlier, WorkersEjectingTogetherStayWithinTheCap) {
  // Host 0 of 4 is ejected; then two threads fail hosts 1 and 2 at the same instant. Each
  // sees one ejection of a cap of two before its CAS, so only the recount after it keeps the
  // total at 2. Two long-lived threads meet at a barrier per round so they really overlap;
  // like every race test, it proves most when the machine has idle cores.
  constexpr int kRounds = 5000;
  std::vector<HostList> rounds;
  for (int r = 0; r < kRounds; ++r) rounds.push_back(makeHosts({1, 1, 1, 1}));
  std::vector<std::unique_ptr<OutlierDetector>> detectors;
  for (auto& hosts : rounds) {
    detectors.push_back(std::make_unique<OutlierDetector>(hosts, opts(1)));
    detectors.back()->onFailure(0, 0);
  }
  std::atomic<int> arrived{0};
  auto worker = [&](size_t host) {
    for (int r = 0; r < kRounds; ++r) {
      arrived.fetch_add(1);
      while (arrived.load() < 2 * (r + 1)) std::this_thread::yield();
      detectors[r]->onFailure(host, 0);
    }
  };
  std::thread a(worker, 1), b(worker, 2);
  a.join();
  b.join();
  for (int r = 0; r < kRounds; ++r) ASSERT_LE(detectors[r]->ejectedCount(0), 2u) << "round " << r;
}

TEST(Outlier, SingleHostIsNeverEjected) {
  HostList hosts = makeHosts({1});
  OutlierDetector d(hosts, opts(1));
  for (int i = 0; i < 10; ++i) EXPECT_FALSE(d.onFailure(0, 0));
  EXPECT_TRUE(hosts[0]->available(0));
}

TEST(Outlier, LastAvailableHostIsNeverEjected) {
  // Two hosts, one down per the health check: the cap would allow one ejection, but it would
  // leave nothing to serve.
  HostList hosts = makeHosts({1, 1});
  hosts[1]->setHealthy(false, 0);
  OutlierDetector d(hosts, opts(1));
  EXPECT_FALSE(d.onFailure(0, 0));
  EXPECT_TRUE(hosts[0]->available(0));
}

TEST(Outlier, ZeroThresholdDisablesDetection) {
  HostList hosts = makeHosts({1, 1, 1, 1});
  OutlierDetector d(hosts, opts(0));
  for (int i = 0; i < 100; ++i) EXPECT_FALSE(d.onFailure(0, 0));
  EXPECT_TRUE(hosts[0]->available(0));
}

TEST(Outlier, PassingHealthCheckEndsTheEjection) {
  HostList hosts = makeHosts({1, 1, 1, 1});
  OutlierDetector d(hosts, opts(1));
  ASSERT_TRUE(d.onFailure(0, 0));
  d.onActiveCheckPassed(0, 300);
  EXPECT_TRUE(hosts[0]->available(300));
  EXPECT_EQ(hosts[0]->cameBackAt(), 300u);  // slow start counts from here
}

TEST(Outlier, PassingHealthCheckKeepsTheEjectionCount) {
  HostList hosts = makeHosts({1, 1, 1, 1});
  OutlierDetector d(hosts, opts(1));
  ASSERT_TRUE(d.onFailure(0, 0));
  d.onActiveCheckPassed(0, 300);
  ASSERT_TRUE(d.onFailure(0, 400));
  EXPECT_EQ(hosts[0]->ejectedUntil(), 2400u);  // second ejection: 2000 ms
}

TEST(Outlier, HealthCheckOnAHostNotEjectedChangesNothing) {
  HostList hosts = makeHosts({1, 1, 1, 1});
  OutlierDetector d(hosts, opts(1));
  d.onActiveCheckPassed(0, 300);
  EXPECT_EQ(hosts[0]->cameBackAt(), 0u);
}

TEST(Outlier, EjectedHostSlowStartsAfterReturning) {
  HostList hosts = makeHosts({1, 1, 1, 1});
  OutlierDetector d(hosts, opts(1));
  ASSERT_TRUE(d.onFailure(0, 0));  // back at 1000
  EXPECT_EQ(hosts[0]->effectiveWeight(1000, 10'000), kWeightScale / 10);
  EXPECT_EQ(hosts[0]->effectiveWeight(11'000, 10'000), kWeightScale);
}

}  // namespace
}  // namespace portcullis::upstream
