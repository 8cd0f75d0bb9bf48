// Counter shards and the registry: stable slots, sums over threads, counts that never go back.
#include "base/stats.h"

#include <gtest/gtest.h>

#include <thread>

namespace portcullis::base::stats {
namespace {

uint64_t valueOf(const Registry& r, const std::string& family, const std::vector<std::string>& labels,
                 size_t index = 0) {
  for (const auto& f : r.snapshot()) {
    if (f.name != family) continue;
    for (const auto& s : f.series)
      if (s.labels == labels) return s.values.at(index);
  }
  ADD_FAILURE() << "no series " << family;
  return 0;
}

TEST(Stats, SameLabelsSameSlotDifferentLabelsDifferentSlot) {
  Registry r;
  uint32_t f = r.family("x_total", "x", Kind::Counter, {"a"});
  EXPECT_EQ(r.family("x_total", "ignored", Kind::Counter, {"b"}), f);
  uint32_t s1 = r.slot(f, {"1"});
  uint32_t s2 = r.slot(f, {"2"});
  EXPECT_NE(s1, s2);
  EXPECT_EQ(r.slot(f, {"1"}), s1);
}

TEST(Stats, SumsEveryShardWrittenByItsOwnThread) {
  Registry r;
  uint32_t f = r.family("req_total", "r", Kind::Counter, {"l"});
  uint32_t slot = r.slot(f, {"https"});
  constexpr int kThreads = 4;
  constexpr uint64_t kPerThread = 100'000;
  std::vector<Shard*> shards;
  for (int i = 0; i < kThreads; ++i) shards.push_back(r.addShard());
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i)
    threads.emplace_back([&, i] {
      for (uint64_t n = 0; n < kPerThread; ++n) shards[i]->add(slot);
    });
  // Scrapes while they count: monotonic, never above the final total.
  uint64_t last = 0;
  for (int i = 0; i < 50; ++i) {
    uint64_t v = valueOf(r, "req_total", {"https"});
    EXPECT_GE(v, last);
    last = v;
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(valueOf(r, "req_total", {"https"}), kThreads * kPerThread);
}

TEST(Stats, SlotsStayStableAndCountsKeptAcrossAReloadThatAddsLabels) {
  Registry r;
  Shard* shard = r.addShard();
  uint32_t f = r.family("routes_total", "r", Kind::Counter, {"route"});
  uint32_t a = r.slot(f, {"/a"});
  shard->add(a, 5);
  // A "reload": many new label sets, enough to need new chunks in every shard.
  for (int i = 0; i < 3 * static_cast<int>(Shard::kChunkSlots); ++i) r.slot(f, {"/new" + std::to_string(i)});
  Shard* late = r.addShard();  // a shard made after the growth has every chunk too
  EXPECT_EQ(r.slot(f, {"/a"}), a);
  uint32_t last = r.slot(f, {"/new" + std::to_string(3 * Shard::kChunkSlots - 1)});
  shard->add(last);
  late->add(last, 2);
  late->add(a);
  EXPECT_EQ(valueOf(r, "routes_total", {"/a"}), 6u);
  EXPECT_EQ(valueOf(r, "routes_total", {"/new" + std::to_string(3 * Shard::kChunkSlots - 1)}), 3u);
}

TEST(Stats, HistogramBucketsAndSum) {
  Registry r;
  Shard* s1 = r.addShard();
  Shard* s2 = r.addShard();
  uint32_t f = r.family("d_seconds", "d", Kind::Histogram, {}, {10, 100}, 1'000'000);
  uint32_t first = r.slot(f, {});
  const auto& b = r.bounds(f);
  s1->observe(first, b, 10);   // <= 10
  s1->observe(first, b, 11);   // <= 100
  s2->observe(first, b, 100);  // <= 100
  s2->observe(first, b, 5000); // +Inf
  EXPECT_EQ(valueOf(r, "d_seconds", {}, 0), 1u);
  EXPECT_EQ(valueOf(r, "d_seconds", {}, 1), 2u);
  EXPECT_EQ(valueOf(r, "d_seconds", {}, 2), 1u);
  EXPECT_EQ(valueOf(r, "d_seconds", {}, 3), 5121u);
}

TEST(Stats, HistogramSeriesNeverStraddlesAChunk) {
  Registry r;
  Shard* s = r.addShard();
  uint32_t c = r.family("c_total", "c", Kind::Counter, {"i"});
  for (uint32_t i = 0; i < Shard::kChunkSlots - 3; ++i) r.slot(c, {std::to_string(i)});
  uint32_t h = r.family("h_seconds", "h", Kind::Histogram, {}, {1, 2, 3, 4, 5});
  uint32_t first = r.slot(h, {});
  EXPECT_EQ(first / Shard::kChunkSlots, (first + 6) / Shard::kChunkSlots);
  s->observe(first, r.bounds(h), 9);
  EXPECT_EQ(valueOf(r, "h_seconds", {}, 5), 1u);
}

}  // namespace
}  // namespace portcullis::base::stats
