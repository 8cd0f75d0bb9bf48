#include "server/runtime_builder.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "net/socket.h"

namespace portcullis::server {

base::Result<BuiltRuntime> buildRuntime(std::shared_ptr<const config::Config> cfg) {
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
    std::vector<upstream::Host> hosts;
    for (const auto& s : u.servers) {
      auto addrs = net::resolve(s.host, s.port);
      if (!addrs) {
        return base::makeError(config::toString(s.mark) + ": upstreams." + u.name + ": " + addrs.error().message);
      }
      std::string name = s.host.find(':') != std::string::npos ? "[" + s.host + "]" : s.host;
      name += ":" + std::to_string(s.port);
      hosts.push_back(upstream::Host{name, addrs->front()});
    }
    rt->clusters.push_back(std::make_shared<const upstream::Cluster>(
        u.name, std::move(hosts), u.max_idle, static_cast<uint64_t>(u.idle_timeout.count())));
  }
  out.runtime = std::move(rt);
  return out;
}

}  // namespace portcullis::server
