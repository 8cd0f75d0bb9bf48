// "No heap allocation per pick" (balancer.h), checked by counting operator new while picking.
// The replacement operators below serve this whole test binary; they only count while
// g_counting is set, on this thread.
#include <gtest/gtest.h>

#include <cstdlib>
#include <new>

#include "balancer_test_util.h"
#include "upstream/balancer.h"

#include "../support/count_allocations.h"

namespace portcullis::upstream {
namespace {

class NoAllocation : public ::testing::TestWithParam<Policy> {};

TEST_P(NoAllocation, PickAndAcquireDoNotAllocate) {
  HostList hosts = testing::makeHosts({3, 1, 2, 5}, 4);
  hosts[1]->setHealthy(false, 0);
  auto b = makeBalancer(GetParam(), hosts, BalancerOptions{.panic = true, .slow_start_ms = 1000});
  Exclusions tried;
  tried.add(3);
  g_counting = true;
  g_allocations = 0;
  for (int i = 0; i < 1000; ++i) {
    char key[2] = {static_cast<char>('a' + i % 26), 0};
    if (auto h = b->acquire(PickContext{static_cast<uint64_t>(i), key}, tried)) hosts[*h]->release();
  }
  size_t seen = g_allocations;
  g_counting = false;
  EXPECT_EQ(seen, 0u);
}

INSTANTIATE_TEST_SUITE_P(Policies, NoAllocation,
                         ::testing::Values(Policy::RoundRobin, Policy::LeastRequest, Policy::Random, Policy::Hash));

}  // namespace
}  // namespace portcullis::upstream
