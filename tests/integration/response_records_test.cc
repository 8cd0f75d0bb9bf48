// How a small response leaves the proxy on the wire: with response buffering on, its head and
// body share one TLS record even when the app server writes them separately (an external TLS
// test saw two records per small response, where nginx writes one); on a streaming route the
// head leaves at once, before a slow body.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness/harness.h"

namespace portcullis::integration {
namespace {

using namespace std::chrono_literals;

// A TLS 1.2 client that sends one request through BoringSSL, then reads the answer's raw
// records off the socket itself (TLS 1.2: no post-handshake tickets among them, so every
// application_data record is response bytes).
class RawRecordClient {
 public:
  ~RawRecordClient() {
    if (fd_ >= 0) ::close(fd_);
  }
  ::testing::AssertionResult connectAndSend(uint16_t port, const std::string& request) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    timeval tv{5, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0)
      return ::testing::AssertionFailure() << "connect failed";
    ctx_.reset(SSL_CTX_new(TLS_method()));
    SSL_CTX_set_max_proto_version(ctx_.get(), TLS1_2_VERSION);
    ssl_.reset(SSL_new(ctx_.get()));
    SSL_set_tlsext_host_name(ssl_.get(), "localhost");
    SSL_set_fd(ssl_.get(), fd_);
    if (SSL_connect(ssl_.get()) != 1) return ::testing::AssertionFailure() << "handshake failed";
    if (SSL_write(ssl_.get(), request.data(), static_cast<int>(request.size())) != static_cast<int>(request.size()))
      return ::testing::AssertionFailure() << "write failed";
    return ::testing::AssertionSuccess();
  }
  // Application-data records that arrive until `quiet` passes without a byte (at most 3 s).
  int countAppDataRecords(milliseconds quiet) {
    std::string raw;
    auto deadline = Clock::now() + 3s;
    while (Clock::now() < deadline) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, static_cast<int>(quiet.count())) <= 0) break;
      char buf[4096];
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) break;
      raw.append(buf, static_cast<size_t>(n));
    }
    int records = 0;
    for (size_t pos = 0; pos + 5 <= raw.size();) {
      size_t len = (static_cast<uint8_t>(raw[pos + 3]) << 8) | static_cast<uint8_t>(raw[pos + 4]);
      if (raw[pos] == 23) ++records;
      pos += 5 + len;
    }
    return records;
  }

 private:
  int fd_ = -1;
  bssl::UniquePtr<SSL_CTX> ctx_;
  bssl::UniquePtr<SSL> ssl_;
};

Reply headThenBodyLater() {
  Reply r;
  r.body = "hello, one record";
  r.body_delay = 30ms;  // the head and the body reach the proxy in two reads
  return r;
}

TEST(ResponseRecords, SmallBufferedResponseLeavesInOneTlsRecord) {
  FakeUpstream app("app");
  app.setReply(headThenBodyLater());
  ProxyProcess proxy;
  ASSERT_TRUE(proxy.start(ProxyConfig::singleUpstream({app.address()})));
  RawRecordClient client;
  ASSERT_TRUE(client.connectAndSend(proxy.httpsPort(), "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"));
  EXPECT_EQ(client.countAppDataRecords(300ms), 1);
}

TEST(ResponseRecords, StreamingRouteSendsTheHeadBeforeASlowBody) {
  FakeUpstream app("app");
  app.setReply(headThenBodyLater());
  ProxyConfig config = ProxyConfig::singleUpstream({app.address()});
  config.routes[0].buffering = "off";
  ProxyProcess proxy;
  ASSERT_TRUE(proxy.start(config));
  RawRecordClient client;
  ASSERT_TRUE(client.connectAndSend(proxy.httpsPort(), "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"));
  EXPECT_EQ(client.countAppDataRecords(300ms), 2);
}

}  // namespace
}  // namespace portcullis::integration
