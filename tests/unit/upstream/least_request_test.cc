// Least request specs (least_request.cc): two weighted draws, the lower in_flight / weight
// wins.
#include <gtest/gtest.h>

#include <vector>

#include "balancer_test_util.h"
#include "upstream/balancer.h"

namespace portcullis::upstream {
namespace {

using testing::countPicks;
using testing::makeHosts;

void load(HostState& h, int n) {
  for (int i = 0; i < n; ++i) ASSERT_TRUE(h.tryAcquire());
}

TEST(LeastRequest, PrefersTheLessLoadedOfTwo) {
  HostList hosts = makeHosts({1, 1});
  load(*hosts[0], 5);
  LeastRequestBalancer b(hosts, {});
  EXPECT_EQ(countPicks(b, 1000), (std::vector<int>{0, 1000}));
}

TEST(LeastRequest, MostLoadedOfThreeIsNeverPicked) {
  HostList hosts = makeHosts({1, 1, 1});
  load(*hosts[0], 1);
  load(*hosts[1], 9);
  load(*hosts[2], 2);
  LeastRequestBalancer b(hosts, {});
  std::vector<int> counts = countPicks(b, 3000);
  EXPECT_EQ(counts[1], 0);
  EXPECT_GT(counts[0], counts[2]);  // host 0 wins both its pairs, host 2 only against host 1
}

TEST(LeastRequest, LoadIsComparedPerUnitOfWeight) {
  // 3 requests on weight 4 (0.75 each) is lighter than 1 on weight 1: a plain "fewest
  // requests" would choose host 1.
  HostList hosts = makeHosts({4, 1});
  load(*hosts[0], 3);
  load(*hosts[1], 1);
  LeastRequestBalancer b(hosts, {});
  EXPECT_EQ(countPicks(b, 1000), (std::vector<int>{1000, 0}));
}

TEST(LeastRequest, IdleHostsShareByWeight) {
  // No load: ties go to the first (weighted) draw, so 3:1 weights give 75% / 25% (±5%).
  LeastRequestBalancer b(makeHosts({3, 1}), BalancerOptions{.seed = 7});
  std::vector<int> counts = countPicks(b, 10'000);
  EXPECT_NEAR(counts[0], 7500, 375);
  EXPECT_NEAR(counts[1], 2500, 125);
}

TEST(LeastRequest, EquallyLoadedPerWeightStillShareByWeight) {
  HostList hosts = makeHosts({3, 1});
  load(*hosts[0], 3);
  load(*hosts[1], 1);
  LeastRequestBalancer b(hosts, BalancerOptions{.seed = 7});
  EXPECT_NEAR(countPicks(b, 10'000)[0], 7500, 375);
}

TEST(LeastRequest, BalancesLiveLoadAcrossHosts) {
  // Requests that are never released: P2C keeps the counts within a couple of each other.
  HostList hosts = makeHosts({1, 1, 1, 1});
  LeastRequestBalancer b(hosts, BalancerOptions{.seed = 3});
  for (int i = 0; i < 400; ++i) ASSERT_TRUE(b.acquire(PickContext{}, Exclusions{}).has_value());
  for (auto& h : hosts) EXPECT_NEAR(h->inFlight(), 100, 3) << h->name();
}

}  // namespace
}  // namespace portcullis::upstream
