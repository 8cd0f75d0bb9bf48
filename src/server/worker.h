#pragma once
// One worker: a thread running its own loop, with its own SO_REUSEPORT listening sockets,
// upstream pools and downstream connections. Nothing in it is shared with other workers except the immutable
// runtime snapshot and the hosts' relaxed atomics (in-flight counts, health, ejections).
#include <cstdint>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "base/log_writer.h"
#include "config/model.h"
#include "base/stats.h"
#include "net/loop.h"
#include "net/timer.h"
#include "proxy/worker_context.h"
#include "tls/context.h"

namespace portcullis::server {

struct WorkerListener {
  int fd = -1;  // bound and listening; the worker's loop adopts it
  proxy::ListenerInfo info;
  std::shared_ptr<const tls::Context> tls;
};

class Worker {
 public:
  Worker(int id, std::shared_ptr<const proxy::Runtime> runtime, std::vector<WorkerListener> listeners);
  ~Worker();
  // Before start(): log every request to `writer` (the process's one access log writer) in
  // `format`, through a buffer of this worker's own. Null: no access log.
  void setAccessLog(base::LogWriter* writer, config::AccessLogFormat format) {
    access_log_writer_ = writer;
    access_log_format_ = format;
  }
  void start();
  // Thread-safe. Stops accepting, lets in-flight requests finish for up to `grace_ms`, then
  // closes the rest; the thread ends when nothing is left.
  void drain(uint64_t grace_ms);
  // Thread-safe. New requests use `runtime`; each listener (matched by position, as bound at
  // start) takes its new info and TLS context for connections accepted from now on; listeners
  // past the end of `listeners` (all of them when it is empty) keep theirs.
  void reload(std::shared_ptr<const proxy::Runtime> runtime, std::vector<WorkerListener> listeners);
  void join();

 private:
  void run();

  int id_;
  std::shared_ptr<const proxy::Runtime> runtime_;
  std::vector<WorkerListener> listeners_;
  net::Loop loop_;
  std::thread thread_;
  // Set while run() is active; only touched on the worker's thread (via loop_.post).
  std::function<void(uint64_t)> drain_;
  std::function<void(std::shared_ptr<const proxy::Runtime>, std::vector<WorkerListener>)> reload_;
  net::Timer* deadline_ = nullptr;
  base::LogWriter* access_log_writer_ = nullptr;
  config::AccessLogFormat access_log_format_ = config::AccessLogFormat::Json;
  base::stats::Shard* stats_;  // this worker's counters (base::stats::Registry::global())
};

}  // namespace portcullis::server
