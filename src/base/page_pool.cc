#include "base/page_pool.h"

#include <sys/mman.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdlib>
#include <mutex>
#include <vector>

#if defined(__SANITIZE_ADDRESS__)
#define PORTCULLIS_POOL_USES_MALLOC 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PORTCULLIS_POOL_USES_MALLOC 1
#endif
#endif

namespace portcullis::base::page_pool {

#if defined(PORTCULLIS_POOL_USES_MALLOC)

void* allocate(size_t size) {
  void* p = std::malloc(size);
  if (!p) std::abort();
  return p;
}
void deallocate(void* p, size_t) { std::free(p); }
size_t trim() { return 0; }
Stats stats() { return {}; }

#else

namespace {

constexpr int kClasses = 9;                  // 4 KiB .. 1 MiB
constexpr size_t kChunk = 4 * 1024 * 1024;   // address space reserved per refill (untouched until used)
constexpr size_t kKeepWarm = 16;             // per class: the most recently freed stay resident
static_assert(kMinBlock << (kClasses - 1) == kMaxPooled);

std::atomic<size_t> g_mapped{0};

int classOf(size_t size) {
  for (int k = 0; k < kClasses; ++k) {
    if (size == kMinBlock << k) return k;
  }
  return -1;
}

void* mapOrDie(size_t bytes) {
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) std::abort();  // out of memory: nothing sensible to do on the data path
  g_mapped.fetch_add(bytes, std::memory_order_relaxed);
  return p;
}

struct Lists {
  std::vector<char*> warm;  // free, pages resident (LIFO: the hottest at the back)
  std::vector<char*> cold;  // free, pages given back by trim()
};

// Blocks of threads that have exited, per class. Only touched when a thread's own lists and
// chunk are empty, or when a thread exits.
struct Depot {
  std::mutex mu;
  std::array<Lists, kClasses> lists;
};
Depot& depot() {
  static Depot* d = new Depot;  // never destroyed: threads may exit after static destruction
  return *d;
}

struct Local {
  std::array<Lists, kClasses> lists;
  std::array<char*, kClasses> cur{};  // uncarved rest of the current chunk, per class
  std::array<char*, kClasses> end{};
  bool dirty = false;                 // warm blocks beyond kKeepWarm may exist

  ~Local() {
    Depot& d = depot();
    std::lock_guard<std::mutex> lock(d.mu);
    for (int k = 0; k < kClasses; ++k) {
      size_t size = kMinBlock << k;
      Lists& to = d.lists[k];
      Lists& from = lists[k];
      to.warm.insert(to.warm.end(), from.warm.begin(), from.warm.end());
      to.cold.insert(to.cold.end(), from.cold.begin(), from.cold.end());
      for (char* p = cur[k]; p && p + size <= end[k]; p += size) to.cold.push_back(p);  // untouched
    }
  }

  char* refill(int k) {
    size_t size = kMinBlock << k;
    {
      Depot& d = depot();
      std::lock_guard<std::mutex> lock(d.mu);
      Lists& from = d.lists[k];
      if (!from.warm.empty() || !from.cold.empty()) {
        // Only called with this thread's lists empty: the swap leaves the depot empty too.
        Lists& to = lists[k];
        to.warm.swap(from.warm);
        to.cold.swap(from.cold);
        return nullptr;  // the caller takes from the lists now
      }
    }
    char* chunk = static_cast<char*>(mapOrDie(kChunk));
    cur[k] = chunk + size;
    end[k] = chunk + kChunk;
    return chunk;
  }
};

thread_local Local t_local;

// Gives back the pages of `blocks` (all of `size` bytes), merging neighbours into one call.
size_t giveBack(std::vector<char*>& blocks, size_t size) {
  std::sort(blocks.begin(), blocks.end());
  size_t released = 0;
  for (size_t i = 0; i < blocks.size();) {
    size_t j = i + 1;
    while (j < blocks.size() && blocks[j] == blocks[j - 1] + size) ++j;
    size_t bytes = (j - i) * size;
    if (madvise(blocks[i], bytes, MADV_DONTNEED) == 0) released += bytes;
    i = j;
  }
  return released;
}

}  // namespace

void* allocate(size_t size) {
  int k = classOf(size);
  if (k < 0) return mapOrDie(size);
  Local& l = t_local;
  Lists& lists = l.lists[k];
  for (;;) {
    if (!lists.warm.empty()) {
      char* p = lists.warm.back();
      lists.warm.pop_back();
      return p;
    }
    if (!lists.cold.empty()) {
      char* p = lists.cold.back();
      lists.cold.pop_back();
      return p;
    }
    if (l.cur[k] && l.cur[k] + size <= l.end[k]) {
      char* p = l.cur[k];
      l.cur[k] += size;
      return p;
    }
    if (char* p = l.refill(k)) return p;
  }
}

void deallocate(void* p, size_t size) {
  if (!p) return;
  int k = classOf(size);
  if (k < 0) {
    munmap(p, size);
    g_mapped.fetch_sub(size, std::memory_order_relaxed);
    return;
  }
  Local& l = t_local;
  l.lists[k].warm.push_back(static_cast<char*>(p));
  if (l.lists[k].warm.size() > kKeepWarm) l.dirty = true;
}

size_t trim() {
  Local& l = t_local;
  if (!l.dirty) return 0;
  l.dirty = false;
  size_t released = 0;
  for (int k = 0; k < kClasses; ++k) {
    Lists& lists = l.lists[k];
    if (lists.warm.size() <= kKeepWarm) continue;
    // The most recently freed blocks (at the back) stay warm for the next requests.
    std::vector<char*> give(lists.warm.begin(), lists.warm.end() - kKeepWarm);
    lists.warm.erase(lists.warm.begin(), lists.warm.end() - kKeepWarm);
    released += giveBack(give, kMinBlock << k);
    lists.cold.insert(lists.cold.end(), give.begin(), give.end());
  }
  return released;
}

Stats stats() {
  Stats s;
  s.mapped = g_mapped.load(std::memory_order_relaxed);
  for (int k = 0; k < kClasses; ++k) {
    s.free_warm += t_local.lists[k].warm.size() * (kMinBlock << k);
    s.free_cold += t_local.lists[k].cold.size() * (kMinBlock << k);
  }
  return s;
}

#endif

}  // namespace portcullis::base::page_pool
