#include "proxy/redirect.h"

#include <charconv>
#include <cstring>

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
  assignHttpsLocation(out, host, https_port, path, query, has_query);
  return out;
}

void assignHttpsLocation(std::string& out, std::string_view host, uint16_t https_port,
                         std::string_view path, std::string_view query, bool has_query) {
  using namespace std::string_view_literals;
  if (path.empty()) path = "/"sv;
  char port[6];  // ":65535"
  size_t port_len = 0;
  if (https_port != 443) {
    port[0] = ':';
    port_len = static_cast<size_t>(std::to_chars(port + 1, port + sizeof port, https_port).ptr - port);
  }
  size_t n = 8 + host.size() + port_len + path.size() + (has_query ? 1 + query.size() : 0);
  out.resize(n);  // within the kept capacity after the first redirect on the connection
  char* p = out.data();
  auto put = [&p](std::string_view s) {
    if (s.empty()) return;  // a default view's data() may be null, which memcpy must not get
    std::memcpy(p, s.data(), s.size());
    p += s.size();
  };
  put("https://"sv);
  put(host);
  put({port, port_len});
  put(path);
  if (has_query) {
    *p++ = '?';
    put(query);
  }
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

bool certificateCovers(const std::vector<std::string>& names, std::string_view host) {
  if (!host.empty() && host.back() == '.') host.remove_suffix(1);
  for (const std::string& n : names) {
    if (n.size() > 2 && n[0] == '*' && n[1] == '.') {
      std::string_view suffix = std::string_view(n).substr(1);  // ".example.com"
      if (matchesWildcard(host, suffix) && host.find('.') == host.size() - suffix.size()) return true;
    } else if (http::iequals(host, n)) {
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
