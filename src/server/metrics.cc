#include "server/metrics.h"

#include <map>

#include "admin/cluster_view.h"
#include "admin/exposition.h"
#include "base/log_writer.h"
#include "tls/stats.h"

namespace portcullis::server {
namespace {

// Gauges kept as a pair of per-worker counters (opened - closed): a gauge in the shards would
// need a second writer, and the pair gives the _total counter for free. Active connections are
// accepted - closed; open WebSocket tunnels are tunnels - tunnels closed.
void writeGaugeFromCounters(admin::Exposition& out, const std::vector<base::stats::FamilySnapshot>& families,
                            std::string_view opened_name, std::string_view closed_name, const char* gauge,
                            const char* help) {
  const base::stats::FamilySnapshot* opened = nullptr;
  const base::stats::FamilySnapshot* closed = nullptr;
  for (const auto& f : families) {
    if (f.name == opened_name) opened = &f;
    if (f.name == closed_name) closed = &f;
  }
  if (!opened) return;
  std::map<std::vector<std::string>, uint64_t> closed_by_labels;
  if (closed)
    for (const auto& s : closed->series) closed_by_labels[s.labels] = s.values.at(0);
  out.family(gauge, "gauge", help);
  for (const auto& s : opened->series) {
    uint64_t a = s.values.at(0);
    uint64_t c = closed_by_labels[s.labels];
    admin::Labels l;
    for (size_t i = 0; i < opened->label_names.size() && i < s.labels.size(); ++i)
      l.emplace_back(opened->label_names[i], s.labels[i]);
    // Shards are read one after another, so a close may be seen without its open.
    out.sample(gauge, l, a > c ? a - c : 0);
  }
}

void writeTls(admin::Exposition& out) {
  tls::HandshakeCounts c = tls::handshakeCounts();
  out.family("portcullis_tls_handshakes_total", "counter",
             "TLS handshakes with clients (side=server) and upstreams (side=client), by result.");
  auto one = [&](const char* side, const char* result, uint64_t v) {
    out.sample("portcullis_tls_handshakes_total", {{"side", side}, {"result", result}}, v);
  };
  one("server", "full", c.server_full);
  one("server", "resumed", c.server_resumed);
  one("server", "failed", c.server_failed);
  one("client", "full", c.client_full);
  one("client", "resumed", c.client_resumed);
  one("client", "failed", c.client_failed);
  out.family("portcullis_tls_handshake_failures_total", "counter", "Failed TLS handshakes by side and reason.");
  for (bool server : {true, false}) {
    for (size_t r = 0; r < tls::kHandshakeFailures; ++r) {
      auto reason = static_cast<tls::HandshakeFailure>(r);
      out.sample("portcullis_tls_handshake_failures_total",
                 {{"side", server ? "server" : "client"}, {"reason", tls::handshakeFailureName(reason)}},
                 tls::handshakeFailures(server, reason));
    }
  }
}

void writeProcess(admin::Exposition& out, const ProcessStats& p) {
  out.family("portcullis_build_info", "gauge", "Always 1; the version is in the label.");
  out.sample("portcullis_build_info", {{"version", kVersion}}, uint64_t{1});
  out.family("portcullis_config_generation", "gauge",
             "Configuration generation: 1 at start, one more per successful reload.");
  out.sample("portcullis_config_generation", {}, p.generation.load(std::memory_order_relaxed));
  out.family("portcullis_reloads_total", "counter", "Configuration reloads (SIGHUP) by result.");
  out.sample("portcullis_reloads_total", {{"result", "ok"}}, p.reloads_ok.load(std::memory_order_relaxed));
  out.sample("portcullis_reloads_total", {{"result", "failed"}}, p.reloads_failed.load(std::memory_order_relaxed));
  out.family("portcullis_draining", "gauge", "1 once a shutdown (SIGTERM/SIGINT) has begun draining.");
  out.sample("portcullis_draining", {}, uint64_t{p.draining.load(std::memory_order_relaxed)});
  out.family("portcullis_workers", "gauge", "Worker threads.");
  out.sample("portcullis_workers", {}, uint64_t{p.workers.load(std::memory_order_relaxed)});
  // A full or failing disk drops access-log lines rather than stalling requests: this is where
  // an operator sees it.
  out.family("portcullis_access_log_dropped_lines_total", "counter",
             "Access-log lines dropped because the disk was full, failing or too slow.");
  out.sample("portcullis_access_log_dropped_lines_total", {}, base::LogWriter::totalDroppedLines());
  out.family("portcullis_access_log_write_errors_total", "counter", "Failed writes to the access log.");
  out.sample("portcullis_access_log_write_errors_total", {}, base::LogWriter::totalWriteErrors());
}

}  // namespace

std::string renderMetrics(const base::stats::Registry& registry, const ProcessStats& process,
                          const proxy::Runtime* runtime, uint64_t now_ms) {
  admin::Exposition out;
  auto families = registry.snapshot();
  out.add(families);
  writeGaugeFromCounters(out, families, "portcullis_connections_accepted_total", "portcullis_connections_closed_total",
                         "portcullis_connections_active", "Client connections open now.");
  writeGaugeFromCounters(out, families, "portcullis_tunnels_total", "portcullis_tunnels_closed_total",
                         "portcullis_tunnels_open", "WebSocket tunnels open now.");
  writeTls(out);
  if (runtime) admin::writeClusterMetrics(out, runtime->clusters, now_ms);
  writeProcess(out, process);
  return out.text();
}

}  // namespace portcullis::server
