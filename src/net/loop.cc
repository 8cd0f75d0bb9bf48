#include "net/loop.h"

#include <uv.h>

#include <cstdlib>

namespace portcullis::net {

Loop::Loop()
    : loop_(new uv_loop_t),
      check_(new uv_check_t),
      idle_(new uv_idle_t),
      async_(new uv_async_t),
      scratch_(new char[kScratchSize]) {
  if (uv_loop_init(loop_) != 0) std::abort();  // only fails on fd exhaustion at start
  uv_check_init(loop_, check_);
  check_->data = this;
  uv_check_start(check_, &Loop::onCheck);
  uv_unref(reinterpret_cast<uv_handle_t*>(check_));  // must not keep the loop alive by itself
  uv_idle_init(loop_, idle_);
  uv_async_init(loop_, async_, &Loop::onAsync);
  async_->data = this;
  uv_unref(reinterpret_cast<uv_handle_t*>(async_));
}

Loop::~Loop() {
  runDeferredWork();
  drainDeferred();
  uv_close(reinterpret_cast<uv_handle_t*>(check_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(idle_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(async_), nullptr);
  // Let every pending close callback run so the handles can be freed.
  uv_run(loop_, UV_RUN_DEFAULT);
  drainDeferred();
  uv_loop_close(loop_);
  delete check_;
  delete idle_;
  delete async_;
  delete loop_;
}

void Loop::run() {
  uv_run(loop_, UV_RUN_DEFAULT);
  runDeferredWork();
  drainDeferred();
}

void Loop::stop() { uv_stop(loop_); }

void Loop::post(std::function<void()> fn) {
  {
    std::lock_guard<std::mutex> lock(posted_mu_);
    posted_.push_back(std::move(fn));
  }
  uv_async_send(async_);
}

void Loop::deferDelete(std::unique_ptr<Deletable> obj) { deferred_.push_back(std::move(obj)); }

void Loop::defer(Deferred* d) {
  if (d->deferred_queued_) return;
  d->deferred_queued_ = true;
  if (work_.empty()) uv_idle_start(idle_, [](uv_idle_t*) {});
  work_.push_back(d);
}

void Loop::runDeferredWork() {
  // Work may defer more work (a write that frees a window): run until quiet.
  while (!work_.empty()) {
    running_.swap(work_);
    for (Deferred* d : running_) {
      d->deferred_queued_ = false;
      d->runDeferred();
    }
    running_.clear();
  }
  uv_idle_stop(idle_);
}

uint64_t Loop::nowMs() const { return uv_now(loop_); }

void Loop::drainDeferred() {
  // Deleting may defer more deletions; loop until quiet.
  while (!deferred_.empty()) {
    std::vector<std::unique_ptr<Deletable>> batch;
    batch.swap(deferred_);
    batch.clear();
  }
}

void Loop::onCheck(uv_check_t* h) {
  auto* self = static_cast<Loop*>(h->data);
  self->runDeferredWork();
  self->drainDeferred();
}

void Loop::onAsync(uv_async_t* h) {
  auto* self = static_cast<Loop*>(h->data);
  std::vector<std::function<void()>> work;
  {
    std::lock_guard<std::mutex> lock(self->posted_mu_);
    work.swap(self->posted_);
  }
  for (auto& fn : work) fn();
}

}  // namespace portcullis::net
