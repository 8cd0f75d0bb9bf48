#include "proxy/redirect.h"

#include "http/message.h"
#include "http/uri.h"

namespace portcullis::proxy {

int redirectStatus(http::Method m) {
  return (m == http::Method::Get || m == http::Method::Head) ? 301 : 308;
}

std::string buildHttpsLocation(std::string_view host_header, uint16_t https_port,
                               std::string_view path, std::string_view query, bool has_query) {
  std::string_view host = host_header;
  if (auto a = http::parseAuthority(host_header)) host = a->host;
  std::string out;
  out.reserve(8 + host.size() + 6 + path.size() + query.size() + 1);
  out.append("https://").append(host);
  if (https_port != 443) out.append(":").append(std::to_string(https_port));
  out.append(path.empty() ? std::string_view("/") : path);
  if (has_query) out.append("?").append(query);
  return out;
}

bool hostAllowed(std::string_view host, const std::vector<std::string>& patterns) {
  if (patterns.empty()) return true;
  for (const auto& p : patterns) {
    if (p.rfind("*.", 0) == 0) {
      if (matchesWildcard(host, std::string_view(p).substr(1))) return true;
    } else if (http::iequals(host, p)) {
      return true;
    }
  }
  return false;
}

bool matchesWildcard(std::string_view host, std::string_view dot_suffix) {
  return host.size() > dot_suffix.size() &&
         http::iequals(host.substr(host.size() - dot_suffix.size()), dot_suffix);
}

std::string hstsValue(uint64_t max_age_seconds, bool include_subdomains, bool preload) {
  std::string v = "max-age=" + std::to_string(max_age_seconds);
  if (include_subdomains) v += "; includeSubDomains";
  if (preload) v += "; preload";
  return v;
}

bool isAcmeChallenge(std::string_view path) {
  return path.rfind("/.well-known/acme-challenge/", 0) == 0;
}

}  // namespace portcullis::proxy
