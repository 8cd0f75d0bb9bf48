#pragma once
// What one worker's connections share: its loop, the config snapshot, its upstream pools and the
// list of live downstream connections (for graceful drain). Owned by one worker thread; no locks.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "config/model.h"
#include "http/parser.h"
#include "http/static_file.h"
#include "net/file_cache.h"
#include "net/loop.h"
#include "net/timer.h"
#include "proxy/request_record.h"
#include "proxy/request_stats.h"
#include "proxy/router.h"
#include "upstream/balancer.h"
#include "upstream/cluster.h"
#include "upstream/request_queue.h"
#include "upstream/pool.h"

namespace portcullis::proxy {

class Exchange;
class WorkerContext;

// Immutable once built (shared_ptr<const Runtime>): the config snapshot plus what is derived
// from it. In-flight requests keep the snapshot they started with alive across a reload.
struct Runtime {
  std::shared_ptr<const config::Config> config;
  Router router;
  std::vector<std::shared_ptr<const upstream::Cluster>> clusters;  // aligned with config->upstreams
  http::ParserLimits parser_limits;
  // Content types for static files, loaded once per process (server/); null: all octet-stream.
  std::shared_ptr<const http::MimeTypes> mime_types;
  // Metric slots of this config's label sets (null when built without metrics, e.g. in tests).
  std::shared_ptr<const RequestSlots> stats;
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
  // TLS listeners: how long a new connection may take to finish its handshake (and send its
  // first request head), instead of client_header.
  uint64_t handshake_timeout_ms = 10'000;
  // mTLS: headers carrying the verified client certificate to upstreams. Client-sent headers
  // with these names are always removed; they are set only from a verified certificate.
  std::string client_subject_header;
  std::string client_fingerprint_header;
  // Metrics (proxy/request_stats.h): the listener's position in the config, stable for the
  // process since a reload cannot change listeners, and its connection counters.
  uint32_t index = 0;
  // Per protocol (kProtocolHttp11, kProtocolH2): counted once the protocol is known, so a TLS
  // connection that never finishes its handshake is in neither.
  uint32_t connections_accepted_slot[2] = {kNoSlot, kNoSlot};
  uint32_t connections_closed_slot[2] = {kNoSlot, kNoSlot};
  static constexpr uint32_t kNoSlot = UINT32_MAX;
};

// A downstream connection as the worker sees it, whatever its protocol: in its list for drain,
// abort and the idle-memory sweep.
class DownstreamConnection {
 public:
  virtual ~DownstreamConnection() = default;
  // Graceful: finish what is in flight, take nothing new, then close.
  virtual void drain() = 0;
  virtual void abort() = 0;
  // Gives back buffer memory if the connection has been quiet since before `idle_before_ms`
  // (loop time); true if it released anything (once per quiet period).
  virtual bool releaseIfIdle(uint64_t idle_before_ms) = 0;

 private:
  friend class WorkerContext;
  DownstreamConnection* prev_ = nullptr;  // WorkerContext's intrusive list
  DownstreamConnection* next_ = nullptr;
  const ListenerInfo* listener_ = nullptr;
  uint8_t protocol_ = 0;
  bool counted_ = false;  // in the accepted counter: the closed one follows
};

// A runtime snapshot together with this worker's pools for its clusters. A request holds the
// generation it started with, so a reload never changes the clusters (and pool indexes) under
// an exchange in flight; the old generation's pools stop keeping connections once retired.
struct Generation {
  Generation(std::shared_ptr<const Runtime> rt, uint64_t seed);
  ~Generation();
  // Closes idle pooled connections; connections released later are closed, not pooled.
  void retire();
  std::shared_ptr<const Runtime> runtime;
  // Per cluster, this worker's own: idle connections, balancer cursor, waiting requests.
  std::vector<std::unique_ptr<upstream::Pool>> pools;
  std::vector<std::unique_ptr<upstream::Balancer>> balancers;
  std::vector<std::unique_ptr<upstream::RequestQueue>> queues;
};

class WorkerContext {
 public:
  // `seed` (the worker index) staggers per-worker balancer state.
  WorkerContext(net::Loop& loop, std::shared_ptr<const Runtime> runtime, uint64_t seed = 0);
  ~WorkerContext();

