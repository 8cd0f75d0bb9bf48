// Smooth weighted round robin specs (round_robin.cc): nginx's exact order, exact shares, and
// per-worker offsets.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "balancer_test_util.h"
#include "upstream/balancer.h"

namespace portcullis::upstream {
namespace {

using testing::countPicks;
using testing::makeHosts;

std::string sequence(Balancer& b, int n, uint64_t now_ms = 0) {
  std::string out;
  for (int i = 0; i < n; ++i) {
    auto h = b.pick(PickContext{now_ms, {}}, Exclusions{});
    out += h ? static_cast<char>('A' + *h) : '-';
  }
  return out;
}

TEST(SmoothRoundRobin, FiveToOneNeverBurstsTheHeavyHost) {
  // nginx's order for 5:1, cycle after cycle: B comes mid-cycle, A never runs 5 in a row.
  // (The DESIGN comment's "A A B A A A" is this cycle rotated by one, i.e. another worker's
  // offset; nginx breaks the tie at the third pick towards the first host.)
  RoundRobinBalancer b(makeHosts({5, 1}), {});
  EXPECT_EQ(sequence(b, 12), "AAABAAAAABAA");
}

TEST(SmoothRoundRobin, FiveOneOneMatchesNginxExample) {
  // ngx_http_upstream_round_robin.c: "{ 5, 1, 1 } ... { a, a, b, a, c, a, a }".
  RoundRobinBalancer b(makeHosts({5, 1, 1}), {});
  EXPECT_EQ(sequence(b, 7), "AABACAA");
}

TEST(SmoothRoundRobin, SharesAreExactOverWholeCycles) {
  RoundRobinBalancer b(makeHosts({3, 2, 1}), {});
  EXPECT_EQ(countPicks(b, 10'002), (std::vector<int>{5001, 3334, 1667}));
}

TEST(SmoothRoundRobin, EqualWeightsCycleInOrder) {
  RoundRobinBalancer b(makeHosts({1, 1, 1}), {});
  EXPECT_EQ(sequence(b, 7), "ABCABCA");
}

TEST(SmoothRoundRobin, WorkersStartAtDifferentHosts) {
  std::string firsts;
  for (uint64_t worker = 0; worker < 3; ++worker) {
    RoundRobinBalancer b(makeHosts({1, 1, 1}), BalancerOptions{.seed = worker});
    firsts += sequence(b, 1);
  }
  EXPECT_EQ(firsts, "ABC");
}

TEST(SmoothRoundRobin, OffsetIsTheSameCycleShifted) {
  RoundRobinBalancer w0(makeHosts({5, 1}), {});
  RoundRobinBalancer w1(makeHosts({5, 1}), BalancerOptions{.seed = 1});
  std::string s0 = sequence(w0, 13);
  EXPECT_EQ(sequence(w1, 12), s0.substr(1));
}

TEST(SmoothRoundRobin, SkippedHostKeepsTheOthersInProportion) {
  HostList hosts = makeHosts({2, 1, 5});
  hosts[2]->setHealthy(false, 0);
  RoundRobinBalancer b(hosts, {});
  EXPECT_EQ(countPicks(b, 3000), (std::vector<int>{2000, 1000, 0}));
}

TEST(SmoothRoundRobin, SlowStartingHostGetsTenPercentOfItsWeightAtFirst) {
  // B came back at t=10s with a 60 s slow start: at t=10s it weighs 10% of 1, against A's 1.
  HostList hosts = makeHosts({1, 1});
  hosts[1]->setHealthy(false, 0);
  hosts[1]->setHealthy(true, 10'000);
  RoundRobinBalancer b(hosts, BalancerOptions{.slow_start_ms = 60'000});
  EXPECT_EQ(countPicks(b, 1100, 10'000), (std::vector<int>{1000, 100}));
}

TEST(SmoothRoundRobin, SlowStartingHostReachesFullWeight) {
  HostList hosts = makeHosts({1, 1});
  hosts[1]->setHealthy(false, 0);
  hosts[1]->setHealthy(true, 10'000);
  RoundRobinBalancer b(hosts, BalancerOptions{.slow_start_ms = 60'000});
  EXPECT_EQ(countPicks(b, 1000, 70'000), (std::vector<int>{500, 500}));
}

}  // namespace
}  // namespace portcullis::upstream
