#include "base/stats.h"

#include <cstdlib>

namespace portcullis::base::stats {

Shard::~Shard() {
  for (auto& c : chunks_) delete c.load(std::memory_order_relaxed);
}

Registry::~Registry() = default;

Registry& Registry::global() {
  // Never destroyed: workers may still be counting while static destructors run.
  static Registry* r = new Registry();
  return *r;
}

uint32_t Registry::family(const std::string& name, const std::string& help, Kind kind,
                          std::vector<std::string> label_names, std::vector<uint64_t> bounds, uint64_t divisor) {
  std::lock_guard<std::mutex> lock(mu_);
  if (auto it = by_name_.find(name); it != by_name_.end()) return it->second;
  auto f = std::make_unique<Family>();
  f->def.name = name;
  f->def.help = help;
  f->def.kind = kind;
  f->def.label_names = std::move(label_names);
  f->def.bounds = std::move(bounds);
  f->def.divisor = divisor == 0 ? 1 : divisor;
  auto id = static_cast<uint32_t>(families_.size());
  families_.push_back(std::move(f));
  by_name_.emplace(name, id);
  return id;
}

const std::vector<uint64_t>& Registry::bounds(uint32_t family) const {
  std::lock_guard<std::mutex> lock(mu_);
  return families_.at(family)->def.bounds;  // never changes once registered
}

uint32_t Registry::width(const Family& f) const {
  return f.def.kind == Kind::Histogram ? static_cast<uint32_t>(f.def.bounds.size()) + 2 : 1;
}

uint32_t Registry::slot(uint32_t family, const std::vector<std::string>& labels) {
  std::lock_guard<std::mutex> lock(mu_);
  Family& f = *families_.at(family);
  auto key = std::make_pair(family, labels);
  if (auto it = slots_.find(key); it != slots_.end()) return it->second;
  uint32_t w = width(f);
  // A series never straddles two chunks, so a histogram's slots are one array.
  if (next_slot_ / Shard::kChunkSlots != (next_slot_ + w - 1) / Shard::kChunkSlots)
    next_slot_ = (next_slot_ / Shard::kChunkSlots + 1) * Shard::kChunkSlots;
  uint32_t s = next_slot_;
  if ((s + w) / Shard::kChunkSlots >= Shard::kMaxChunks) std::abort();  // unbounded labels: a bug
  next_slot_ += w;
  ensureChunks(next_slot_);
  slots_.emplace(std::move(key), s);
  f.series.emplace_back(labels, s);
  return s;
}

void Registry::ensureChunks(uint32_t end) {
  uint32_t need = (end + Shard::kChunkSlots - 1) / Shard::kChunkSlots;
  for (; chunks_ < need; ++chunks_)
    for (auto& sh : shards_) sh->chunks_[chunks_].store(new Shard::Chunk(), std::memory_order_release);
}

Shard* Registry::addShard() {
  std::lock_guard<std::mutex> lock(mu_);
  auto sh = std::make_unique<Shard>();
  for (uint32_t i = 0; i < chunks_; ++i) sh->chunks_[i].store(new Shard::Chunk(), std::memory_order_release);
  shards_.push_back(std::move(sh));
  return shards_.back().get();
}

std::vector<FamilySnapshot> Registry::snapshot() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<FamilySnapshot> out;
  out.reserve(families_.size());
  for (const auto& f : families_) {
    FamilySnapshot s = f->def;
    uint32_t w = width(*f);
    for (const auto& [labels, first] : f->series) {
      Series series{labels, std::vector<uint64_t>(w, 0)};
      for (const auto& sh : shards_)
        for (uint32_t i = 0; i < w; ++i) series.values[i] += sh->read(first + i);
      s.series.push_back(std::move(series));
    }
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace portcullis::base::stats
