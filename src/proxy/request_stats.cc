#include "proxy/request_stats.h"

#include <iterator>

#include "proxy/error_map.h"
#include "proxy/worker_context.h"

namespace portcullis::proxy {
namespace {

using base::stats::Kind;
using base::stats::Registry;

constexpr uint64_t kMicrosPerSecond = 1'000'000;
constexpr std::string_view kClassNames[kStatusClasses] = {"1xx", "2xx", "3xx", "4xx", "5xx"};
static_assert(static_cast<size_t>(ErrorKind::ClientClosed) + 1 == kErrorKinds, "kErrorKinds must count every ErrorKind");

std::vector<uint64_t> bounds(std::span<const uint64_t> b) { return {b.begin(), b.end()}; }

size_t statusClass(int status) {
  if (status < 200) return 0;
  if (status >= 500) return 4;
  return static_cast<size_t>(status / 100 - 1);
}

struct Families {
  uint32_t requests, duration, bytes_in, bytes_out, errors, connect, first_byte, retries, queued, queue_timeouts;
  uint32_t accepted, closed;
  uint32_t tunnels_opened, tunnels_closed, tunnel_bytes;
};

// Registering is idempotent (by name), so each build looks the ids up again: off the request
// path, and tests may use registries of their own.
Families families(Registry& r) {
  Families f{};
  f.requests = r.family("portcullis_requests_total", "Requests served, by listener, route, cluster and status class.",
                        Kind::Counter, {"listener", "route", "cluster", "code"});
  f.duration = r.family("portcullis_request_duration_seconds",
                        "Time from a request's first byte to its last response byte.", Kind::Histogram,
                        {"listener", "route", "cluster"}, bounds(kDurationBucketsUs), kMicrosPerSecond);
  f.bytes_in = r.family("portcullis_request_bytes_total",
                        "Request bytes read from clients (head and body, plaintext, framing included).",
                        Kind::Counter, {"listener"});
  f.bytes_out = r.family("portcullis_response_bytes_total",
                         "Response bytes handed to clients (head and body, plaintext, framing included).",
                         Kind::Counter, {"listener"});
  f.errors = r.family("portcullis_request_errors_total", "Requests that ended in an error, by kind.", Kind::Counter,
                      {"listener", "error"});
  f.connect = r.family("portcullis_upstream_connect_duration_seconds",
                       "Time from a request's first byte until its upstream connection was ready.", Kind::Histogram,
                       {"cluster"}, bounds(kUpstreamBucketsUs), kMicrosPerSecond);
  f.first_byte = r.family("portcullis_upstream_first_byte_duration_seconds",
                          "Time from a request's first byte to the first response byte from the upstream.",
                          Kind::Histogram, {"cluster"}, bounds(kUpstreamBucketsUs), kMicrosPerSecond);
  f.retries = r.family("portcullis_upstream_retries_total", "Upstream attempts on another host after a failure.",
                       Kind::Counter, {"cluster"});
  f.queued = r.family("portcullis_upstream_queued_total",
                      "Requests that waited in the cluster's queue (every host at max_requests).", Kind::Counter,
                      {"cluster"});
  f.queue_timeouts = r.family("portcullis_upstream_queue_timeouts_total",
                              "Queued requests that gave up waiting (503).", Kind::Counter, {"cluster"});
  f.accepted = r.family("portcullis_connections_accepted_total", "Client connections accepted.", Kind::Counter,
                        {"listener", "protocol"});
  f.closed = r.family("portcullis_connections_closed_total", "Client connections closed.", Kind::Counter,
                      {"listener", "protocol"});
  f.tunnels_opened = r.family("portcullis_tunnels_total", "WebSocket tunnels opened (the upstream answered 101).",
                              Kind::Counter, {"cluster"});
  f.tunnels_closed = r.family("portcullis_tunnels_closed_total", "WebSocket tunnels ended.", Kind::Counter, {"cluster"});
  f.tunnel_bytes = r.family("portcullis_tunnel_bytes_total",
                            "Bytes relayed through WebSocket tunnels (direction to_upstream or to_client).",
                            Kind::Counter, {"cluster", "direction"});
  return f;
}

}  // namespace

std::string routeLabel(const config::Route& r) { return (r.host.empty() ? std::string("*") : r.host) + r.path_prefix; }

std::shared_ptr<const RequestSlots> buildRequestSlots(Registry& reg, const config::Config& cfg) {
  const Families f = families(reg);
  auto s = std::make_shared<RequestSlots>();
  s->listeners = cfg.listeners.size();
  s->routes = cfg.routes.size();
  for (const auto& u : cfg.upstreams) s->clusters.push_back(u.name);
  for (const auto& r : cfg.routes) s->route_clusters.push_back(r.upstream);
  for (const auto& l : cfg.listeners) {
    for (size_t route = 0; route <= s->routes; ++route) {
      std::string route_label = route == 0 ? "" : routeLabel(cfg.routes[route - 1]);
      std::string cluster = route == 0 ? "" : s->route_clusters[route - 1];
      for (std::string_view c : kClassNames)
        s->requests.push_back(reg.slot(f.requests, {l.name, route_label, cluster, std::string(c)}));
      s->duration.push_back(reg.slot(f.duration, {l.name, route_label, cluster}));
    }
    for (const auto& r : cfg.routes) {
      const bool own = r.static_files && !r.upstream.empty();
      for (std::string_view c : kClassNames)
        s->static_requests.push_back(own ? reg.slot(f.requests, {l.name, routeLabel(r), "", std::string(c)})
                                         : RequestSlots::kNoStaticSlot);
      s->static_duration.push_back(own ? reg.slot(f.duration, {l.name, routeLabel(r), ""}) : RequestSlots::kNoStaticSlot);
    }
    s->bytes_in.push_back(reg.slot(f.bytes_in, {l.name}));
    s->bytes_out.push_back(reg.slot(f.bytes_out, {l.name}));
    for (size_t k = 0; k < kErrorKinds; ++k)
      s->errors.push_back(reg.slot(f.errors, {l.name, std::string(errorName(static_cast<ErrorKind>(k)))}));
  }
  for (const auto& c : s->clusters) {
    s->connect.push_back(reg.slot(f.connect, {c}));
    s->first_byte.push_back(reg.slot(f.first_byte, {c}));
    s->retries.push_back(reg.slot(f.retries, {c}));
    s->queued.push_back(reg.slot(f.queued, {c}));
    s->queue_timeouts.push_back(reg.slot(f.queue_timeouts, {c}));
    s->tunnels_opened.push_back(reg.slot(f.tunnels_opened, {c}));
    s->tunnels_closed.push_back(reg.slot(f.tunnels_closed, {c}));
    s->tunnel_to_upstream.push_back(reg.slot(f.tunnel_bytes, {c, "to_upstream"}));
    s->tunnel_to_client.push_back(reg.slot(f.tunnel_bytes, {c, "to_client"}));
  }
  return s;
}

void assignListenerSlots(Registry& reg, ListenerInfo& info, size_t index) {
  const Families f = families(reg);
  info.index = static_cast<uint32_t>(index);
  // HTTP/2 is offered over TLS only: a plain listener has no h2 series.
  for (uint8_t p = kHttp11; p <= (info.tls ? kH2 : kHttp11); ++p) {
    std::string protocol(kProtocolNames[p]);
    info.connections_accepted_slot[p] = reg.slot(f.accepted, {info.name, protocol});
    info.connections_closed_slot[p] = reg.slot(f.closed, {info.name, protocol});
  }
}

void RequestStats::onRequestDone(const RequestRecord& r) {
  const RequestSlots* s = slots_.get();
  if (!s || !r.listener || r.listener->index >= s->listeners) return;
  const size_t l = r.listener->index;
  // A request that began before a reload carries the old config's indexes: count it under its
  // route and cluster only when the names still agree, else under "no route" (rare, and never
  // in the wrong route's series).
  const long cluster = clusterOf(r);
  const bool cluster_ok = cluster >= 0;
  size_t route = 0;
  if (r.route >= 0 && static_cast<size_t>(r.route) < s->routes &&
      (r.cluster < 0 || s->route_clusters[static_cast<size_t>(r.route)] == r.cluster_name)) {
    route = static_cast<size_t>(r.route) + 1;
  }
  const size_t lr = l * (s->routes + 1) + route;
  const size_t ls = route ? l * s->routes + route - 1 : 0;
  if (r.static_file && route && s->static_duration[ls] != RequestSlots::kNoStaticSlot) {
    shard_.add(s->static_requests[ls * kStatusClasses + statusClass(r.status)]);
    shard_.observe(s->static_duration[ls], kDurationBucketsUs, r.duration_us);
  } else {
    shard_.add(s->requests[lr * kStatusClasses + statusClass(r.status)]);
    shard_.observe(s->duration[lr], kDurationBucketsUs, r.duration_us);
  }
  shard_.add(s->bytes_in[l], r.bytes_in);
  shard_.add(s->bytes_out[l], r.bytes_out);
  if (r.has_error && static_cast<size_t>(r.error) < kErrorKinds)
    shard_.add(s->errors[l * kErrorKinds + static_cast<size_t>(r.error)]);
  if (!cluster_ok) return;
  const auto c = static_cast<size_t>(cluster);
  if (r.upstream_connect_us >= 0)
    shard_.observe(s->connect[c], kUpstreamBucketsUs, static_cast<uint64_t>(r.upstream_connect_us));
  if (r.upstream_first_byte_us >= 0)
    shard_.observe(s->first_byte[c], kUpstreamBucketsUs, static_cast<uint64_t>(r.upstream_first_byte_us));
  if (r.retries) shard_.add(s->retries[c], r.retries);
  if (r.queued) shard_.add(s->queued[c]);
  if (r.queue_timeout) shard_.add(s->queue_timeouts[c]);
  if (r.tunnel) shard_.add(s->tunnels_closed[c]);
}

long RequestStats::clusterOf(const RequestRecord& r) const {
  const RequestSlots* s = slots_.get();
  if (!s || r.cluster < 0 || static_cast<size_t>(r.cluster) >= s->clusters.size() ||
      s->clusters[static_cast<size_t>(r.cluster)] != r.cluster_name)
    return -1;
  return r.cluster;
}

void RequestStats::onTunnelOpened(const RequestRecord& r) {
  if (long c = clusterOf(r); c >= 0) shard_.add(slots_->tunnels_opened[static_cast<size_t>(c)]);
}

void RequestStats::onTunnelBytes(const RequestRecord& r, uint64_t to_upstream, uint64_t to_client) {
  long c = clusterOf(r);
  if (c < 0) return;
  if (to_upstream) shard_.add(slots_->tunnel_to_upstream[static_cast<size_t>(c)], to_upstream);
  if (to_client) shard_.add(slots_->tunnel_to_client[static_cast<size_t>(c)], to_client);
}

}  // namespace portcullis::proxy
