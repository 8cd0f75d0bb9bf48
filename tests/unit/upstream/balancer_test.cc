// Specs shared by every policy (balancer.h): who is a candidate (available, not tried, not at
// cap, weight > 0), panic mode, and acquire(). Each runs once per policy.
#include "upstream/balancer.h"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "balancer_test_util.h"
#include "upstream/outlier.h"

namespace portcullis::upstream {
namespace {

using testing::countPicks;
using testing::makeHosts;

class AnyPolicy : public ::testing::TestWithParam<Policy> {
 protected:
  std::unique_ptr<Balancer> make(HostList hosts, BalancerOptions opts = {}) {
    return makeBalancer(GetParam(), std::move(hosts), opts);
  }
};

TEST_P(AnyPolicy, UnhealthyHostIsNeverPicked) {
  HostList hosts = makeHosts({1, 1, 1});
  hosts[1]->setHealthy(false, 0);
  auto b = make(hosts);
  std::vector<int> counts = countPicks(*b, 3000);
  EXPECT_EQ(counts[1], 0);
  EXPECT_EQ(counts[0] + counts[2], 3000);
}

TEST_P(AnyPolicy, EjectedHostIsNeverPickedUntilItsTimePasses) {
  HostList hosts = makeHosts({1, 1, 1, 1});
  auto b = make(hosts);
  OutlierDetector outlier(hosts, OutlierOptions{.consecutive_failures = 1, .base_ejection_ms = 4000});
  ASSERT_TRUE(outlier.onFailure(2, 1000));
  EXPECT_EQ(countPicks(*b, 2000, 4999)[2], 0);
  EXPECT_GT(countPicks(*b, 2000, 5000)[2], 0);
}

TEST_P(AnyPolicy, TriedHostsAreNotPickedAgain) {
  auto b = make(makeHosts({1, 1, 1}));
  Exclusions tried;
  tried.add(0);
  tried.add(2);
  for (int i = 0; i < 500; ++i) {
    std::string key = "k" + std::to_string(i);
    EXPECT_EQ(b->pick(PickContext{0, key}, tried), std::optional<size_t>(1));
  }
}

TEST_P(AnyPolicy, AllTriedGivesNothing) {
  auto b = make(makeHosts({1, 1}));
  Exclusions tried;
  tried.add(0);
  tried.add(1);
  EXPECT_EQ(b->pick(PickContext{0, "k"}, tried), std::nullopt);
}

TEST_P(AnyPolicy, WhyNoneTellsTriedFromUnhealthyFromFull) {
  using NoHost = Balancer::NoHost;
  HostList hosts = makeHosts({1, 1}, 1);
  auto b = make(hosts);
  Exclusions tried;
  tried.add(0);
  tried.add(1);
  EXPECT_EQ(b->whyNone(0, tried), NoHost::AllTried);
  // Nothing tried, but host 1 is full and host 0 down: wait in the queue for host 1.
  hosts[0]->setHealthy(false, 0);
  ASSERT_TRUE(hosts[1]->tryAcquire());
  EXPECT_EQ(b->whyNone(0, Exclusions{}), NoHost::AllBusy);
  hosts[1]->setHealthy(false, 0);
  EXPECT_EQ(b->whyNone(0, Exclusions{}), NoHost::NoneHealthy);
}

TEST_P(AnyPolicy, HostAtCapIsSkipped) {
  HostList hosts = makeHosts({1, 1}, 1);
  ASSERT_TRUE(hosts[0]->tryAcquire());
  auto b = make(hosts);
  std::vector<int> counts = countPicks(*b, 500);
  EXPECT_EQ(counts[0], 0);
  EXPECT_EQ(counts[1], 500);
}

TEST_P(AnyPolicy, AllAtCapGivesNothingEvenInPanic) {
  HostList hosts = makeHosts({1, 1}, 1);
  ASSERT_TRUE(hosts[0]->tryAcquire());
  ASSERT_TRUE(hosts[1]->tryAcquire());
  auto b = make(hosts, BalancerOptions{.panic = true});
  EXPECT_EQ(b->pick(PickContext{0, "k"}, Exclusions{}), std::nullopt);
}

TEST_P(AnyPolicy, WeightZeroHostIsNeverPicked) {
  auto b = make(makeHosts({1, 0, 1}));
  EXPECT_EQ(countPicks(*b, 2000)[1], 0);
}

TEST_P(AnyPolicy, NoAvailableHostWithoutPanicGivesNothing) {
  HostList hosts = makeHosts({1, 1});
  for (auto& h : hosts) h->setHealthy(false, 0);
  auto b = make(hosts);
  EXPECT_EQ(b->pick(PickContext{0, "k"}, Exclusions{}), std::nullopt);
}

TEST_P(AnyPolicy, NoAvailableHostInPanicSpreadsOverAll) {
  HostList hosts = makeHosts({1, 1});
  for (auto& h : hosts) h->setHealthy(false, 0);
  auto b = make(hosts, BalancerOptions{.panic = true});
  std::vector<int> counts = countPicks(*b, 2000);
  EXPECT_GT(counts[0], 0);
  EXPECT_GT(counts[1], 0);
  EXPECT_EQ(counts[0] + counts[1], 2000);
}

TEST_P(AnyPolicy, PanicStillHonoursExclusions) {
  HostList hosts = makeHosts({1, 1});
  for (auto& h : hosts) h->setHealthy(false, 0);
  auto b = make(hosts, BalancerOptions{.panic = true});
  Exclusions tried;
  tried.add(0);
  for (int i = 0; i < 200; ++i) {
    std::string key = "k" + std::to_string(i);
    EXPECT_EQ(b->pick(PickContext{0, key}, tried), std::optional<size_t>(1));
  }
}

TEST_P(AnyPolicy, NoPanicWhileAnAvailableHostIsMerelyTried) {
  // Host 0 is fine but already tried; host 1 is down. Panic must not send the retry to the
  // known-bad host: "every healthy host tried" is a spent retry, not a dead cluster.
  HostList hosts = makeHosts({1, 1});
  hosts[1]->setHealthy(false, 0);
  auto b = make(hosts, BalancerOptions{.panic = true});
  Exclusions tried;
  tried.add(0);
  EXPECT_EQ(b->pick(PickContext{0, "k"}, tried), std::nullopt);
}

TEST_P(AnyPolicy, AcquireTakesTheSlotOfThePickedHost) {
  HostList hosts = makeHosts({1}, 2);
  auto b = make(hosts);
  EXPECT_EQ(b->acquire(PickContext{0, "k"}, Exclusions{}), std::optional<size_t>(0));
  EXPECT_EQ(hosts[0]->inFlight(), 1u);
  EXPECT_EQ(b->acquire(PickContext{0, "k"}, Exclusions{}), std::optional<size_t>(0));
  EXPECT_EQ(b->acquire(PickContext{0, "k"}, Exclusions{}), std::nullopt);
  EXPECT_EQ(hosts[0]->inFlight(), 2u);
}

TEST_P(AnyPolicy, WorkersAcquiringTogetherNeverExceedACap) {
  // One balancer per worker over shared hosts of cap 2: however the picks interleave, no host
  // ever holds more than 2 requests.
  HostList hosts = makeHosts({1, 1, 1}, 2);
  std::atomic<bool> go{false};
  std::atomic<bool> over{false};
  auto worker = [&](uint64_t seed) {
    auto b = make(hosts, BalancerOptions{.seed = seed});
    while (!go.load()) std::this_thread::yield();
    for (int i = 0; i < 50'000; ++i) {
      std::string key = std::to_string(i);
      auto h = b->acquire(PickContext{0, key}, Exclusions{});
      if (!h) continue;
      if (hosts[*h]->inFlight() > 2) over = true;
      hosts[*h]->release();
    }
  };
  std::vector<std::thread> threads;
  for (uint64_t t = 0; t < 4; ++t) threads.emplace_back(worker, t);
  go = true;
  for (auto& t : threads) t.join();
  EXPECT_FALSE(over.load());
  for (auto& h : hosts) EXPECT_EQ(h->inFlight(), 0u);
}

INSTANTIATE_TEST_SUITE_P(Policies, AnyPolicy,
                         ::testing::Values(Policy::RoundRobin, Policy::LeastRequest, Policy::Random, Policy::Hash),
                         [](const ::testing::TestParamInfo<Policy>& p) {
                           switch (p.param) {
                             case Policy::RoundRobin: return "RoundRobin";
                             case Policy::LeastRequest: return "LeastRequest";
                             case Policy::Random: return "Random";
                             case Policy::Hash: return "Hash";
                           }
                           return "Unknown";
                         });

TEST(Exclusions, HoldsEveryHostARequestMayTry) {
  // A request makes up to config::kMaxRetries + 1 attempts; each tried host must stay excluded,
  // or a retry could go back to a host that just failed.
  Exclusions tried;
  for (size_t h = 0; h <= config::kMaxRetries; ++h) EXPECT_TRUE(tried.add(h * 3)) << h;
  for (size_t h = 0; h <= config::kMaxRetries; ++h) EXPECT_TRUE(tried.contains(h * 3)) << h;
  EXPECT_FALSE(tried.contains(1));
}

TEST(Exclusions, RefusesAHostPastItsCapacity) {
  Exclusions e;
  for (size_t i = 0; i < Exclusions::kCapacity; ++i) EXPECT_TRUE(e.add(i));
  EXPECT_FALSE(e.add(99));
  EXPECT_FALSE(e.contains(99));
  EXPECT_TRUE(e.contains(7));
}

TEST(Rng, BelowStaysInRangeAndCoversIt) {
  Rng rng(42);
  std::vector<int> seen(7);
  for (int i = 0; i < 7000; ++i) {
    uint64_t v = rng.below(7);
    ASSERT_LT(v, 7u);
    ++seen[v];
  }
  for (int c : seen) EXPECT_GT(c, 800);
}

TEST(Rng, DifferentSeedsGiveDifferentStreams) {
  Rng a(0), b(1);
  EXPECT_NE(a.next(), b.next());
}

}  // namespace
}  // namespace portcullis::upstream
