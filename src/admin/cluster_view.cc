#include "admin/cluster_view.h"

#include <cstdio>

namespace portcullis::admin {
namespace {

std::string addressOf(const upstream::Host& h) {
  std::string ip = h.address.ipString();
  std::string port = std::to_string(h.address.port());
  return ip.find(':') == std::string::npos ? ip + ":" + port : "[" + ip + "]:" + port;
}

template <class F>
void perHost(Exposition& out, const Clusters& clusters, std::string_view name, std::string_view type,
             std::string_view help, F value) {
  out.family(name, type, help);
  for (const auto& c : clusters)
    for (const auto& h : c->hosts()) out.sample(name, {{"cluster", c->name()}, {"host", h.name}}, value(*h.state));
}

}  // namespace

std::string jsonEscape(std::string_view s) {
  std::string out;
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if (c == '"') out += "\\\"";
    else if (c == '\\') out += "\\\\";
    else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else out += ch;
  }
  return out;
}

void writeClusterMetrics(Exposition& out, const Clusters& clusters, uint64_t now_ms) {
  using S = upstream::HostState;
  perHost(out, clusters, "portcullis_upstream_host_healthy", "gauge", "1 if the host passes its active health check.",
          [](const S& h) { return uint64_t{h.healthy()}; });
  perHost(out, clusters, "portcullis_upstream_host_ejected", "gauge",
          "1 while the host is ejected by outlier detection.", [now_ms](const S& h) { return uint64_t{h.ejected(now_ms)}; });
  perHost(out, clusters, "portcullis_upstream_host_in_flight", "gauge", "Requests in flight to the host, all workers.",
          [](const S& h) { return uint64_t{h.inFlight()}; });
  perHost(out, clusters, "portcullis_upstream_host_weight", "gauge", "Configured weight of the host.",
          [](const S& h) { return uint64_t{h.weight()}; });
  perHost(out, clusters, "portcullis_upstream_host_requests_total", "counter",
          "Upstream attempts to the host that had an outcome (a response or a failure).",
          [](const S& h) { return h.counters().requests.load(std::memory_order_relaxed); });
  perHost(out, clusters, "portcullis_upstream_host_failures_total", "counter",
          "Upstream attempts to the host that failed (connect error, reset, timeout, 5xx).",
          [](const S& h) { return h.counters().failures.load(std::memory_order_relaxed); });
  perHost(out, clusters, "portcullis_upstream_host_retries_total", "counter",
          "Attempts to the host that retried a request which failed on another host.",
          [](const S& h) { return h.counters().retries.load(std::memory_order_relaxed); });
  out.family("portcullis_upstream_queue_depth", "gauge",
             "Requests waiting for a host slot (every host at max_requests), all workers.");
  for (const auto& c : clusters) out.sample("portcullis_upstream_queue_depth", {{"cluster", c->name()}},
                                            uint64_t{c->waiting().load(std::memory_order_relaxed)});
}

std::string clustersJson(const Clusters& clusters, uint64_t now_ms) {
  std::string out = "{\"clusters\":[";
  for (size_t i = 0; i < clusters.size(); ++i) {
    const auto& c = *clusters[i];
    if (i) out += ',';
    out += "{\"name\":\"" + jsonEscape(c.name()) + "\",\"queue_depth\":" +
           std::to_string(c.waiting().load(std::memory_order_relaxed)) + ",\"hosts\":[";
    for (size_t j = 0; j < c.hosts().size(); ++j) {
      const auto& h = c.hosts()[j];
      const auto& s = *h.state;
      if (j) out += ',';
      out += "{\"name\":\"" + jsonEscape(h.name) + "\",\"address\":\"" + jsonEscape(addressOf(h)) + "\"";
      out += ",\"weight\":" + std::to_string(s.weight());
      out += ",\"healthy\":" + std::string(s.healthy() ? "true" : "false");
      out += ",\"ejected\":" + std::string(s.ejected(now_ms) ? "true" : "false");
      out += ",\"ejections\":" + std::to_string(s.ejections());
      out += ",\"in_flight\":" + std::to_string(s.inFlight());
      out += ",\"max_requests\":" + std::to_string(s.maxRequests());
      out += ",\"requests\":" + std::to_string(s.counters().requests.load(std::memory_order_relaxed));
      out += ",\"failures\":" + std::to_string(s.counters().failures.load(std::memory_order_relaxed));
      out += '}';
    }
    out += "]}";
  }
  out += "]}\n";
  return out;
}

}  // namespace portcullis::admin
