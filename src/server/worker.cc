#include "server/worker.h"

#include <unistd.h>

#include <optional>

#include "base/log.h"
#include "net/listener.h"
#include "net/timer.h"
#include "proxy/access_log.h"
#include "proxy/h1_connection.h"
#include "proxy/request_stats.h"

namespace portcullis::server {

Worker::Worker(int id, std::shared_ptr<const proxy::Runtime> runtime, std::vector<WorkerListener> listeners)
    : id_(id),
      runtime_(std::move(runtime)),
      listeners_(std::move(listeners)),
      stats_(base::stats::Registry::global().addShard()) {}

Worker::~Worker() {
  join();
  for (auto& l : listeners_)
    if (l.fd >= 0) ::close(l.fd);
}

void Worker::start() { thread_ = std::thread([this] { run(); }); }

void Worker::join() {
  if (thread_.joinable()) thread_.join();
}

void Worker::run() {
  // Declared before ctx, so it outlives it (observers must); flushes what is left when it goes.
  std::optional<proxy::AccessLog> access_log;
  proxy::WorkerContext ctx(loop_, runtime_, static_cast<uint64_t>(id_));
  ctx.setStatsShard(stats_);
  proxy::RequestStats request_stats(*stats_);
  request_stats.setSlots(runtime_->stats);
  ctx.addObserver(&request_stats);
  net::Timer* access_log_flush = nullptr;
  if (access_log_writer_) {
    access_log.emplace(*access_log_writer_, access_log_format_);
    ctx.addObserver(&*access_log);
    // A quiet proxy's lines reach the file within a second instead of waiting for 64 KiB.
    access_log_flush = net::Timer::create(loop_, [&access_log] { access_log->flush(); });
    access_log_flush->start(1000, 1000);
    access_log_flush->unref();
  }
  std::vector<net::Listener*> listeners(listeners_.size(), nullptr);
  for (size_t i = 0; i < listeners_.size(); ++i) {
    auto& l = listeners_[i];
    const proxy::ListenerInfo* info = &l.info;
    auto adopted = net::Listener::adopt(loop_, l.fd, l.tls, [&ctx, info](net::Connection& c) -> net::ConnectionHandler* {
      if (ctx.draining()) return nullptr;
      return new proxy::H1Connection(ctx, c, *info);
    });
    l.fd = -1;  // the listener owns it now (closed with it, even on failure)
    if (!adopted) {
      base::log::error("worker ", id_, ": ", adopted.error().message);
      continue;
    }
    listeners[i] = *adopted;
  }
  reload_ = [&](std::shared_ptr<const proxy::Runtime> runtime, std::vector<WorkerListener> updates) {
    request_stats.setSlots(runtime->stats);
    ctx.setRuntime(std::move(runtime));
    for (size_t i = 0; i < updates.size() && i < listeners_.size(); ++i) {
      // Connections hold a reference to their ListenerInfo: assign in place, on this thread,
      // between events, so no connection ever sees it half-written.
      listeners_[i].info = std::move(updates[i].info);
      listeners_[i].tls = updates[i].tls;
      if (listeners[i]) listeners[i]->setTls(updates[i].tls);
    }
  };

  // Once a second, connections idle for a second or more give their buffers back.
  net::Timer* sweep = net::Timer::create(loop_, [&ctx] { ctx.releaseIdleBuffers(1000); });
  sweep->start(1000, 1000);
  sweep->unref();

  bool drained = false;
  drain_ = [&](uint64_t grace_ms) {
    if (drained) return;
    drained = true;
    for (auto*& l : listeners) {
      if (l) l->close();
      l = nullptr;
    }
    ctx.beginDrain();
    // The deadline must not keep the loop alive by itself: if every connection ends sooner, the
    // loop runs out of work and the worker exits at once.
    net::Timer* deadline = net::Timer::create(loop_, [&ctx] { ctx.abortAll(); });
    deadline->start(grace_ms);
    deadline->unref();
    deadline_ = deadline;
  };
  loop_.run();
  sweep->close();
  if (access_log_flush) access_log_flush->close();
  if (deadline_) deadline_->close();
  deadline_ = nullptr;
  drain_ = nullptr;
  reload_ = nullptr;
  // Whatever is left (a connection whose handles had gone quiet) must end while ctx still exists,
  // since connections unlink themselves from it; one more run lets the close callbacks and
  // deferred deletions happen.
  ctx.abortAll();
  loop_.run();
}

void Worker::reload(std::shared_ptr<const proxy::Runtime> runtime, std::vector<WorkerListener> listeners) {
  // std::function needs a copyable callable: carry the move-only arguments in a shared_ptr.
  auto args = std::make_shared<std::pair<std::shared_ptr<const proxy::Runtime>, std::vector<WorkerListener>>>(
      std::move(runtime), std::move(listeners));
  loop_.post([this, args] {
    if (reload_) reload_(std::move(args->first), std::move(args->second));
  });
}

void Worker::drain(uint64_t grace_ms) {
  loop_.post([this, grace_ms] {
    if (drain_) drain_(grace_ms);
  });
}

}  // namespace portcullis::server
