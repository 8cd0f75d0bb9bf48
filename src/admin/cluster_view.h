#pragma once
// What the admin endpoints show of the upstreams, read at scrape time from the live state
// (HostState's relaxed atomics, the clusters' queue counters): per-host gauges and counters for
// /metrics and the read-only JSON of /clusters.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "admin/exposition.h"
#include "upstream/cluster.h"

namespace portcullis::admin {

using Clusters = std::vector<std::shared_ptr<const upstream::Cluster>>;

// `now_ms`: the monotonic clock of net::Loop::nowMs(), which ejections are measured in.
void writeClusterMetrics(Exposition& out, const Clusters& clusters, uint64_t now_ms);
std::string clustersJson(const Clusters& clusters, uint64_t now_ms);
// JSON string contents: quote, backslash and control characters escaped.
std::string jsonEscape(std::string_view s);

}  // namespace portcullis::admin
