#pragma once
// The control loop (DESIGN 3.5): a thread of its own running a net::Loop that hosts the work
// kept off the workers' hot path: the active health checker (one per process, not per worker)
// and the admin listener (/metrics, /healthz, /clusters). Signals stay with the main thread's
// sigwait, which calls into this class.
//
// Every public method is thread-safe and meant for the main thread. The health checker lives
// on the control thread only: update() hands it the new runtime through Loop::post, and the
// checker for the old runtime is stopped there before the new one starts, so HostState keeps a
// single writer. Health itself survives a reload because same-named hosts share their HostState
// (server/runtime_builder.cc); only the rise/fall counters start again.
#include <atomic>
#include <memory>
#include <thread>

#include "admin/admin_server.h"
#include "net/loop.h"
#include "net/timer.h"
#include "proxy/worker_context.h"
#include "server/metrics.h"
#include "upstream/health_checker.h"

namespace portcullis::server {

class Control {
 public:
  Control() = default;
  ~Control();  // stop()
  Control(const Control&) = delete;
  Control& operator=(const Control&) = delete;

  // Starts the control thread with health checks for `runtime`, and the admin listener on
  // `admin_fd` (bound and listening; -1: none). `process` must outlive this object. Call once.
  void start(std::shared_ptr<const proxy::Runtime> runtime, ProcessStats* process = nullptr, int admin_fd = -1);
  // After a reload: replaces the health checker with one for `runtime`. The same runtime as the
  // current one (a reload that failed) changes nothing, so the counters are not reset.
  void update(std::shared_ptr<const proxy::Runtime> runtime);
  // SIGTERM: /healthz answers 503 from now on (ProcessStats::draining) and health checks stop
  // (no health flips while draining); the admin listener keeps serving until stop().
  void beginDrain();
  // Stops every check and the admin listener, lets the loop process the closes, and joins the
  // thread. Idempotent; a no-op before start().
  void stop();

 private:
  void run(std::shared_ptr<const proxy::Runtime> runtime, int admin_fd);
  // Loop thread only.
  void install(std::shared_ptr<const proxy::Runtime> runtime);

  net::Loop loop_;
  std::thread thread_;
  std::atomic<bool> started_{false};
  std::atomic<bool> stopped_{false};
  // Loop thread only.
  std::shared_ptr<const proxy::Runtime> runtime_;
  std::unique_ptr<upstream::HealthChecker> checker_;
  net::Timer* keep_alive_ = nullptr;
  ProcessStats* process_ = nullptr;
  std::unique_ptr<admin::AdminServer> admin_;
};

// The health-check targets of `runtime`: each cluster with its upstream's health_check
// (clusters are aligned with config->upstreams).
std::vector<upstream::HealthCheckTarget> healthCheckTargets(const proxy::Runtime& runtime);

}  // namespace portcullis::server
