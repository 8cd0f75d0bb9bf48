#include "proxy/router.h"

#include <algorithm>

#include "http/message.h"
#include "proxy/redirect.h"

namespace portcullis::proxy {

Router::Router(const config::Config& cfg) {
  for (size_t ri = 0; ri < cfg.routes.size(); ++ri) {
    const auto& r = cfg.routes[ri];
    Entry e;
    e.route = ri;
    if (r.host.empty()) {
      e.host_rank = 1;
    } else if (r.host.rfind("*.", 0) == 0) {
      e.host = r.host.substr(1);  // ".example.com"
      e.host_rank = 2;
    } else {
      e.host = r.host;
      e.host_rank = 3;
    }
    e.path = r.path_prefix;
    e.acme = isAcmeChallenge(e.path);
    e.cluster = RouteMatch::kNoCluster;
    for (size_t i = 0; i < cfg.upstreams.size(); ++i)
      if (cfg.upstreams[i].name == r.upstream) e.cluster = i;
    entries_.push_back(std::move(e));
  }
}

RouteMatch Router::match(std::string_view host, std::string_view path, bool acme_only) const {
  // Pick the best host tier first, then the longest path within it.
  int best_rank = 0;
  size_t best_suffix = 0;
  for (const auto& e : entries_) {
    if (acme_only && !e.acme) continue;
    bool ok = e.host_rank == 1 ||
              (e.host_rank == 3 && http::iequals(host, e.host)) ||
              (e.host_rank == 2 && matchesWildcard(host, e.host));
    if (!ok) continue;
    size_t suffix = e.host_rank == 2 ? e.host.size() : 0;
    if (e.host_rank > best_rank || (e.host_rank == best_rank && suffix > best_suffix)) {
      best_rank = e.host_rank;
      best_suffix = suffix;
    }
  }
  if (best_rank == 0) return {RouteMatch::Kind::NoHost, 0, 0};
  const Entry* best = nullptr;
  for (const auto& e : entries_) {
    if (acme_only && !e.acme) continue;
    if (e.host_rank != best_rank) continue;
    if (best_rank == 3 && !http::iequals(host, e.host)) continue;
    if (best_rank == 2 && (e.host.size() != best_suffix || !matchesWildcard(host, e.host))) continue;
    if (path.substr(0, e.path.size()) != e.path) continue;
    if (!best || e.path.size() > best->path.size()) best = &e;
  }
  if (!best) return {RouteMatch::Kind::NoPath, 0, 0};
  return {RouteMatch::Kind::Forward, best->cluster, best->route};
}

}  // namespace portcullis::proxy
