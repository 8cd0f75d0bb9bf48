#pragma once
// A standalone timer for loop-level work (drain deadlines, pool sweeps). Connections have their
// own built-in timer; this is for everything else. Heap-only and self-deleting: call close().
#include <cstdint>
#include <functional>
#include <memory>

#include "net/loop.h"

struct uv_timer_s;
struct uv_handle_s;

namespace portcullis::net {

class Timer {
 public:
  static Timer* create(Loop& loop, std::function<void()> on_fire);
  void start(uint64_t ms, uint64_t repeat_ms = 0);
  void stop();
  // Lets the loop exit while only this timer is left (for deadlines that should not hold a
  // draining worker open).
  void unref();
  void close();  // no callback after this; frees itself

 private:
  Timer();  // out of line: uv_timer_s is incomplete here
  ~Timer();
  static void onFire(uv_timer_s* t);
  static void onClosed(uv_handle_s* h);
  std::unique_ptr<uv_timer_s> timer_;
  std::function<void()> on_fire_;
  bool closing_ = false;
};

}  // namespace portcullis::net
