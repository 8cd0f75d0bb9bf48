#pragma once
// Passive health: ejects a host after N consecutive failures seen on real traffic (Envoy's
// consecutive_5xx, nginx's max_fails). Pure logic over the shared HostState, with time passed
// in; it owns no timer, because an ejection simply ends when now passes ejected_until. Safe to
// call from every worker at once (relaxed atomics and CASes on HostState); one instance per
// cluster can be shared, or one per worker: it keeps no state of its own.
//
// Rules:
//   - A failure (connect failure or 5xx, as the caller decides) adds one to the host's
//     consecutive failures; a success resets them to 0. Failures reported while the host is
//     ejected (requests that were already in flight) are ignored.
//   - At `consecutive_failures` in a row the host is ejected for
//     base_ejection * 2^(ejections - 1), capped at max_ejection, and its count restarts.
//     ejections counts this host's ejections; it restarts from 1 when the host stayed in
//     service for max_ejection since its last ejection ended (Envoy instead decrements it every
//     interval; this needs no timer and forgives a host after the longest penalty).
//   - At most max_ejection_percent of the hosts are ejected at once (Envoy's default is 10%;
//     ours is 50%, from the brief: with a handful of hosts 10% would forbid any ejection),
//     rounded down, so one host alone is never ejected, one of two or three may be, two of four.
//   - Never the last available host: ejecting it would turn a degraded cluster into 503s.
//     When the cap or this rule forbids an ejection, the failures keep counting and the next
//     failure tries again.
//   - A host the active health check had marked unhealthy and now passes again starts afresh:
//     onActiveCheckPassed() ends its ejection. A host that only passes checks it was already
//     passing stays ejected (see health_checker.h for why).
#include <cstddef>
#include <cstdint>

#include "upstream/balancer.h"
#include "upstream/host_state.h"

namespace portcullis::upstream {

struct OutlierOptions {
  uint32_t consecutive_failures = 5;  // 0 = outlier detection off
  uint64_t base_ejection_ms = 30'000;
  uint64_t max_ejection_ms = 300'000;
  uint32_t max_ejection_percent = 50;
};

class OutlierDetector {
 public:
  OutlierDetector(HostList hosts, const OutlierOptions& opts) : hosts_(std::move(hosts)), opts_(opts) {}

  // The request to `host` succeeded (any response but 5xx).
  void onSuccess(size_t host);
  // The request to `host` failed. True when this very failure ejected the host.
  bool onFailure(size_t host, uint64_t now_ms);
  // The active health check passed: ends an ejection now (the host then slow-starts) and
  // clears the failure count. The ejection count is kept, so a host that fails again soon is
  // ejected for longer.
  void onActiveCheckPassed(size_t host, uint64_t now_ms);

  // base * 2^(ejections - 1), capped at max; ejections >= 1.
  uint64_t ejectionMs(uint32_t ejections) const;
  size_t ejectedCount(uint64_t now_ms) const;

 private:
  // Cap and last-available rules; `counted`: `host` is already among the ejected.
  bool mayEject(size_t host, uint64_t now_ms, bool counted) const;
  HostList hosts_;
  OutlierOptions opts_;
};

}  // namespace portcullis::upstream
