// Retry budget specs (retry_budget.h).
#include "upstream/retry_budget.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace portcullis::upstream {
namespace {

void start(RetryBudget& b, int requests) {
  for (int i = 0; i < requests; ++i) b.requestStarted();
}

TEST(RetryBudget, QuietClusterMayStillRetryMinRetries) {
  RetryBudget b(0.2, 3);
  start(b, 1);
  EXPECT_TRUE(b.tryStartRetry());
  EXPECT_TRUE(b.tryStartRetry());
  EXPECT_TRUE(b.tryStartRetry());
  EXPECT_FALSE(b.tryStartRetry());
}

TEST(RetryBudget, BusyClusterRetriesAShareOfItsRequests) {
  RetryBudget b(0.2, 3);
  start(b, 100);
  EXPECT_EQ(b.limit(), 20u);
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(b.tryStartRetry());
  EXPECT_FALSE(b.tryStartRetry());
}

TEST(RetryBudget, FinishedRetryFreesItsSlot) {
  RetryBudget b(0.2, 1);
  ASSERT_TRUE(b.tryStartRetry());
  ASSERT_FALSE(b.tryStartRetry());
  b.retryFinished();
  EXPECT_TRUE(b.tryStartRetry());
}

TEST(RetryBudget, LimitShrinksAsRequestsFinish) {
  RetryBudget b(0.5, 1);
  start(b, 10);
  EXPECT_EQ(b.limit(), 5u);
  for (int i = 0; i < 6; ++i) b.requestFinished();
  EXPECT_EQ(b.limit(), 2u);
}

TEST(RetryBudget, RefusalTakesNoSlot) {
  RetryBudget b(0.0, 1);
  ASSERT_TRUE(b.tryStartRetry());
  EXPECT_FALSE(b.tryStartRetry());
  EXPECT_EQ(b.activeRetries(), 1u);
}

TEST(RetryBudget, ConcurrentRetriesNeverExceedTheLimit) {
  RetryBudget b(0.0, 2);
  std::atomic<bool> go{false}, over{false};
  auto worker = [&] {
    while (!go.load()) std::this_thread::yield();
    for (int i = 0; i < 100'000; ++i) {
      if (!b.tryStartRetry()) continue;
      if (b.activeRetries() > 2) over = true;
      b.retryFinished();
    }
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) threads.emplace_back(worker);
  go = true;
  for (auto& t : threads) t.join();
  EXPECT_FALSE(over.load());
  EXPECT_EQ(b.activeRetries(), 0u);
}

}  // namespace
}  // namespace portcullis::upstream
