// Pool specs (pool.h) with real loopback connections and a real loop: idle connections are
// handed back in LIFO order, capped at max_idle, and forgotten as soon as the host closes them,
// sends anything, or the idle timeout passes. Every wait is bounded; nothing sleeps.
#include "upstream/pool.h"
#include "../support/loop_runner.h"

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "net/connection.h"
#include "net/listener.h"
#include "net/loop.h"
#include "net/socket.h"
#include "net/timer.h"
#include "upstream/cluster.h"

namespace portcullis::upstream {
namespace {

using net::CloseReason;
using net::Connection;
using net::Loop;
using net::Timer;

using testing_support::kWaitMs;
constexpr int kPending = 1;

using testing_support::runUntil;

// Records events. `consume` = false leaves received bytes in input() (an unfinished exchange).
class Peer : public net::ConnectionHandler {
 public:
  void onConnected(Connection& c, int status) override {
    connect_status = status;
    if (status == 0) conn = &c;
  }
  void onData(Connection& c) override {
    ++data_events;
    if (consume) {
      received.append(c.input().view());
      c.input().consume(c.input().size());
    }
  }
  void onEof(Connection& c) override {
    eof = true;
    c.abort();
  }
  void onTimeout(Connection&) override {}
  void onClose(Connection&, CloseReason) override {
    closed = true;
    conn = nullptr;
  }

  Connection* conn = nullptr;
  int connect_status = kPending;
  bool consume = true;
  std::string received;
  int data_events = 0;
  bool eof = false;
  bool closed = false;
};

// The "upstream host": accepts on 127.0.0.1:<free port> and keeps every connection open.
class FakeHost {
 public:
  explicit FakeHost(Loop& loop) {
    auto fd = net::bindReusePort("127.0.0.1", 0);
    if (!fd) {
      ADD_FAILURE() << fd.error().message;
      return;
    }
    auto port = net::boundPort(*fd);
    auto addr = net::resolve("127.0.0.1", *port);
    if (addr) address = addr->front();
    auto l = net::Listener::adopt(loop, *fd, nullptr, [this](Connection& c) -> net::ConnectionHandler* {
      peers.push_back(std::make_unique<Peer>());
      peers.back()->conn = &c;
      return peers.back().get();
    });
    if (!l) {
      ADD_FAILURE() << l.error().message;
      return;
    }
    listener_ = *l;
  }
  FakeHost(const FakeHost&) = delete;
  FakeHost& operator=(const FakeHost&) = delete;

  size_t open() const {
    size_t n = 0;
    for (auto& p : peers) n += p->conn != nullptr;
    return n;
  }
  void shutdown() {
    for (auto& p : peers)
      if (p->conn) p->conn->abort();
    if (listener_) std::exchange(listener_, nullptr)->close();
  }

  net::Address address;
  std::vector<std::unique_ptr<Peer>> peers;

 private:
  net::Listener* listener_ = nullptr;
};

class PoolTest : public ::testing::Test {
 protected:
  void SetUp() override { host_ = std::make_unique<FakeHost>(*loop_); }

  void TearDown() override {
    pool_.reset();  // aborts what is idle
    for (auto& p : clients_)
      if (p->conn) p->conn->abort();
    host_->shutdown();
    // Let every close callback run; if handles are still open after the deadline, report and
    // leak the loop (~Loop would wait forever) rather than hang the suite.
    bool expired = false;
    Timer* deadline = Timer::create(*loop_, [&] { expired = true; loop_->stop(); });
    deadline->start(kWaitMs);
    deadline->unref();
    loop_->run();
    deadline->close();
    if (expired) {
      ADD_FAILURE() << "handles still open " << kWaitMs << " ms after the test";
      (void)loop_.release();
    }
  }

  // Two hosts entries for the same listener, so per-host bookkeeping can be checked.
  Pool& makePool(uint32_t max_idle = 4, uint64_t idle_timeout_ms = 60'000) {
    std::vector<upstream::Host> hosts{{"h0", host_->address, "", std::make_shared<upstream::HostState>("h0")},
                                      {"h1", host_->address, "", std::make_shared<upstream::HostState>("h1")}};
    upstream::ClusterOptions opts;
    opts.max_idle = max_idle;
    opts.idle_timeout_ms = idle_timeout_ms;
    cluster_ = std::make_unique<Cluster>("app", std::move(hosts), opts);
    pool_ = std::make_unique<Pool>(*cluster_);
    return *pool_;
  }

