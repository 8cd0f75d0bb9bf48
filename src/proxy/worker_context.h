#pragma once
// What one worker's sessions share: its loop, the config snapshot, its upstream pools and the
// list of live sessions (for graceful drain). Owned by one worker thread; no locks.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "config/model.h"
#include "http/parser.h"
#include "net/loop.h"
#include "proxy/router.h"
#include "upstream/cluster.h"
#include "upstream/pool.h"

namespace portcullis::proxy {

class Session;

// Immutable once built (shared_ptr<const Runtime>): the config snapshot plus what is derived
// from it. In-flight sessions keep the snapshot they started with alive across a reload.
struct Runtime {
  std::shared_ptr<const config::Config> config;
  Router router;
  std::vector<std::shared_ptr<const upstream::Cluster>> clusters;  // aligned with config->upstreams
  http::ParserLimits parser_limits;
};

struct ListenerInfo {
  std::string name;
  bool tls = false;
  uint16_t https_port = 443;  // redirect listeners: port put in Location
  // Redirect listeners: when non-empty, only these host patterns ("example.com",
  // "*.example.com") are redirected; others get 421.
  std::vector<std::string> redirect_allowed_hosts;
  // TLS listeners: the Strict-Transport-Security value added to responses that lack one
  // (built once from config); empty = HSTS off.
  std::string hsts;
};

// A runtime snapshot together with this worker's pools for its clusters. A request holds the
// generation it started with, so a reload never changes the clusters (and pool indexes) under
// an exchange in flight; the old generation's pools stop keeping connections once retired.
struct Generation {
  explicit Generation(std::shared_ptr<const Runtime> rt);
  ~Generation();
  // Closes idle pooled connections; connections released later are closed, not pooled.
  void retire();
  std::shared_ptr<const Runtime> runtime;
  std::vector<std::unique_ptr<upstream::Pool>> pools;
};

class WorkerContext {
 public:
  WorkerContext(net::Loop& loop, std::shared_ptr<const Runtime> runtime);
  ~WorkerContext();

  net::Loop& loop() { return loop_; }
  const std::shared_ptr<Generation>& current() const { return current_; }
  // Reload: requests that start from now on use `runtime`; the previous generation lives on
  // in the sessions still using it.
  void setRuntime(std::shared_ptr<const Runtime> runtime);

  void add(Session* s);
  void remove(Session* s);
  size_t sessionCount() const { return sessions_; }

  // Stop taking new requests: idle keep-alive sessions close now, busy ones close after their
  // current response (which carries Connection: close), pools close their idle connections.
  void beginDrain();
  bool draining() const { return draining_; }
  // Drain deadline passed: close whatever is left.
  void abortAll();
  // Releases the buffers of connections idle for at least `min_idle_ms`. Run once a second by
  // the worker: memory per idle keep-alive connection drops to its structs and TLS state
  // without a malloc/free pair per request on busy connections.
  void releaseIdleBuffers(uint64_t min_idle_ms);

 private:
  net::Loop& loop_;
  std::shared_ptr<Generation> current_;
  Session* head_ = nullptr;  // intrusive list: O(1) add/remove with thousands of connections
  size_t sessions_ = 0;
  bool draining_ = false;
};

}  // namespace portcullis::proxy
