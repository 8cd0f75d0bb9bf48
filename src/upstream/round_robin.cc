// Smooth weighted round robin (as nginx, ngx_http_upstream_get_peer): weights 5:1 give
// A A A B A A, not A A A A A B, so a heavy host never takes a burst, and {5,1,1} gives
// a a b a c a a (nginx's own example). Each pick adds every candidate's weight to its
// `current`, takes the largest (the first on a tie, as nginx) and subtracts the total from it.
// O(hosts) per pick is fine: tens of hosts, once per request.
//
// Per-worker state, no lock: each worker honours the weights over every sum-of-weights picks,
// so the sum over workers does too, within one cycle per worker. The alternative, one shared
// cursor, is exact process-wide for equal weights, but a smooth
// weighted state is a vector of counters that would need a lock or a CAS on a packed word per
// pick; a contended line on every request buys an exactness no upstream can tell apart.
// Workers start at different offsets (seed % total weight picks already made), so with equal
// weights worker 0 starts on host 0, worker 1 on host 1...: a burst of first requests after
// start or reload does not land on one host in lock step (Envoy seeds its RR the same way).
#include "upstream/balancer.h"

namespace portcullis::upstream {

RoundRobinBalancer::RoundRobinBalancer(HostList hosts, const BalancerOptions& opts)
    : Balancer(std::move(hosts), opts), current_(hosts_.size(), 0) {
  uint64_t total = 0;
  for (const auto& h : hosts_) total += h->weight();
  if (total == 0) return;
  // Warm-up on configured weights, every host counted: at most sum(weights) - 1 steps, once.
  Exclusions none;
  Filter all{0, &none, true};
  PickContext ctx;
  for (uint64_t i = opts.seed % total; i > 0; --i) choose(ctx, all);
}

std::optional<size_t> RoundRobinBalancer::choose(const PickContext&, const Filter& f) {
  std::optional<size_t> best;
  int64_t total = 0;
  for (size_t i = 0; i < hosts_.size(); ++i) {
    if (!eligible(i, f)) continue;
    auto w = static_cast<int64_t>(weightOf(i, f));
    current_[i] += w;
    total += w;
    if (!best || current_[i] > current_[*best]) best = i;
  }
  if (best) current_[*best] -= total;
  return best;
}

}  // namespace portcullis::upstream
