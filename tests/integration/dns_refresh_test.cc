// dns_refresh: an upstream host name is re-resolved periodically; addresses that appear join
// the cluster, addresses that disappear stop getting requests (issue 4, "Discovery").
//
// The test owns name resolution by running the proxy in a private mount namespace whose
// /etc/hosts is a bind-mounted file of the test's, rewritten in place (same inode, so the
// mount sees it). That needs root (CI runs as root); elsewhere the test is skipped, saying why.
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <map>

#include "harness/harness.h"

namespace portcullis::integration {
namespace {

using namespace std::chrono_literals;

bool canUnshareMounts() {
  if (geteuid() != 0) return false;
  int rc = std::system("unshare -m true >/dev/null 2>&1");
  return rc != -1 && WIFEXITED(rc) && WEXITSTATUS(rc) == 0;
}

class DnsRefresh : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!canUnshareMounts()) GTEST_SKIP() << "needs root and unshare -m to give the proxy its own /etc/hosts";
    hosts_path_ = dir_.writeFile("hosts", "127.0.0.1 localhost\n127.0.0.2 app.internal\n");
  }

  // Rewrites the file in place: a rename would leave the bind mount on the old inode.
  void setHosts(const std::string& content) {
    std::ofstream f(hosts_path_, std::ios::trunc);
    f << content;
  }

  ::testing::AssertionResult startProxy(uint16_t port) {
    proxy_.setLauncher({"unshare", "-m", "sh", "-c", "mount --bind '" + hosts_path_ + "' /etc/hosts && exec \"$0\" \"$@\""});
    ProxyConfig config;
    config.workers = 1;
    config.redirect_port.reset();
    ProxyConfig::Upstream u;
    u.name = "app";
    u.servers = {"app.internal:" + std::to_string(port)};
    u.extra = {"dns_refresh: 200ms"};
    config.upstreams.push_back(u);
    config.routes.push_back(ProxyConfig::Route("", "/", "app"));
    return proxy_.start(config);
  }

  // Which upstream served each of `n` requests, by name.
  std::map<std::string, int> spread(int n) {
    std::map<std::string, int> seen;
    TlsClient client;
    if (!client.connect(proxy_.httpsPort())) {
      ADD_FAILURE() << "connect";
      return seen;
    }
    for (int i = 0; i < n; ++i) {
      Response resp;
      if (!client.roundTrip(getRequest("/" + std::to_string(i)), &resp) || resp.status != 200) {
        ADD_FAILURE() << "request " << i << " failed";
        return seen;
      }
      ++seen[resp.headers.get("x-upstream-name").value_or("?")];
    }
    return seen;
  }

  TempDir dir_;
  std::string hosts_path_;
  ProxyProcess proxy_;
};

TEST_F(DnsRefresh, NewAddressJoinsAndRemovedAddressDrains) {
  FakeUpstream a("a", "127.0.0.2", 0);
  FakeUpstream b("b", "127.0.0.3", a.port());
  ASSERT_TRUE(startProxy(a.port()));
  auto before = spread(4);
  EXPECT_EQ(before["a"], 4) << "only 127.0.0.2 is in /etc/hosts yet";

  setHosts("127.0.0.1 localhost\n127.0.0.2 app.internal\n127.0.0.3 app.internal\n");
  EXPECT_TRUE(pollUntil([&] { return spread(4)["b"] > 0; }, kWait)) << "127.0.0.3 never got a request";
  EXPECT_TRUE(proxy_.waitForStderr("hosts now", kWait));

  setHosts("127.0.0.1 localhost\n127.0.0.3 app.internal\n");
  EXPECT_TRUE(pollUntil([&] { return spread(6)["b"] == 6; }, kWait)) << "127.0.0.2 still gets requests";
}

TEST_F(DnsRefresh, ResolutionFailureKeepsTheHostsItHad) {
  FakeUpstream a("a", "127.0.0.2", 0);
  ASSERT_TRUE(startProxy(a.port()));
  setHosts("127.0.0.1 localhost\n");  // app.internal no longer resolves
  EXPECT_TRUE(proxy_.waitForStderr("dns refresh failed", kWait));
  EXPECT_EQ(spread(3)["a"], 3);
}

}  // namespace
}  // namespace portcullis::integration
