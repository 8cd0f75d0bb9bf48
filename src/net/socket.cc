#include "net/socket.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace portcullis::net {

uint16_t Address::port() const {
  if (storage.ss_family == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(&storage)->sin_port);
  if (storage.ss_family == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_port);
  return 0;
}

std::string Address::toString() const {
  char ip[INET6_ADDRSTRLEN] = "?";
  if (storage.ss_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&storage)->sin_addr, ip, sizeof ip);
    return std::string(ip) + ":" + std::to_string(port());
  }
  inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_addr, ip, sizeof ip);
  std::string out = "[";
  out.append(ip).append("]:").append(std::to_string(port()));
  return out;
}

std::string Address::ipString() const {
  char ip[INET6_ADDRSTRLEN] = "";
  if (storage.ss_family == AF_INET)
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&storage)->sin_addr, ip, sizeof ip);
  else if (storage.ss_family == AF_INET6)
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_addr, ip, sizeof ip);
  return ip;
}

bool isIpLiteral(const std::string& host) {
  in6_addr a6;
  in_addr a4;
  return inet_pton(AF_INET, host.c_str(), &a4) == 1 || inet_pton(AF_INET6, host.c_str(), &a6) == 1;
}

static base::Error sysError(const std::string& what) {
  return base::makeError(what + ": " + std::strerror(errno));
}

namespace {
base::Result<int> bindListening(const std::string& host, uint16_t port, int backlog, bool reuse_port) {
  Address addr;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&addr.storage);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&addr.storage);
  if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    addr.len = sizeof(sockaddr_in);
  } else if (inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    addr.len = sizeof(sockaddr_in6);
  } else {
    return base::makeError("not an IP address: " + host);
  }
  std::string where = addr.toString();
  int fd = ::socket(addr.storage.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return sysError("socket for " + where);
  int one = 1;
  // SO_REUSEPORT: every worker binds the same address and the kernel balances accepts across
  // them, with no shared accept lock (as nginx `reuseport`, Envoy, HAProxy).
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
      (reuse_port && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0)) {
    auto err = sysError("setsockopt SO_REUSEPORT on " + where);
    ::close(fd);
    return err;
  }
  if (addr.storage.ss_family == AF_INET6) {
    // "::" means IPv6 only here; list 0.0.0.0 separately for IPv4, which keeps the behaviour
    // independent of the host's net.ipv6.bindv6only.
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  }
  if (::bind(fd, addr.sa(), addr.len) != 0) {
    auto err = sysError("bind " + where);
    ::close(fd);
    return err;
  }
  if (::listen(fd, backlog) != 0) {
    auto err = sysError("listen " + where);
    ::close(fd);
    return err;
  }
  return fd;
}
}  // namespace

base::Result<int> bindReusePort(const std::string& host, uint16_t port, int backlog) {
  return bindListening(host, port, backlog, /*reuse_port=*/true);
}

base::Result<int> bindExclusive(const std::string& host, uint16_t port, int backlog) {
  return bindListening(host, port, backlog, /*reuse_port=*/false);
}

base::Result<uint16_t> boundPort(int fd) {
  Address a;
  a.len = sizeof a.storage;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&a.storage), &a.len) != 0) return sysError("getsockname");
  return a.port();
}

base::Result<std::vector<Address>> resolve(const std::string& host, uint16_t port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_ADDRCONFIG;
  addrinfo* res = nullptr;
  std::string service = std::to_string(port);
  int rc = getaddrinfo(host.c_str(), service.c_str(), &hints, &res);
  if (rc != 0 && (hints.ai_flags & AI_ADDRCONFIG)) {
    // AI_ADDRCONFIG hides ::1 / 127.0.0.1 on hosts whose only interface is loopback.
    hints.ai_flags = 0;
    rc = getaddrinfo(host.c_str(), service.c_str(), &hints, &res);
  }
  if (rc != 0) return base::makeError("cannot resolve '" + host + "': " + gai_strerror(rc));
  std::vector<Address> out;
  for (addrinfo* ai = res; ai; ai = ai->ai_next) {
    Address a;
    std::memcpy(&a.storage, ai->ai_addr, ai->ai_addrlen);
    a.len = ai->ai_addrlen;
    bool dup = false;
    for (auto& o : out) dup |= (o.len == a.len && std::memcmp(&o.storage, &a.storage, a.len) == 0);
    if (!dup) out.push_back(a);
  }
  freeaddrinfo(res);
  if (out.empty()) return base::makeError("cannot resolve '" + host + "': no addresses");
  return out;
}

}  // namespace portcullis::net
