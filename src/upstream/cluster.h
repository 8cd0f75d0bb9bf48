#pragma once
// A cluster of upstream hosts: resolved addresses, their shared live state, and the policies
// that pick among them. Immutable once built and shared read-only by every worker; what changes
// at run time lives in relaxed atomics (HostState, RetryBudget, the queue occupancy), so
// workers share it without locks. Per-worker pieces (balancer cursor, pools, queues) are made
// by each worker from it.
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "net/socket.h"
#include "tls/client_context.h"
#include "upstream/balancer.h"
#include "upstream/host_state.h"
#include "upstream/outlier.h"
#include "upstream/retry_budget.h"

namespace portcullis::upstream {

struct Host {
  std::string name;                    // "app1:8000" as configured, for logs
  net::Address address;                // one resolved address (a name gives one Host per address)
  std::string sni;                     // TLS to this host: server name to send and verify
  std::shared_ptr<HostState> state;    // shared across workers and kept across reloads
};

struct ClusterOptions {
  Policy policy = Policy::RoundRobin;
  BalancerOptions balancer;            // seed is set per worker
  OutlierOptions outlier;
  uint32_t max_idle = 64;
  uint64_t idle_timeout_ms = 1500;
  uint32_t retries = 1;
  double retry_budget = 0.2;
  uint32_t queue_size = 0;             // across all workers
  uint64_t queue_timeout_ms = 10'000;
};

class Cluster {
 public:
  Cluster(std::string name, std::vector<Host> hosts, ClusterOptions opts,
          std::shared_ptr<const tls::ClientContext> tls = nullptr);

  const std::string& name() const { return name_; }
  const std::vector<Host>& hosts() const { return hosts_; }
  const ClusterOptions& options() const { return opts_; }
  uint32_t maxIdle() const { return opts_.max_idle; }
  uint64_t idleTimeoutMs() const { return opts_.idle_timeout_ms; }
  // Null for plain-HTTP upstreams.
  const std::shared_ptr<const tls::ClientContext>& tls() const { return tls_; }
  const HostList& hostStates() const { return states_; }

  // A balancer for one worker; `seed` (the worker index) staggers round robin so workers do
  // not pick in lock step.
  std::unique_ptr<Balancer> makeBalancer(uint64_t seed) const;

  // Shared by every worker: passive health and the retry budget.
  OutlierDetector& outlier() const { return outlier_; }
  RetryBudget& retryBudget() const { return retry_budget_; }
  // Requests waiting in any worker's queue for this cluster (bounded by options().queue_size).
  std::atomic<uint32_t>& waiting() const { return waiting_; }

 private:
  std::string name_;
  std::vector<Host> hosts_;
  HostList states_;
  ClusterOptions opts_;
  std::shared_ptr<const tls::ClientContext> tls_;
  mutable OutlierDetector outlier_;
  mutable RetryBudget retry_budget_;
  mutable std::atomic<uint32_t> waiting_{0};
};

}  // namespace portcullis::upstream
