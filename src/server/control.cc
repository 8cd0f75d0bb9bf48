#include "server/control.h"

#include <unistd.h>

#include "admin/cluster_view.h"
#include "base/log.h"
#include "base/stats.h"

namespace portcullis::server {
namespace {
// The loop's own async handle does not keep it running (Loop unrefs it), and with no health
// checks configured nothing else would: this idle timer keeps the control loop alive until
// stop(). It fires once an hour and does nothing.
constexpr uint64_t kKeepAliveMs = 3'600'000;
}  // namespace

std::vector<upstream::HealthCheckTarget> healthCheckTargets(const proxy::Runtime& runtime) {
  std::vector<upstream::HealthCheckTarget> out;
  if (!runtime.config) return out;
  const auto& ups = runtime.config->upstreams;
  for (size_t i = 0; i < runtime.clusters.size() && i < ups.size(); ++i)
    out.push_back(upstream::HealthCheckTarget{runtime.clusters[i], ups[i].health_check});
  return out;
}

Control::~Control() { stop(); }

void Control::start(std::shared_ptr<const proxy::Runtime> runtime, ProcessStats* process, int admin_fd) {
  if (started_.exchange(true)) {
    if (admin_fd >= 0) ::close(admin_fd);
    return;
  }
  process_ = process;
  thread_ = std::thread([this, rt = std::move(runtime), admin_fd]() mutable { run(std::move(rt), admin_fd); });
}

void Control::run(std::shared_ptr<const proxy::Runtime> runtime, int admin_fd) {
  keep_alive_ = net::Timer::create(loop_, [] {});
  keep_alive_->start(kKeepAliveMs, kKeepAliveMs);
  install(std::move(runtime));
  if (admin_fd >= 0) {
    // Everything the handlers read is either this thread's (runtime_) or atomics and the
    // registry's own lock: a scrape never blocks a worker.
    admin::Handlers h;
    h.metrics = [this] {
      static const ProcessStats kNone;  // started without process stats (tests)
      return renderMetrics(base::stats::Registry::global(), process_ ? *process_ : kNone, runtime_.get(),
                           loop_.nowMs());
    };
    h.clusters = [this] {
      return runtime_ ? admin::clustersJson(runtime_->clusters, loop_.nowMs()) : std::string("{\"clusters\":[]}\n");
    };
    h.draining = [this] { return process_ && process_->draining.load(std::memory_order_relaxed); };
    admin_ = std::make_unique<admin::AdminServer>(loop_, std::move(h));
    if (auto r = admin_->start(admin_fd); !r) {
      base::log::error("admin listener: ", r.error().message);
      admin_.reset();
    }
  }
  loop_.run();
}

void Control::install(std::shared_ptr<const proxy::Runtime> runtime) {
  if (stopped_.load() || !runtime || runtime == runtime_) return;
  if (process_ && process_->draining.load(std::memory_order_relaxed)) return;
  if (checker_) checker_->stop();  // before the new one writes: one writer per HostState
  checker_.reset();
  runtime_ = std::move(runtime);
  checker_ = std::make_unique<upstream::HealthChecker>(loop_, healthCheckTargets(*runtime_));
  checker_->start();
  if (checker_->probedHosts() > 0) base::log::info("health checks: probing ", checker_->probedHosts(), " hosts");
}

void Control::update(std::shared_ptr<const proxy::Runtime> runtime) {
  if (!started_.load() || stopped_.load()) return;
  // std::function needs a copyable callable; a shared_ptr copy is one.
  loop_.post([this, runtime] { install(runtime); });
}

void Control::beginDrain() {
  if (process_) process_->draining.store(true, std::memory_order_relaxed);
  if (!started_.load() || stopped_.load()) return;
  loop_.post([this] {
    if (checker_) checker_->stop();
    checker_.reset();
  });
}

void Control::stop() {
  if (!started_.load() || stopped_.exchange(true)) {
    if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
    return;
  }
  loop_.post([this] {
    if (checker_) checker_->stop();
    checker_.reset();
    if (admin_) admin_->close();
    admin_.reset();
    runtime_.reset();
    if (keep_alive_) std::exchange(keep_alive_, nullptr)->close();
    // Nothing keeps the loop alive now but the closing handles: run() returns once they are
    // freed (aborted probes close at once).
  });
  if (thread_.joinable()) thread_.join();
}

}  // namespace portcullis::server
