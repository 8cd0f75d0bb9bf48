#include "base/page_pool.h"

#include <gtest/gtest.h>

#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <thread>
#include <vector>

#include "base/buffer.h"

namespace portcullis::base::page_pool {
namespace {

// Sanitizer builds route the pool to malloc (so ASan sees overflows) and keep no statistics.
bool pooled() {
  void* p = allocate(kMinBlock);
  deallocate(p, kMinBlock);
  return stats().mapped > 0;
}

// Pages of [p, p + bytes) resident in memory, from mincore(2).
size_t residentPages(void* p, size_t bytes) {
  size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  std::vector<unsigned char> v((bytes + page - 1) / page);
  if (mincore(p, bytes, v.data()) != 0) return SIZE_MAX;
  size_t n = 0;
  for (unsigned char c : v) n += c & 1;
  return n;
}

TEST(PagePool, BlocksOfEveryClassAreWritableAndDistinct) {
  std::vector<std::pair<char*, size_t>> blocks;
  for (size_t size = kMinBlock; size <= kMaxPooled * 2; size *= 2) {
    for (int i = 0; i < 3; ++i) {
      auto* p = static_cast<char*>(allocate(size));
      std::memset(p, 0x5a, size);
      blocks.emplace_back(p, size);
    }
  }
  for (size_t i = 0; i < blocks.size(); ++i) {
    for (size_t j = i + 1; j < blocks.size(); ++j) {
      bool disjoint = blocks[i].first + blocks[i].second <= blocks[j].first ||
                      blocks[j].first + blocks[j].second <= blocks[i].first;
      EXPECT_TRUE(disjoint) << i << " and " << j << " overlap";
    }
  }
  for (auto& [p, size] : blocks) {
    EXPECT_EQ(p[size - 1], 0x5a);
    deallocate(p, size);
  }
}

TEST(PagePool, AFreedBlockIsReusedFirst) {
  if (!pooled()) GTEST_SKIP() << "sanitizer build: the pool is malloc";
  void* a = allocate(2 * kMinBlock);
  deallocate(a, 2 * kMinBlock);
  void* b = allocate(2 * kMinBlock);
  EXPECT_EQ(a, b);  // LIFO: the block still in cache comes back
  deallocate(b, 2 * kMinBlock);
}

TEST(PagePool, TrimGivesTheMemoryOfFreeBlocksBack) {
  if (!pooled()) GTEST_SKIP() << "sanitizer build: the pool is malloc";
  trim();
  constexpr size_t kBlocks = 64;
  std::vector<char*> blocks;
  for (size_t i = 0; i < kBlocks; ++i) {
    auto* p = static_cast<char*>(allocate(kMinBlock));
    std::memset(p, 1, kMinBlock);  // make it resident
    blocks.push_back(p);
  }
  for (char* p : blocks) EXPECT_EQ(residentPages(p, kMinBlock), 1u);
  for (char* p : blocks) deallocate(p, kMinBlock);
  size_t warm_before = stats().free_warm;
  size_t released = trim();
  // All but the few most recently freed blocks leave memory; those are kept warm for reuse.
  EXPECT_GE(released, (kBlocks - 16) * kMinBlock);
  EXPECT_LT(stats().free_warm, warm_before);
  size_t resident = 0;
  for (char* p : blocks) resident += residentPages(p, kMinBlock);
  EXPECT_LE(resident, 16u);
  // A second trim with nothing freed in between has nothing to do.
  EXPECT_EQ(trim(), 0u);
  // Given-back blocks are still usable.
  std::vector<char*> again;
  for (size_t i = 0; i < kBlocks; ++i) {
    auto* p = static_cast<char*>(allocate(kMinBlock));
    std::memset(p, 2, kMinBlock);
    again.push_back(p);
  }
  for (char* p : again) deallocate(p, kMinBlock);
}

TEST(PagePool, BlocksMayBeFreedOnAnotherThreadAndOutliveTheirThread) {
  std::vector<char*> made;
  std::thread t([&] {
    for (int i = 0; i < 100; ++i) {
      auto* p = static_cast<char*>(allocate(kMinBlock));
      std::memset(p, 3, kMinBlock);
      made.push_back(p);
    }
    // A few freed on the thread: they go to the shared depot when it exits.
    for (int i = 0; i < 10; ++i) {
      deallocate(made.back(), kMinBlock);
      made.pop_back();
    }
  });
  t.join();
  for (char* p : made) {
    EXPECT_EQ(p[0], 3);
    deallocate(p, kMinBlock);
  }
  // Other threads take the exited thread's blocks (from the depot) before mapping a chunk.
  size_t mapped_before = stats().mapped;
  std::thread u([] {
    for (int i = 0; i < 50; ++i) {
      void* p = allocate(kMinBlock);
      std::memset(p, 4, kMinBlock);
      deallocate(p, kMinBlock);
    }
  });
  u.join();
  if (pooled()) {
    EXPECT_EQ(stats().mapped, mapped_before) << "a new thread mapped a chunk of its own";
  }
}

TEST(PagePool, BufferStorageComesFromThePool) {
  if (!pooled()) GTEST_SKIP() << "sanitizer build: the pool is malloc";
  const char* storage = nullptr;
  {
    Buffer b;
    b.append(std::string(10000, 'x'));  // grows to 16 KiB in one step
    EXPECT_EQ(b.capacity(), 4 * kMinBlock);
    storage = b.data();
  }
  // The buffer's block went back to the pool, and is the next one of its size handed out.
  void* next = allocate(4 * kMinBlock);
  EXPECT_EQ(next, storage);
  deallocate(next, 4 * kMinBlock);
}

}  // namespace
}  // namespace portcullis::base::page_pool
