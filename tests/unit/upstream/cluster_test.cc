// Cluster specs (cluster.h): the per-worker pieces it makes and the shared state it holds.
// The balancing policies themselves are specified in the balancer tests.
#include "upstream/cluster.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace portcullis::upstream {
namespace {

Cluster makeCluster(size_t hosts, ClusterOptions opts = {}) {
  std::vector<Host> list;
  for (size_t i = 0; i < hosts; ++i) {
    std::string name = "app" + std::to_string(i) + ":8000";
    list.push_back(Host{name, {}, "", std::make_shared<HostState>(name)});
  }
  return Cluster("app", std::move(list), opts);
}

TEST(Cluster, HostStatesFollowTheHostsInOrder) {
  Cluster c = makeCluster(3);
  ASSERT_EQ(c.hostStates().size(), 3u);
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(c.hostStates()[i].get(), c.hosts()[i].state.get());
}

TEST(Cluster, BalancersOfOneClusterShareHostState) {
  Cluster c = makeCluster(2);
  auto a = c.makeBalancer(0);
  auto b = c.makeBalancer(1);
  auto picked = a->acquire(PickContext{0, {}}, Exclusions{});
  ASSERT_TRUE(picked.has_value());
  // A slot taken through one worker's balancer is visible through another's.
  EXPECT_EQ(b->host(*picked).inFlight(), 1u);
  a->host(*picked).release();
}

TEST(Cluster, WorkersStartRoundRobinAtDifferentHosts) {
  Cluster c = makeCluster(3);
  auto first = c.makeBalancer(0)->pick(PickContext{0, {}}, Exclusions{});
  auto second = c.makeBalancer(1)->pick(PickContext{0, {}}, Exclusions{});
  ASSERT_TRUE(first && second);
  EXPECT_NE(*first, *second);
}

TEST(Cluster, PolicyComesFromTheOptions) {
  ClusterOptions opts;
  opts.policy = Policy::Hash;
  Cluster c = makeCluster(4, opts);
  auto bal = c.makeBalancer(0);
  auto once = bal->pick(PickContext{0, "user-42"}, Exclusions{});
  for (int i = 0; i < 10; ++i) EXPECT_EQ(bal->pick(PickContext{0, "user-42"}, Exclusions{}), once);
}

TEST(Cluster, RetryBudgetUsesTheConfiguredShare) {
  ClusterOptions opts;
  opts.retry_budget = 0.5;
  Cluster c = makeCluster(1, opts);
  for (int i = 0; i < 20; ++i) c.retryBudget().requestStarted();
  EXPECT_EQ(c.retryBudget().limit(), 10u);
}

}  // namespace
}  // namespace portcullis::upstream
