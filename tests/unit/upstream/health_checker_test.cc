// HealthChecker specs (health_checker.h) against real loopback listeners on a real loop: the
// rise/fall thresholds, expected status ranges, timeouts, refused connects, the probe request
// itself, and stop(). Intervals are tens of milliseconds; every wait is bounded; nothing sleeps.
#include "upstream/health_checker.h"
#include "../support/loop_runner.h"

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>
#include <unistd.h>
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

using namespace std::chrono_literals;
using net::CloseReason;
using net::Connection;
using net::Loop;
using net::Timer;

using testing_support::kWaitMs;

using testing_support::runUntil;

// The checked host: accepts on 127.0.0.1:<free port>, reads one request head and answers
// `reply` verbatim, then closes (the probe asked for Connection: close). An empty reply means
// "accept and never answer".
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
      peers_.push_back(std::make_unique<Peer>(*this));
      peers_.back()->conn = &c;
      ++accepted;
      return peers_.back().get();
    });
    if (!l) {
      ADD_FAILURE() << l.error().message;
      return;
    }
    listener_ = *l;
  }
  FakeHost(const FakeHost&) = delete;
  FakeHost& operator=(const FakeHost&) = delete;

  void answer(int status) { reply = "HTTP/1.1 " + std::to_string(status) + " X\r\nContent-Length: 2\r\n\r\nok"; }
  size_t open() const {
    size_t n = 0;
    for (auto& p : peers_) n += p->conn != nullptr;
    return n;
  }
  void shutdown() {
    for (auto& p : peers_)
      if (p->conn) std::exchange(p->conn, nullptr)->abort();
    if (listener_) std::exchange(listener_, nullptr)->close();
  }

  net::Address address;
  std::string reply;                  // empty: never answer
  std::vector<std::string> requests;  // request heads received
  size_t accepted = 0;

 private:
  struct Peer : net::ConnectionHandler {
    explicit Peer(FakeHost& h) : host(h) {}
    void onData(Connection& c) override {
      std::string_view in = c.input().view();
      size_t end = in.find("\r\n\r\n");
      if (end == std::string_view::npos || answered) return;
      answered = true;
      host.requests.emplace_back(in.substr(0, end + 4));
      c.input().consume(c.input().size());
      if (host.reply.empty()) return;
      c.write(host.reply);
      c.flush();
      if (!c.closing()) c.close();
    }
    void onEof(Connection& c) override { c.abort(); }
    void onTimeout(Connection&) override {}
    void onClose(Connection&, CloseReason) override { conn = nullptr; }
    FakeHost& host;
    Connection* conn = nullptr;
    bool answered = false;
  };
  std::vector<std::unique_ptr<Peer>> peers_;
  net::Listener* listener_ = nullptr;
};

// An address where nothing listens: a port that was bound and released a moment ago.
net::Address refusedAddress() {
  auto fd = net::bindReusePort("127.0.0.1", 0);
  EXPECT_TRUE(fd);
  uint16_t port = *net::boundPort(*fd);
  ::close(*fd);
  return net::resolve("127.0.0.1", port)->front();
}

config::HealthCheck fastCheck(uint32_t rise = 2, uint32_t fall = 3) {
  config::HealthCheck hc;
  hc.enabled = true;
  hc.path = "/healthz";
  hc.interval = 20ms;
  hc.timeout = 15ms;
  hc.rise = rise;
  hc.fall = fall;
  return hc;
}

