#include "harness/raw_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace portcullis::integration {
namespace {

int pollMs(milliseconds timeout) {
  return static_cast<int>(std::max<long long>(0, std::min<long long>(timeout.count(), 60000)));
}

}  // namespace

RawClient::~RawClient() { close(); }

void RawClient::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

void RawClient::shutdownWrite() {
  if (fd_ >= 0) shutdown(fd_, SHUT_WR);
}

::testing::AssertionResult RawClient::connect(uint16_t port, milliseconds timeout) {
  close();
  fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd_ < 0) return ::testing::AssertionFailure() << "socket: " << std::strerror(errno);
  int one = 1;
  setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    if (errno != EINPROGRESS) {
      return ::testing::AssertionFailure() << "connect 127.0.0.1:" << port << ": " << std::strerror(errno);
    }
    pollfd p{fd_, POLLOUT, 0};
    if (poll(&p, 1, pollMs(timeout)) <= 0) {
      return ::testing::AssertionFailure() << "connect 127.0.0.1:" << port << " timed out";
    }
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) {
      return ::testing::AssertionFailure() << "connect 127.0.0.1:" << port << ": " << std::strerror(err);
    }
  }
  return ::testing::AssertionSuccess();
}

ClientConnection::Io RawClient::readSome(std::string* in, milliseconds timeout, std::string* error) {
  if (fd_ < 0) {
    *error = "not connected";
    return Io::kError;
  }
  pollfd p{fd_, POLLIN, 0};
  int rc = poll(&p, 1, pollMs(timeout));
  if (rc == 0) return Io::kTimeout;
  if (rc < 0) return errno == EINTR ? Io::kTimeout : (*error = std::strerror(errno), Io::kError);
  char buf[65536];
  ssize_t n = recv(fd_, buf, sizeof buf, 0);
  if (n > 0) {
    in->append(buf, static_cast<size_t>(n));
    return Io::kData;
  }
  if (n == 0) return Io::kEof;
  if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return Io::kTimeout;
  if (errno == ECONNRESET) return Io::kEof;  // a reset is a close too, for our purposes
  *error = std::strerror(errno);
  return Io::kError;
}

ClientConnection::Io RawClient::writeAll(std::string_view data, milliseconds timeout, std::string* error,
                                         size_t* written) {
  *written = 0;
  if (fd_ < 0) {
    *error = "not connected";
    return Io::kError;
  }
  const auto deadline = Clock::now() + timeout;
  while (!data.empty()) {
    ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
    if (n > 0) {
      data.remove_prefix(static_cast<size_t>(n));
      *written += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
      *error = std::strerror(errno);
      return Io::kError;
    }
    auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return Io::kTimeout;
    pollfd p{fd_, POLLOUT, 0};
    poll(&p, 1, pollMs(left));
  }
  return Io::kData;
}

}  // namespace portcullis::integration
