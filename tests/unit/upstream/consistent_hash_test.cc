// Consistent hash specs (consistent_hash.cc): stable placement by name, ~1/N keys moved on
// add, only the removed host's keys moved on remove, deterministic fallback.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "balancer_test_util.h"
#include "upstream/balancer.h"

namespace portcullis::upstream {
namespace {

using testing::makeHosts;
using testing::makeNamed;

constexpr int kKeys = 10'000;

std::string key(int i) { return "10.1." + std::to_string(i / 256) + "." + std::to_string(i % 256); }

// The host name each key lands on.
std::vector<std::string> placement(Balancer& b) {
  std::vector<std::string> out;
  for (int i = 0; i < kKeys; ++i) {
    std::string k = key(i);
    auto h = b.pick(PickContext{0, k}, Exclusions{});
    out.push_back(h ? b.host(*h).name() : "");
  }
  return out;
}

int moved(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  int n = 0;
  for (size_t i = 0; i < a.size(); ++i) n += a[i] != b[i] ? 1 : 0;
  return n;
}

const std::vector<std::string> kFour = {"app1:8000", "app2:8000", "app3:8000", "app4:8000"};

TEST(ConsistentHash, SameKeyGoesToTheSameHostOnEveryWorker) {
  HashBalancer w0(makeNamed(kFour), BalancerOptions{.seed = 0});
  HashBalancer w1(makeNamed(kFour), BalancerOptions{.seed = 1});
  EXPECT_EQ(placement(w0), placement(w1));
}

TEST(ConsistentHash, RepeatedPicksOfAKeyAgree) {
  HashBalancer b(makeNamed(kFour), {});
  auto first = b.pick(PickContext{0, "user-42"}, Exclusions{});
  for (int i = 0; i < 100; ++i) EXPECT_EQ(b.pick(PickContext{0, "user-42"}, Exclusions{}), first);
}

TEST(ConsistentHash, KeysSpreadOverAllHosts) {
  HashBalancer b(makeNamed(kFour), {});
  std::vector<int> counts(4);
  for (int i = 0; i < kKeys; ++i) ++counts[*b.pick(PickContext{0, key(i)}, Exclusions{})];
  for (int c : counts) EXPECT_NEAR(c, kKeys / 4, kKeys / 4 * 0.2) << c;  // ±20% of a share
}

TEST(ConsistentHash, WeightTwoTakesTwiceTheKeys) {
  HashBalancer b(makeHosts({2, 1}), {});
  std::vector<int> counts(2);
  for (int i = 0; i < kKeys; ++i) ++counts[*b.pick(PickContext{0, key(i)}, Exclusions{})];
  EXPECT_NEAR(counts[0], kKeys * 2 / 3, kKeys * 0.05);
}

TEST(ConsistentHash, ConfigOrderDoesNotMatter) {
  std::vector<std::string> reversed(kFour.rbegin(), kFour.rend());
  HashBalancer a(makeNamed(kFour), {});
  HashBalancer b(makeNamed(reversed), {});
  EXPECT_EQ(placement(a), placement(b));
}

TEST(ConsistentHash, AddingAFifthHostMovesAboutAFifthOfKeysAllToIt) {
  std::vector<std::string> five = kFour;
  five.push_back("app5:8000");
  HashBalancer before(makeNamed(kFour), {});
  HashBalancer after(makeNamed(five), {});
  std::vector<std::string> a = placement(before), b = placement(after);
  int n = moved(a, b);
  EXPECT_GE(n, kKeys * 15 / 100);
  EXPECT_LE(n, kKeys * 25 / 100);
  for (int i = 0; i < kKeys; ++i) {
    if (a[i] != b[i]) {
      ASSERT_EQ(b[i], "app5:8000") << key(i) << " moved between old hosts";
    }
  }
}

TEST(ConsistentHash, RemovingAHostMovesOnlyItsKeys) {
  std::vector<std::string> three = {"app1:8000", "app2:8000", "app4:8000"};
  HashBalancer before(makeNamed(kFour), {});
  HashBalancer after(makeNamed(three), {});
  std::vector<std::string> a = placement(before), b = placement(after);
  int on_removed = 0;
  for (int i = 0; i < kKeys; ++i) {
    if (a[i] == "app3:8000") {
      ++on_removed;
      continue;
    }
    ASSERT_EQ(a[i], b[i]) << key(i);
  }
  EXPECT_GT(on_removed, 0);
}

TEST(ConsistentHash, UnavailableHostsKeysFallBackAndTheRestStay) {
  HostList hosts = makeNamed(kFour);
  HashBalancer b(hosts, {});
  std::vector<std::string> healthy = placement(b);
  hosts[2]->setHealthy(false, 0);
  std::vector<std::string> degraded = placement(b);
  std::vector<int> took(4);
  for (int i = 0; i < kKeys; ++i) {
    if (healthy[i] != "app3:8000") {
      ASSERT_EQ(healthy[i], degraded[i]) << key(i);
    } else {
      ASSERT_NE(degraded[i], "app3:8000");
      for (size_t h = 0; h < 4; ++h) took[h] += degraded[i] == kFour[h] ? 1 : 0;
    }
  }
  // The orphans spread over the three others (virtual nodes), not onto one neighbour.
  EXPECT_GT(took[0], 0);
  EXPECT_GT(took[1], 0);
  EXPECT_GT(took[3], 0);
}

TEST(ConsistentHash, FallbackIsTheSameOnEveryWorker) {
  HostList hosts = makeNamed(kFour);
  hosts[0]->setHealthy(false, 0);
  HashBalancer w0(hosts, BalancerOptions{.seed = 0});
  HashBalancer w1(hosts, BalancerOptions{.seed = 9});
  EXPECT_EQ(placement(w0), placement(w1));
}

TEST(ConsistentHash, KeysReturnWhenTheHostRecovers) {
  HostList hosts = makeNamed(kFour);
  HashBalancer b(hosts, {});
  std::vector<std::string> before = placement(b);
  hosts[1]->setHealthy(false, 0);
  (void)placement(b);
  hosts[1]->setHealthy(true, 1);
  EXPECT_EQ(placement(b), before);
}

TEST(ConsistentHash, TriedHostFallsBackToTheNextOnTheRing) {
  HashBalancer b(makeNamed(kFour), {});
  auto first = b.pick(PickContext{0, "user-42"}, Exclusions{});
  ASSERT_TRUE(first);
  Exclusions tried;
  tried.add(*first);
  auto retry = b.pick(PickContext{0, "user-42"}, tried);
  ASSERT_TRUE(retry);
  EXPECT_NE(*retry, *first);
  EXPECT_EQ(b.pick(PickContext{0, "user-42"}, tried), retry);  // and deterministically so
}

TEST(ConsistentHash, MissingKeySpreadsInsteadOfPinningOneHost) {
  HashBalancer b(makeNamed(kFour), BalancerOptions{.seed = 3});
  std::vector<int> counts(4);
  for (int i = 0; i < 4000; ++i) ++counts[*b.pick(PickContext{0, ""}, Exclusions{})];
  for (int c : counts) EXPECT_GT(c, 800);
}

TEST(ConsistentHash, RingHas160PointsPerWeightUnit) {
  EXPECT_EQ(HashBalancer(makeHosts({1, 2, 3}), {}).ringSize(), 6u * 160);
}

TEST(ConsistentHash, HugeWeightsStayUnderTheRingCap) {
  HashBalancer b(makeHosts({1000, 1000, 1000}), {});
  EXPECT_LE(b.ringSize(), size_t{1} << 17);
  EXPECT_GE(b.ringSize(), 3u * 1000 * 40);  // still 40+ points per unit
}

}  // namespace
}  // namespace portcullis::upstream