class HealthCheckerTest : public ::testing::Test {
 protected:
  void TearDown() override {
    if (checker_) checker_->stop();
    checker_.reset();
    for (auto& h : hosts_) h->shutdown();
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

  FakeHost& addHost() {
    hosts_.push_back(std::make_unique<FakeHost>(*loop_));
    return *hosts_.back();
  }

  // A cluster "app" of hosts at `addresses`, named h0:8000, h1:8000, ...
  std::shared_ptr<const Cluster> makeCluster(const std::vector<net::Address>& addresses,
                                             OutlierOptions outlier = {}) {
    std::vector<Host> hosts;
    for (size_t i = 0; i < addresses.size(); ++i) {
      std::string name = "h" + std::to_string(i) + ":8000";
      hosts.push_back(Host{name, addresses[i], "", std::make_shared<HostState>(name)});
    }
    ClusterOptions opts;
    opts.outlier = outlier;
    return std::make_shared<const Cluster>("app", std::move(hosts), opts);
  }

  // Starts a checker on `cluster` that records each result and the host's health right after.
  void startChecker(std::shared_ptr<const Cluster> cluster, const config::HealthCheck& hc) {
    cluster_ = cluster;
    checker_ = std::make_unique<HealthChecker>(*loop_, std::vector<HealthCheckTarget>{{cluster, hc}}, 42);
    checker_->setObserver([this](const ProbeResult& r) {
      results_.push_back(r);
      healthy_after_.push_back(cluster_->hosts()[r.host].state->healthy());
    });
    checker_->start();
  }

  ::testing::AssertionResult waitForResults(size_t n) {
    return runUntil(*loop_, [&] { return results_.size() >= n; }, kWaitMs, "probe results");
  }

  std::unique_ptr<Loop> loop_ = std::make_unique<Loop>();
  std::vector<std::unique_ptr<FakeHost>> hosts_;
  std::shared_ptr<const Cluster> cluster_;
  std::unique_ptr<HealthChecker> checker_;
  std::vector<ProbeResult> results_;
  std::vector<bool> healthy_after_;
};

TEST_F(HealthCheckerTest, HostsStartHealthy) {
  FakeHost& host = addHost();
  host.answer(503);
  startChecker(makeCluster({host.address}), fastCheck());
  EXPECT_TRUE(cluster_->hosts()[0].state->healthy()) << "traffic must flow before the first probe";
}

TEST_F(HealthCheckerTest, FallFailuresInARowMarkAHealthyHostUnhealthy) {
  FakeHost& host = addHost();
  host.answer(503);
  startChecker(makeCluster({host.address}), fastCheck(/*rise=*/2, /*fall=*/3));
  ASSERT_TRUE(waitForResults(3));
  EXPECT_FALSE(results_[0].passed);
  EXPECT_EQ(results_[0].reason, "status 503");
  EXPECT_EQ(healthy_after_[0], true);
  EXPECT_EQ(healthy_after_[1], true);
  EXPECT_EQ(healthy_after_[2], false) << "fall is 3";
}

TEST_F(HealthCheckerTest, RisePassesInARowMarkAnUnhealthyHostHealthyAndEndItsEjection) {
  FakeHost& a = addHost();
  FakeHost& b = addHost();
  a.answer(200);
  b.answer(200);
  OutlierOptions outlier;
  outlier.consecutive_failures = 1;
  auto cluster = makeCluster({a.address, b.address}, outlier);
  const uint64_t now = loop_->nowMs();
  ASSERT_TRUE(cluster->outlier().onFailure(0, now)) << "setup: host 0 ejected";
  cluster->hosts()[0].state->setHealthy(false, now);

  config::HealthCheck hc = fastCheck(/*rise=*/2, /*fall=*/3);
  startChecker(cluster, hc);
  size_t host0_probes = 0;
  bool ejected_after_first = false;
  checker_->setObserver([&](const ProbeResult& r) {
    if (r.host != 0) return;
    ++host0_probes;
    healthy_after_.push_back(cluster->hosts()[0].state->healthy());
    if (host0_probes == 1) ejected_after_first = cluster->hosts()[0].state->ejected(loop_->nowMs());
  });
  ASSERT_TRUE(runUntil(*loop_, [&] { return host0_probes >= 2; }));
  ASSERT_EQ(healthy_after_.size(), 2u);
  EXPECT_FALSE(healthy_after_[0]) << "rise is 2";
  EXPECT_TRUE(ejected_after_first) << "one pass does not end the ejection";
  EXPECT_TRUE(healthy_after_[1]);
  EXPECT_FALSE(cluster->hosts()[0].state->ejected(loop_->nowMs())) << "a host that rose is no longer ejected";
  EXPECT_GT(cluster->hosts()[0].state->cameBackAt(), 0u) << "slow start begins when it rises";
}

TEST_F(HealthCheckerTest, APassBetweenFailuresRestartsTheFallCount) {
  FakeHost& host = addHost();
  host.answer(503);
  startChecker(makeCluster({host.address}), fastCheck(/*rise=*/1, /*fall=*/2));
  checker_->setObserver([&](const ProbeResult& r) {
    results_.push_back(r);
    healthy_after_.push_back(cluster_->hosts()[0].state->healthy());
    host.answer(results_.size() % 2 == 1 ? 200 : 503);  // fail, pass, fail, pass, ...
  });
  ASSERT_TRUE(waitForResults(6));
  for (size_t i = 0; i < 6; ++i) EXPECT_TRUE(healthy_after_[i]) << "probe " << i << ": never two failures in a row";
}

TEST_F(HealthCheckerTest, DefaultExpectedRangeAcceptsRedirectsAndRejectsServerErrors) {
  FakeHost& ok = addHost();
  FakeHost& bad = addHost();
  ok.answer(302);
  bad.answer(500);
  startChecker(makeCluster({ok.address, bad.address}), fastCheck(/*rise=*/1, /*fall=*/1));
  ASSERT_TRUE(runUntil(*loop_, [&] {
    bool seen0 = false, seen1 = false;
    for (auto& r : results_) (r.host == 0 ? seen0 : seen1) = true;
    return seen0 && seen1;
  }));
  for (auto& r : results_) {
    if (r.host == 0) {
      EXPECT_TRUE(r.passed) << r.reason;
    } else {
      EXPECT_FALSE(r.passed) << r.reason;
    }
  }
  EXPECT_TRUE(cluster_->hosts()[0].state->healthy());
  EXPECT_FALSE(cluster_->hosts()[1].state->healthy());
}

TEST_F(HealthCheckerTest, ConfiguredRangesDecideWhatPasses) {
  FakeHost& host = addHost();
  host.answer(404);
  config::HealthCheck hc = fastCheck(1, 1);
  hc.expected = {{200, 204}, {404, 404}};
  startChecker(makeCluster({host.address}), hc);
  ASSERT_TRUE(waitForResults(1));
  EXPECT_TRUE(results_[0].passed) << results_[0].reason;

  results_.clear();
  host.answer(205);  // between the ranges
  ASSERT_TRUE(waitForResults(1));
  EXPECT_FALSE(results_[0].passed);
  EXPECT_EQ(results_[0].reason, "status 205");
}

TEST_F(HealthCheckerTest, AHostThatAcceptsButNeverAnswersTimesOut) {
  FakeHost& host = addHost();  // empty reply: silent
  config::HealthCheck hc = fastCheck(1, 1);
  hc.interval = 200ms;
  hc.timeout = 40ms;
  startChecker(makeCluster({host.address}), hc);
  ASSERT_TRUE(runUntil(*loop_, [&] { return host.accepted >= 1; }));
  const uint64_t accepted_at = loop_->nowMs();
  ASSERT_TRUE(waitForResults(1));
  const uint64_t elapsed = loop_->nowMs() - accepted_at;
  EXPECT_FALSE(results_[0].passed);
  EXPECT_EQ(results_[0].reason, "timeout");
  EXPECT_LE(elapsed, 150u) << "timeout is 40 ms";
  EXPECT_FALSE(cluster_->hosts()[0].state->healthy());
  EXPECT_TRUE(runUntil(*loop_, [&] { return host.open() == 0; }, kWaitMs, "the probe's connection to close"));
}

TEST_F(HealthCheckerTest, ARefusedConnectFails) {
  startChecker(makeCluster({refusedAddress()}), fastCheck(1, 1));
  ASSERT_TRUE(waitForResults(1));
  EXPECT_FALSE(results_[0].passed);
  EXPECT_EQ(results_[0].reason, "connect refused");
  EXPECT_FALSE(cluster_->hosts()[0].state->healthy());
}

TEST_F(HealthCheckerTest, ProbeSendsMethodPathHostAndConnectionClose) {
  FakeHost& host = addHost();
  host.answer(200);
  startChecker(makeCluster({host.address}), fastCheck());
  ASSERT_TRUE(waitForResults(1));
  ASSERT_FALSE(host.requests.empty());
  EXPECT_EQ(host.requests[0],
            "GET /healthz HTTP/1.1\r\nHost: h0:8000\r\nUser-Agent: portcullis-health-check\r\n"
            "Connection: close\r\n\r\n");
}

TEST_F(HealthCheckerTest, AHostResolvedFromANameSendsTheConfiguredNameAsHost) {
  // runtime_builder names each address of "app1:8000" as "app1:8000@<address>".
  FakeHost& host = addHost();
  host.answer(200);
  std::vector<Host> hosts{{"app1:8000@127.0.0.1", host.address, "", std::make_shared<HostState>("app1:8000@127.0.0.1")}};
  startChecker(std::make_shared<const Cluster>("app", std::move(hosts), ClusterOptions{}), fastCheck());
  ASSERT_TRUE(waitForResults(1));
  ASSERT_FALSE(host.requests.empty());
  EXPECT_NE(host.requests[0].find("\r\nHost: app1:8000\r\n"), std::string::npos) << host.requests[0];
}

TEST_F(HealthCheckerTest, ConfiguredMethodAndHostHeaderAreSent) {
  FakeHost& host = addHost();
  host.answer(200);
  config::HealthCheck hc = fastCheck();
  hc.method = "HEAD";
  hc.host = "status.internal";
  startChecker(makeCluster({host.address}), hc);
  ASSERT_TRUE(waitForResults(1));
  ASSERT_FALSE(host.requests.empty());
  EXPECT_EQ(host.requests[0].substr(0, host.requests[0].find("\r\nUser-Agent")),
            "HEAD /healthz HTTP/1.1\r\nHost: status.internal");
  EXPECT_TRUE(results_[0].passed) << results_[0].reason;
}

TEST_F(HealthCheckerTest, InterimResponsesAreSkipped) {
  FakeHost& host = addHost();
  host.reply = "HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\nHTTP/1.1 503 X\r\nContent-Length: 0\r\n\r\n";
  startChecker(makeCluster({host.address}), fastCheck(1, 1));
  ASSERT_TRUE(waitForResults(1));
  EXPECT_EQ(results_[0].reason, "status 503");
}

TEST_F(HealthCheckerTest, GarbageIsAFailure) {
  FakeHost& host = addHost();
  host.reply = "SSH-2.0-OpenSSH_9.2\r\n\r\n";
  startChecker(makeCluster({host.address}), fastCheck(1, 1));
  ASSERT_TRUE(waitForResults(1));
  EXPECT_FALSE(results_[0].passed);
  EXPECT_EQ(results_[0].reason.rfind("bad response", 0), 0u) << results_[0].reason;
}

TEST_F(HealthCheckerTest, FirstProbesAreSpreadOverTheInterval) {
  // 8 hosts, interval 400 ms: with first probes staggered at random within the interval, they
  // do not all land within 5 ms of each other (the chance that they do is about 1e-15).
  std::vector<net::Address> addrs;
  for (int i = 0; i < 8; ++i) {
    FakeHost& h = addHost();
    h.answer(200);
    addrs.push_back(h.address);
  }
  config::HealthCheck hc = fastCheck();
  hc.interval = 400ms;
  hc.timeout = 100ms;
  startChecker(makeCluster(addrs), hc);
  std::vector<uint64_t> at;
  checker_->setObserver([&](const ProbeResult&) { at.push_back(loop_->nowMs()); });
  const uint64_t start = loop_->nowMs();
  ASSERT_TRUE(runUntil(*loop_, [&] { return at.size() >= 8; }));
  EXPECT_GT(at.back() - at.front(), 5u);
  EXPECT_LE(at.back() - start, 400u + 100u) << "every host is probed within its first interval";
}

TEST_F(HealthCheckerTest, StopAbortsTheProbeInFlightAndReportsNothingMore) {
  FakeHost& host = addHost();  // silent: the probe stays in flight
  config::HealthCheck hc = fastCheck();
  hc.interval = 1000ms;
  hc.timeout = 900ms;
  startChecker(makeCluster({host.address}), hc);
  ASSERT_TRUE(runUntil(*loop_, [&] { return host.accepted >= 1; }));
  checker_->stop();
  checker_.reset();  // destroyable right after stop()
  EXPECT_TRUE(runUntil(*loop_, [&] { return host.open() == 0; }, kWaitMs, "the probe's connection to close"));
  EXPECT_TRUE(results_.empty());
}

TEST_F(HealthCheckerTest, HostsOfAClusterWithoutChecksAreSetHealthy) {
  // A reload that turns checks off must not leave a host down with nobody to bring it back.
  auto cluster = makeCluster({refusedAddress()});
  cluster->hosts()[0].state->setHealthy(false, loop_->nowMs());
  config::HealthCheck off = fastCheck();
  off.enabled = false;
  checker_ = std::make_unique<HealthChecker>(*loop_, std::vector<HealthCheckTarget>{{cluster, off}}, 1);
  EXPECT_EQ(checker_->probedHosts(), 0u);
  checker_->start();
  EXPECT_TRUE(cluster->hosts()[0].state->healthy());
}

}  // namespace
}  // namespace portcullis::upstream