  // A connected upstream connection whose handler is a fixture-owned Peer.
  Connection* connect() {
    clients_.push_back(std::make_unique<Peer>());
    Peer& client = *clients_.back();
    size_t before = host_->peers.size();
    if (!Connection::connect(*loop_, host_->address, &client, kWaitMs)) {
      ADD_FAILURE() << "connect returned nullptr";
      return nullptr;
    }
    auto r = runUntil(*loop_, [&] {
      return client.connect_status != kPending && host_->peers.size() > before;
    }, kWaitMs, "connect + accept");
    if (!r || client.connect_status != 0) {
      ADD_FAILURE() << r.message() << " status " << client.connect_status;
      return nullptr;
    }
    return client.conn;
  }
  Peer& lastClient() { return *clients_.back(); }
  // Hands `c` to the pool, which becomes its handler: its Peer lets go of it.
  void put(size_t host, Connection* c) {
    for (auto& p : clients_)
      if (p->conn == c) p->conn = nullptr;
    pool_->put(host, c);
  }
  // Takes a connection back and makes `as` its handler, as a caller of Pool::take must.
  Connection* take(size_t host, Peer& as) {
    Connection* c = pool_->take(host);
    if (c) {
      c->setHandler(&as);
      as.conn = c;
    }
    return c;
  }

