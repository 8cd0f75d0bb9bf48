// conf/portcullis.yaml is what the README and scripts/run-dev.sh run: it must load, and it must
// say what the comments in it claim.
#include <gtest/gtest.h>

#include <filesystem>

#include "config/load.h"

namespace portcullis::config {
namespace {

namespace fs = std::filesystem;

const fs::path kRoot = fs::path(PORTCULLIS_SOURCE_DIR);

Config shipped() {
  auto c = loadFile((kRoot / "conf/portcullis.yaml").string());
  if (!c) ADD_FAILURE() << c.error().message;
  return c ? std::move(c).value() : Config{};
}

TEST(ShippedConfig, Loads) {
  auto c = loadFile((kRoot / "conf/portcullis.yaml").string());
  EXPECT_TRUE(c) << c.error().message;
}

TEST(ShippedConfig, ServesHttpsOn443AndRedirectsFrom80) {
  Config c = shipped();
  ASSERT_EQ(c.listeners.size(), 2u);
  EXPECT_EQ(c.listeners[0].name, "https");
  EXPECT_EQ(c.listeners[0].host, "0.0.0.0");
  EXPECT_EQ(c.listeners[0].port, 443);
  EXPECT_TRUE(c.listeners[0].tls);
  EXPECT_EQ(c.listeners[1].name, "http");
  EXPECT_EQ(c.listeners[1].port, 80);
  ASSERT_TRUE(c.listeners[1].redirect_to_https);
  EXPECT_EQ(c.listeners[1].redirect_to_https->https_port, 443);
}

TEST(ShippedConfig, CertificatesAreTheDevCertsInTheRepository) {
  // ../certs/ relative to conf/, i.e. where scripts/gen-dev-cert.sh writes them.
  Config c = shipped();
  ASSERT_FALSE(c.listeners.empty());
  ASSERT_TRUE(c.listeners[0].tls);
  fs::path root = fs::absolute(kRoot).lexically_normal();
  EXPECT_EQ(c.listeners[0].tls->certificates.at(0).certificate, (root / "certs/dev-cert.pem").string());
  EXPECT_EQ(c.listeners[0].tls->certificates.at(0).key, (root / "certs/dev-key.pem").string());
}

TEST(ShippedConfig, RoutesEverythingToTheTwoDemoUpstreams) {
  Config c = shipped();
  ASSERT_EQ(c.routes.size(), 1u);
  EXPECT_EQ(c.routes[0].host, "");
  EXPECT_EQ(c.routes[0].path_prefix, "/");
  const Upstream* app = c.findUpstream(c.routes[0].upstream);
  ASSERT_NE(app, nullptr);
  ASSERT_EQ(app->servers.size(), 2u);
  EXPECT_EQ(app->servers[0].host, "127.0.0.1");
  EXPECT_EQ(app->servers[0].port, 8001);
  EXPECT_EQ(app->servers[1].port, 8002);
}

TEST(ShippedConfig, ListsTheDefaultTimeoutsAndLimits) {
  // Its comments say "the values shown are the defaults": keep that true.
  Config c = shipped();
  Timeouts t;
  Limits l;
  EXPECT_EQ(c.workers, 0u);
  EXPECT_EQ(c.timeouts.client_header, t.client_header);
  EXPECT_EQ(c.timeouts.client_body, t.client_body);
  EXPECT_EQ(c.timeouts.client_idle, t.client_idle);
  EXPECT_EQ(c.timeouts.upstream_connect, t.upstream_connect);
  EXPECT_EQ(c.timeouts.upstream_response, t.upstream_response);
  EXPECT_EQ(c.timeouts.shutdown_grace, t.shutdown_grace);
  EXPECT_EQ(c.limits.request_line, l.request_line);
  EXPECT_EQ(c.limits.header_bytes, l.header_bytes);
  EXPECT_EQ(c.limits.header_count, l.header_count);
  EXPECT_EQ(c.limits.body, l.body);
  ASSERT_FALSE(c.upstreams.empty());
  EXPECT_EQ(c.upstreams[0].max_idle, Upstream{}.max_idle);
  EXPECT_EQ(c.upstreams[0].idle_timeout, Upstream{}.idle_timeout);
}

// conf/etc/portcullis.yaml, installed as /etc/portcullis/portcullis.yaml by the .deb: it must
// match the unit (conf/systemd/portcullis.service), which starts the proxy as its own user with
// LogsDirectory and CacheDirectory made for it.
TEST(ShippedConfig, PackagedConfigMatchesTheSystemdUnit) {
  auto loaded = loadFile((kRoot / "conf/etc/portcullis.yaml").string());
  ASSERT_TRUE(loaded) << loaded.error().message;
  const Config& c = *loaded;
  EXPECT_TRUE(c.user.empty()) << "systemd's User= sets the identity; user: is for root starts";
  EXPECT_EQ(c.temp_dir, "/var/cache/portcullis");
  EXPECT_TRUE(c.access_log.enabled);
  EXPECT_EQ(c.access_log.path, "/var/log/portcullis/access.log");
  ASSERT_EQ(c.listeners.size(), 2u);
  EXPECT_EQ(c.listeners[0].port, 443);
  ASSERT_TRUE(c.listeners[0].tls);
  EXPECT_EQ(c.listeners[0].tls->certificates.at(0).key, "/etc/portcullis/tls/privkey.pem");
  EXPECT_EQ(c.listeners[1].port, 80);
  ASSERT_NE(c.findUpstream("django"), nullptr);
  EXPECT_EQ(c.findUpstream("django")->servers.at(0).port, 8000);
  // The unit's TimeoutStopSec (30s) must outlast the drain.
  EXPECT_LT(c.timeouts.shutdown_grace, std::chrono::seconds(30));
}

}  // namespace
}  // namespace portcullis::config
