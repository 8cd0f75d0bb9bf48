#pragma once
// Config -> everything the workers need, checked against the outside world: certificates are
// loaded (and must match their keys), upstream names are resolved. Runs on the main thread at
// start, on -t and on reload; errors name the YAML position that caused them.
#include <memory>
#include <vector>

#include "base/result.h"
#include "config/model.h"
#include "proxy/worker_context.h"
#include "tls/context.h"
#include "tls/ticket_keys.h"

namespace portcullis::server {

struct BuiltRuntime {
  std::shared_ptr<const proxy::Runtime> runtime;
  std::vector<std::shared_ptr<const tls::Context>> tls;  // per listener; null for plain listeners
  std::vector<std::string> warnings;  // non-fatal findings (a certificate expiring soon, ...)
};

// Resolves every upstream name and builds the clusters (blocking DNS: main thread only).
// `previous`: host states of same-named clusters and hosts carry over. `same_config`: `cfg` is
// the config `previous` was built from (a DNS refresh), so its TLS contexts are reused.
base::Result<std::vector<std::shared_ptr<const upstream::Cluster>>> buildClusters(const config::Config& cfg,
                                                                                const proxy::Runtime* previous,
                                                                                bool same_config = false);
// True when `clusters` has exactly the hosts (names, hence addresses) of `rt`'s clusters.
bool sameHosts(const proxy::Runtime& rt, const std::vector<std::shared_ptr<const upstream::Cluster>>& clusters);

// `previous` (on reload): host states of same-named clusters and hosts carry over.
base::Result<BuiltRuntime> buildRuntime(std::shared_ptr<const config::Config> cfg,
                                        const proxy::Runtime* previous = nullptr);

}  // namespace portcullis::server