  std::unique_ptr<Loop> loop_ = std::make_unique<Loop>();
  std::unique_ptr<FakeHost> host_;
  std::unique_ptr<Cluster> cluster_;
  std::unique_ptr<Pool> pool_;
  std::vector<std::unique_ptr<Peer>> clients_;
};

TEST_F(PoolTest, EmptyPoolHasNothingToTake) {
  Pool& pool = makePool();
  EXPECT_EQ(pool.take(0), nullptr);
  EXPECT_EQ(pool.idleCount(), 0u);
}

TEST_F(PoolTest, PutThenTakeReturnsTheSameConnection) {
  Pool& pool = makePool();
  Connection* c = connect();
  ASSERT_NE(c, nullptr);
  put(0, c);
  EXPECT_EQ(pool.idleCount(), 1u);
  Connection* back = take(0, lastClient());
  EXPECT_EQ(back, c);
  EXPECT_EQ(pool.idleCount(), 0u);
  ASSERT_NE(back, nullptr);
  EXPECT_FALSE(back->closing());
}

TEST_F(PoolTest, TakeReturnsTheMostRecentlyUsed) {
  // LIFO keeps the warmest connection busy and lets the others reach their idle timeout.
  makePool();
  Connection* a = connect();
  Peer& pa = lastClient();
  Connection* b = connect();
  Peer& pb = lastClient();
  ASSERT_TRUE(a && b);
  put(0, a);
  put(0, b);
  EXPECT_EQ(take(0, pb), b);
  EXPECT_EQ(take(0, pa), a);
}

TEST_F(PoolTest, IdleConnectionsAreKeptPerHost) {
  Pool& pool = makePool();
  Connection* c = connect();
  ASSERT_NE(c, nullptr);
  put(0, c);
  EXPECT_EQ(take(1, lastClient()), nullptr);
  EXPECT_EQ(pool.idleCount(), 1u);
}

TEST_F(PoolTest, TakenConnectionBelongsToTheCaller) {
  Pool& pool = makePool();
  Connection* c = connect();
  ASSERT_NE(c, nullptr);
  Peer& client = lastClient();
  put(0, c);
  Connection* back = take(0, client);
  ASSERT_EQ(back, c);
  // The host answering now is a response for the caller, not a reason for the pool to close.
  host_->peers.at(0)->conn->write("HTTP/1.1 200 OK\r\n");
  host_->peers.at(0)->conn->flush();
  EXPECT_TRUE(runUntil(*loop_, [&] { return client.received.size() >= 17; }));
  EXPECT_FALSE(back->closing());
  EXPECT_EQ(pool.idleCount(), 0u);
}

TEST_F(PoolTest, PutBeyondMaxIdleClosesTheExtra) {
  Pool& pool = makePool(/*max_idle=*/1);
  Connection* a = connect();
  Connection* b = connect();
  ASSERT_TRUE(a && b);
  ASSERT_EQ(host_->open(), 2u);
  put(0, a);
  put(0, b);
  EXPECT_EQ(pool.idleCount(), 1u);
  // The host sees one of its two connections go away.
  EXPECT_TRUE(runUntil(*loop_, [&] { return host_->open() == 1; }, kWaitMs, "host sees one close"));
  EXPECT_EQ(take(0, *clients_.front()), a);
}

TEST_F(PoolTest, MaxIdleIsPerHost) {
  Pool& pool = makePool(/*max_idle=*/1);
  Connection* a = connect();
  Connection* b = connect();
  ASSERT_TRUE(a && b);
  put(0, a);
  put(1, b);
  EXPECT_EQ(pool.idleCount(), 2u);
}

TEST_F(PoolTest, ConnectionWithUnreadInputIsClosedInsteadOfKept) {
  // Unread bytes mean the exchange is not finished; reusing the connection would hand the
  // next request someone else's response.
  Pool& pool = makePool();
  Connection* c = connect();
  ASSERT_NE(c, nullptr);
  Peer& client = lastClient();
  client.consume = false;
  host_->peers.at(0)->conn->write("stray");
  host_->peers.at(0)->conn->flush();
  ASSERT_TRUE(runUntil(*loop_, [&] { return client.data_events > 0; }));
  put(0, c);
  EXPECT_EQ(pool.idleCount(), 0u);
  EXPECT_TRUE(runUntil(*loop_, [&] { return host_->open() == 0; }, kWaitMs, "host sees the close"));
}

TEST_F(PoolTest, IdleConnectionClosedByTheHostIsForgotten) {
  Pool& pool = makePool();
  Connection* c = connect();
  ASSERT_NE(c, nullptr);
  put(0, c);
  ASSERT_EQ(pool.idleCount(), 1u);
  host_->peers.at(0)->conn->abort();
  EXPECT_TRUE(runUntil(*loop_, [&] { return pool.idleCount() == 0; }, kWaitMs, "pool to forget"));
  EXPECT_EQ(take(0, lastClient()), nullptr);
}

TEST_F(PoolTest, PausedConnectionIsStillWatchedWhileIdle) {
  // A caller may return a connection it had paused (backpressure from a slow client); the pool
  // must read again, or it would never notice the host closing it.
  Pool& pool = makePool();
  Connection* c = connect();
  ASSERT_NE(c, nullptr);
  c->pauseReading();
  put(0, c);
  host_->peers.at(0)->conn->abort();
  EXPECT_TRUE(runUntil(*loop_, [&] { return pool.idleCount() == 0; }, kWaitMs, "pool to forget"));
}

TEST_F(PoolTest, IdleConnectionThatReceivesBytesIsForgotten) {
  Pool& pool = makePool();
  Connection* c = connect();
  ASSERT_NE(c, nullptr);
  put(0, c);
  host_->peers.at(0)->conn->write("HTTP/1.1 408 Request Timeout\r\n\r\n");
  host_->peers.at(0)->conn->flush();
  EXPECT_TRUE(runUntil(*loop_, [&] { return pool.idleCount() == 0; }, kWaitMs, "pool to forget"));
  EXPECT_TRUE(runUntil(*loop_, [&] { return host_->open() == 0; }, kWaitMs, "host sees the close"));
}

TEST_F(PoolTest, IdleTimeoutClosesTheConnection) {
  Pool& pool = makePool(4, /*idle_timeout_ms=*/30);
  Connection* c = connect();
  ASSERT_NE(c, nullptr);
  put(0, c);
  EXPECT_TRUE(runUntil(*loop_, [&] { return pool.idleCount() == 0; }, kWaitMs, "idle timeout"));
  EXPECT_TRUE(runUntil(*loop_, [&] { return host_->open() == 0; }, kWaitMs, "host sees the close"));
}

TEST_F(PoolTest, TakeCancelsTheIdleTimeout) {
  makePool(4, /*idle_timeout_ms=*/20);
  Connection* c = connect();
  ASSERT_NE(c, nullptr);
  Peer& client = lastClient();
  put(0, c);
  ASSERT_EQ(take(0, client), c);
  // Wait well past the idle timeout: the connection must still be open at both ends.
  bool expired = false;
  Timer* t = Timer::create(*loop_, [&] { expired = true; });
  t->start(100);
  ASSERT_TRUE(runUntil(*loop_, [&] { return expired; }));
  t->close();
  EXPECT_FALSE(client.closed);
  EXPECT_EQ(host_->open(), 1u);
}

TEST_F(PoolTest, DestroyingThePoolClosesIdleConnections) {
  makePool();
  Connection* a = connect();
  Connection* b = connect();
  ASSERT_TRUE(a && b);
  put(0, a);
  put(1, b);
  pool_.reset();
  EXPECT_TRUE(runUntil(*loop_, [&] { return host_->open() == 0; }, kWaitMs, "host sees both close"));
}

TEST_F(PoolTest, CloseAllEmptiesThePool) {
  Pool& pool = makePool();
  Connection* a = connect();
  ASSERT_NE(a, nullptr);
  put(0, a);
  pool.closeAll();
  EXPECT_EQ(pool.idleCount(), 0u);
  EXPECT_TRUE(runUntil(*loop_, [&] { return host_->open() == 0; }, kWaitMs, "host sees the close"));
}

}  // namespace
}  // namespace portcullis::upstream
