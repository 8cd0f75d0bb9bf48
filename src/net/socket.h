#pragma once
// Socket helpers used at start (binding) and for upstream addresses (resolution). These block
// (getaddrinfo) and are meant for the control thread, never a worker's hot path.
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <vector>

#include "base/result.h"

namespace portcullis::net {

struct Address {
  sockaddr_storage storage{};
  socklen_t len = 0;
  const sockaddr* sa() const { return reinterpret_cast<const sockaddr*>(&storage); }
  uint16_t port() const;
  std::string toString() const;  // "1.2.3.4:80" / "[::1]:80"
  std::string ipString() const;  // "1.2.3.4" / "::1"
};

// Creates a listening TCP socket bound to host:port with SO_REUSEPORT (so each worker binds its
// own socket and the kernel spreads connections), non-blocking. Returns the fd.
base::Result<int> bindReusePort(const std::string& host, uint16_t port, int backlog = 1024);
// The same without SO_REUSEPORT, for a socket one thread serves (the admin listener): a second
// process configured with the same address gets "address in use" instead of half the traffic.
base::Result<int> bindExclusive(const std::string& host, uint16_t port, int backlog = 64);
// Port a bound socket ended up on (for port 0).
base::Result<uint16_t> boundPort(int fd);
// True for an IPv4 or IPv6 address literal (no brackets), false for a host name.
bool isIpLiteral(const std::string& host);
// Resolves a name or literal to addresses (IPv4 and IPv6), blocking.
base::Result<std::vector<Address>> resolve(const std::string& host, uint16_t port);

}  // namespace portcullis::net
