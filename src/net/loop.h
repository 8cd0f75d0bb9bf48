#pragma once
// One event loop per worker thread (plus one on the control thread). Owns the loop-wide scratch
// buffer for TLS reads and the deferred-delete list.
//
// Deferred deletion (Envoy DeferredDeletable): an object must never be deleted on its own
// callback stack, because the caller up the stack may still touch it. Owners mark themselves
// closing and hand themselves to deferDelete(); a uv_check handle deletes them after the
// current batch of I/O callbacks has unwound.
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

struct uv_loop_s;
struct uv_check_s;
struct uv_async_s;
struct uv_idle_s;

namespace portcullis::net {

class Deletable {
 public:
  virtual ~Deletable() = default;
};

// Work for the end of the current loop iteration, once its batch of I/O callbacks has unwound
// (Loop::defer). An HTTP/2 connection writes there: every stream that produced output in the
// iteration goes out in one write, not one per stream.
class Deferred {
 public:
  virtual void runDeferred() = 0;

 protected:
  ~Deferred() = default;

 private:
  friend class Loop;
  bool deferred_queued_ = false;
};

class Loop {
 public:
  Loop();
  ~Loop();
  Loop(const Loop&) = delete;
  Loop& operator=(const Loop&) = delete;

  // Runs until stop() or until nothing is left to do.
  void run();
  // Thread-safe: runs `fn` on this loop's thread soon. The only way other threads talk to a
  // worker (besides relaxed atomics).
  void post(std::function<void()> fn);
  // Loop thread only: makes run() return after the current iteration.
  void stop();
  void deferDelete(std::unique_ptr<Deletable> obj);
  // Runs d->runDeferred() at the end of this iteration (once, however often it is asked for),
  // before the deferred deletions: an object deleted through deferDelete in the same iteration
  // is still alive when its work runs, and must check that itself.
  void defer(Deferred* d);
  uint64_t nowMs() const;

  uv_loop_s* native() { return loop_; }
  // 64 KiB shared by every TLS connection of this loop: ciphertext is decrypted straight from
  // here by the TLS engine (which keeps only an unfinished record's bytes) before the next read,
  // so it need not live per connection.
  char* scratch() { return scratch_.get(); }
  static constexpr size_t kScratchSize = 64 * 1024;

 private:
  static void onCheck(uv_check_s* h);
  static void onAsync(uv_async_s* h);
  void drainDeferred();
  void runDeferredWork();

  uv_loop_s* loop_;
  uv_check_s* check_;
  uv_idle_s* idle_;  // started while work is deferred: the poll must not block before it runs
  uv_async_s* async_;
  std::vector<Deferred*> work_;
  std::vector<Deferred*> running_;
  std::vector<std::unique_ptr<Deletable>> deferred_;
  std::mutex posted_mu_;
  std::vector<std::function<void()>> posted_;
  std::unique_ptr<char[]> scratch_;
};

}  // namespace portcullis::net
