#pragma once
// Active health checks (DESIGN 3.5): one HealthChecker per process, on the control loop, probes
// every host of every cluster whose `health_check` is enabled, and is the one writer of
// HostState::healthy(). Workers only read that flag (balancers skip unhealthy hosts).
//
// A probe: connect (TLS with the cluster's client context and the host's SNI when the cluster
// speaks TLS), send
//     METHOD PATH HTTP/1.1\r\nHost: <check.host, or the configured "name:port">\r\n
//     User-Agent: portcullis-health-check\r\nConnection: close\r\n\r\n
// and read the response head (1xx heads are skipped). It passes when the status is in one of
// the `expected` ranges and the head arrived within `timeout` of the start (connect included).
// After the verdict the connection is read until the host closes it (as Connection: close asks),
// or aborted at the deadline, so the host sees an orderly close and no RST for unread bytes.
//
// State machine per host (HAProxy's rise/fall):
//   - Hosts start healthy: a new process sends traffic at once, and the checks (with passive
//     outlier detection meanwhile) confirm or fail them. A host kept across a reload keeps its
//     state (HostState is shared by name), and the counters below start again from 0.
//   - `fall` failures in a row turn a healthy host unhealthy: setHealthy(false), logged at warn
//     ("upstream app/127.0.0.1:8001: unhealthy after 3 failed checks (connect refused)").
//   - `rise` passes in a row turn an unhealthy host healthy: setHealthy(true) (which starts its
//     slow start), and OutlierDetector::onActiveCheckPassed() ends any passive ejection, since
//     the host has just proved itself; logged at info. Passes on a host already healthy do not
//     touch the outlier state: a host answering /healthz while its application fails with 5xx
//     must stay ejectable (Envoy's successful_active_health_check_uneject_host would undo the
//     ejection at every interval).
//   - A cluster without an enabled check has no writer, so its hosts are set healthy at start():
//     a reload that switches checks off must not leave hosts down forever.
//
// Scheduling: each host's first probe is at a random point within the first `interval` (so
// hosts, and several proxies, do not probe in lock step), then every `interval`. Config
// validation guarantees timeout < interval, so probes of one host never overlap; a probe still
// running when the next is due (a loop stall) simply makes that tick skip.
//
// Threading and lifetime: loop thread only (construct, start, stop and destroy there). stop()
// aborts every probe and closes every timer; no callback reaches this object afterwards, so it
// may be destroyed right after stop() (the handles free themselves when the loop next runs).
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "config/model.h"
#include "net/loop.h"
#include "upstream/cluster.h"

namespace portcullis::upstream {

struct HealthCheckTarget {
  std::shared_ptr<const Cluster> cluster;
  config::HealthCheck check;
};

// One finished probe (for tests and debug logs).
struct ProbeResult {
  size_t target = 0;   // index into the targets given to the constructor
  size_t host = 0;     // index into that cluster's hosts()
  bool passed = false;
  std::string reason;  // "status 200", "status 503", "connect refused", "timeout", ...
};

class HealthChecker {
 public:
  using Observer = std::function<void(const ProbeResult&)>;

  // `seed` drives the stagger of first probes; 0 takes one from std::random_device.
  HealthChecker(net::Loop& loop, std::vector<HealthCheckTarget> targets, uint64_t seed = 0);
  ~HealthChecker();  // stop()
  HealthChecker(const HealthChecker&) = delete;
  HealthChecker& operator=(const HealthChecker&) = delete;

  // Marks hosts of unchecked clusters healthy and schedules the first probe of every checked
  // host. Call once.
  void start();
  // Idempotent. Aborts probes in flight and closes timers; nothing is called back afterwards.
  void stop();

  // Called after every probe, after the host's state has been updated. It may call stop(), but
  // must not destroy the checker (the probe is still on the stack).
  void setObserver(Observer observer) { observer_ = std::move(observer); }
  // Hosts being probed (summed over clusters with an enabled check).
  size_t probedHosts() const { return probers_.size(); }

 private:
  class Prober;
  friend class Prober;

  net::Loop& loop_;
  std::vector<HealthCheckTarget> targets_;
  std::vector<std::unique_ptr<Prober>> probers_;
  uint64_t seed_;
  Observer observer_;
  bool started_ = false;
  bool stopped_ = false;
};

}  // namespace portcullis::upstream