  net::Loop& loop() { return loop_; }
  // Static files: this worker's open fds and negative results, 2 s validity.
  net::FileCache& fileCache() { return file_cache_; }
  const std::shared_ptr<Generation>& current() const { return current_; }
  // Reload: requests that start from now on use `runtime`; the previous generation lives on
  // in the requests still using it.
  void setRuntime(std::shared_ptr<const Runtime> runtime);

  // A new downstream connection (its protocol's connection counters start once it is known:
  // countAccepted). remove() is idempotent.
  void add(DownstreamConnection* c, const ListenerInfo& listener);
  void countAccepted(DownstreamConnection* c, uint8_t protocol);
  void remove(DownstreamConnection* c);

  // This worker's stats shard (connections accepted and closed); null: not counted. Set by the
  // worker before its loop runs.
  void setStatsShard(base::stats::Shard* shard) { stats_ = shard; }
  base::stats::Shard* statsShard() const { return stats_; }

  // Observers of finished requests (access log, metrics), told in the order added. Set up by the
  // worker before its loop runs; they must outlive this context.
  void addObserver(RequestObserver* o) {
    observers_.push_back(o);
    records_text_ = records_text_ || o->readsText();
  }
  // Some observer reads the records' text: requests copy it out of their heads.
  bool recordsText() const { return records_text_; }
  void requestDone(const RequestRecord& r) {
    for (RequestObserver* o : observers_) o->onRequestDone(r);
  }
  void tunnelOpened(const RequestRecord& r) {
    for (RequestObserver* o : observers_) o->onTunnelOpened(r);
  }
  void tunnelBytes(const RequestRecord& r, uint64_t to_upstream, uint64_t to_client) {
    for (RequestObserver* o : observers_) o->onTunnelBytes(r, to_upstream, to_client);
  }

  // Stop taking new requests: idle keep-alive connections close now, busy ones close after their
  // current response (which carries Connection: close), pools close their idle connections.
  void beginDrain();
  bool draining() const { return draining_; }
  // Drain deadline passed: close whatever is left.
  void abortAll();

  // Request queue (every host of a cluster at max_requests). Waiters are dispatched in
  // arrival order when a slot frees in this worker (onSlotFreed), and by a 5 ms sweep that
  // notices slots freed by other workers and expires waiters past the queue timeout. A sweep
  // rather than cross-thread wake-ups: the queue only exists under saturation, where 5 ms is
  // small next to the requests being waited for, and it keeps workers free of shared locks.
  bool enqueue(const std::shared_ptr<Generation>& gen, size_t cluster, Exchange& e);  // false: full
  void dequeue(Exchange& e);
  void onSlotFreed(const std::shared_ptr<Generation>& gen, size_t cluster);
  // Releases the buffers of connections idle for at least `min_idle_ms`. Run once a second by
  // the worker: memory per idle keep-alive connection drops to its structs and TLS state
  // without a malloc/free pair per request on busy connections.
  void releaseIdleBuffers(uint64_t min_idle_ms);

 private:
  void serviceQueues();
  void serviceQueue(Generation& gen, size_t cluster);

  net::Loop& loop_;
  net::FileCache file_cache_;
  uint64_t seed_;
  std::shared_ptr<Generation> current_;
  // Generations with queued requests (an old one stays here until its waiters are gone).
  std::vector<std::shared_ptr<Generation>> queued_;
  net::Timer* sweep_ = nullptr;
  bool sweeping_ = false;
  std::vector<RequestObserver*> observers_;
  base::stats::Shard* stats_ = nullptr;
  DownstreamConnection* head_ = nullptr;  // intrusive list: O(1) add/remove with thousands of connections
  bool draining_ = false;
  bool records_text_ = false;
};

}  // namespace portcullis::proxy
