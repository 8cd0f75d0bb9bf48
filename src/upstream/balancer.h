#pragma once
// Load balancers: one instance per worker per cluster, no locks, no heap allocation per pick.
// They read the shared HostState (relaxed atomics) and keep their own cursor/RNG/ring.
//
// A host is a candidate for a pick when it is
//   - available (healthy per the active check, not ejected by the outlier detector),
//   - not in the request's Exclusions (hosts already tried for this request),
//   - not at its max_requests cap (a hint: acquire() below makes it a guarantee),
//   - of effective weight > 0.
// Panic mode (Envoy's panic threshold, at 100%): when no host at all is available, spread over
// every host ignoring health rather than answer 503 (exclusions and caps still hold). Off, or
// when some host is available but excluded or at its cap, pick() returns nullopt: the caller
// answers 503 or queues the request.
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "config/model.h"
#include "upstream/host_state.h"

namespace portcullis::upstream {

using HostList = std::vector<std::shared_ptr<HostState>>;

struct PickContext {
  uint64_t now_ms = 0;            // monotonic, for ejections and slow start
  std::string_view hash_key;      // Policy::Hash only; empty = no key (picks at random)
};

// Hosts already tried for one request, by index. Inline storage: a request makes at most
// config::kMaxRetries + 1 attempts, and Balancer::acquire adds the few hosts found full under
// it, so 16 covers every request and a linear scan beats any set.
class Exclusions {
 public:
  static constexpr size_t kCapacity = 16;
  static_assert(kCapacity >= config::kMaxRetries + 1, "every attempt of a request must fit");
  // false when full: the caller should give up, not retry forever.
  bool add(size_t host) {
    if (size_ == kCapacity) return false;
    hosts_[size_++] = static_cast<uint32_t>(host);
    return true;
  }
  bool contains(size_t host) const {
    for (size_t i = 0; i < size_; ++i) {
      if (hosts_[i] == host) return true;
    }
    return false;
  }
  size_t size() const { return size_; }
  void clear() { size_ = 0; }

 private:
  std::array<uint32_t, kCapacity> hosts_{};
  size_t size_ = 0;
};

// splitmix64's finalizer: spreads every input bit over all 64 output bits.
inline uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// splitmix64 (Steele, Lea, Flood 2014; the seeder of xoshiro): one add and three xor-shift-
// multiplies per number, passes BigCrush, 8 bytes of state. Balancing needs speed and spread,
// not secrecy. Seed each instance differently (worker index, or a value from the control
// thread) so the workers do not draw in lock step; never std::random_device per pick.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  static constexpr uint64_t kGamma = 0x9e3779b97f4a7c15ull;
  uint64_t next() { return mix64(state_ += kGamma); }
  // Uniform in [0, n), n > 0. Lemire's multiply-shift: no division, bias below n / 2^64.
  uint64_t below(uint64_t n) {
    return static_cast<uint64_t>((static_cast<unsigned __int128>(next()) * n) >> 64);
  }

 private:
  uint64_t state_;
};

enum class Policy { RoundRobin, LeastRequest, Random, Hash };

struct BalancerOptions {
  bool panic = false;          // config panic_when_all_unhealthy
  uint64_t slow_start_ms = 0;  // config slow_start; 0 = a returning host gets its full weight
  uint64_t seed = 0;           // per worker: the worker index is enough (see Rng, round robin)
};

class Balancer {
 public:
  virtual ~Balancer() = default;
  Balancer(const Balancer&) = delete;
  Balancer& operator=(const Balancer&) = delete;

  // Index of the host to try next, or nullopt (see the header comment). Does not take a slot.
  std::optional<size_t> pick(const PickContext& ctx, const Exclusions& tried);

  // pick() plus HostState::tryAcquire(): the returned host's slot is taken, and the caller must
  // release() it when the request leaves the host. If another worker took the last slot between
  // pick and acquire, that host is skipped for this call and the pick repeated (at most once
  // per host). This is the entry point for the request path.
  std::optional<size_t> acquire(const PickContext& ctx, const Exclusions& tried);

  // Why acquire() found no host for a request that has tried `tried`: every eligible host
  // failed already (AllTried), none is healthy (NoneHealthy), or some untried host is only full
  // (AllBusy: wait in the queue). Uses the same rules as pick() (weight 0, health, panic).
  enum class NoHost : uint8_t { AllTried, NoneHealthy, AllBusy };
  NoHost whyNone(uint64_t now_ms, const Exclusions& tried) const;

  size_t size() const { return hosts_.size(); }
  HostState& host(size_t i) const { return *hosts_[i]; }

 protected:
  Balancer(HostList hosts, const BalancerOptions& opts);

  // Which hosts a policy may choose from in one pick.
  struct Filter {
    uint64_t now_ms;
    const Exclusions* tried;
    bool ignore_health;  // panic mode
  };
  bool eligible(size_t i, const Filter& f) const;
  uint64_t weightOf(size_t i, const Filter& f) const {
    return hosts_[i]->effectiveWeight(f.now_ms, opts_.slow_start_ms);
  }
  // A candidate drawn with probability proportional to its effective weight: two passes.
  std::optional<size_t> weightedRandom(const Filter& f);
  // The weighted draw's second pass: a uniform point in [0, total) (the eligible weight, `skip`
  // left out) mapped onto the eligible hosts in order.
  std::optional<size_t> drawWeighted(const Filter& f, uint64_t total, std::optional<size_t> skip = {});

  virtual std::optional<size_t> choose(const PickContext& ctx, const Filter& f) = 0;

  HostList hosts_;
  BalancerOptions opts_;
  Rng rng_;
};

// Smooth weighted round robin (nginx). See round_robin.cc.
class RoundRobinBalancer final : public Balancer {
 public:
  RoundRobinBalancer(HostList hosts, const BalancerOptions& opts);

 private:
  std::optional<size_t> choose(const PickContext& ctx, const Filter& f) override;
  std::vector<int64_t> current_;  // nginx's current_weight, per host
};

// Power of two choices on in_flight / weight. See least_request.cc.
class LeastRequestBalancer final : public Balancer {
 public:
  LeastRequestBalancer(HostList hosts, const BalancerOptions& opts) : Balancer(std::move(hosts), opts) {}

 private:
  std::optional<size_t> choose(const PickContext& ctx, const Filter& f) override;
};

// Weighted random. See random.cc.
class RandomBalancer final : public Balancer {
 public:
  RandomBalancer(HostList hosts, const BalancerOptions& opts) : Balancer(std::move(hosts), opts) {}

 private:
  std::optional<size_t> choose(const PickContext& ctx, const Filter& f) override;
};

// Consistent hashing on PickContext::hash_key: a ring with virtual nodes. See consistent_hash.cc.
class HashBalancer final : public Balancer {
 public:
  // The ring is built here from names and the weights of this moment (a weight change comes
  // with a reload, which builds new balancers). Not on the request path.
  HashBalancer(HostList hosts, const BalancerOptions& opts);
  size_t ringSize() const { return ring_.size(); }

 private:
  std::optional<size_t> choose(const PickContext& ctx, const Filter& f) override;
  struct Point {
    uint64_t hash;
    uint32_t host;
  };
  std::vector<Point> ring_;  // sorted by hash
};

// Stable 64-bit hash of a byte string (FNV-1a, then splitmix64's finalizer for avalanche):
// the same in every process and build, so affinity survives a restart.
uint64_t hashKey(std::string_view key);

std::unique_ptr<Balancer> makeBalancer(Policy policy, HostList hosts, const BalancerOptions& opts);

}  // namespace portcullis::upstream
