#include "proxy/worker_context.h"

#include "base/page_pool.h"
#include "proxy/exchange.h"
#include "proxy/h1_connection.h"

#include <malloc.h>

#include <algorithm>

namespace portcullis::proxy {

Generation::Generation(std::shared_ptr<const Runtime> rt, uint64_t seed) : runtime(std::move(rt)) {
  for (const auto& c : runtime->clusters) {
    pools.push_back(std::make_unique<upstream::Pool>(*c));
    balancers.push_back(c->makeBalancer(seed));
    queues.push_back(std::make_unique<upstream::RequestQueue>(std::max<size_t>(1, c->options().queue_size)));
  }
}

Generation::~Generation() = default;

void Generation::retire() {
  for (auto& p : pools) p->retire();
}

WorkerContext::WorkerContext(net::Loop& loop, std::shared_ptr<const Runtime> runtime, uint64_t seed)
    : loop_(loop),
      file_cache_(net::FileCache::capacityFor(runtime->config ? runtime->config->workers : 1)),
      seed_(seed),
      current_(std::make_shared<Generation>(std::move(runtime), seed)) {
  sweep_ = net::Timer::create(loop_, [this] { serviceQueues(); });
}

WorkerContext::~WorkerContext() {
  current_->retire();
  sweep_->close();
}

void WorkerContext::setRuntime(std::shared_ptr<const Runtime> runtime) {
  current_->retire();
  current_ = std::make_shared<Generation>(std::move(runtime), seed_);
}

bool WorkerContext::enqueue(const std::shared_ptr<Generation>& gen, size_t cluster, Exchange& e) {
  if (!gen->queues[cluster]->push(e, loop_.nowMs())) return false;
  if (std::find(queued_.begin(), queued_.end(), gen) == queued_.end()) queued_.push_back(gen);
  if (!sweeping_) {
    sweeping_ = true;
    sweep_->start(5, 5);
  }
  return true;
}

void WorkerContext::dequeue(Exchange& e) {
  for (auto& g : queued_)
    for (auto& q : g->queues) q->remove(e);
}

void WorkerContext::onSlotFreed(const std::shared_ptr<Generation>& gen, size_t cluster) {
  if (!gen->queues[cluster]->empty()) serviceQueue(*gen, cluster);
}

void WorkerContext::serviceQueue(Generation& gen, size_t cluster) {
  upstream::RequestQueue& q = *gen.queues[cluster];
  const auto& c = *gen.runtime->clusters[cluster];
  uint64_t now = loop_.nowMs();
  // Expired first: they get their 503 whatever happens to the slots.
  while (upstream::QueueWaiter* w = q.popExpired(now, c.options().queue_timeout_ms)) {
    static_cast<Exchange*>(w)->onDequeued(true);
  }
  // Then, oldest first, as long as some host has a free slot. A waiter that still finds none
  // (another worker took it) is queued again at the back; rare, and it only loses its place.
  size_t n = q.size();
  while (n-- > 0 && !q.empty()) {
    bool free_slot = false;
    for (const auto& h : c.hosts()) free_slot = free_slot || !h.state->atCap();
    if (!free_slot) break;
    static_cast<Exchange*>(q.pop())->onDequeued(false);
  }
}

void WorkerContext::serviceQueues() {
  for (size_t gi = 0; gi < queued_.size(); ++gi) {
    std::shared_ptr<Generation> g = queued_[gi];  // a dispatch may drop the last other reference
    for (size_t c = 0; c < g->queues.size(); ++c)
      if (!g->queues[c]->empty()) serviceQueue(*g, c);
  }
  queued_.erase(std::remove_if(queued_.begin(), queued_.end(),
                               [](const std::shared_ptr<Generation>& g) {
                                 for (auto& q : g->queues)
                                   if (!q->empty()) return false;
                                 return true;
                               }),
                queued_.end());
  if (queued_.empty() && sweeping_) {
    sweeping_ = false;
    sweep_->stop();
  }
}

void WorkerContext::add(DownstreamConnection* c, const ListenerInfo& listener) {
  c->listener_ = &listener;
  c->next_ = head_;
  c->prev_ = nullptr;
  if (head_) head_->prev_ = c;
  head_ = c;
}

void WorkerContext::countAccepted(DownstreamConnection* c, uint8_t protocol) {
  if (c->counted_) return;
  c->counted_ = true;
  c->protocol_ = protocol;
  uint32_t slot = c->listener_->connections_accepted_slot[protocol];
  if (stats_ && slot != ListenerInfo::kNoSlot) stats_->add(slot);
}

void WorkerContext::remove(DownstreamConnection* c) {
  if (c->prev_) c->prev_->next_ = c->next_;
  else if (head_ == c) head_ = c->next_;
  else return;  // not in the list
  if (c->next_) c->next_->prev_ = c->prev_;
  c->prev_ = c->next_ = nullptr;
  // Only once per connection, past the "not in the list" return: active = accepted - closed.
  if (!c->counted_) return;
  uint32_t slot = c->listener_->connections_closed_slot[c->protocol_];
  if (stats_ && slot != ListenerInfo::kNoSlot) stats_->add(slot);
}

void WorkerContext::beginDrain() {
  draining_ = true;
  current_->retire();
  // drain() may close the connection, which unlinks it: step with a saved next pointer.
  for (DownstreamConnection* s = head_; s;) {
    DownstreamConnection* next = s->next_;
    s->drain();
    s = next;
  }
}

void WorkerContext::releaseIdleBuffers(uint64_t min_idle_ms) {
  uint64_t now = loop_.nowMs();
  if (now < min_idle_ms) return;
  size_t released = 0;
  for (DownstreamConnection* s = head_; s; s = s->next_) released += s->releaseIfIdle(now - min_idle_ms) ? 1 : 0;
  // What released connections freed on the malloc heap (header vectors, TLS state) sits between
  // live objects, where glibc keeps it resident. malloc_trim hands whole free pages back to the
  // kernel (MADV_DONTNEED). It walks the heap, so only after a sweep that freed something, at
  // most once a second.
  if (released) malloc_trim(0);
  // Buffers live outside the malloc heap (base/page_pool.h): their free pages go back here.
  base::page_pool::trim();
}

void WorkerContext::abortAll() {
  for (DownstreamConnection* s = head_; s;) {
    DownstreamConnection* next = s->next_;
    s->abort();
    s = next;
  }
  current_->retire();
}

}  // namespace portcullis::proxy
