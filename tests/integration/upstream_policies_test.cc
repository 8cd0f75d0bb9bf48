// How requests are spread over the hosts of one upstream (conf/portcullis.yaml `policy`,
// `weight`, `hash_key`), and what a host that dies under a steady stream costs the clients.
#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <thread>

#include "harness/harness.h"

namespace portcullis::integration {
namespace {

using namespace std::chrono_literals;

// "{address: ..., weight: w}": the map form of a servers entry.
std::string weighted(const FakeUpstream& up, int weight) {
  return "{address: \"" + up.address() + "\", weight: " + std::to_string(weight) + "}";
}

// Sends `request` on *client, connecting it first when it is not connected (or the previous
// response closed it). A failure leaves *client disconnected, so the next call starts over.
::testing::AssertionResult exchange(std::unique_ptr<TlsClient>* client, uint16_t port,
                                    const std::string& request, Response* out) {
  if (!*client) {
    *client = std::make_unique<TlsClient>();
    auto ok = (*client)->connect(port);
    if (!ok) {
      client->reset();
      return ok;
    }
  }
  auto ok = (*client)->roundTrip(request, out);
  if (!ok || equalsIgnoreCase(out->headers.get("Connection").value_or(""), "close")) client->reset();
  return ok;
}

class UpstreamPolicies : public ::testing::Test {
 protected:
  // One upstream "app" over `servers` with the extra upstream keys, and a catch-all route.
  // One worker by default: the balancer state is per worker, so one worker sees every pick.
  ::testing::AssertionResult startProxy(std::vector<std::string> servers, std::vector<std::string> extra,
                                        unsigned workers = 1) {
    ProxyConfig config = ProxyConfig::singleUpstream(std::move(servers));
    config.workers = workers;
    config.upstreams[0].extra = std::move(extra);
    config.timeouts.emplace_back("upstream_connect", "1s");
    config.timeouts.emplace_back("upstream_response", "5s");
    return proxy_.start(config);
  }

