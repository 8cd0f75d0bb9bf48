#include "server/control.h"

#include "base/log.h"

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

void Control::start(std::shared_ptr<const proxy::Runtime> runtime) {
  if (started_.exchange(true)) return;
  thread_ = std::thread([this, rt = std::move(runtime)]() mutable { run(std::move(rt)); });
}

void Control::run(std::shared_ptr<const proxy::Runtime> runtime) {
  keep_alive_ = net::Timer::create(loop_, [] {});
  keep_alive_->start(kKeepAliveMs, kKeepAliveMs);
  install(std::move(runtime));
  loop_.run();
}

void Control::install(std::shared_ptr<const proxy::Runtime> runtime) {
  if (stopped_.load() || !runtime || runtime == runtime_) return;
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

void Control::stop() {
  if (!started_.load() || stopped_.exchange(true)) {
    if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
    return;
  }
  loop_.post([this] {
    if (checker_) checker_->stop();
    checker_.reset();
    runtime_.reset();
    if (keep_alive_) std::exchange(keep_alive_, nullptr)->close();
    // Nothing keeps the loop alive now but the closing handles: run() returns once they are
    // freed (aborted probes close at once).
  });
  if (thread_.joinable()) thread_.join();
}

}  // namespace portcullis::server
