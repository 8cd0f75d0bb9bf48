#pragma once
// A small HTTP/1.1 upstream that serves TLS (BoringSSL) on 127.0.0.1:<ephemeral>, for the
// proxy's upstream-TLS tests. Kept apart from FakeUpstream (plain TCP, scripted misbehaviour) on
// purpose: this one only needs to complete a handshake with a given certificate, record what it
// saw (requests, the SNI the proxy sent, failed handshakes) and answer 200 "ok".
//
// One thread per connection, blocking sockets with a short SO_RCVTIMEO so every thread notices
// the destructor within ~100 ms; every wait in the API has a deadline.
#include <gtest/gtest.h>
#include <openssl/ssl.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "harness/http_message.h"
#include "harness/test_util.h"

namespace portcullis::integration {

class TlsUpstream {
 public:
  // Serves `certificate` (PEM chain) with `key`. `name` goes into an X-Upstream-Name header.
  // A certificate that does not load is a test failure (ADD_FAILURE) and port() is 0.
  TlsUpstream(const std::string& certificate, const std::string& key, std::string name = "tls-upstream");
  ~TlsUpstream();  // stops accepting, ends every connection, joins every thread
  TlsUpstream(const TlsUpstream&) = delete;
  TlsUpstream& operator=(const TlsUpstream&) = delete;

  uint16_t port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

  size_t requestCount() const;
  std::vector<Request> requests() const;
  // SNI of each completed handshake, in order ("" when the client sent none).
  std::vector<std::string> serverNames() const;
  // Handshakes that failed (e.g. the proxy rejected our certificate and sent an alert).
  size_t failedHandshakes() const { return failed_handshakes_.load(); }
  size_t completedHandshakes() const { return completed_handshakes_.load(); }

  ::testing::AssertionResult waitForRequests(size_t n, milliseconds timeout = kWait) const;
  // Waits until `n` handshakes have ended, completed or failed.
  ::testing::AssertionResult waitForHandshakes(size_t n, milliseconds timeout = kWait) const;

 private:
  void acceptLoop();
  void serveConnection(int fd);
  void noteHandshake(bool ok, const std::string& sni);

  const std::string name_;
  bssl::UniquePtr<SSL_CTX> ctx_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<size_t> failed_handshakes_{0};
  std::atomic<size_t> completed_handshakes_{0};

  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  std::vector<Request> requests_;
  std::vector<std::string> server_names_;
  std::vector<std::thread> threads_;
  std::thread accept_thread_;
};

}  // namespace portcullis::integration
