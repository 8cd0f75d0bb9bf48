#pragma once
// Host/path -> cluster. Built once per config snapshot; lookups allocate nothing.
//
// Precedence (as nginx server_name + location): the most specific host wins (exact, then the
// longest wildcard suffix, then routes with no host), and within that host the longest path
// prefix wins. A request no route matches is not sent to a random upstream:
// - no route's host matches the Host header -> 421 Misdirected Request (RFC 9110 §15.5.20: this
//   server is not configured to answer for that authority), so a stray DNS name or a scanner
//   learns nothing about the apps behind the proxy;
// - a host matches but no path prefix does -> 404.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "config/model.h"

namespace portcullis::proxy {

struct RouteMatch {
  enum class Kind { Forward, NoHost, NoPath } kind = Kind::NoHost;
  // A static route without fallback names no upstream.
  static constexpr size_t kNoCluster = SIZE_MAX;
  size_t cluster = 0;  // index into Config::upstreams, for Forward; kNoCluster: none
  size_t route = 0;    // index into Config::routes, for Forward
};

class Router {
 public:
  Router() = default;
  explicit Router(const config::Config& cfg);
  // `host` without port, any case. `acme_only` restricts matching to routes whose path prefix
  // starts with /.well-known/acme-challenge/ (the redirect listener answers nothing else).
  RouteMatch match(std::string_view host, std::string_view path, bool acme_only = false) const;

 private:
  struct Entry {
    std::string host;  // "" any, "example.com" exact, ".example.com" for "*.example.com"
    int host_rank;     // 3 exact, 2 wildcard, 1 any; for wildcards also the suffix length
    std::string path;
    size_t cluster;
    size_t route;
    bool acme;
  };
  std::vector<Entry> entries_;
};

}  // namespace portcullis::proxy
