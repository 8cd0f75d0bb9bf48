#include "server/runtime_builder.h"

#include <unistd.h>

#include <cerrno>
#include <map>
#include <cstring>

#include "base/stats.h"
#include "config/values.h"
#include "net/socket.h"
#include "proxy/request_stats.h"

namespace portcullis::server {

namespace {

tls::TlsVersion versionOf(const std::string& v) { return v == "1.3" ? tls::TlsVersion::Tls1_3 : tls::TlsVersion::Tls1_2; }

std::string join(const std::vector<std::string>& items, char sep) {
  std::string out;
  for (const auto& s : items) {
    if (!out.empty()) out += sep;
    out += s;
  }
  return out;
}

// Ticket keys live as long as the process, per listener and key settings, so that a reload
// keeps resuming the sessions issued before it (a new random key would orphan every ticket).
// Touched only on the main thread (start, -t, reload).
base::Result<std::shared_ptr<tls::TicketKeyManager>> ticketKeysFor(const config::Listener& l) {
  static std::map<std::string, std::shared_ptr<tls::TicketKeyManager>> managers;
  const config::TlsFiles& t = *l.tls;
  std::string key = l.name + "|" + t.ticket_key_file + "|" + std::to_string(t.ticket_key_rotation.count()) + "|" +
                    std::to_string(t.ticket_lifetime.count());
  if (auto it = managers.find(key); it != managers.end()) return it->second;
  tls::TicketKeyOptions o;
  o.rotation = std::chrono::duration_cast<std::chrono::seconds>(t.ticket_key_rotation);
  o.lifetime = std::chrono::duration_cast<std::chrono::seconds>(t.ticket_lifetime);
  auto made = t.ticket_key_file.empty() ? tls::TicketKeyManager::createRandom(o)
                                        : tls::TicketKeyManager::createFleetFromFile(t.ticket_key_file, o);
  if (!made) {
    return base::makeError(config::toString(t.ticket_key_file_mark) + ": ticket_key_file: " + made.error().message);
  }
  managers.emplace(key, *made);
  return *made;
}

base::Result<std::shared_ptr<const tls::Context>> buildServerContext(const config::Listener& l, size_t index,
                                                                   std::vector<std::string>& warnings) {
  const config::TlsFiles& t = *l.tls;
  const std::string where = "listeners[" + std::to_string(index) + "].tls.";
  tls::ServerOptions o;
  for (const auto& pair : t.certificates) {
    // Name the exact YAML key that points at an unreadable file before asking BoringSSL, whose
    // error could not tell the certificate from the key.
    if (::access(pair.certificate.c_str(), R_OK) != 0) {
      return base::makeError(config::toString(pair.certificate_mark) + ": " + where + "certificate: cannot read " +
                             pair.certificate + ": " + std::strerror(errno));
    }
    if (::access(pair.key.c_str(), R_OK) != 0) {
      return base::makeError(config::toString(pair.key_mark) + ": " + where + "key: cannot read " + pair.key + ": " +
                             std::strerror(errno));
    }
    o.certificates.push_back({pair.certificate, pair.key});
  }
  o.min_version = versionOf(t.min_version);
  o.tls12_ciphers = t.ciphers;
  o.curves = join(t.curves, ':');
  // ALPN in the listener's preference order. Built afresh on every reload (as the rest of the
  // context), so a changed `protocols` applies to the connections accepted after it.
  o.alpn = l.protocols;
  o.session_tickets = t.session_tickets;
  if (t.session_tickets) {
    auto keys = ticketKeysFor(l);
    if (!keys) return keys.error();
    o.ticket_keys = *keys;
  }
  switch (t.client_auth.mode) {
    case config::ClientAuthMode::Off: o.client_auth = tls::ClientAuthMode::None; break;
    case config::ClientAuthMode::Optional: o.client_auth = tls::ClientAuthMode::Optional; break;
    case config::ClientAuthMode::Required: o.client_auth = tls::ClientAuthMode::Required; break;
  }
  o.client_ca_file = t.client_auth.ca;
  auto ctx = tls::Context::forServer(o);
  if (!ctx) {
    return base::makeError(config::toString(t.certificates.front().certificate_mark) + ": " + where.substr(0, where.size() - 1) +
                           ": " + ctx.error().message);
  }
  for (const auto& w : (*ctx)->warnings()) warnings.push_back("listener '" + l.name + "': " + w);
  return *ctx;
}

// A host's request counters live as long as the process, per cluster and host name, so a host
// that leaves and comes back continues its counts (see upstream::HostCounters). Main thread.
std::shared_ptr<upstream::HostCounters> hostCountersFor(const std::string& cluster, const std::string& host) {
  static std::map<std::string, std::shared_ptr<upstream::HostCounters>> counters;
  auto& c = counters[cluster + "|" + host];
  if (!c) c = std::make_shared<upstream::HostCounters>();
  return c;
}

const upstream::Cluster* findCluster(const proxy::Runtime& rt, const std::string& name) {
  for (const auto& c : rt.clusters)
    if (c->name() == name) return c.get();
  return nullptr;
}
}  // namespace

base::Result<std::vector<std::shared_ptr<const upstream::Cluster>>> buildClusters(const config::Config& cfg,
                                                                                const proxy::Runtime* previous,
                                                                                bool same_config) {
  std::vector<std::shared_ptr<const upstream::Cluster>> clusters;
  for (size_t i = 0; i < cfg.upstreams.size(); ++i) {
    const auto& u = cfg.upstreams[i];
    const upstream::Cluster* before = previous ? findCluster(*previous, u.name) : nullptr;
    std::vector<upstream::Host> hosts;
    for (const auto& s : u.servers) {
      auto addrs = net::resolve(s.host, s.port);
      if (!addrs) {
        return base::makeError(config::toString(s.mark) + ": upstreams." + u.name + ": " + addrs.error().message);
      }
      std::string configured = config::formatHostPort(s.host, s.port);
      // A name stands for every address it resolves to (as nginx's `server name`): each one is
      // a host of its own, named "name:port@address" so that its state follows the address
      // across re-resolutions (a Kubernetes headless service, docker-compose replicas).
      bool literal = net::isIpLiteral(s.host);
      for (const auto& addr : *addrs) {
        std::string name = literal ? configured : configured + "@" + addr.ipString();
        // Same cluster and host name as before the reload: keep its live state (in-flight count,
        // ejection, slow start), so a reload neither forgets a sick host nor floods a new one.
        std::shared_ptr<upstream::HostState> state;
        if (before) {
          for (const auto& h : before->hosts())
            if (h.name == name) state = h.state;
        }
        if (state) {
          state->setWeight(s.weight);
          state->setMaxRequests(s.max_requests);
        } else {
          state = std::make_shared<upstream::HostState>(name, s.weight, s.max_requests, hostCountersFor(u.name, name));
        }
        std::string sni = u.tls.sni.empty() ? s.host : u.tls.sni;
        hosts.push_back(upstream::Host{name, addr, sni, std::move(state)});
        if (literal) break;
      }
    }
    upstream::ClusterOptions o;
    switch (u.policy) {
      case config::BalancePolicy::RoundRobin: o.policy = upstream::Policy::RoundRobin; break;
      case config::BalancePolicy::LeastRequest: o.policy = upstream::Policy::LeastRequest; break;
      case config::BalancePolicy::Random: o.policy = upstream::Policy::Random; break;
      case config::BalancePolicy::Hash: o.policy = upstream::Policy::Hash; break;
    }
    o.balancer.panic = u.panic_when_all_unhealthy;
    o.balancer.slow_start_ms = static_cast<uint64_t>(u.slow_start.count());
    o.outlier.consecutive_failures = u.outlier.consecutive_failures;
    o.outlier.base_ejection_ms = static_cast<uint64_t>(u.outlier.base_ejection.count());
    o.outlier.max_ejection_ms = static_cast<uint64_t>(u.outlier.max_ejection.count());
    o.max_idle = u.max_idle;
    o.idle_timeout_ms = static_cast<uint64_t>(u.idle_timeout.count());
    o.retries = u.retries;
    o.retry_budget = u.retry_budget;
    o.queue_size = u.queue.size;
    o.queue_timeout_ms = static_cast<uint64_t>(u.queue.timeout.count());

    std::shared_ptr<const tls::ClientContext> client_tls;
    if (same_config && before) {
      client_tls = before->tls();
    } else if (u.tls.enabled) {
      tls::ClientContextOptions co;
      co.verify = u.tls.verify;
      co.ca_file = u.tls.ca;
      auto ctx = tls::ClientContext::create(co);
      if (!ctx) {
        return base::makeError(config::toString(u.tls.ca.empty() ? u.tls.mark : u.tls.ca_mark) + ": upstreams." +
                               u.name + ".tls: " + ctx.error().message);
      }
      client_tls = *ctx;
    }
    clusters.push_back(std::make_shared<const upstream::Cluster>(u.name, std::move(hosts), o, client_tls));
  }
  return clusters;
}

bool sameHosts(const proxy::Runtime& a, const std::vector<std::shared_ptr<const upstream::Cluster>>& b) {
  if (a.clusters.size() != b.size()) return false;
  for (size_t i = 0; i < b.size(); ++i) {
    const auto& x = a.clusters[i]->hosts();
    const auto& y = b[i]->hosts();
    if (x.size() != y.size()) return false;
    for (size_t j = 0; j < x.size(); ++j)
      if (x[j].name != y[j].name) return false;
  }
  return true;
}

base::Result<BuiltRuntime> buildRuntime(std::shared_ptr<const config::Config> cfg,
                                        const proxy::Runtime* previous) {
  BuiltRuntime out;
  auto rt = std::make_shared<proxy::Runtime>();
  rt->config = cfg;
  rt->router = proxy::Router(*cfg);
  // /etc/mime.types (Debian's media-types) is read once per process, at the first build.
  static const auto mime_types = std::make_shared<const http::MimeTypes>(http::MimeTypes::load());
  rt->mime_types = mime_types;
  rt->parser_limits.request_line = cfg->limits.request_line;
  rt->parser_limits.header_bytes = cfg->limits.header_bytes;
  rt->parser_limits.header_count = cfg->limits.header_count;
  // Registering label sets is idempotent: a reload keeps every slot of the labels it still has.
  rt->stats = proxy::buildRequestSlots(base::stats::Registry::global(), *cfg);

  for (size_t i = 0; i < cfg->listeners.size(); ++i) {
    const auto& l = cfg->listeners[i];
    if (!l.tls) {
      out.tls.push_back(nullptr);
      continue;
    }
    auto ctx = buildServerContext(l, i, out.warnings);
    if (!ctx) return ctx.error();
    out.tls.push_back(*ctx);
  }

  // A route for a host no certificate covers would only ever answer with a name mismatch
  // (browsers refuse it): catch it at -t / start. A wildcard route is checked through one name
  // below it.
  bool any_tls = false;
  for (const auto& t : out.tls) any_tls = any_tls || t != nullptr;
  for (size_t r = 0; any_tls && r < cfg->routes.size(); ++r) {
    const auto& route = cfg->routes[r];
    if (route.host.empty()) continue;
    std::string probe = route.host.rfind("*.", 0) == 0 ? "portcullis-probe" + route.host.substr(1) : route.host;
    bool covered = false;
    for (const auto& t : out.tls) covered = covered || (t && t->covers(probe));
    if (!covered) {
      return base::makeError(config::toString(route.mark) + ": routes[" + std::to_string(r) + "].host: '" +
                             route.host + "' is not covered by any TLS listener's certificate");
    }
  }

  auto clusters = buildClusters(*cfg, previous);
  if (!clusters) return clusters.error();
  rt->clusters = std::move(*clusters);
  out.runtime = std::move(rt);
  return out;
}

}  // namespace portcullis::server
