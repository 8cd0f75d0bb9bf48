// H1Connection specs: the HTTP/1 codec on a real loopback socket and a real loop, answering
// from the plain (redirect) listener so no upstream is involved: framing, pipelining,
// keep-alive and close decisions, bad input, and one record per request.
#include "proxy/h1_connection.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "../support/loop_runner.h"
#include "net/listener.h"
#include "net/loop.h"
#include "net/socket.h"
#include "proxy/router.h"

namespace portcullis::proxy {
namespace {

using testing_support::runUntil;

class Records final : public RequestObserver {
 public:
  void onRequestDone(const RequestRecord& r) override { all.push_back(r); }
  bool readsText() const override { return true; }
  std::vector<RequestRecord> all;
};

class H1ConnectionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto cfg = std::make_shared<config::Config>();
    auto rt = std::make_shared<Runtime>();
    rt->config = cfg;
    rt->router = Router(*cfg);
    worker_ = std::make_unique<WorkerContext>(loop_, rt);
    worker_->addObserver(&records_);
    info_.name = "http";
    info_.tls = false;
    info_.https_port = 443;
    int fd = *net::bindReusePort("127.0.0.1", 0);
    uint16_t port = *net::boundPort(fd);
    listener_ = *net::Listener::adopt(loop_, fd, nullptr, [this](net::Connection& c) -> net::ConnectionHandler* {
      return new H1Connection(*worker_, c, info_);
    });
    client_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::connect(client_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  }
  void TearDown() override {
    if (client_ >= 0) ::close(client_);
    worker_->abortAll();
    listener_->close();
    testing_support::runFor(loop_, 10);
    worker_.reset();
    testing_support::runFor(loop_, 5);
  }
  void send(const std::string& bytes) { ASSERT_EQ(::send(client_, bytes.data(), bytes.size(), 0), ssize_t(bytes.size())); }
  // Reads what the proxy sent (non-blocking, from the loop's poll); true once `n` responses are
  // in or the proxy closed.
  bool readResponses(size_t n) {
    char buf[4096];
    pollfd p{client_, POLLIN, 0};
    while (::poll(&p, 1, 0) > 0) {
      ssize_t got = ::recv(client_, buf, sizeof buf, MSG_DONTWAIT);
      if (got <= 0) {
        closed_ = true;
        break;
      }
      received_.append(buf, static_cast<size_t>(got));
    }
    return closed_ || count("HTTP/1.1 ") >= n;
  }
  size_t count(std::string_view what) const {
    size_t c = 0;
    for (size_t pos = received_.find(what); pos != std::string::npos; pos = received_.find(what, pos + 1)) ++c;
    return c;
  }

  net::Loop loop_;
  std::unique_ptr<WorkerContext> worker_;
  Records records_;
  ListenerInfo info_;
  net::Listener* listener_ = nullptr;
  int client_ = -1;
  std::string received_;
  bool closed_ = false;
};

TEST_F(H1ConnectionTest, PipelinedRequestsAreAnsweredInOrderOnAKeptConnection) {
  send("GET /1 HTTP/1.1\r\nHost: a.test\r\n\r\nGET /2 HTTP/1.1\r\nHost: a.test\r\n\r\nGET /3 HTTP/1.1\r\nHost: a.test\r\n\r\n");
  ASSERT_TRUE(runUntil(loop_, [&] { return readResponses(3) && records_.all.size() == 3; }));
  EXPECT_FALSE(closed_);
  size_t p1 = received_.find("Location: https://a.test/1\r\n");
  size_t p2 = received_.find("Location: https://a.test/2\r\n");
  size_t p3 = received_.find("Location: https://a.test/3\r\n");
  ASSERT_NE(p3, std::string::npos);
  EXPECT_LT(p1, p2);
  EXPECT_LT(p2, p3);
  EXPECT_EQ(count("Connection: close"), 0u);
  ASSERT_EQ(records_.all.size(), 3u);
  EXPECT_EQ(records_.all[2].target, "/3");
  EXPECT_EQ(records_.all[0].connection_id, records_.all[2].connection_id);
}

TEST_F(H1ConnectionTest, Http10WithoutKeepAliveIsAnsweredThenClosed) {
  send("GET /old HTTP/1.0\r\nHost: a.test\r\n\r\n");
  ASSERT_TRUE(runUntil(loop_, [&] { readResponses(1); return closed_; }));
  EXPECT_NE(received_.find("HTTP/1.1 301 "), std::string::npos);
  EXPECT_NE(received_.find("Connection: close\r\n"), std::string::npos);
  ASSERT_EQ(records_.all.size(), 1u);
  EXPECT_EQ(records_.all[0].protocol, "HTTP/1.0");
}

TEST_F(H1ConnectionTest, MalformedHeadIs400AndCloses) {
  send("GET / HTTP/1.1\r\nHost: a.test\r\nBad Header\r\n\r\n");
  ASSERT_TRUE(runUntil(loop_, [&] { readResponses(1); return closed_; }));
  EXPECT_EQ(received_.rfind("HTTP/1.1 400 ", 0), 0u);
  ASSERT_EQ(records_.all.size(), 1u);
  EXPECT_EQ(records_.all[0].status, 400);
  EXPECT_EQ(records_.all[0].error, ErrorKind::BadRequest);
}

TEST_F(H1ConnectionTest, RedirectedRequestWithABodyClosesAfterTheAnswer) {
  // The body is never read, so the next request could not be found: the codec closes.
  send("POST /form HTTP/1.1\r\nHost: a.test\r\nContent-Length: 10\r\n\r\n0123456789");
  ASSERT_TRUE(runUntil(loop_, [&] { readResponses(1); return closed_; }));
  EXPECT_EQ(received_.rfind("HTTP/1.1 308 ", 0), 0u);
  ASSERT_EQ(records_.all.size(), 1u);
}

TEST_F(H1ConnectionTest, ClientLeavingMidHeadIsRecordedOnceAs499) {
  send("GET /partial HTTP/1.1\r\nHost: a.te");
  ASSERT_TRUE(runUntil(loop_, [&] { return worker_->current() != nullptr; }));
  testing_support::runFor(loop_, 20);
  ::close(client_);
  client_ = -1;
  ASSERT_TRUE(runUntil(loop_, [&] { return records_.all.size() == 1; }));
  EXPECT_EQ(records_.all[0].status, 499);
  EXPECT_EQ(records_.all[0].error, ErrorKind::ClientClosed);
  testing_support::runFor(loop_, 20);
  EXPECT_EQ(records_.all.size(), 1u);
}

}  // namespace
}  // namespace portcullis::proxy
