#include "proxy/redirect.h"

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

bool isAcmeChallenge(std::string_view path) {
  return path.rfind("/.well-known/acme-challenge/", 0) == 0;
}

}  // namespace portcullis::proxy
