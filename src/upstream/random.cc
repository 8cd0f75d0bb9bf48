// Weighted random: each pick lands on a candidate with probability weight / sum of the
// candidates' weights. No state but the RNG, so it needs no coordination between workers and
// has no order to fall into lock step with; the price is variance (±1% of the weights over
// 10,000 picks, not round robin's exactness).
#include "upstream/balancer.h"

namespace portcullis::upstream {

std::optional<size_t> RandomBalancer::choose(const PickContext&, const Filter& f) {
  return weightedRandom(f);
}

}  // namespace portcullis::upstream
