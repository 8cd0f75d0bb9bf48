#include "upstream/host_state.h"

#include <algorithm>

namespace portcullis::upstream {

void HostState::setHealthy(bool healthy, uint64_t now_ms) {
  // Single writer (the health checker), so load-then-store is no race. The time goes first:
  // a worker that sees healthy == true then (very likely) sees the new start of the ramp.
  if (healthy && !healthy_.load(std::memory_order_relaxed)) {
    healthy_since_.store(now_ms, std::memory_order_relaxed);
  }
  healthy_.store(healthy, std::memory_order_relaxed);
}

uint64_t HostState::cameBackAt() const {
  // The end of an ejection is its ejected_until: nobody has to write anything when it passes.
  return std::max(healthy_since_.load(std::memory_order_relaxed),
                  ejected_until_.load(std::memory_order_relaxed));
}

uint64_t HostState::effectiveWeight(uint64_t now_ms, uint64_t slow_start_ms) const {
  uint64_t full = uint64_t{weight()} * kWeightScale;
  if (slow_start_ms == 0) return full;
  uint64_t back = cameBackAt();
  if (back == 0) return full;  // never away: a host present at start takes its full share
  uint64_t min = full * kSlowStartMinPercent / 100;
  if (now_ms <= back) return min;
  uint64_t elapsed = now_ms - back;
  if (elapsed >= slow_start_ms) return full;
  // full * (10% + 90% * elapsed / slow_start). full <= 1e5 and slow_start_ms < 2^40 in any
  // sane config, so the product stays far below 2^64.
  uint64_t span = full - min;
  return min + span * elapsed / slow_start_ms;
}

}  // namespace portcullis::upstream
