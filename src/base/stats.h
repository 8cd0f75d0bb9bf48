#pragma once
// Per-worker counter shards (DESIGN 3.5: each worker owns a stats shard and takes no locks).
//
// A process-wide Registry names every series: (family, label values) -> slot, a small integer
// that stays the same for the life of the process. Slots are handed out off the request path
// (when a runtime is built: start, reload, DNS refresh) and carried in the runtime, so the
// request path only indexes. Each worker writes its own Shard with a relaxed load + store (one
// writer: no read-modify-write, no lock), and every shard's storage is its own allocation, so no
// two workers share a cache line. The admin thread reads every shard at scrape time and sums.
//
// Counters never go backwards for a label set during the process life: a slot is never reused
// or reset, a reload that drops a route only stops its series from moving, and shards outlive
// their workers.
#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

namespace portcullis::base::stats {

enum class Kind : uint8_t { Counter, Histogram };

class Shard {
 public:
  static constexpr uint32_t kChunkSlots = 512;
  static constexpr uint32_t kMaxChunks = 4096;  // 2M slots: far above any bounded label set

  Shard() = default;
  ~Shard();
  Shard(const Shard&) = delete;
  Shard& operator=(const Shard&) = delete;

  // Owning worker thread only. Not an RMW: this thread is the only writer, and a reader only
  // needs to see some recent value.
  void add(uint32_t slot, uint64_t n = 1) {
    std::atomic<uint64_t>& c = cell(slot);
    c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  // A histogram series at `first` (see Registry::slot): bucket i counts values <= bounds[i],
  // the one after the last bound counts the rest (+Inf), then the sum of the values.
  void observe(uint32_t first, std::span<const uint64_t> bounds, uint64_t value) {
    size_t i = 0;
    while (i < bounds.size() && value > bounds[i]) ++i;
    add(first + static_cast<uint32_t>(i));
    add(first + static_cast<uint32_t>(bounds.size()) + 1, value);
  }
  // Any thread.
  uint64_t read(uint32_t slot) const {
    const Chunk* c = chunks_[slot / kChunkSlots].load(std::memory_order_acquire);
    return c ? c->v[slot % kChunkSlots].load(std::memory_order_relaxed) : 0;
  }

 private:
  friend class Registry;
  struct alignas(64) Chunk {
    std::array<std::atomic<uint64_t>, kChunkSlots> v{};
  };
  // The registry allocates a chunk in every shard before it hands out a slot in it, and the
  // slot reaches a worker through the runtime mailbox (a happens-before edge), so the chunk is
  // always there by the time a worker indexes it.
  std::atomic<uint64_t>& cell(uint32_t slot) {
    return chunks_[slot / kChunkSlots].load(std::memory_order_acquire)->v[slot % kChunkSlots];
  }
  std::array<std::atomic<Chunk*>, kMaxChunks> chunks_{};
};

// One series at scrape time, summed over every shard. Counter: values = {count}. Histogram:
// values = per-bucket counts (bounds.size() + 1, not cumulative) followed by the sum.
struct Series {
  std::vector<std::string> labels;  // aligned with the family's label names
  std::vector<uint64_t> values;
};

struct FamilySnapshot {
  std::string name;
  std::string help;
  Kind kind = Kind::Counter;
  std::vector<std::string> label_names;
  std::vector<uint64_t> bounds;  // histograms: bucket upper bounds, in the observed unit
  uint64_t divisor = 1;          // exported value = observed value / divisor (µs -> s: 1'000'000)
  std::vector<Series> series;    // in slot order (first registered first)
};

class Registry {
 public:
  Registry() = default;
  ~Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // The process's registry (what the proxy and the admin listener use); tests make their own.
  static Registry& global();

  // Registers a family or returns the existing one of that name (whose definition wins).
  uint32_t family(const std::string& name, const std::string& help, Kind kind, std::vector<std::string> label_names,
                  std::vector<uint64_t> bounds = {}, uint64_t divisor = 1);
  // The first slot of the series `labels` (one value per label name) of `family`, allocated on
  // first use; the same slot for the same (family, labels) for the life of the registry. A
  // histogram takes bounds().size() + 2 consecutive slots. Off the request path: takes a lock.
  uint32_t slot(uint32_t family, const std::vector<std::string>& labels);
  const std::vector<uint64_t>& bounds(uint32_t family) const;

  // A shard for one worker; it lives as long as the registry, so the counts of a worker that
  // has exited still add up.
  Shard* addShard();

  std::vector<FamilySnapshot> snapshot() const;

 private:
  struct Family {
    FamilySnapshot def;  // series unused
    std::vector<std::pair<std::vector<std::string>, uint32_t>> series;
  };
  uint32_t width(const Family& f) const;
  void ensureChunks(uint32_t end);  // mu_ held

  mutable std::mutex mu_;
  std::vector<std::unique_ptr<Family>> families_;
  std::map<std::string, uint32_t> by_name_;
  std::map<std::pair<uint32_t, std::vector<std::string>>, uint32_t> slots_;
  std::vector<std::unique_ptr<Shard>> shards_;
  uint32_t next_slot_ = 0;
  uint32_t chunks_ = 0;
};

}  // namespace portcullis::base::stats
