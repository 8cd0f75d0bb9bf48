#pragma once
// Caps retries to a share of the traffic, per cluster, across all workers (Envoy's retry
// budget): a retry is allowed while active retries < max(min_retries, budget * active
// requests). When a cluster fails as a whole, per-request retry counts alone would multiply
// its load by 1 + retries exactly when it can least take it; the budget keeps the extra load
// at `budget` (config retry_budget, default 20%), and min_retries (3, Envoy's
// min_retry_concurrency) still lets a quiet cluster retry its occasional failure.
//
// Shared by the workers: relaxed atomics, and a CAS loop so two workers cannot both take the
// last retry. Every requestStarted() needs a requestFinished(), every true tryStartRetry() a
// retryFinished(); a missed one shrinks or grows the budget for the life of the process.
#include <atomic>
#include <cstdint>

namespace portcullis::upstream {

class RetryBudget {
 public:
  explicit RetryBudget(double budget = 0.2, uint32_t min_retries = 3)
      : budget_(budget), min_retries_(min_retries) {}
  RetryBudget(const RetryBudget&) = delete;
  RetryBudget& operator=(const RetryBudget&) = delete;

  // A request to this cluster began / ended (the downstream request, not each attempt).
  void requestStarted() { requests_.fetch_add(1, std::memory_order_relaxed); }
  void requestFinished() { requests_.fetch_sub(1, std::memory_order_relaxed); }

  // Takes a retry slot if the budget allows: true means "retry, then call retryFinished()".
  bool tryStartRetry() {
    uint32_t cur = retries_.load(std::memory_order_relaxed);
    for (;;) {
      if (cur >= limit()) return false;
      if (retries_.compare_exchange_weak(cur, cur + 1, std::memory_order_relaxed)) return true;
    }
  }
  void retryFinished() { retries_.fetch_sub(1, std::memory_order_relaxed); }

  // max(min_retries, floor(budget * active requests)).
  uint32_t limit() const {
    auto share = static_cast<uint32_t>(budget_ * requests_.load(std::memory_order_relaxed));
    return share > min_retries_ ? share : min_retries_;
  }
  uint32_t activeRetries() const { return retries_.load(std::memory_order_relaxed); }

 private:
  const double budget_;
  const uint32_t min_retries_;
  std::atomic<uint32_t> requests_{0};
  std::atomic<uint32_t> retries_{0};
};

}  // namespace portcullis::upstream
