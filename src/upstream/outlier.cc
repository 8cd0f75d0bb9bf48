#include "upstream/outlier.h"

#include <atomic>

namespace portcullis::upstream {

void OutlierDetector::onSuccess(size_t host) {
  HostState& h = *hosts_[host];
  h.countOutcome(false);
  // Only write when there is something to reset: a success is the common case, and a store
  // to a line every worker reads would bounce it on every request.
  if (h.failures_.load(std::memory_order_relaxed) != 0) h.failures_.store(0, std::memory_order_relaxed);
}

uint64_t OutlierDetector::ejectionMs(uint32_t ejections) const {
  uint64_t d = opts_.base_ejection_ms;
  for (uint32_t i = 1; i < ejections && d < opts_.max_ejection_ms; ++i) d *= 2;  // no overflow: stops at max
  return d < opts_.max_ejection_ms ? d : opts_.max_ejection_ms;
}

size_t OutlierDetector::ejectedCount(uint64_t now_ms) const {
  size_t n = 0;
  for (const auto& h : hosts_) n += h->ejected(now_ms) ? 1 : 0;
  return n;
}

bool OutlierDetector::mayEject(size_t host, uint64_t now_ms, bool counted) const {
  size_t cap = hosts_.size() * opts_.max_ejection_percent / 100;
  if (ejectedCount(now_ms) + (counted ? 0 : 1) > cap) return false;
  for (size_t i = 0; i < hosts_.size(); ++i) {
    if (i != host && hosts_[i]->available(now_ms)) return true;
  }
  return false;  // it is the last available host
}

bool OutlierDetector::onFailure(size_t host, uint64_t now_ms) {
  HostState& h = *hosts_[host];
  h.countOutcome(true);
  if (opts_.consecutive_failures == 0) return false;
  uint64_t until = h.ejected_until_.load(std::memory_order_relaxed);
  if (now_ms < until) return false;  // already ejected: late replies from before do not count
  uint32_t failures = h.failures_.fetch_add(1, std::memory_order_relaxed) + 1;
  if (failures < opts_.consecutive_failures || !mayEject(host, now_ms, /*counted=*/false)) return false;

  const uint32_t before = h.ejections_.load(std::memory_order_relaxed);
  uint32_t ejections = before;
  if (until != 0 && now_ms - until >= opts_.max_ejection_ms) ejections = 0;  // forgiven
  ++ejections;
  uint64_t new_until = now_ms + ejectionMs(ejections);
  // The CAS makes one worker the ejector when several cross the threshold together.
  if (!h.ejected_until_.compare_exchange_strong(until, new_until, std::memory_order_relaxed)) return false;
  h.ejections_.store(ejections, std::memory_order_relaxed);
  h.failures_.store(0, std::memory_order_relaxed);
  // Store-then-load on different hosts' atomics in two threads (Dekker's pattern): without a
  // full fence each could miss the other's ejection. Only on this rare path; on x86 the CAS's
  // lock prefix already is one.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  // Two workers may have ejected two different hosts, each checking the rules before the
  // other's CAS. Check again, this host now counted, and back out if that overshot: both may
  // back out (the next failure retries), which errs on the side of serving; an overshoot
  // lives only for these few instructions.
  if (!mayEject(host, now_ms, /*counted=*/true)) {
    uint64_t mine = new_until;
    if (h.ejected_until_.compare_exchange_strong(mine, until, std::memory_order_relaxed)) {
      h.ejections_.store(before, std::memory_order_relaxed);
      h.failures_.store(opts_.consecutive_failures, std::memory_order_relaxed);
    }
    return false;
  }
  return true;
}

void OutlierDetector::onActiveCheckPassed(size_t host, uint64_t now_ms) {
  HostState& h = *hosts_[host];
  uint64_t until = h.ejected_until_.load(std::memory_order_relaxed);
  // ejected_until = now: the ejection is over, and cameBackAt() = now starts the slow start.
  while (now_ms < until &&
         !h.ejected_until_.compare_exchange_weak(until, now_ms, std::memory_order_relaxed)) {
  }
  h.failures_.store(0, std::memory_order_relaxed);
}

}  // namespace portcullis::upstream
