#include "server/sd_notify.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>

#include "base/log.h"

namespace portcullis::server::sd {

bool notify(const std::string& state) {
  const char* path = std::getenv("NOTIFY_SOCKET");
  if (!path || !*path) return false;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const size_t len = std::strlen(path);
  // '@' names a socket in the abstract namespace, whose address starts with a NUL byte; '/'
  // a file. Anything else (vsock addresses) is not for us.
  if ((path[0] != '/' && path[0] != '@') || len >= sizeof addr.sun_path) {
    base::log::debug("sd_notify: NOTIFY_SOCKET '", path, "' is not a unix socket path; not notifying");
    return false;
  }
  std::memcpy(addr.sun_path, path, len);
  if (path[0] == '@') addr.sun_path[0] = '\0';
  // An abstract address is exactly as long as given (no terminating NUL counts).
  const auto addr_len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + len + (path[0] == '/' ? 1 : 0));

  int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    base::log::debug("sd_notify: socket: ", std::strerror(errno));
    return false;
  }
  ssize_t n;
  do {
    n = ::sendto(fd, state.data(), state.size(), MSG_NOSIGNAL, reinterpret_cast<const sockaddr*>(&addr), addr_len);
  } while (n < 0 && errno == EINTR);
  int err = errno;
  ::close(fd);
  if (n < 0 || static_cast<size_t>(n) != state.size()) {
    base::log::debug("sd_notify: sendto ", path, ": ", n < 0 ? std::strerror(err) : "short write");
    return false;
  }
  base::log::debug("sd_notify: ", state);
  return true;
}

bool ready() { return notify("READY=1\nMAINPID=" + std::to_string(::getpid())); }

bool reloading() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  const auto usec = static_cast<unsigned long long>(ts.tv_sec) * 1'000'000ull +
                    static_cast<unsigned long long>(ts.tv_nsec) / 1'000ull;
  return notify("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(usec));
}

bool stopping() { return notify("STOPPING=1"); }

}  // namespace portcullis::server::sd
