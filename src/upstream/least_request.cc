// Least request by the power of two choices (Mitzenmacher 2001; Envoy's LEAST_REQUEST): draw
// two distinct candidates by weight and take the one with the lower in_flight / weight. Two
// random probes get nearly all the benefit of scanning for the global minimum, without every
// worker herding onto the same "least loaded" host between two updates of the counts (which are
// shared by all workers and read without ordering). The most loaded candidate is never chosen.
//
// Weights count twice on purpose: drawing by weight keeps the spread at weight ratios while the
// hosts are idle (0 / w ties go to the first draw), and dividing by weight makes a host of
// weight 4 with 3 requests "less loaded" than one of weight 1 with 1 request.
#include "upstream/balancer.h"

namespace portcullis::upstream {

std::optional<size_t> LeastRequestBalancer::choose(const PickContext&, const Filter& f) {
  uint64_t total = 0;
  size_t count = 0;
  for (size_t i = 0; i < hosts_.size(); ++i) {
    if (!eligible(i, f)) continue;
    total += weightOf(i, f);
    ++count;
  }
  if (total == 0) return std::nullopt;

  // First draw, then a second among the others (weights renormalised without the first).
  std::optional<size_t> a = drawWeighted(f, total);
  if (!a || count == 1) return a;
  uint64_t wa = weightOf(*a, f);
  if (total <= wa) return a;
  std::optional<size_t> b = drawWeighted(f, total - wa, a);
  if (!b) return a;

  // in_flight_a / w_a <= in_flight_b / w_b, cross-multiplied to stay in integers. Ties keep
  // the first draw, which was itself weighted.
  uint64_t wb = weightOf(*b, f);
  uint64_t la = uint64_t{hosts_[*a]->inFlight()} * wb;
  uint64_t lb = uint64_t{hosts_[*b]->inFlight()} * wa;
  return lb < la ? b : a;
}

}  // namespace portcullis::upstream
