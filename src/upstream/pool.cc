#include "upstream/pool.h"

#include <algorithm>

namespace portcullis::upstream {

Pool::Pool(const Cluster& cluster) : cluster_(cluster), idle_(cluster.hosts().size()) {}

Pool::~Pool() { closeAll(); }

net::Connection* Pool::take(size_t host) {
  auto& list = idle_[host];
  if (list.empty()) return nullptr;
  net::Connection* c = list.back();
  list.pop_back();
  c->clearTimeout();
  c->setHandler(nullptr);
  return c;
}

void Pool::put(size_t host, net::Connection* conn) {
  auto& list = idle_[host];
  if (retired_ || list.size() >= cluster_.maxIdle() || conn->closing() || !conn->input().empty()) {
    conn->setHandler(this);
    conn->abort();
    return;
  }
  conn->setHandler(this);
  conn->resumeReading();  // so an upstream close is noticed while idle
  // Buffers are kept: a pooled connection is reused within milliseconds under load, and
  // freeing them here would cost a malloc/free pair per request. There are at most max_idle
  // of them per host, and idle_timeout closes them when traffic stops.
  conn->setTimeout(cluster_.idleTimeoutMs());
  list.push_back(conn);
}

size_t Pool::idleCount() const {
  size_t n = 0;
  for (auto& l : idle_) n += l.size();
  return n;
}

void Pool::closeAll() {
  for (auto& list : idle_) {
    auto copy = std::move(list);
    list.clear();
    for (auto* c : copy) c->abort();
  }
}

void Pool::retire() {
  retired_ = true;
  closeAll();
}

void Pool::forget(net::Connection& c) {
  for (auto& list : idle_) {
    auto it = std::find(list.begin(), list.end(), &c);
    if (it != list.end()) {
      list.erase(it);
      return;
    }
  }
}

// An idle upstream has no business sending: whatever it is, the connection cannot be reused.
void Pool::onData(net::Connection& c) { forget(c); c.abort(); }
void Pool::onEof(net::Connection& c) { forget(c); c.abort(); }
void Pool::onTimeout(net::Connection& c) { forget(c); c.abort(); }
void Pool::onClose(net::Connection& c, net::CloseReason) { forget(c); }

}  // namespace portcullis::upstream
