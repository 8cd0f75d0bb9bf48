#pragma once
// "No heap allocation per X", checked by counting operator new. Include this header in exactly
// one file of a test binary: its replacement operators serve the whole binary and only count
// while g_counting is set, on this thread.
#include <cstdlib>
#include <new>

namespace {
thread_local bool g_counting = false;
thread_local size_t g_allocations = 0;
}  // namespace

void* operator new(std::size_t n) {
  if (g_counting) ++g_allocations;
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
// GCC 12 inlines the replaced `new` into callers and then sees its malloc'ed pointer reach
// `free` through `delete`, which it reports as a new/free mismatch; here both sides are ours.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
#pragma GCC diagnostic pop
