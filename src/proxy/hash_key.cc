#include "proxy/hash_key.h"

namespace portcullis::proxy {

void hashKeyFor(const config::Upstream& u, const http::RequestHead& req, std::string_view client_ip,
                std::string& out) {
  out.clear();
  if (u.policy != config::BalancePolicy::Hash) return;
  switch (u.hash_key) {
    case config::HashKeyKind::ClientIp:
      out.assign(client_ip);
      return;
    case config::HashKeyKind::Header:
      for (const auto& h : req.headers)
        if (http::iequals(h.name, u.hash_key_name)) {
          out.assign(h.value);
          return;
        }
      return;
    case config::HashKeyKind::Cookie:
      // Cookie: a=1; b=2 (RFC 6265 §4.2.1); several Cookie lines are allowed in HTTP/2 only,
      // but look at each line anyway.
      for (const auto& h : req.headers) {
        if (!http::iequals(h.name, "cookie")) continue;
        std::string_view v = h.value;
        while (!v.empty()) {
          size_t semi = v.find(';');
          std::string_view pair = v.substr(0, semi);
          while (!pair.empty() && pair.front() == ' ') pair.remove_prefix(1);
          size_t eq = pair.find('=');
          if (eq != std::string_view::npos && pair.substr(0, eq) == u.hash_key_name) {
            out.assign(pair.substr(eq + 1));
            return;
          }
          if (semi == std::string_view::npos) break;
          v.remove_prefix(semi + 1);
        }
      }
      return;
  }
}

}  // namespace portcullis::proxy
