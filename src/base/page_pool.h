#pragma once
// Storage for Buffer: blocks of 4 KiB * 2^k carved from mmap'd chunks, outside the malloc heap.
//
// Why not malloc: connection buffers are allocated while a request is in flight and freed when
// the connection goes idle. From the malloc heap they leave 4 KiB holes between long-lived
// objects (TLS state, sessions) that glibc can neither reuse for those small objects nor give
// back (malloc_trim only returns whole aligned pages inside a free chunk, and a 4 KiB hole
// seldom contains one). Measured with 5,000 idle TLS connections: 8.5 KiB RSS per connection
// with malloc, 6.1 KiB with buffers kept apart (issue 5, memory per idle connection).
//
// Hot path: each thread keeps its own free lists, so allocate/free take no lock and make no
// system call once warm. trim() hands the memory of free blocks back to the kernel
// (MADV_DONTNEED) while keeping them listed; a later reuse faults fresh zero pages in. A block
// may be freed by another thread than the one that allocated it (it joins that thread's lists):
// chunks are never unmapped, so any thread may own any block. Lists of exiting threads go to a
// shared depot that new blocks are taken from first.
//
// Blocks above kMaxPooled are mmap'd and unmapped one by one (big bodies, rare).
// Sanitizer builds use malloc instead, so ASan still sees buffer overflows.
#include <cstddef>

namespace portcullis::base::page_pool {

inline constexpr size_t kMinBlock = 4096;
inline constexpr size_t kMaxPooled = 1024 * 1024;

// `size` must be kMinBlock * 2^k. Never returns null (aborts when out of memory, as Buffer did).
void* allocate(size_t size);
// `p` from allocate(size) with the same size; null is ignored.
void deallocate(void* p, size_t size);
// Returns the memory of this thread's free blocks to the kernel. Cheap when nothing was freed
// since the last call. Returns the bytes released.
size_t trim();

struct Stats {
  size_t mapped = 0;      // bytes in chunks and big blocks (address space)
  size_t free_warm = 0;   // free bytes of this thread still resident
  size_t free_cold = 0;   // free bytes of this thread already given back
};
Stats stats();

}  // namespace portcullis::base::page_pool
