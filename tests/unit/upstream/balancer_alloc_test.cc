// "No heap allocation per pick" (balancer.h), checked by counting operator new while picking.
// The replacement operators below serve this whole test binary; they only count while
// g_counting is set, on this thread.
#include <gtest/gtest.h>

#include <cstdlib>
#include <new>

#include "balancer_test_util.h"
#include "upstream/balancer.h"

namespace {
thread_local bool g_counting = false;
thread_local size_t g_allocations = 0;
}  // namespace

void* operator new(std::size_t n) {
  if (g_counting) ++g_allocations;
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
// GCC 12 inlines the replaced `new` into callers and then sees its malloc'ed pointer reach
// `free` through `delete`, which it reports as a new/free mismatch; here both sides are ours.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
#pragma GCC diagnostic pop

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
