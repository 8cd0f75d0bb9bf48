#pragma once
// Requests of one worker waiting for a host slot when every candidate is at max_requests
// (config `queue`, as HAProxy's per-backend queue and nginx's upstream `queue`). One worker's
// loop only: no atomics, no locks. The queue never calls out: the owner asks for the oldest
// waiter when a slot frees, and for expired ones on its timer.
//
// Intrusive: a waiting request embeds (or derives from) a QueueWaiter, so enqueue, pop and
// remove are O(1) with no allocation, and a client that gives up leaves the queue in O(1).
// Order is arrival order; since every waiter has the same timeout, the oldest is also the
// first to expire, so expiry only ever looks at the front.
#include <cstddef>
#include <cstdint>

namespace portcullis::upstream {

class RequestQueue;

class QueueWaiter {
 public:
  QueueWaiter() = default;
  QueueWaiter(const QueueWaiter&) = delete;
  QueueWaiter& operator=(const QueueWaiter&) = delete;
  // A waiter destroyed while queued takes itself out, so the queue never holds a dangling one.
  ~QueueWaiter();

  bool queued() const { return queue_ != nullptr; }
  uint64_t enqueuedAt() const { return enqueued_at_ms_; }

 private:
  friend class RequestQueue;
  RequestQueue* queue_ = nullptr;
  QueueWaiter* prev_ = nullptr;
  QueueWaiter* next_ = nullptr;
  uint64_t enqueued_at_ms_ = 0;
};

class RequestQueue {
 public:
  explicit RequestQueue(size_t capacity) : capacity_(capacity) {}
  RequestQueue(const RequestQueue&) = delete;
  RequestQueue& operator=(const RequestQueue&) = delete;
  // Unlinks every waiter still queued (they stay alive; their owners simply find them
  // no longer queued()).
  ~RequestQueue();

  // Appends `w`, stamped with now_ms. False (and `w` untouched) when the queue is full, the
  // capacity is 0 (no queue: answer 503), or `w` is already in a queue.
  bool push(QueueWaiter& w, uint64_t now_ms);
  // The oldest waiter, unlinked, or nullptr when empty. Call when a slot frees.
  QueueWaiter* pop();
  // The oldest waiter if it has waited `timeout_ms` or more by now_ms, unlinked; else nullptr.
  // Call in a loop from the queue timer, answering each with 503/504.
  QueueWaiter* popExpired(uint64_t now_ms, uint64_t timeout_ms);
  // Takes `w` out (the client went away). No-op if `w` is not in this queue.
  void remove(QueueWaiter& w);

  // When the oldest waiter expires (enqueuedAt + timeout), for arming a timer; 0 when empty.
  uint64_t nextExpiry(uint64_t timeout_ms) const { return head_ ? head_->enqueued_at_ms_ + timeout_ms : 0; }
  const QueueWaiter* front() const { return head_; }
  size_t size() const { return size_; }
  size_t capacity() const { return capacity_; }
  bool empty() const { return size_ == 0; }
  bool full() const { return size_ >= capacity_; }

 private:
  void unlink(QueueWaiter& w);
  size_t capacity_;
  size_t size_ = 0;
  QueueWaiter* head_ = nullptr;  // oldest
  QueueWaiter* tail_ = nullptr;  // newest
};

}  // namespace portcullis::upstream
