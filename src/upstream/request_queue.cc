#include "upstream/request_queue.h"

namespace portcullis::upstream {

QueueWaiter::~QueueWaiter() {
  if (queue_ != nullptr) queue_->remove(*this);
}

RequestQueue::~RequestQueue() {
  while (pop() != nullptr) {
  }
}

bool RequestQueue::push(QueueWaiter& w, uint64_t now_ms) {
  if (full() || w.queue_ != nullptr) return false;
  w.queue_ = this;
  w.enqueued_at_ms_ = now_ms;
  w.prev_ = tail_;
  w.next_ = nullptr;
  if (tail_ != nullptr) {
    tail_->next_ = &w;
  } else {
    head_ = &w;
  }
  tail_ = &w;
  ++size_;
  return true;
}

QueueWaiter* RequestQueue::pop() {
  QueueWaiter* w = head_;
  if (w != nullptr) unlink(*w);
  return w;
}

QueueWaiter* RequestQueue::popExpired(uint64_t now_ms, uint64_t timeout_ms) {
  if (head_ == nullptr || now_ms < head_->enqueued_at_ms_ + timeout_ms) return nullptr;
  return pop();
}

void RequestQueue::remove(QueueWaiter& w) {
  if (w.queue_ == this) unlink(w);
}

void RequestQueue::unlink(QueueWaiter& w) {
  if (w.prev_ != nullptr) {
    w.prev_->next_ = w.next_;
  } else {
    head_ = w.next_;
  }
  if (w.next_ != nullptr) {
    w.next_->prev_ = w.prev_;
  } else {
    tail_ = w.prev_;
  }
  w.prev_ = w.next_ = nullptr;
  w.queue_ = nullptr;
  --size_;
}

}  // namespace portcullis::upstream
