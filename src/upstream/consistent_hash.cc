// Consistent hashing (Karger et al. 1997) on a ring with virtual nodes, as ketama: each host
// puts 160 points per weight unit on a 64-bit circle, at hashes of its *name* (not its index,
// so reordering the config moves nothing), and a key belongs to the first point at or after
// hashKey(key). Adding a host moves only the keys its new points take (about 1/N of them);
// removing one moves only that host's keys; every other key keeps its host.
//
// Why a ring and not Maglev (a 65537-entry table, O(1) lookup): Maglev balances better but its
// table is refilled as a whole, so removing a host also moves a few keys between hosts that
// stayed. A ring moves nothing it need not, and O(log points) lookup (~10 compares for 4
// hosts) is noise next to a proxied request. 160 points per unit (ketama's number) keep each
// host's share within about ±8% of its weight (1/sqrt(160)).
//
// Unavailable, excluded or full hosts are skipped by walking clockwise to the next point whose
// host is a candidate: deterministic (the same key falls back to the same host on every worker)
// and, because a host's points are scattered, its keys spread over all the others by weight.
// No key (an absent header or cookie) picks at random, as Envoy does, rather than send every
// keyless request to the one host that owns hashKey("").
//
// Memory: 16 bytes per point, per worker. Beyond kMaxPoints (sum of weights > 819) points per
// unit shrink to keep the ring under 2 MB; crossing that line on a reload reshuffles keys once.
#include <algorithm>

#include "upstream/balancer.h"

namespace portcullis::upstream {
namespace {

constexpr uint64_t kPointsPerWeight = 160;
constexpr uint64_t kMaxPoints = uint64_t{1} << 17;

// Point `j` of a host: the splitmix64 sequence seeded with the hash of its name.
uint64_t pointHash(uint64_t name_hash, uint64_t j) { return mix64(name_hash + (j + 1) * Rng::kGamma); }

}  // namespace

HashBalancer::HashBalancer(HostList hosts, const BalancerOptions& opts) : Balancer(std::move(hosts), opts) {
  uint64_t total_weight = 0;
  for (const auto& h : hosts_) total_weight += h->weight();
  uint64_t per_unit = kPointsPerWeight;
  if (total_weight * per_unit > kMaxPoints) per_unit = std::max<uint64_t>(1, kMaxPoints / total_weight);
  ring_.reserve(total_weight * per_unit);
  for (size_t i = 0; i < hosts_.size(); ++i) {
    uint64_t name_hash = hashKey(hosts_[i]->name());
    uint64_t points = uint64_t{hosts_[i]->weight()} * per_unit;
    for (uint64_t j = 0; j < points; ++j) ring_.push_back(Point{pointHash(name_hash, j), static_cast<uint32_t>(i)});
  }
  // Equal hashes (about one in 2^64/points^2 rings) are ordered by name, not index, so a
  // collision resolves the same way whatever the config order.
  std::sort(ring_.begin(), ring_.end(), [this](const Point& a, const Point& b) {
    if (a.hash != b.hash) return a.hash < b.hash;
    return hosts_[a.host]->name() < hosts_[b.host]->name();
  });
}

std::optional<size_t> HashBalancer::choose(const PickContext& ctx, const Filter& f) {
  if (ring_.empty()) return std::nullopt;
  if (ctx.hash_key.empty()) return weightedRandom(f);
  // The walk below ends only at a candidate, so make sure there is one: O(hosts).
  bool any = false;
  for (size_t i = 0; i < hosts_.size() && !any; ++i) any = eligible(i, f);
  if (!any) return std::nullopt;

  uint64_t h = hashKey(ctx.hash_key);
  auto it = std::lower_bound(ring_.begin(), ring_.end(), h, [](const Point& p, uint64_t v) { return p.hash < v; });
  size_t start = it == ring_.end() ? 0 : static_cast<size_t>(it - ring_.begin());
  for (size_t n = 0; n < ring_.size(); ++n) {
    const Point& p = ring_[(start + n) % ring_.size()];
    // A weight-0 host has no points, so every point's host has weight > 0; eligible() also
    // rechecks health and caps, which other threads may have changed since the scan above.
    if (eligible(p.host, f)) return p.host;
  }
  return std::nullopt;
}

}  // namespace portcullis::upstream
