#pragma once
// Internal to src/tls/: ClientContext's state, shared by client_context.cc (which fills the
// session cache from BoringSSL's new-session callback) and engine.cc (which offers a cached
// session when it opens a connection).
#include <openssl/ssl.h>

#include <cstddef>
#include <mutex>
#include <string>
#include <unordered_map>

#include "tls/client_context.h"

namespace portcullis::tls {

// The last session per host. Thread-safe: a mutex per lookup or store, i.e. per upstream
// connection setup and per ticket received, never per request.
//
// One session per host, reused by every new connection until the server sends a fresh one.
// RFC 8446 §C.4 advises clients not to reuse a TLS 1.3 ticket, because reuse lets a passive
// observer link the connections; between a proxy and its own upstreams that linkage reveals
// nothing, and reuse keeps every new connection resumable even when several open at once.
class ClientSessionCache {
 public:
  void setCapacity(size_t n) { capacity_ = n; }
  // Returns a new reference to the cached session for `host`, or null.
  bssl::UniquePtr<SSL_SESSION> get(const std::string& host) const {
    std::lock_guard lock(mu_);
    auto it = sessions_.find(host);
    if (it == sessions_.end()) return nullptr;
    return bssl::UpRef(it->second);
  }
  // Takes ownership of `session` as the latest for `host`. At capacity, another host's session
  // goes first (any one: the cache holds upstream hosts, a short list where any eviction is
  // just one full handshake later).
  void put(const std::string& host, bssl::UniquePtr<SSL_SESSION> session) {
    if (capacity_ == 0 || !SSL_SESSION_is_resumable(session.get())) return;
    std::lock_guard lock(mu_);
    auto it = sessions_.find(host);
    if (it != sessions_.end()) {
      it->second = std::move(session);
      return;
    }
    if (sessions_.size() >= capacity_) sessions_.erase(sessions_.begin());
    sessions_.emplace(host, std::move(session));
  }
  size_t size() const {
    std::lock_guard lock(mu_);
    return sessions_.size();
  }
  void clear() {
    std::lock_guard lock(mu_);
    sessions_.clear();
  }

 private:
  size_t capacity_ = 0;
  mutable std::mutex mu_;
  std::unordered_map<std::string, bssl::UniquePtr<SSL_SESSION>> sessions_;
};

struct ClientContext::Impl {
  bool verify = true;
  ClientSessionCache sessions;
  bssl::UniquePtr<SSL_CTX> ctx;  // last: freed first, it points at this Impl
};

}  // namespace portcullis::tls
