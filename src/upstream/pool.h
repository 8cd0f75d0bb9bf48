#pragma once
// Idle keep-alive upstream connections of one worker for one cluster, per host. No locks: a
// pool belongs to one worker's loop. While a connection is idle the pool is its handler: any
// byte, EOF or error from the upstream means the connection is no longer usable, so it is
// closed and forgotten; the idle timeout (kept below the app server's keep-alive) closes it
// before the upstream would.
#include <cstddef>
#include <vector>

#include "net/connection.h"
#include "upstream/cluster.h"

namespace portcullis::upstream {

class Pool : public net::ConnectionHandler {
 public:
  explicit Pool(const Cluster& cluster);
  ~Pool();
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  // Most recently used idle connection to `host`, or nullptr. The caller becomes its handler.
  net::Connection* take(size_t host);
  // Returns a connection with a complete exchange behind it and nothing unread. Closes it
  // instead when the host already has max_idle idle connections.
  void put(size_t host, net::Connection* conn);
  size_t idleCount() const;
  void closeAll();
  // After a reload or at shutdown: closes idle connections and makes put() close instead.
  void retire();

  void onData(net::Connection& c) override;
  void onEof(net::Connection& c) override;
  void onTimeout(net::Connection& c) override;
  void onClose(net::Connection& c, net::CloseReason why) override;

 private:
  void forget(net::Connection& c);
  const Cluster& cluster_;
  bool retired_ = false;
  std::vector<std::vector<net::Connection*>> idle_;  // per host, most recent last
};

}  // namespace portcullis::upstream
