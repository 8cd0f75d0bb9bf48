#pragma once
// A cluster of upstream hosts, resolved at start. Immutable once built, shared by every worker
// (read-only), except for the round-robin cursor, which is a relaxed atomic.
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "net/socket.h"

namespace portcullis::upstream {

struct Host {
  std::string name;       // "app1:8000" as configured, for logs
  net::Address address;   // first resolved address
};

class Cluster {
 public:
  Cluster(std::string name, std::vector<Host> hosts, uint32_t max_idle, uint64_t idle_timeout_ms)
      : name_(std::move(name)), hosts_(std::move(hosts)), max_idle_(max_idle),
        idle_timeout_ms_(idle_timeout_ms) {}

  const std::string& name() const { return name_; }
  const std::vector<Host>& hosts() const { return hosts_; }
  uint32_t maxIdle() const { return max_idle_; }
  uint64_t idleTimeoutMs() const { return idle_timeout_ms_; }

  // Round robin over all hosts. One relaxed fetch_add per request, shared by the workers, so
  // the spread is exact across the whole process (10 requests over 2 hosts are 5/5 whichever
  // workers serve them) for the price of one contended cache line — tens of nanoseconds, noise
  // next to a proxied request. Weighted and least-request policies come with issue 4.
  size_t pick() const { return cursor_.fetch_add(1, std::memory_order_relaxed) % hosts_.size(); }

 private:
  std::string name_;
  std::vector<Host> hosts_;
  uint32_t max_idle_;
  uint64_t idle_timeout_ms_;
  mutable std::atomic<uint64_t> cursor_{0};
};

}  // namespace portcullis::upstream
