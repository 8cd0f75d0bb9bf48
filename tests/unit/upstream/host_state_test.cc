// HostState specs (host_state.h): the max_requests cap holds across threads, availability is
// health and ejection together, and slow start ramps 10% -> 100% linearly.
#include "upstream/host_state.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <thread>
#include <vector>

namespace portcullis::upstream {
namespace {

TEST(HostState, AcquireCountsInFlightAndReleaseUncounts) {
  HostState h("a:80");
  EXPECT_TRUE(h.tryAcquire());
  EXPECT_TRUE(h.tryAcquire());
  EXPECT_EQ(h.inFlight(), 2u);
  h.release();
  EXPECT_EQ(h.inFlight(), 1u);
}

TEST(HostState, ZeroCapMeansUnlimited) {
  HostState h("a:80", 1, 0);
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(h.tryAcquire());
  EXPECT_FALSE(h.atCap());
}

TEST(HostState, AcquireFailsAtCapWithoutCounting) {
  HostState h("a:80", 1, 2);
  EXPECT_TRUE(h.tryAcquire());
  EXPECT_TRUE(h.tryAcquire());
  EXPECT_TRUE(h.atCap());
  EXPECT_FALSE(h.tryAcquire());
  EXPECT_EQ(h.inFlight(), 2u);
  h.release();
  EXPECT_TRUE(h.tryAcquire());
}

TEST(HostState, ConcurrentAcquiresNeverExceedCap) {
  // Threads hammer acquire/release on a cap of 1, and count holders separately from the host's
  // own counter: with a plain load-check-increment two threads both see 0 and both "take" the
  // one slot, which `holders` reaches 2 to show.
  HostState h("a:80", 1, 1);
  std::atomic<int> holders{0};
  std::atomic<bool> go{false}, over{false};
  auto worker = [&] {
    while (!go.load()) std::this_thread::yield();
    for (int i = 0; i < 2'000'000; ++i) {
      if (!h.tryAcquire()) continue;
      if (holders.fetch_add(1) + 1 > 1) over = true;
      holders.fetch_sub(1);
      h.release();
    }
  };
  // One thread per core: more would mostly wait for a core, and the race needs two threads
  // between load and increment at the same instant. A load-check-increment cap shows here only
  // when threads really run in parallel (tens of times per run on an idle 2-core box, not at
  // all on one saturated by other builds), so a pass under load proves less than a failure.
  unsigned n = std::clamp(std::thread::hardware_concurrency(), 2u, 4u);
  std::vector<std::thread> threads;
  for (unsigned t = 0; t < n; ++t) threads.emplace_back(worker);
  go = true;
  for (auto& t : threads) t.join();
  EXPECT_FALSE(over.load());
  EXPECT_EQ(h.inFlight(), 0u);
}

TEST(HostState, UnhealthyHostIsNotAvailable) {
  HostState h("a:80");
  EXPECT_TRUE(h.available(1000));
  h.setHealthy(false, 1000);
  EXPECT_FALSE(h.available(1000));
  h.setHealthy(true, 2000);
  EXPECT_TRUE(h.available(2000));
}

TEST(HostState, FullWeightWithoutSlowStart) {
  HostState h("a:80", 3);
  h.setHealthy(false, 1000);
  h.setHealthy(true, 2000);
  EXPECT_EQ(h.effectiveWeight(2000, 0), 3u * kWeightScale);
}

TEST(HostState, HostPresentSinceStartHasFullWeight) {
  HostState h("a:80", 3);
  EXPECT_EQ(h.effectiveWeight(5000, 10'000), 3u * kWeightScale);
}

TEST(HostState, SlowStartRampsLinearlyFromTenPercent) {
  HostState h("a:80", 2);  // full = 200 units
  h.setHealthy(false, 1000);
  h.setHealthy(true, 10'000);
  EXPECT_EQ(h.effectiveWeight(10'000, 1000), 20u);   // 10%
  EXPECT_EQ(h.effectiveWeight(10'500, 1000), 110u);  // 10% + 90% * 1/2 = 55%
  EXPECT_EQ(h.effectiveWeight(11'000, 1000), 200u);  // 100%
  EXPECT_EQ(h.effectiveWeight(99'000, 1000), 200u);
}

TEST(HostState, SlowStartRestartsOnlyOnTransitionToHealthy) {
  HostState h("a:80", 1);
  h.setHealthy(false, 0);
  h.setHealthy(true, 1000);
  h.setHealthy(true, 1900);  // a repeated "healthy" from the next check is no comeback
  EXPECT_EQ(h.effectiveWeight(2000, 1000), 100u);
}

TEST(HostState, WeightZeroStaysZero) {
  HostState h("a:80", 0);
  EXPECT_EQ(h.effectiveWeight(0, 0), 0u);
}

TEST(HostStateLog, OneLinePerIntervalAndTheRestCounted) {
  HostState h("a:1");
  uint32_t suppressed = 99;
  EXPECT_TRUE(h.shouldLog(1000, 1000, &suppressed));
  EXPECT_EQ(suppressed, 0u);
  EXPECT_FALSE(h.shouldLog(1500, 1000, &suppressed));
  EXPECT_FALSE(h.shouldLog(1999, 1000, &suppressed));
  EXPECT_TRUE(h.shouldLog(2000, 1000, &suppressed));
  EXPECT_EQ(suppressed, 2u);
}

}  // namespace
}  // namespace portcullis::upstream
