#include "config/validate.h"

#include <arpa/inet.h>

#include <cstring>

#include "config/values.h"

namespace portcullis::config {
namespace {

base::Error errorAt(const Mark& mark, const std::string& message) {
  return base::makeError(toString(mark) + ": " + message);
}

std::string indexed(const char* list, size_t i) {
  return std::string(list) + "[" + std::to_string(i) + "]";
}

// Compared as bytes, not text: "::" and "0:0::0" are the same socket address.
bool sameAddress(const Listener& a, const Listener& b) {
  if (a.port != b.port) return false;
  unsigned char x[sizeof(in6_addr)] = {};
  unsigned char y[sizeof(in6_addr)] = {};
  int family = a.host.find(':') == std::string::npos ? AF_INET : AF_INET6;
  int family_b = b.host.find(':') == std::string::npos ? AF_INET : AF_INET6;
  if (family != family_b) return false;
  if (inet_pton(family, a.host.c_str(), x) != 1 || inet_pton(family, b.host.c_str(), y) != 1) {
    return a.host == b.host;
  }
  return std::memcmp(x, y, sizeof x) == 0;
}

std::string addressText(const Listener& l) { return formatHostPort(l.host, l.port); }

base::Result<void> checkListeners(const Config& config) {
  const auto& ls = config.listeners;
  for (size_t i = 0; i < ls.size(); ++i) {
    for (size_t j = 0; j < i; ++j) {
      if (ls[i].name == ls[j].name) {
        return errorAt(ls[i].mark, indexed("listeners", i) + ".name: duplicate listener name '" +
                                       ls[i].name + "' (already used by " +
                                       indexed("listeners", j) + " at line " +
                                       std::to_string(ls[j].mark.line) + ")");
      }
      // SO_REUSEPORT (DESIGN 3.5) lets both bind the same port without an error, and the kernel
      // would then split connections between two listeners that behave differently. Port 0 is
      // exempt: each such listener gets its own ephemeral port.
      if (ls[i].port != 0 && sameAddress(ls[i], ls[j])) {
        return errorAt(ls[i].address_mark,
                       indexed("listeners", i) + ".address: " + addressText(ls[i]) +
                           " is already used by listener '" + ls[j].name + "' (line " +
                           std::to_string(ls[j].address_mark.line) + ")");
      }
    }
  }
  return {};
}

base::Result<void> checkRoutes(const Config& config) {
  const auto& rs = config.routes;
  for (size_t i = 0; i < rs.size(); ++i) {
    // A static route without a fallback names no upstream (the loader enforces which do).
    if (!rs[i].upstream.empty() && !config.findUpstream(rs[i].upstream)) {
      std::string defined;
      for (const Upstream& u : config.upstreams) defined += (defined.empty() ? "" : ", ") + u.name;
      std::string known = defined.empty() ? "no upstreams are defined" : "defined: " + defined;
      return errorAt(rs[i].upstream_mark, indexed("routes", i) + ".upstream: unknown upstream '" +
                                              rs[i].upstream + "' (" + known + ")");
    }
    // Whatever order the router tries routes in, of two with the same host and path one can
    // never be chosen: that is a mistake, not a preference.
    for (size_t j = 0; j < i; ++j) {
      if (rs[i].host == rs[j].host && rs[i].path_prefix == rs[j].path_prefix) {
        return errorAt(rs[i].mark, indexed("routes", i) + ": same host and path as " +
                                       indexed("routes", j) + " (line " +
                                       std::to_string(rs[j].mark.line) +
                                       "), so one of them could never match");
      }
    }
  }
  return {};
}

// The admin listener binds without SO_REUSEPORT, but a listener on the same address binds with
// it first: one of the two would fail at start with a less helpful "address in use".
base::Result<void> checkAdmin(const Config& config) {
  if (!config.admin.enabled || config.admin.port == 0) return {};
  Listener admin;
  admin.host = config.admin.host;
  admin.port = config.admin.port;
  for (const Listener& l : config.listeners) {
    if (sameAddress(admin, l)) {
      return errorAt(config.admin.mark, "admin.address: " + addressText(admin) + " is already used by listener '" +
                                            l.name + "' (line " + std::to_string(l.address_mark.line) + ")");
    }
  }
  return {};
}

}  // namespace

base::Result<void> validate(const Config& config) {
  if (auto r = checkListeners(config); !r) return r;
  if (auto r = checkAdmin(config); !r) return r;
  return checkRoutes(config);
}

}  // namespace portcullis::config
