// SIGHUP reload (DESIGN 3.5): re-read the config and every certificate, check them all, then swap
// the snapshot in each worker. Connections already open keep working; a reload that fails (bad
// certificate, a listener moved) changes nothing and says "reload failed".
//
// The swap is asynchronous (uv_async to each worker), so a test polls for the effect with a
// deadline: new connections until one shows it.
#include <gtest/gtest.h>

#include <cstdio>

#include "harness/harness.h"

namespace portcullis::integration {
namespace {

using namespace std::chrono_literals;

// Built field by field, so fields added to the harness later keep their defaults.
ProxyConfig::Route route(const std::string& host, const std::string& path, const std::string& upstream) {
  ProxyConfig::Route r;
  r.host = host;
  r.path = path;
  r.upstream = upstream;
  return r;
}

ProxyConfig::Upstream upstream(const std::string& name, const std::string& server) {
  ProxyConfig::Upstream u;
  u.name = name;
  u.servers = {server};
  return u;
}

class Reload : public ::testing::Test {
 protected:
  void SetUp() override {
    old_cert_ = generateCertificate(certs_.path());
    ASSERT_TRUE(old_cert_.error.empty()) << old_cert_.error;
    old_sha_ = certificateFileSha256(old_cert_.certificate);
    ASSERT_FALSE(old_sha_.empty()) << "cannot read " << old_cert_.certificate;
  }

  // "/" -> first, with the certificate in certs_ (which tests replace on disk).
  ProxyConfig baseConfig() const {
    ProxyConfig c = ProxyConfig::singleUpstream({first_.address()}, "first");
    c.certificate = old_cert_.certificate;
    c.key = old_cert_.key;
    return c;
  }

  // Moves `from` over `to` (rename: the proxy never reads half a file).
  static ::testing::AssertionResult replaceFile(const std::string& from, const std::string& to) {
    if (std::rename(from.c_str(), to.c_str()) != 0) {
      return ::testing::AssertionFailure() << "rename " << from << " -> " << to << " failed";
    }
    return ::testing::AssertionSuccess();
  }

  // Makes a new certificate and key and moves them over the files the config names. *sha: the
  // new certificate's fingerprint.
  ::testing::AssertionResult replaceCertificateOnDisk(std::string* sha) {
    CertFiles fresh = generateCertificate(staging_.path());
    if (!fresh.error.empty()) return ::testing::AssertionFailure() << fresh.error;
    *sha = certificateFileSha256(fresh.certificate);
    if (sha->empty() || *sha == old_sha_) {
      return ::testing::AssertionFailure() << "the new certificate has no distinct fingerprint";
    }
    auto ok = replaceFile(fresh.certificate, old_cert_.certificate);
    if (!ok) return ok;
    return replaceFile(fresh.key, old_cert_.key);
  }

  // Connects until a new connection's certificate has fingerprint `sha`.
  ::testing::AssertionResult waitForNewConnectionsToSee(const std::string& sha, milliseconds timeout = kWait) {
    std::string last;
    bool seen = pollUntil(
        [&] {
          TlsClient probe;
          auto ok = probe.connect(proxy_.httpsPort(), {}, 1000ms);
          last = ok ? probe.peerCertificateSha256() : std::string("(handshake failed: ") + ok.message() + ")";
          return last == sha;
        },
        timeout);
    if (seen) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << "no new connection presented certificate " << sha << " within "
                                         << timeout.count() << " ms; last: " << last;
  }

  // One GET on a new connection: status and the X-Upstream-Name that answered ("" if none).
  ::testing::AssertionResult getOnNewConnection(const std::string& target, Response* out,
                                                std::string* sha = nullptr) {
    TlsClient c;
    auto ok = c.connect(proxy_.httpsPort());
    if (!ok) return ok;
    if (sha) *sha = c.peerCertificateSha256();
    return c.roundTrip(getRequest(target), out);
  }

  // Polls new connections until GET `target` is answered by upstream `name`.
  ::testing::AssertionResult waitForNewConnectionsToReach(const std::string& target, const std::string& name,
                                                          milliseconds timeout = kWait) {
    std::string last;
    bool reached = pollUntil(
        [&] {
          Response resp;
          auto ok = getOnNewConnection(target, &resp);
          last = ok ? std::to_string(resp.status) + " from " + resp.headers.get("X-Upstream-Name").value_or("(none)")
                    : std::string(ok.message());
          return ok && resp.headers.get("X-Upstream-Name") == name;
        },
        timeout);
    if (reached) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << "GET " << target << " on new connections never reached '" << name
                                         << "' within " << timeout.count() << " ms; last: " << last;
  }

