#include "server/runtime_builder.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "net/socket.h"

namespace portcullis::server {

namespace {
const upstream::Cluster* findCluster(const proxy::Runtime& rt, const std::string& name) {
  for (const auto& c : rt.clusters)
    if (c->name() == name) return c.get();
  return nullptr;
}
}  // namespace

base::Result<BuiltRuntime> buildRuntime(std::shared_ptr<const config::Config> cfg,
                                        const proxy::Runtime* previous) {
  BuiltRuntime out;
  auto rt = std::make_shared<proxy::Runtime>();
  rt->config = cfg;
  rt->router = proxy::Router(*cfg);
  rt->parser_limits.request_line = cfg->limits.request_line;
  rt->parser_limits.header_bytes = cfg->limits.header_bytes;
  rt->parser_limits.header_count = cfg->limits.header_count;

  for (size_t i = 0; i < cfg->listeners.size(); ++i) {
    const auto& l = cfg->listeners[i];
    if (!l.tls) {
      out.tls.push_back(nullptr);
      continue;
    }
    // Name the exact YAML key that points at an unreadable file before asking BoringSSL, whose
    // error could not tell the certificate from the key.
    const std::string where = "listeners[" + std::to_string(i) + "].tls.";
    const config::CertificateFiles& cert = l.tls->certificates.front();
    if (::access(cert.certificate.c_str(), R_OK) != 0) {
      return base::makeError(config::toString(cert.certificate_mark) + ": " + where + "certificate: cannot read " +
                             cert.certificate + ": " + std::strerror(errno));
    }
    if (::access(cert.key.c_str(), R_OK) != 0) {
      return base::makeError(config::toString(cert.key_mark) + ": " + where + "key: cannot read " + cert.key + ": " +
                             std::strerror(errno));
    }
    auto ctx = tls::Context::forServer({cert.certificate, cert.key});
    if (!ctx) {
      return base::makeError(config::toString(cert.certificate_mark) + ": listeners[" + std::to_string(i) +
                             "].tls: " + ctx.error().message);
    }
    out.tls.push_back(*ctx);
  }

  for (size_t i = 0; i < cfg->upstreams.size(); ++i) {
    const auto& u = cfg->upstreams[i];
    const upstream::Cluster* before = previous ? findCluster(*previous, u.name) : nullptr;
    std::vector<upstream::Host> hosts;
    for (const auto& s : u.servers) {
      auto addrs = net::resolve(s.host, s.port);
      if (!addrs) {
        return base::makeError(config::toString(s.mark) + ": upstreams." + u.name + ": " + addrs.error().message);
      }
      std::string name = s.host.find(':') != std::string::npos ? "[" + s.host + "]" : s.host;
      name += ":" + std::to_string(s.port);
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
        state = std::make_shared<upstream::HostState>(name, s.weight, s.max_requests);
      }
      std::string sni = u.tls.sni.empty() ? s.host : u.tls.sni;
      hosts.push_back(upstream::Host{name, addrs->front(), sni, std::move(state)});
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
    if (u.tls.enabled) {
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
    rt->clusters.push_back(std::make_shared<const upstream::Cluster>(u.name, std::move(hosts), o, client_tls));
  }
  out.runtime = std::move(rt);
  return out;
}

}  // namespace portcullis::server
