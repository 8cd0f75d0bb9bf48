#include "harness/tls_upstream.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace portcullis::integration {
namespace {

// How often a blocked thread wakes to check the stop flag.
constexpr milliseconds kSlice{100};
// A handshake or a response write that takes longer than this on loopback is stuck.
constexpr milliseconds kIoBound{10000};

void setSocketTimeouts(int fd, milliseconds ms) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(ms.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms.count() % 1000) * 1000);
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

// A timed-out blocking read or write: the socket BIO reports EAGAIN as "retry".
bool isRetry(SSL* ssl, int rc) {
  int err = SSL_get_error(ssl, rc);
  if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) return true;
  return err == SSL_ERROR_SYSCALL && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR);
}

}  // namespace

TlsUpstream::TlsUpstream(const std::string& certificate, const std::string& key, std::string name)
    : name_(std::move(name)) {
  ctx_.reset(SSL_CTX_new(TLS_method()));
  if (!ctx_ || SSL_CTX_use_certificate_chain_file(ctx_.get(), certificate.c_str()) != 1 ||
      SSL_CTX_use_PrivateKey_file(ctx_.get(), key.c_str(), SSL_FILETYPE_PEM) != 1) {
    ERR_clear_error();
    ADD_FAILURE() << "TlsUpstream " << name_ << ": cannot load " << certificate << " / " << key;
    return;
  }
  SSL_CTX_set_min_proto_version(ctx_.get(), TLS1_2_VERSION);
  static const uint8_t kAlpn[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
  SSL_CTX_set_alpn_select_cb(
      ctx_.get(),
      [](SSL*, const uint8_t** out, uint8_t* out_len, const uint8_t* in, unsigned in_len, void*) {
        uint8_t* selected = nullptr;
        if (SSL_select_next_proto(&selected, out_len, kAlpn, sizeof kAlpn, in, in_len) != OPENSSL_NPN_NEGOTIATED) {
          return SSL_TLSEXT_ERR_NOACK;  // no ALPN agreement is fine: HTTP/1.1 anyway
        }
        *out = selected;
        return SSL_TLSEXT_ERR_OK;
      },
      nullptr);

  listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (listen_fd_ < 0 || bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      listen(listen_fd_, 64) != 0 || getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ADD_FAILURE() << "TlsUpstream " << name_ << ": cannot listen: " << std::strerror(errno);
    return;
  }
  port_ = ntohs(addr.sin_port);
  accept_thread_ = std::thread([this] { acceptLoop(); });
}

TlsUpstream::~TlsUpstream() {
  stopping_ = true;
  if (accept_thread_.joinable()) accept_thread_.join();
  std::vector<std::thread> threads;
  {
    std::lock_guard<std::mutex> lock(mu_);
    threads.swap(threads_);
  }
  for (auto& t : threads) t.join();  // each notices stopping_ within kSlice
  if (listen_fd_ >= 0) close(listen_fd_);
}

void TlsUpstream::acceptLoop() {
  while (!stopping_) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(kSlice.count())) <= 0) continue;
    int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    std::lock_guard<std::mutex> lock(mu_);
    threads_.emplace_back([this, fd] { serveConnection(fd); });
  }
}

void TlsUpstream::noteHandshake(bool ok, const std::string& sni) {
  std::lock_guard<std::mutex> lock(mu_);
  if (ok) {
    ++completed_handshakes_;
    server_names_.push_back(sni);
  } else {
    ++failed_handshakes_;
  }
  cv_.notify_all();
}

void TlsUpstream::serveConnection(int fd) {
  setSocketTimeouts(fd, kSlice);
  bssl::UniquePtr<SSL> ssl(SSL_new(ctx_.get()));
  if (!ssl) {
    close(fd);
    return;
  }
  SSL_set_fd(ssl.get(), fd);  // the socket BIO does not own fd (BIO_NOCLOSE); closed below

  const auto handshake_deadline = Clock::now() + kIoBound;
  bool ok = false;
  for (;;) {
    errno = 0;
    int rc = SSL_accept(ssl.get());
    if (rc == 1) {
      ok = true;
      break;
    }
    if (!isRetry(ssl.get(), rc) || stopping_ || Clock::now() > handshake_deadline) break;
  }
  ERR_clear_error();
  const char* sni = ok ? SSL_get_servername(ssl.get(), TLSEXT_NAMETYPE_host_name) : nullptr;
  noteHandshake(ok, sni ? sni : "");

  std::string in;
  char buf[16384];
  while (ok && !stopping_) {
    errno = 0;
    int n = SSL_read(ssl.get(), buf, sizeof buf);
    if (n <= 0) {
      if (isRetry(ssl.get(), n)) continue;
      break;  // close_notify, FIN, reset or alert: the connection is over
    }
    in.append(buf, static_cast<size_t>(n));
    for (;;) {
      Request req;
      ParseResult r = parseRequest(in, &req);
      if (r.status == ParseStatus::kIncomplete) break;
      if (r.status == ParseStatus::kError) {
        ok = false;
        break;
      }
      in.erase(0, r.consumed);
      {
        std::lock_guard<std::mutex> lock(mu_);
        requests_.push_back(std::move(req));
        cv_.notify_all();
      }
      std::string resp = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Upstream-Name: " + name_ + "\r\n\r\nok";
      const auto write_deadline = Clock::now() + kIoBound;
      for (;;) {
        errno = 0;
        int w = SSL_write(ssl.get(), resp.data(), static_cast<int>(resp.size()));
        if (w > 0) break;
        if (!isRetry(ssl.get(), w) || stopping_ || Clock::now() > write_deadline) {
          ok = false;
          break;
        }
      }
      if (!ok) break;
    }
  }
  ERR_clear_error();
  ssl.reset();  // no close_notify: the proxy may be gone
  close(fd);
}

size_t TlsUpstream::requestCount() const {
  std::lock_guard<std::mutex> lock(mu_);
  return requests_.size();
}

std::vector<Request> TlsUpstream::requests() const {
  std::lock_guard<std::mutex> lock(mu_);
  return requests_;
}

std::vector<std::string> TlsUpstream::serverNames() const {
  std::lock_guard<std::mutex> lock(mu_);
  return server_names_;
}

::testing::AssertionResult TlsUpstream::waitForRequests(size_t n, milliseconds timeout) const {
  std::unique_lock<std::mutex> lock(mu_);
  if (cv_.wait_for(lock, timeout, [&] { return requests_.size() >= n; })) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "TLS upstream " << name_ << ": " << requests_.size()
                                       << " requests after " << timeout.count() << " ms, wanted " << n;
}

::testing::AssertionResult TlsUpstream::waitForHandshakes(size_t n, milliseconds timeout) const {
  std::unique_lock<std::mutex> lock(mu_);
  auto done = [&] { return completed_handshakes_.load() + failed_handshakes_.load() >= n; };
  if (cv_.wait_for(lock, timeout, done)) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "TLS upstream " << name_ << ": " << completed_handshakes_.load()
                                       << " completed + " << failed_handshakes_.load()
                                       << " failed handshakes after " << timeout.count() << " ms, wanted " << n;
}

}  // namespace portcullis::integration