  TempDir certs_;    // the certificate files the config names
  TempDir staging_;  // where replacements are made before they are moved over
  CertFiles old_cert_;
  std::string old_sha_;
  FakeUpstream first_{"first"};
  FakeUpstream second_{"second"};
  ProxyProcess proxy_;
};

// --- certificates ---------------------------------------------------------------------------

TEST_F(Reload, NewConnectionsGetTheNewCertificateWhileAnOpenOneKeepsWorking) {
  ASSERT_TRUE(proxy_.start(baseConfig()));
  TlsClient kept;
  ASSERT_TRUE(kept.connect(proxy_.httpsPort()));
  ASSERT_EQ(kept.peerCertificateSha256(), old_sha_);
  Response before;
  ASSERT_TRUE(kept.roundTrip(getRequest("/before"), &before));
  ASSERT_EQ(before.status, 200);

  std::string new_sha;
  ASSERT_TRUE(replaceCertificateOnDisk(&new_sha));
  ASSERT_TRUE(proxy_.reload());
  ASSERT_TRUE(waitForNewConnectionsToSee(new_sha));

  // The keep-alive connection outlives the swap, on the certificate of its own handshake.
  Response after;
  ASSERT_TRUE(kept.roundTrip(getRequest("/after"), &after));
  EXPECT_EQ(after.status, 200);
  EXPECT_EQ(after.body, "ok");
  EXPECT_EQ(kept.peerCertificateSha256(), old_sha_);
  ASSERT_TRUE(first_.waitForRequests(2));
  EXPECT_EQ(proxy_.stderrText().find("reload failed"), std::string::npos) << proxy_.stderrText();
}

TEST_F(Reload, NewCertificateServesRequests) {
  ASSERT_TRUE(proxy_.start(baseConfig()));
  std::string new_sha;
  ASSERT_TRUE(replaceCertificateOnDisk(&new_sha));
  ASSERT_TRUE(proxy_.reload());
  ASSERT_TRUE(waitForNewConnectionsToSee(new_sha));
  Response resp;
  std::string sha;
  ASSERT_TRUE(getOnNewConnection("/", &resp, &sha));
  EXPECT_EQ(sha, new_sha);
  EXPECT_EQ(resp.status, 200);
}

TEST_F(Reload, GarbageCertificateKeepsTheOldOne) {
  ASSERT_TRUE(proxy_.start(baseConfig()));
  std::string garbage = staging_.writeFile("garbage.pem",
                                           "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n"
                                           "-----END CERTIFICATE-----\n");
  ASSERT_TRUE(replaceFile(garbage, old_cert_.certificate));
  ASSERT_TRUE(proxy_.reload());
  ASSERT_TRUE(proxy_.waitForStderr("reload failed"));

  Response resp;
  std::string sha;
  ASSERT_TRUE(getOnNewConnection("/", &resp, &sha));
  EXPECT_EQ(sha, old_sha_);
  EXPECT_EQ(resp.status, 200);
  EXPECT_TRUE(proxy_.running());
}

TEST_F(Reload, KeyThatDoesNotMatchTheCertificateKeepsTheOldOne) {
  ASSERT_TRUE(proxy_.start(baseConfig()));
  std::string other_key = staging_.path() + "/other-key.pem";
  ASSERT_TRUE(generateKey(other_key));
  ASSERT_TRUE(replaceFile(other_key, old_cert_.key));
  ASSERT_TRUE(proxy_.reload());
  ASSERT_TRUE(proxy_.waitForStderr("reload failed"));

  Response resp;
  std::string sha;
  ASSERT_TRUE(getOnNewConnection("/", &resp, &sha));
  EXPECT_EQ(sha, old_sha_);
  EXPECT_EQ(resp.status, 200);
  EXPECT_TRUE(proxy_.running());
}

TEST_F(Reload, AFixedCertificateIsTakenOnTheNextReload) {
  // A failed reload must not wedge reloading: fixing the files and sending SIGHUP again works.
  ASSERT_TRUE(proxy_.start(baseConfig()));
  std::string garbage = staging_.writeFile("garbage.pem", "not a certificate\n");
  ASSERT_TRUE(replaceFile(garbage, old_cert_.certificate));
  ASSERT_TRUE(proxy_.reload());
  ASSERT_TRUE(proxy_.waitForStderr("reload failed"));

  std::string new_sha;
  ASSERT_TRUE(replaceCertificateOnDisk(&new_sha));
  ASSERT_TRUE(proxy_.reload());
  ASSERT_TRUE(waitForNewConnectionsToSee(new_sha));
}

// --- routes ---------------------------------------------------------------------------------

class ReloadRoutes : public Reload {
 protected:
  // One worker: once one new connection sees the new routes, that worker (the only one) has
  // swapped, so every connection's next request must see them too.
  ProxyConfig initialConfig() const {
    ProxyConfig c = baseConfig();
    c.workers = 1;
    return c;
  }
  // The same, plus "/a" -> second.
  ProxyConfig routedConfig() const {
    ProxyConfig c = initialConfig();
    c.upstreams.push_back(upstream("second", second_.address()));
    c.routes.insert(c.routes.begin(), route("", "/a", "second"));
    return c;
  }
};

TEST_F(ReloadRoutes, NewConnectionReachesTheNewRoutesUpstream) {
  ASSERT_TRUE(proxy_.start(initialConfig()));
  Response before;
  ASSERT_TRUE(getOnNewConnection("/a", &before));
  ASSERT_EQ(before.headers.get("X-Upstream-Name"), "first");

  ASSERT_TRUE(proxy_.rewriteConfig(routedConfig()));
  ASSERT_TRUE(proxy_.reload());
  ASSERT_TRUE(waitForNewConnectionsToReach("/a", "second"));

  // Only /a moved.
  Response other;
  ASSERT_TRUE(getOnNewConnection("/b", &other));
  EXPECT_EQ(other.headers.get("X-Upstream-Name"), "first");
  EXPECT_EQ(proxy_.stderrText().find("reload failed"), std::string::npos) << proxy_.stderrText();
}

TEST_F(ReloadRoutes, KeepAliveConnectionsNextRequestFollowsTheNewRoutes) {
  ASSERT_TRUE(proxy_.start(initialConfig()));
  TlsClient kept;
  ASSERT_TRUE(kept.connect(proxy_.httpsPort()));
  Response before;
  ASSERT_TRUE(kept.roundTrip(getRequest("/a"), &before));
  ASSERT_EQ(before.headers.get("X-Upstream-Name"), "first");

  ASSERT_TRUE(proxy_.rewriteConfig(routedConfig()));
  ASSERT_TRUE(proxy_.reload());
  ASSERT_TRUE(waitForNewConnectionsToReach("/a", "second"));

  Response after;
  ASSERT_TRUE(kept.roundTrip(getRequest("/a"), &after));
  EXPECT_EQ(after.status, 200);
  EXPECT_EQ(after.headers.get("X-Upstream-Name"), "second");
  RecordedRequest got;
  ASSERT_TRUE(second_.waitForRequest(0, &got));
  EXPECT_EQ(got.request.target, "/a");
}

// --- refused reloads ------------------------------------------------------------------------

TEST_F(ReloadRoutes, MovingAListenerIsRefusedAndTheOldConfigKeepsServing) {
  // Moving a listener would close a SO_REUSEPORT socket and drop its accept queue: that takes a
  // restart. The rest of the new file (a route change) must not be applied either.
  ASSERT_TRUE(proxy_.start(initialConfig()));
  const uint16_t old_port = proxy_.httpsPort();
  const uint16_t new_port = unusedPort();
  ProxyConfig moved = routedConfig();
  moved.https_address = "127.0.0.1:" + std::to_string(new_port);
  ASSERT_TRUE(proxy_.rewriteConfig(moved));
  ASSERT_TRUE(proxy_.reload());
  ASSERT_TRUE(proxy_.waitForStderr("reload failed"));
  EXPECT_NE(proxy_.stderrText().find("restart"), std::string::npos) << proxy_.stderrText();

  Response resp;
  ASSERT_TRUE(getOnNewConnection("/a", &resp));
  EXPECT_EQ(resp.status, 200);
  EXPECT_EQ(resp.headers.get("X-Upstream-Name"), "first") << "the refused config's routes were applied";
  EXPECT_EQ(proxy_.httpsPort(), old_port);
  RawClient elsewhere;
  EXPECT_FALSE(elsewhere.connect(new_port, 1000ms)) << "something listens on the refused address";
  EXPECT_EQ(second_.requestCount(), 0u);
}

TEST_F(ReloadRoutes, BrokenYamlIsRefusedAndTheOldConfigKeepsServing) {
  ASSERT_TRUE(proxy_.start(initialConfig()));
  ASSERT_TRUE(proxy_.rewriteYaml(routedConfig().toYaml() + "routez: [\n"));
  ASSERT_TRUE(proxy_.reload());
  ASSERT_TRUE(proxy_.waitForStderr("reload failed"));

  Response resp;
  ASSERT_TRUE(getOnNewConnection("/a", &resp));
  EXPECT_EQ(resp.status, 200);
  EXPECT_EQ(resp.headers.get("X-Upstream-Name"), "first");
}

}  // namespace
}  // namespace portcullis::integration
