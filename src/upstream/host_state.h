#pragma once
// Live state of one upstream host, shared by every worker and by the control thread, and kept
// across a reload (the new Cluster takes the old shared_ptr for a host of the same name, as
// Pingora keeps its health map), so a reload neither forgets an ejection nor resets a slow start.
//
// Every field is a relaxed atomic: each value stands alone, and a reader that sees a stale
// pair (healthy already true, healthy_since_ still old) misjudges at most one pick's weight. The
// one guarantee that needs more is the max_requests cap, which tryAcquire() keeps with a CAS.
//
// Times are monotonic milliseconds (net::Loop::nowMs(), i.e. uv_now: every loop reads the same
// CLOCK_MONOTONIC, so values from different workers compare, give or take one loop iteration).
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

namespace portcullis::upstream {

class OutlierDetector;

// effectiveWeight() is in units of 1/kWeightScale of a configured weight unit, so a slow start
// ramps in 1% steps even for weight 1 (HAProxy scales by BE_WEIGHT_SCALE = 16 for the same
// reason). 1000 (the config maximum) * 100 * hundreds of hosts still fits easily in int64.
inline constexpr uint32_t kWeightScale = 100;
// A returning host starts at this share of its weight (Envoy's slow start min_weight_percent
// defaults to 10%): enough to see traffic and prove itself, too little to be flooded.
inline constexpr uint32_t kSlowStartMinPercent = 10;

// Per-host request outcomes for the metrics endpoint. Kept apart from HostState so that a host
// which leaves the cluster (reload, DNS refresh) and later comes back continues its counts
// rather than starting again from 0 (server/runtime_builder.cc keeps one per cluster and host
// name for the process life): a Prometheus counter must not go backwards for the same labels.
// Relaxed RMW on a line of its own: the request already does two RMWs on this host's in-flight
// line, and per-worker shards would need a slot per host known at runtime build time for a value
// the admin thread reads per host anyway.
struct alignas(64) HostCounters {
  std::atomic<uint64_t> requests{0};  // attempts with an outcome (a response, or a failure)
  std::atomic<uint64_t> failures{0};  // connect failures, resets, timeouts, 5xx
  std::atomic<uint64_t> retries{0};   // attempts that were retries of a request failed elsewhere
};

class HostState {
 public:
  // `name` is the configured "host:port": stable across reloads, so it is also what consistent
  // hashing places on the ring. weight 0 means "drained": available, but never picked.
  explicit HostState(std::string name, uint32_t weight = 1, uint32_t max_requests = 0,
                     std::shared_ptr<HostCounters> counters = nullptr)
      : name_(std::move(name)),
        counters_(counters ? std::move(counters) : std::make_shared<HostCounters>()),
        weight_(weight),
        max_requests_(max_requests) {}
  HostState(const HostState&) = delete;
  HostState& operator=(const HostState&) = delete;

  const std::string& name() const { return name_; }

  // --- Concurrency cap -------------------------------------------------------------------------
  // Takes a request slot: true if in-flight was below max_requests (0 = no cap), and counts the
  // request; false leaves the count untouched. A CAS loop, so no two workers can both take the
  // last slot: no request is ever forwarded to a host at its cap. Pair each true with release().
  bool tryAcquire() {
    uint32_t cur = in_flight_.load(std::memory_order_relaxed);
    for (;;) {
      uint32_t cap = max_requests_.load(std::memory_order_relaxed);
      if (cap != 0 && cur >= cap) return false;
      if (in_flight_.compare_exchange_weak(cur, cur + 1, std::memory_order_relaxed)) return true;
    }
  }
  void release() { in_flight_.fetch_sub(1, std::memory_order_relaxed); }
  uint32_t inFlight() const { return in_flight_.load(std::memory_order_relaxed); }
  // A hint for balancers (another worker may take or free the slot right after); only
  // tryAcquire() decides.
  bool atCap() const {
    uint32_t cap = max_requests_.load(std::memory_order_relaxed);
    return cap != 0 && in_flight_.load(std::memory_order_relaxed) >= cap;
  }
  uint32_t maxRequests() const { return max_requests_.load(std::memory_order_relaxed); }
  // On reload. Lowering the cap below in-flight refuses new requests until enough finish.
  void setMaxRequests(uint32_t cap) { max_requests_.store(cap, std::memory_order_relaxed); }

