// Cluster round-robin specs (cluster.h): the spread is exact across the process, as h2o's
// 1000-round balancer test checks (DESIGN 3.6).
#include "upstream/cluster.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <thread>
#include <vector>

namespace portcullis::upstream {
namespace {

Cluster makeCluster(size_t hosts) {
  std::vector<Host> list;
  for (size_t i = 0; i < hosts; ++i) list.push_back(Host{"app" + std::to_string(i) + ":8000", {}});
  return Cluster("app", std::move(list), 32, 1500);
}

TEST(RoundRobin, ThousandPicksOverThreeHostsSpreadWithinOne) {
  Cluster c = makeCluster(3);
  std::vector<int> counts(3);
  for (int i = 0; i < 1000; ++i) ++counts.at(c.pick());
  auto [lo, hi] = std::minmax_element(counts.begin(), counts.end());
  EXPECT_LE(*hi - *lo, 1) << counts[0] << "/" << counts[1] << "/" << counts[2];
  EXPECT_EQ(counts[0] + counts[1] + counts[2], 1000);
}

TEST(RoundRobin, PicksCycleThroughHostsInOrder) {
  Cluster c = makeCluster(3);
  std::vector<size_t> seq;
  for (int i = 0; i < 7; ++i) seq.push_back(c.pick());
  EXPECT_EQ(seq, (std::vector<size_t>{0, 1, 2, 0, 1, 2, 0}));
}

TEST(RoundRobin, SingleHostAlwaysPicked) {
  Cluster c = makeCluster(1);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(c.pick(), 0u);
}

TEST(RoundRobin, ConcurrentPicksStillSpreadExactly) {
  // The cursor is shared by every worker: two threads picking at once must together still
  // produce the exact spread, with no pick lost or duplicated.
  Cluster c = makeCluster(3);
  constexpr int kPerThread = 50'000;
  std::vector<int> counts_a(3), counts_b(3);
  std::atomic<bool> go{false};
  auto worker = [&](std::vector<int>& counts) {
    while (!go.load()) std::this_thread::yield();  // start together, to maximise contention
    for (int i = 0; i < kPerThread; ++i) ++counts[c.pick()];
  };
  std::thread a(worker, std::ref(counts_a));
  std::thread b(worker, std::ref(counts_b));
  go = true;
  a.join();
  b.join();
  std::vector<int> total(3);
  for (size_t i = 0; i < 3; ++i) total[i] = counts_a[i] + counts_b[i];
  auto [lo, hi] = std::minmax_element(total.begin(), total.end());
  EXPECT_LE(*hi - *lo, 1) << total[0] << "/" << total[1] << "/" << total[2];
  EXPECT_EQ(total[0] + total[1] + total[2], 2 * kPerThread);
}

TEST(Cluster, KeepsItsSettings) {
  Cluster c("web", {Host{"a:1", {}}, Host{"b:2", {}}}, 7, 1234);
  EXPECT_EQ(c.name(), "web");
  EXPECT_EQ(c.hosts().size(), 2u);
  EXPECT_EQ(c.maxIdle(), 7u);
  EXPECT_EQ(c.idleTimeoutMs(), 1234u);
}

}  // namespace
}  // namespace portcullis::upstream
