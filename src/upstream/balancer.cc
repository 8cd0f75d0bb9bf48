#include "upstream/balancer.h"

#include <utility>

namespace portcullis::upstream {

Balancer::Balancer(HostList hosts, const BalancerOptions& opts)
    : hosts_(std::move(hosts)), opts_(opts), rng_(opts.seed) {}

bool Balancer::eligible(size_t i, const Filter& f) const {
  const HostState& h = *hosts_[i];
  if (!f.ignore_health && !h.available(f.now_ms)) return false;
  if (h.weight() == 0 || h.atCap()) return false;
  return !f.tried->contains(i);
}

std::optional<size_t> Balancer::pick(const PickContext& ctx, const Exclusions& tried) {
  Filter f{ctx.now_ms, &tried, false};
  if (auto host = choose(ctx, f)) return host;
  if (!opts_.panic) return std::nullopt;
  // Panic only when no host is available at all. Available hosts that are merely excluded or
  // full mean "retry budget spent" or "queue", not "cluster down": spreading onto unhealthy
  // hosts then would send traffic to known-bad hosts while good ones exist.
  for (const auto& h : hosts_) {
    if (h->available(ctx.now_ms)) return std::nullopt;
  }
  f.ignore_health = true;
  return choose(ctx, f);
}

Balancer::NoHost Balancer::whyNone(uint64_t now_ms, const Exclusions& tried) const {
  bool any_untried = false;
  for (size_t i = 0; i < hosts_.size(); ++i) {
    if (tried.contains(i)) continue;
    const HostState& h = *hosts_[i];
    if (h.weight() == 0) continue;
    if (!h.available(now_ms) && !opts_.panic) continue;
    any_untried = true;
    if (h.atCap()) return NoHost::AllBusy;
  }
  if (any_untried) return NoHost::AllBusy;  // a cap filled up and freed again: try the queue
  return tried.size() ? NoHost::AllTried : NoHost::NoneHealthy;
}

std::optional<size_t> Balancer::acquire(const PickContext& ctx, const Exclusions& tried) {
  Exclusions skip = tried;  // plus hosts that filled up under us; copied, never allocated
  for (size_t attempt = 0; attempt <= hosts_.size(); ++attempt) {
    std::optional<size_t> host = pick(ctx, skip);
    if (!host) return std::nullopt;
    if (hosts_[*host]->tryAcquire()) return host;
    // Another worker took the last slot since pick() looked. Rare, and bounded by the host
    // count; if the inline set is full we give up (503/queue) rather than loop.
    if (!skip.add(*host)) return std::nullopt;
  }
  return std::nullopt;
}

std::optional<size_t> Balancer::weightedRandom(const Filter& f) {
  uint64_t total = 0;
  for (size_t i = 0; i < hosts_.size(); ++i) {
    if (eligible(i, f)) total += weightOf(i, f);
  }
  if (total == 0) return std::nullopt;
  return drawWeighted(f, total);
}

std::optional<size_t> Balancer::drawWeighted(const Filter& f, uint64_t total, std::optional<size_t> skip) {
  uint64_t r = rng_.below(total);
  // Second pass with the same filter. Health or caps may change between the passes (other
  // threads); then the draw lands on a neighbour or falls off the end, and the last eligible
  // host seen is taken: still a candidate, merely not exactly weighted for this one pick.
  std::optional<size_t> last;
  for (size_t i = 0; i < hosts_.size(); ++i) {
    if (i == skip || !eligible(i, f)) continue;
    uint64_t w = weightOf(i, f);
    last = i;
    if (r < w) return i;
    r -= w;
  }
  return last;
}

uint64_t hashKey(std::string_view key) {
  uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a 64 offset basis
  for (unsigned char c : key) {
    h ^= c;
    h *= 0x100000001b3ull;  // FNV-1a 64 prime
  }
  // FNV-1a alone leaves short keys ("10.0.0.7" vs "10.0.0.8") close in the high bits, which
  // a ring compares first; splitmix64's finalizer spreads every input bit over all 64.
  return mix64(h);
}

std::unique_ptr<Balancer> makeBalancer(Policy policy, HostList hosts, const BalancerOptions& opts) {
  switch (policy) {
    case Policy::RoundRobin:   return std::make_unique<RoundRobinBalancer>(std::move(hosts), opts);
    case Policy::LeastRequest: return std::make_unique<LeastRequestBalancer>(std::move(hosts), opts);
    case Policy::Random:       return std::make_unique<RandomBalancer>(std::move(hosts), opts);
    case Policy::Hash:         return std::make_unique<HashBalancer>(std::move(hosts), opts);
  }
  return std::make_unique<RoundRobinBalancer>(std::move(hosts), opts);
}

}  // namespace portcullis::upstream