  // Declared before the upstreams, so the upstreams go first at teardown and a request left
  // hanging on one of them ends at once instead of holding up the proxy's shutdown.
  ProxyProcess proxy_;
  FakeUpstream a_{"a"};
  FakeUpstream b_{"b"};
  FakeUpstream c_{"c"};
};

TEST_F(UpstreamPolicies, RoundRobinWeightsThreeToOneGiveThirtyAndTenOfForty) {
  ASSERT_TRUE(startProxy({weighted(a_, 3), weighted(b_, 1)}, {"policy: round_robin"}));
  TlsClient client;
  ASSERT_TRUE(client.connect(proxy_.httpsPort()));
  for (int i = 0; i < 40; ++i) {
    Response resp;
    ASSERT_TRUE(client.roundTrip(getRequest("/" + std::to_string(i)), &resp)) << "request " << i;
    ASSERT_EQ(resp.status, 200) << "request " << i;
  }
  // Smooth weighted round robin is exact over every cycle of 4 picks: 10 cycles.
  EXPECT_EQ(a_.requestCount(), 30u);
  EXPECT_EQ(b_.requestCount(), 10u);
}

TEST_F(UpstreamPolicies, LeastRequestSendsNewRequestsAwayFromTheHostWithARequestInFlight) {
  // Whichever host gets /hang keeps it in flight for the whole test.
  for (FakeUpstream* up : {&a_, &b_}) {
    up->setResponder([up](const RecordedRequest& r) {
      Reply reply = up->defaultReply();
      if (r.request.target == "/hang") reply.action = Reply::Action::kNeverRespond;
      return reply;
    });
  }
  ASSERT_TRUE(startProxy({a_.address(), b_.address()}, {"policy: least_request"}));
  TlsClient hanging;
  ASSERT_TRUE(hanging.connect(proxy_.httpsPort()));
  ASSERT_TRUE(hanging.send(getRequest("/hang")));
  ASSERT_TRUE(pollUntil([&] { return a_.requestCount() + b_.requestCount() == 1; }, kWait))
      << "/hang reached no host";
  FakeUpstream& busy = a_.requestCount() == 1 ? a_ : b_;
  FakeUpstream& idle = &busy == &a_ ? b_ : a_;

  TlsClient client;
  ASSERT_TRUE(client.connect(proxy_.httpsPort()));
  for (int i = 0; i < 10; ++i) {
    Response resp;
    ASSERT_TRUE(client.roundTrip(getRequest("/" + std::to_string(i)), &resp)) << "request " << i;
    EXPECT_EQ(resp.status, 200) << "request " << i;
    EXPECT_EQ(resp.headers.get("X-Upstream-Name"), idle.name()) << "request " << i;
  }
  EXPECT_EQ(busy.requestCount(), 1u) << "a host with a request in flight got new ones";
  EXPECT_EQ(idle.requestCount(), 10u);
}

// For each of `users`, `rounds` requests on fresh connections (two workers: a connection may
// land on either, and each worker has its own ring), each carrying `header_line(user)`. Returns
// user -> the set of hosts that answered it.
std::map<std::string, std::set<std::string>> spreadUsers(uint16_t port, int users, int rounds,
                                                         const std::function<std::string(const std::string&)>& header_line) {
  std::map<std::string, std::set<std::string>> seen;
  for (int round = 0; round < rounds; ++round) {
    for (int u = 0; u < users; ++u) {
      const std::string user = "user-" + std::to_string(u);
      TlsClient client;
      EXPECT_TRUE(client.connect(port)) << user;
      Response resp;
      EXPECT_TRUE(client.roundTrip(getRequest("/", "localhost", header_line(user)), &resp)) << user;
      EXPECT_EQ(resp.status, 200) << user;
      seen[user].insert(resp.headers.get("X-Upstream-Name").value_or("(none)"));
    }
  }
  return seen;
}

TEST_F(UpstreamPolicies, HashOnHeaderSendsEachUserToOneHostAndSpreadsUsers) {
  ASSERT_TRUE(startProxy({a_.address(), b_.address(), c_.address()},
                         {"policy: hash", "hash_key: \"header:X-User\""}, /*workers=*/2));
  auto seen = spreadUsers(proxy_.httpsPort(), 12, 3, [](const std::string& user) {
    return "X-User: " + user + "\r\n";
  });
  std::set<std::string> hosts;
  for (const auto& [user, answered] : seen) {
    EXPECT_EQ(answered.size(), 1u) << user << " reached " << answered.size() << " hosts";
    hosts.insert(answered.begin(), answered.end());
  }
  // 12 keys all on one of 3 hosts: about 3^-11 for a working ring.
  EXPECT_GE(hosts.size(), 2u) << "every user went to the same host";
}

TEST_F(UpstreamPolicies, HashOnCookieSendsEachSessionToOneHostAndSpreadsSessions) {
  ASSERT_TRUE(startProxy({a_.address(), b_.address(), c_.address()},
                         {"policy: hash", "hash_key: \"cookie:sessionid\""}, /*workers=*/2));
  // The session cookie between others, so the key must be taken from the right pair.
  auto seen = spreadUsers(proxy_.httpsPort(), 12, 3, [](const std::string& user) {
    return "Cookie: theme=dark; sessionid=" + user + "; lang=en\r\n";
  });
  std::set<std::string> hosts;
  for (const auto& [user, answered] : seen) {
    EXPECT_EQ(answered.size(), 1u) << user << " reached " << answered.size() << " hosts";
    hosts.insert(answered.begin(), answered.end());
  }
  EXPECT_GE(hosts.size(), 2u) << "every session went to the same host";
}

TEST_F(UpstreamPolicies, KillingOneOfThreeHostsUnderASteadyStreamFailsAtMostTheRequestInFlight) {
  // Round robin over three; `c` dies (listener and every connection closed) once it has served
  // a few requests, while the client keeps sending one request after another.
  auto c = std::make_unique<FakeUpstream>("c");
  ASSERT_TRUE(startProxy({a_.address(), b_.address(), c->address()}, {"policy: round_robin"}));
  std::atomic<bool> killed{false};
  std::thread killer([&] {
    EXPECT_TRUE(c->waitForRequests(5, 10s));
    c.reset();
    killed = true;
  });

  std::unique_ptr<TlsClient> client;
  int failures = 0;
  std::string failed;  // one line per failed request
  int after_kill = 0;
  std::map<std::string, int> served_after_kill;
  // Bounded: 40 requests once the kill is complete, at most 400 in all.
  for (int i = 0; i < 400 && after_kill < 40; ++i) {
    const bool was_killed = killed.load();
    Response resp;
    auto ok = exchange(&client, proxy_.httpsPort(), getRequest("/" + std::to_string(i)), &resp);
    if (!ok || resp.status != 200) {
      ++failures;
      failed += "request " + std::to_string(i) + (was_killed ? " (after the kill)" : "") + ": " +
                (ok ? "status " + std::to_string(resp.status) : std::string(ok.message())) + "\n";
      continue;
    }
    if (was_killed) {
      ++after_kill;
      ++served_after_kill[resp.headers.get("X-Upstream-Name").value_or("(none)")];
    }
  }
  killer.join();
  // Sequential requests: at most the one in flight at the kill may fail (and normally none does:
  // a GET that got no response byte is retried, a refused connect fails over).
  EXPECT_LE(failures, 1) << failed;
  EXPECT_EQ(after_kill, 40) << "the stream did not get going again after the kill";
  EXPECT_EQ(served_after_kill.count("c"), 0u);
  EXPECT_GT(served_after_kill["a"], 0) << "after the kill, a got nothing";
  EXPECT_GT(served_after_kill["b"], 0) << "after the kill, b got nothing";
}

}  // namespace
}  // namespace portcullis::integration
