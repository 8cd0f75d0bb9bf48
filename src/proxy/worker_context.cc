#include "proxy/worker_context.h"

#include "proxy/session.h"

namespace portcullis::proxy {

Generation::Generation(std::shared_ptr<const Runtime> rt) : runtime(std::move(rt)) {
  for (const auto& c : runtime->clusters) pools.push_back(std::make_unique<upstream::Pool>(*c));
}

Generation::~Generation() = default;

void Generation::retire() {
  for (auto& p : pools) p->retire();
}

WorkerContext::WorkerContext(net::Loop& loop, std::shared_ptr<const Runtime> runtime)
    : loop_(loop), current_(std::make_shared<Generation>(std::move(runtime))) {}

WorkerContext::~WorkerContext() { current_->retire(); }

void WorkerContext::setRuntime(std::shared_ptr<const Runtime> runtime) {
  current_->retire();
  current_ = std::make_shared<Generation>(std::move(runtime));
}

void WorkerContext::add(Session* s) {
  s->next_ = head_;
  s->prev_ = nullptr;
  if (head_) head_->prev_ = s;
  head_ = s;
  ++sessions_;
}

void WorkerContext::remove(Session* s) {
  if (s->prev_) s->prev_->next_ = s->next_;
  else if (head_ == s) head_ = s->next_;
  else return;  // not in the list
  if (s->next_) s->next_->prev_ = s->prev_;
  s->prev_ = s->next_ = nullptr;
  --sessions_;
}

void WorkerContext::beginDrain() {
  draining_ = true;
  current_->retire();
  // drain() may close the session, which unlinks it: step with a saved next pointer.
  for (Session* s = head_; s;) {
    Session* next = s->next_;
    s->drain();
    s = next;
  }
}

void WorkerContext::releaseIdleBuffers(uint64_t min_idle_ms) {
  uint64_t now = loop_.nowMs();
  if (now < min_idle_ms) return;
  for (Session* s = head_; s; s = s->next_) s->releaseIfIdle(now - min_idle_ms);
}

void WorkerContext::abortAll() {
  for (Session* s = head_; s;) {
    Session* next = s->next_;
    s->abort();
    s = next;
  }
  current_->retire();
}

}  // namespace portcullis::proxy
