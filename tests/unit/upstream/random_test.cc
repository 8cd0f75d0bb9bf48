// Weighted random specs (random.cc).
#include <gtest/gtest.h>

#include <vector>

#include "balancer_test_util.h"
#include "upstream/balancer.h"

namespace portcullis::upstream {
namespace {

using testing::countPicks;
using testing::makeHosts;

TEST(WeightedRandom, SharesWithinFivePercentOfWeights) {
  RandomBalancer b(makeHosts({5, 3, 2}), BalancerOptions{.seed = 11});
  std::vector<int> counts = countPicks(b, 10'000);
  EXPECT_NEAR(counts[0], 5000, 250);
  EXPECT_NEAR(counts[1], 3000, 150);
  EXPECT_NEAR(counts[2], 2000, 100);
}

TEST(WeightedRandom, WorkersSeededDifferentlyDrawDifferently) {
  RandomBalancer a(makeHosts({1, 1, 1, 1}), BalancerOptions{.seed = 0});
  RandomBalancer b(makeHosts({1, 1, 1, 1}), BalancerOptions{.seed = 1});
  int same = 0;
  for (int i = 0; i < 100; ++i) same += a.pick({}, {}) == b.pick({}, {}) ? 1 : 0;
  EXPECT_LT(same, 50);  // ~25 expected by chance; lock step would give 100
}

TEST(WeightedRandom, SlowStartingHostDrawsItsRampedShare) {
  // B at 10% of weight 1 against A at 1: B gets 1/11 (~909 of 10,000).
  HostList hosts = makeHosts({1, 1});
  hosts[1]->setHealthy(false, 0);
  hosts[1]->setHealthy(true, 5000);
  RandomBalancer b(hosts, BalancerOptions{.slow_start_ms = 10'000, .seed = 5});
  EXPECT_NEAR(countPicks(b, 10'000, 5000)[1], 909, 100);
}

}  // namespace
}  // namespace portcullis::upstream
