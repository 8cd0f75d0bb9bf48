#pragma once
// Driving a net::Loop from a test with bounded waits: the loop runs until a condition holds or
// a deadline passes, never "sleep and hope" (DESIGN 3.6). Shared by the net and upstream tests.
#include <gtest/gtest.h>

#include <cstdint>
#include <functional>

#include "net/loop.h"
#include "net/timer.h"

namespace portcullis::testing_support {

inline constexpr uint64_t kWaitMs = 5000;  // generous: a loaded CI machine, an ASan build

// Runs `loop` until `done()` holds or `timeout_ms` passes. `done` is polled every millisecond
// by a repeating timer, so no event source has to know about the test's condition.
inline ::testing::AssertionResult runUntil(net::Loop& loop, const std::function<bool()>& done,
                                           uint64_t timeout_ms = kWaitMs, const char* what = "condition") {
  if (done()) return ::testing::AssertionSuccess();
  bool expired = false;
  net::Timer* deadline = net::Timer::create(loop, [&] {
    expired = true;
    loop.stop();
  });
  net::Timer* poll = net::Timer::create(loop, [&] {
    if (done()) loop.stop();
  });
  deadline->start(timeout_ms);
  poll->start(1, 1);
  while (!expired && !done()) loop.run();
  deadline->close();
  poll->close();
  if (done()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "timed out after " << timeout_ms << " ms waiting for " << what;
}

// Runs `loop` for `ms` (for checking that something does NOT happen within a window).
inline void runFor(net::Loop& loop, uint64_t ms) {
  bool expired = false;
  net::Timer* t = net::Timer::create(loop, [&] {
    expired = true;
    loop.stop();
  });
  t->start(ms);
  while (!expired) loop.run();
  t->close();
}

}  // namespace portcullis::testing_support
