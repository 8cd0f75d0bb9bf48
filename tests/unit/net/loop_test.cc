// Loop and Timer specs (loop.h, timer.h). Every wait is bounded by a deadline timer.
#include "net/loop.h"
#include "../support/loop_runner.h"

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "net/timer.h"

namespace portcullis::net {
namespace {

using testing_support::runUntil;

TEST(Loop, RunReturnsWhenNothingIsLeftToDo) {
  Loop loop;
  loop.run();  // the loop's own check/async handles are unref'd: this must not block
  SUCCEED();
}

TEST(Loop, PostedWorkRunsOnTheLoopThread) {
  Loop loop;
  std::thread::id ran_on;
  bool ran = false;
  std::thread other([&] { loop.post([&] { ran_on = std::this_thread::get_id(); ran = true; }); });
  other.join();
  ASSERT_TRUE(runUntil(loop, [&] { return ran; }));
  EXPECT_EQ(ran_on, std::this_thread::get_id());
}

TEST(Loop, PostedWorkRunsInOrder) {
  Loop loop;
  std::vector<int> order;
  for (int i = 0; i < 5; ++i) loop.post([&order, i] { order.push_back(i); });
  ASSERT_TRUE(runUntil(loop, [&] { return order.size() == 5; }));
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4}));
}

struct Tracked : Deletable {
  explicit Tracked(bool& deleted) : deleted_(deleted) {}
  ~Tracked() override { deleted_ = true; }
  bool& deleted_;
};

TEST(Loop, DeferredDeleteWaitsForTheCurrentCallbackToUnwind) {
  Loop loop;
  bool deleted = false;
  bool deleted_inside_callback = true;
  bool fired = false;
  Timer* t = Timer::create(loop, [&] {
    loop.deferDelete(std::make_unique<Tracked>(deleted));
    deleted_inside_callback = deleted;  // still alive on this stack
    fired = true;
  });
  t->start(1);
  ASSERT_TRUE(runUntil(loop, [&] { return fired && deleted; }));
  t->close();
  EXPECT_FALSE(deleted_inside_callback);
}

// Deferred work: once per iteration however often asked, after the callback that asked, and
// before the deferred deletions of the same iteration.
struct Work : Deferred, Deletable {
  explicit Work(std::vector<std::string>& log) : log_(log) {}
  ~Work() override { log_.push_back("deleted"); }
  void runDeferred() override { log_.push_back("run"); }
  std::vector<std::string>& log_;
};

TEST(Loop, DeferredWorkRunsOnceAfterTheCallbackAndBeforeDeletion) {
  Loop loop;
  std::vector<std::string> log;
  auto* w = new Work(log);
  bool fired = false;
  Timer* t = Timer::create(loop, [&] {
    loop.defer(w);
    loop.defer(w);  // asked twice, runs once
    log.push_back("callback");
    loop.deferDelete(std::unique_ptr<Deletable>(w));
    fired = true;
  });
  t->start(1);
  ASSERT_TRUE(runUntil(loop, [&] { return fired && log.size() >= 3; }));
  t->close();
  EXPECT_EQ(log, (std::vector<std::string>{"callback", "run", "deleted"}));
}

TEST(Loop, WorkDeferredFromATimerDoesNotWaitForTheNextEvent) {
  // Timers run before the poll: without care the loop would block there until the next event
  // (the 3 s timer) before the deferred work's turn came.
  struct StopWork : Deferred {
    explicit StopWork(Loop& l) : loop(l) {}
    void runDeferred() override {
      ran_at = loop.nowMs();
      loop.stop();
    }
    Loop& loop;
    uint64_t ran_at = 0;
  };
  Loop loop;
  StopWork w(loop);
  uint64_t deferred_at = 0;
  Timer* t = Timer::create(loop, [&] {
    deferred_at = loop.nowMs();
    loop.defer(&w);
  });
  Timer* later = Timer::create(loop, [&] { loop.stop(); });
  t->start(1);
  later->start(3000);
  loop.run();
  ASSERT_NE(w.ran_at, 0u);
  EXPECT_LT(w.ran_at - deferred_at, 1000u);
  t->close();
  later->close();
  loop.run();
}

TEST(Timer, FiresOnceAfterItsDelay) {
  Loop loop;
  int fired = 0;
  Timer* t = Timer::create(loop, [&] { ++fired; });
  t->start(5);
  ASSERT_TRUE(runUntil(loop, [&] { return fired > 0; }));
  // Run once more past the delay: a one-shot timer does not fire again.
  bool later = false;
  Timer* probe = Timer::create(loop, [&] { later = true; });
  probe->start(30);
  ASSERT_TRUE(runUntil(loop, [&] { return later; }));
  probe->close();
  t->close();
  EXPECT_EQ(fired, 1);
}

TEST(Timer, RepeatsWhenAskedTo) {
  Loop loop;
  int fired = 0;
  Timer* t = Timer::create(loop, [&] { ++fired; });
  t->start(1, 1);
  EXPECT_TRUE(runUntil(loop, [&] { return fired >= 3; }));
  t->close();
}

TEST(Timer, StoppedTimerDoesNotFire) {
  Loop loop;
  bool fired = false;
  Timer* t = Timer::create(loop, [&] { fired = true; });
  t->start(5);
  t->stop();
  bool later = false;
  Timer* probe = Timer::create(loop, [&] { later = true; });
  probe->start(50);
  ASSERT_TRUE(runUntil(loop, [&] { return later; }));
  probe->close();
  t->close();
  EXPECT_FALSE(fired);
}

TEST(Timer, ClosedTimerDoesNotFire) {
  Loop loop;
  bool fired = false;
  Timer* t = Timer::create(loop, [&] { fired = true; });
  t->start(5);
  t->close();
  bool later = false;
  Timer* probe = Timer::create(loop, [&] { later = true; });
  probe->start(50);
  ASSERT_TRUE(runUntil(loop, [&] { return later; }));
  probe->close();
  EXPECT_FALSE(fired);
}

TEST(Timer, UnrefdTimerDoesNotKeepTheLoopRunning) {
  Loop loop;
  bool fired = false;
  Timer* t = Timer::create(loop, [&] { fired = true; });
  t->start(2000);  // if unref failed, run() returns only after this fires, and the test fails
  t->unref();
  loop.run();  // returns at once: only the unref'd timer is left
  EXPECT_FALSE(fired);
  t->close();
}

}  // namespace
}  // namespace portcullis::net