  uint32_t weight() const { return weight_.load(std::memory_order_relaxed); }
  void setWeight(uint32_t w) { weight_.store(w, std::memory_order_relaxed); }

  // --- Active health (one writer: the health checker on the control thread) --------------------
  bool healthy() const { return healthy_.load(std::memory_order_relaxed); }
  // A false -> true transition records `now_ms` as the moment the host came back (slow start).
  void setHealthy(bool healthy, uint64_t now_ms);

  // --- Passive health (written by OutlierDetector, from any worker) ----------------------------
  uint64_t ejectedUntil() const { return ejected_until_.load(std::memory_order_relaxed); }
  bool ejected(uint64_t now_ms) const { return now_ms < ejectedUntil(); }
  uint32_t consecutiveFailures() const { return failures_.load(std::memory_order_relaxed); }
  uint32_t ejections() const { return ejections_.load(std::memory_order_relaxed); }

  // Healthy per the active check and not ejected: a balancer candidate (weight and cap aside).
  bool available(uint64_t now_ms) const { return healthy() && !ejected(now_ms); }

  // When the host last came back: the later of the health check's false -> true and the end of
  // the last ejection. 0 = never away.
  uint64_t cameBackAt() const;

  // weight * kWeightScale, ramped linearly from kSlowStartMinPercent to 100% over the
  // `slow_start_ms` after cameBackAt() (0 = no ramp). A host still away counts at the minimum,
  // which only matters in panic mode. 0 only when weight() is 0.
  uint64_t effectiveWeight(uint64_t now_ms, uint64_t slow_start_ms) const;

  // --- Outcomes (OutlierDetector counts every reported attempt, whatever its settings) -------
  const HostCounters& counters() const { return *counters_; }
  void countOutcome(bool failed) {
    counters_->requests.fetch_add(1, std::memory_order_relaxed);
    if (failed) counters_->failures.fetch_add(1, std::memory_order_relaxed);
  }
  void countRetry() { counters_->retries.fetch_add(1, std::memory_order_relaxed); }

  // --- Log throttling ---------------------------------------------------------------------------
  // A dead host under load fails thousands of requests a second; one log line per host per
  // `interval_ms` is enough. Returns true when this caller should log, and via `suppressed`
  // how many reports were swallowed since the last line.
  bool shouldLog(uint64_t now_ms, uint64_t interval_ms, uint32_t* suppressed) {
    uint64_t last = last_log_ms_.load(std::memory_order_relaxed);
    if (last != 0 && now_ms < last + interval_ms) {
      suppressed_logs_.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
    if (!last_log_ms_.compare_exchange_strong(last, now_ms == 0 ? 1 : now_ms, std::memory_order_relaxed)) {
      suppressed_logs_.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
    *suppressed = suppressed_logs_.exchange(0, std::memory_order_relaxed);
    return true;
  }

 private:
  std::atomic<uint64_t> last_log_ms_{0};
  std::atomic<uint32_t> suppressed_logs_{0};
  friend class OutlierDetector;  // keeps failures/ejections/ejected_until consistent

  const std::string name_;
  const std::shared_ptr<HostCounters> counters_;
  // Written by every worker on every request: its own cache line, so the health and weight
  // reads of every pick do not bounce with it.
  alignas(64) std::atomic<uint32_t> in_flight_{0};
  alignas(64) std::atomic<uint32_t> weight_;
  std::atomic<uint32_t> max_requests_;
  std::atomic<bool> healthy_{true};
  std::atomic<uint64_t> healthy_since_{0};
  std::atomic<uint64_t> ejected_until_{0};
  std::atomic<uint32_t> failures_{0};
  std::atomic<uint32_t> ejections_{0};
};

}  // namespace portcullis::upstream
