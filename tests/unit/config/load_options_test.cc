// loadString for the optional settings: TLS versions, ciphers, curves, tickets and client
// certificates; HSTS; ALPN protocols; redirect allow-lists; balancing, health checks, outlier
// ejection, queues and retries; per-route buffering; temp_dir. One behaviour per test; the
// errors are fixtures (tests/fixtures/configs/bad_*.yaml), but for `protocols`, whose errors
// (file:line:col included) are tested here.
#include <gtest/gtest.h>

#include <string>

#include "config/load.h"
#include "config_test_util.h"

namespace portcullis::config {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

using test_util::errorOf;
using test_util::load;
using test_util::mustLoad;

// A TLS listener whose `tls:` map gets `extra` (indented six spaces) after a certificate pair.
TlsFiles tlsWith(const std::string& extra) {
  Config c = mustLoad(R"(
listeners:
  - name: https
    address: "127.0.0.1:8443"
    tls:
      certificate: cert.pem
      key: key.pem
)" + extra);
  if (c.listeners.empty() || !c.listeners[0].tls) return TlsFiles{};
  return *c.listeners[0].tls;
}

// The TLS listener with `extra` as further listener keys (indented four spaces).
Listener httpsWith(const std::string& extra) {
  Config c = mustLoad(R"(
listeners:
  - name: https
    address: "127.0.0.1:8443"
    tls: {certificate: cert.pem, key: key.pem}
)" + extra);
  return c.listeners.empty() ? Listener{} : c.listeners[0];
}

// Upstream "app" with `extra` as further keys (indented four spaces).
Upstream appWith(const std::string& extra) {
  Config c = mustLoad(R"(
listeners:
  - {name: http, address: "127.0.0.1:8080", redirect_to_https: {}}
upstreams:
  app:
    servers: [127.0.0.1:8001]
)" + extra);
  return c.upstreams.empty() ? Upstream{} : c.upstreams[0];
}

// The first route, with `extra` as further keys (indented four spaces).
Route routeWith(const std::string& extra) {
  Config c = mustLoad(R"(
listeners:
  - {name: http, address: "127.0.0.1:8080", redirect_to_https: {}}
upstreams:
  app: {servers: [127.0.0.1:8001]}
routes:
  - path: /events/
    upstream: app
)" + extra);
  return c.routes.empty() ? Route{} : c.routes[0];
}

// --- temp_dir -------------------------------------------------------------------------------

TEST(ConfigOptions, TempDirIsReadWithItsMark) {
  Config c = mustLoad(R"(temp_dir: /var/tmp/portcullis
listeners:
  - {name: http, address: "127.0.0.1:8080", redirect_to_https: {}}
)");
  EXPECT_EQ(c.temp_dir, "/var/tmp/portcullis");
  EXPECT_EQ(toString(c.temp_dir_mark), "test.yaml:1:11");
}

TEST(ConfigOptions, TempDirDefaultsToTmp) {
  Config c = mustLoad(R"(
listeners:
  - {name: http, address: "127.0.0.1:8080", redirect_to_https: {}}
)");
  EXPECT_EQ(c.temp_dir, "/tmp");
}

// --- user, group ----------------------------------------------------------------------------

// Names only: the server looks them up (and reports unknown ones at these marks).
TEST(ConfigOptions, UserAndGroupAreReadWithTheirMarks) {
  Config c = mustLoad(R"(user: portcullis
group: ssl-cert
listeners:
  - {name: http, address: "127.0.0.1:8080", redirect_to_https: {}}
)");
  EXPECT_EQ(c.user, "portcullis");
  EXPECT_EQ(c.group, "ssl-cert");
  EXPECT_EQ(toString(c.user_mark), "test.yaml:1:7");
  EXPECT_EQ(toString(c.group_mark), "test.yaml:2:8");
}

TEST(ConfigOptions, NoUserKeepsTheStartingIdentity) {
  Config c = mustLoad(R"(
listeners:
  - {name: http, address: "127.0.0.1:8080", redirect_to_https: {}}
)");
  EXPECT_TRUE(c.user.empty());
  EXPECT_TRUE(c.group.empty());
}

TEST(ConfigOptions, GroupNeedsUser) {
  EXPECT_EQ(errorOf(R"(group: portcullis
listeners:
  - {name: http, address: "127.0.0.1:8080", redirect_to_https: {}}
)"),
            "test.yaml:1:8: 'group' needs 'user' as well");
  EXPECT_EQ(errorOf(R"(user: ""
listeners:
  - {name: http, address: "127.0.0.1:8080", redirect_to_https: {}}
)"),
            "test.yaml:1:7: user: must not be empty");
}

// --- listener TLS ---------------------------------------------------------------------------

TEST(ConfigOptions, CertificatesListKeepsOrderAndResolvesPaths) {
  Config c = mustLoad(R"(
listeners:
  - name: https
    address: "127.0.0.1:8443"
    tls:
      certificates:
        - {certificate: ecdsa.pem, key: ecdsa.key}
        - {certificate: /srv/rsa.pem, key: ../rsa.key}
)");
  const auto& certs = c.listeners.at(0).tls->certificates;
  ASSERT_EQ(certs.size(), 2u);
  EXPECT_EQ(certs[0].certificate, "/etc/pc/ecdsa.pem");
  EXPECT_EQ(certs[0].key, "/etc/pc/ecdsa.key");
  EXPECT_EQ(certs[1].certificate, "/srv/rsa.pem");
  EXPECT_EQ(certs[1].key, "/etc/rsa.key");
}

TEST(ConfigOptions, CertificatesListRecordsAMarkForEachFile) {
  Config c = mustLoad(R"(
listeners:
  - name: https
    address: "127.0.0.1:8443"
    tls:
      certificates:
        - {certificate: ecdsa.pem, key: ecdsa.key}
        - certificate: rsa.pem
          key: rsa.key
)");
  const auto& certs = c.listeners.at(0).tls->certificates;
  EXPECT_EQ(toString(certs[0].certificate_mark), "test.yaml:7:25");
  EXPECT_EQ(toString(certs[0].key_mark), "test.yaml:7:41");
  EXPECT_EQ(toString(certs[1].certificate_mark), "test.yaml:8:24");
  EXPECT_EQ(toString(certs[1].key_mark), "test.yaml:9:16");
}

TEST(ConfigOptions, TlsMarkPointsAtTheTlsMap) {
  Config c = mustLoad(R"(
listeners:
  - name: https
    address: "127.0.0.1:8443"
    tls:
      certificate: cert.pem
      key: key.pem
)");
  EXPECT_EQ(toString(c.listeners.at(0).tls->mark), "test.yaml:6:7");
}

TEST(ConfigOptions, OmittedTlsSettingsKeepTheModelDefaults) {
  TlsFiles t = tlsWith("");
  TlsFiles d;
  EXPECT_EQ(t.min_version, d.min_version);
  EXPECT_EQ(t.ciphers, d.ciphers);
  EXPECT_EQ(t.curves, d.curves);
  EXPECT_EQ(t.handshake_timeout, d.handshake_timeout);
  EXPECT_TRUE(t.session_tickets);
  EXPECT_EQ(t.ticket_key_rotation, d.ticket_key_rotation);
  EXPECT_EQ(t.ticket_lifetime, d.ticket_lifetime);
  EXPECT_EQ(t.ticket_key_file, "");
  EXPECT_EQ(t.client_auth.mode, ClientAuthMode::Off);
}

TEST(ConfigOptions, MinVersionMayBeAnUnquotedNumber) {
  EXPECT_EQ(tlsWith("      min_version: 1.3\n").min_version, "1.3");
}

TEST(ConfigOptions, MinVersionAcceptsTheOpenSslSpelling) {
  EXPECT_EQ(tlsWith("      min_version: TLSv1.3\n").min_version, "1.3");
}

TEST(ConfigOptions, CiphersAreReadWithTheirMark) {
  TlsFiles t = tlsWith("      ciphers: ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305\n");
  EXPECT_EQ(t.ciphers, "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305");
  EXPECT_EQ(toString(t.ciphers_mark), "test.yaml:8:16");
}

TEST(ConfigOptions, CurvesAreNormalisedInOrder) {
  TlsFiles t = tlsWith("      curves: [secp384r1, x25519]\n");
  EXPECT_EQ(t.curves, (std::vector<std::string>{"P-384", "X25519"}));
}

TEST(ConfigOptions, CurvesMarkPointsAtTheList) {
  EXPECT_EQ(toString(tlsWith("      curves: [X25519]\n").curves_mark), "test.yaml:8:15");
}

TEST(ConfigOptions, HandshakeTimeoutIsRead) {
  EXPECT_EQ(tlsWith("      handshake_timeout: 3s\n").handshake_timeout, milliseconds(3000));
}

TEST(ConfigOptions, SessionTicketsCanBeTurnedOff) {
  EXPECT_FALSE(tlsWith("      session_tickets: false\n").session_tickets);
}

TEST(ConfigOptions, TicketRotationAndLifetimeAreRead) {
  TlsFiles t = tlsWith("      ticket_key_rotation: 30m\n      ticket_lifetime: 2h\n");
  EXPECT_EQ(t.ticket_key_rotation, milliseconds(1'800'000));
  EXPECT_EQ(t.ticket_lifetime, milliseconds(7'200'000));
}

TEST(ConfigOptions, TicketLifetimeMayBeSevenDays) {
  // RFC 8446 §4.6.1's maximum, above the 24h cap of other durations.
  EXPECT_EQ(tlsWith("      ticket_lifetime: 7d\n").ticket_lifetime, milliseconds(604'800'000));
}

TEST(ConfigOptions, TicketLifetimeMayEqualTheRotation) {
  TlsFiles t = tlsWith("      ticket_key_rotation: 1h\n      ticket_lifetime: 60m\n");
  EXPECT_EQ(t.ticket_lifetime, t.ticket_key_rotation);
}

TEST(ConfigOptions, TicketKeyFileIsResolvedWithItsMark) {
  TlsFiles t = tlsWith("      ticket_key_file: secrets/ticket.key\n");
  EXPECT_EQ(t.ticket_key_file, "/etc/pc/secrets/ticket.key");
  EXPECT_EQ(toString(t.ticket_key_file_mark), "test.yaml:8:24");
}

TEST(ConfigOptions, ClientAuthRequiredReadsTheCaWithItsMark) {
  TlsFiles t = tlsWith("      client_auth:\n        mode: required\n        ca: clients-ca.pem\n");
  EXPECT_EQ(t.client_auth.mode, ClientAuthMode::Required);
  EXPECT_EQ(t.client_auth.ca, "/etc/pc/clients-ca.pem");
  EXPECT_EQ(toString(t.client_auth.ca_mark), "test.yaml:10:13");
  EXPECT_EQ(toString(t.client_auth.mark), "test.yaml:9:9");
}

TEST(ConfigOptions, ClientAuthOptionalIsRead) {
  TlsFiles t = tlsWith("      client_auth: {mode: optional, ca: ca.pem}\n");
  EXPECT_EQ(t.client_auth.mode, ClientAuthMode::Optional);
}

TEST(ConfigOptions, ClientAuthOffNeedsNoCa) {
  TlsFiles t = tlsWith("      client_auth: {mode: off}\n");
  EXPECT_EQ(t.client_auth.mode, ClientAuthMode::Off);
  EXPECT_EQ(t.client_auth.ca, "");
}

TEST(ConfigOptions, ClientAuthHeadersAreRead) {
  TlsFiles t = tlsWith(R"(      client_auth:
        mode: optional
        ca: ca.pem
        subject_header: X-SSL-Subject
        fingerprint_header: X-SSL-Fingerprint
)");
  EXPECT_EQ(t.client_auth.subject_header, "X-SSL-Subject");
  EXPECT_EQ(t.client_auth.fingerprint_header, "X-SSL-Fingerprint");
}

TEST(ConfigOptions, ClientAuthHeadersDefaultToTheModel) {
  TlsFiles t = tlsWith("      client_auth: {mode: required, ca: ca.pem}\n");
  EXPECT_EQ(t.client_auth.subject_header, "X-Client-Cert-Subject");
  EXPECT_EQ(t.client_auth.fingerprint_header, "X-Client-Cert-Sha256");
}

// --- HSTS -----------------------------------------------------------------------------------

TEST(ConfigOptions, HstsIsOffWhenOmitted) { EXPECT_FALSE(httpsWith("").hsts.enabled); }

TEST(ConfigOptions, HstsPresentAloneTurnsItOnWithTheDefaults) {
  Hsts h = httpsWith("    hsts:\n").hsts;
  EXPECT_TRUE(h.enabled);
  EXPECT_EQ(h.max_age, Hsts{}.max_age);
  EXPECT_FALSE(h.include_subdomains);
  EXPECT_FALSE(h.preload);
}

TEST(ConfigOptions, HstsMaxAgeAcceptsDays) {
  EXPECT_EQ(httpsWith("    hsts: {max_age: 365d}\n").hsts.max_age, seconds(31'536'000));
}

TEST(ConfigOptions, HstsMaxAgeZeroIsAllowed) {
  // RFC 6797 §6.1.1: max-age=0 tells browsers to forget the policy, the way to undo HSTS.
  Hsts h = httpsWith("    hsts: {max_age: 0}\n").hsts;
  EXPECT_TRUE(h.enabled);
  EXPECT_EQ(h.max_age, seconds(0));
}

TEST(ConfigOptions, HstsIncludeSubdomainsIsRead) {
  EXPECT_TRUE(httpsWith("    hsts: {include_subdomains: true}\n").hsts.include_subdomains);
}

TEST(ConfigOptions, HstsPreloadWithItsRequirementsIsAccepted) {
  Hsts h = httpsWith("    hsts: {max_age: 730d, include_subdomains: true, preload: true}\n").hsts;
  EXPECT_TRUE(h.preload);
}

TEST(ConfigOptions, HstsEnabledFalseKeepsTheOtherSettings) {
  Hsts h = httpsWith("    hsts: {enabled: false, max_age: 1d}\n").hsts;
  EXPECT_FALSE(h.enabled);
  EXPECT_EQ(h.max_age, seconds(86'400));
}

// --- ALPN protocols -------------------------------------------------------------------------
// The errors are here rather than in fixtures: each one's line:col is part of the expectation.

using Protocols = std::vector<std::string>;

// The TLS listener of httpsWith, with `extra` as further listener keys: the error message.
std::string httpsErrorWith(const std::string& extra) {
  return test_util::errorOf(R"(
listeners:
  - name: https
    address: "127.0.0.1:8443"
    tls: {certificate: cert.pem, key: key.pem}
)" + extra);  // `extra` starts on line 6
}

TEST(ConfigOptions, ProtocolsDefaultToH2ThenHttp11) {
  EXPECT_EQ(httpsWith("").protocols, (Protocols{"h2", "http/1.1"}));
}

TEST(ConfigOptions, ProtocolsKeepTheOrderWritten) {
  EXPECT_EQ(httpsWith("    protocols: [http/1.1, h2]\n").protocols, (Protocols{"http/1.1", "h2"}));
  EXPECT_EQ(httpsWith("    protocols:\n      - h2\n      - http/1.1\n").protocols,
            (Protocols{"h2", "http/1.1"}));
}

TEST(ConfigOptions, ProtocolsMayOfferOneVersion) {
  EXPECT_EQ(httpsWith("    protocols: [http/1.1]\n").protocols, Protocols{"http/1.1"});
  EXPECT_EQ(httpsWith("    protocols: [h2]\n").protocols, Protocols{"h2"});
}

TEST(ConfigOptions, ProtocolsRefuseAnUnknownProtocol) {
  EXPECT_EQ(httpsErrorWith("    protocols: [h2, h3]\n"),
            "test.yaml:6:21: listeners[0].protocols[1]: expected one of h2, http/1.1; got 'h3'");
  // ALPN ids are case-sensitive (RFC 7301 §6): "HTTP/1.1" is not "http/1.1".
  EXPECT_EQ(httpsErrorWith("    protocols: [HTTP/1.1]\n"),
            "test.yaml:6:17: listeners[0].protocols[0]: expected one of h2, http/1.1; got "
            "'HTTP/1.1'");
}

TEST(ConfigOptions, ProtocolsRefuseADuplicate) {
  EXPECT_EQ(httpsErrorWith("    protocols: [h2, http/1.1, h2]\n"),
            "test.yaml:6:31: listeners[0].protocols[2]: 'h2' is listed twice");
}

TEST(ConfigOptions, ProtocolsRefuseAnEmptyList) {
  EXPECT_EQ(httpsErrorWith("    protocols: []\n"),
            "test.yaml:6:16: listeners[0].protocols: must not be empty; leave it out for the "
            "default [h2, http/1.1]");
  // `protocols:` with nothing after it is null: reported at the key.
  EXPECT_EQ(httpsErrorWith("    protocols:\n"),
            "test.yaml:6:5: listeners[0].protocols: must not be empty; leave it out for the "
            "default [h2, http/1.1]");
}

TEST(ConfigOptions, ProtocolsMustBeAList) {
  EXPECT_EQ(httpsErrorWith("    protocols: h2\n"),
            "test.yaml:6:16: listeners[0].protocols: expected a list, got 'h2'");
}

TEST(ConfigOptions, ProtocolsOnARedirectListenerAreRefused) {
  EXPECT_EQ(test_util::errorOf(R"(
listeners:
  - name: http
    address: "127.0.0.1:8080"
    redirect_to_https: {}
    protocols: [h2]
)"),
            "test.yaml:6:5: listeners[0].protocols: HTTP/2 is offered over TLS only; a plain "
            "listener redirects (put 'protocols' on the listener with 'tls')");
}

// --- redirect allow-list --------------------------------------------------------------------

TEST(ConfigOptions, RedirectAllowedHostsAreLowerCasedPatterns) {
  Config c = mustLoad(R"(
listeners:
  - name: http
    address: "127.0.0.1:8080"
    redirect_to_https:
      port: 8443
      allowed_hosts: [Example.com, "*.example.com"]
)");
  const RedirectToHttps& r = *c.listeners.at(0).redirect_to_https;
  EXPECT_EQ(r.allowed_hosts, (std::vector<std::string>{"example.com", "*.example.com"}));
  EXPECT_EQ(r.https_port, 8443);
}

TEST(ConfigOptions, RedirectAllowsEveryHostWhenOmitted) {
  Config c = mustLoad(R"(
listeners:
  - {name: http, address: "127.0.0.1:8080", redirect_to_https: {}}
)");
  EXPECT_TRUE(c.listeners.at(0).redirect_to_https->allowed_hosts.empty());
}

// --- upstream servers and balancing ---------------------------------------------------------

TEST(ConfigOptions, ServerMapFormReadsWeightAndMaxRequests) {
  Config c = mustLoad(R"(
listeners:
  - {name: http, address: "127.0.0.1:8080", redirect_to_https: {}}
upstreams:
  app:
    servers:
      - 127.0.0.1:8001
      - {address: "app.internal:8002", weight: 3, max_requests: 4}
)");
  const auto& s = c.upstreams.at(0).servers;
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[1].host, "app.internal");
  EXPECT_EQ(s[1].port, 8002);
  EXPECT_EQ(s[1].weight, 3u);
  EXPECT_EQ(s[1].max_requests, 4u);
}

TEST(ConfigOptions, StringServersKeepTheDefaultWeightAndNoCap) {
  UpstreamServer s = appWith("").servers.at(0);
  EXPECT_EQ(s.weight, 1u);
  EXPECT_EQ(s.max_requests, 0u);
}

TEST(ConfigOptions, ServerMapMarkPointsAtTheAddress) {
  Config c = mustLoad(R"(
listeners:
  - {name: http, address: "127.0.0.1:8080", redirect_to_https: {}}
upstreams:
  app:
    servers:
      - weight: 2
        address: 127.0.0.1:8001
)");
  EXPECT_EQ(toString(c.upstreams.at(0).servers.at(0).mark), "test.yaml:8:18");
}

TEST(ConfigOptions, PolicyDefaultsToRoundRobin) {
  EXPECT_EQ(appWith("").policy, BalancePolicy::RoundRobin);
}

TEST(ConfigOptions, EachPolicyNameIsRead) {
  EXPECT_EQ(appWith("    policy: round_robin\n").policy, BalancePolicy::RoundRobin);
  EXPECT_EQ(appWith("    policy: least_request\n").policy, BalancePolicy::LeastRequest);
  EXPECT_EQ(appWith("    policy: random\n").policy, BalancePolicy::Random);
  EXPECT_EQ(appWith("    policy: hash\n").policy, BalancePolicy::Hash);
}

TEST(ConfigOptions, HashPolicyWithoutAKeyHashesTheClientIp) {
  Upstream u = appWith("    policy: hash\n");
  EXPECT_EQ(u.hash_key, HashKeyKind::ClientIp);
  EXPECT_EQ(u.hash_key_name, "");
}

TEST(ConfigOptions, HashKeyHeaderIsRead) {
  Upstream u = appWith("    policy: hash\n    hash_key: header:X-User\n");
  EXPECT_EQ(u.hash_key, HashKeyKind::Header);
  EXPECT_EQ(u.hash_key_name, "X-User");
}

TEST(ConfigOptions, HashKeyCookieMayComeBeforeThePolicy) {
  Upstream u = appWith("    hash_key: cookie:sessionid\n    policy: hash\n");
  EXPECT_EQ(u.hash_key, HashKeyKind::Cookie);
  EXPECT_EQ(u.hash_key_name, "sessionid");
}

// --- upstream TLS ---------------------------------------------------------------------------

TEST(ConfigOptions, UpstreamTlsIsOffByDefault) { EXPECT_FALSE(appWith("").tls.enabled); }

TEST(ConfigOptions, UpstreamTlsTrueUsesTheDefaults) {
  UpstreamTls t = appWith("    tls: true\n").tls;
  EXPECT_TRUE(t.enabled);
  EXPECT_TRUE(t.verify);
  EXPECT_EQ(t.sni, "");
  EXPECT_EQ(t.ca, "");
}

TEST(ConfigOptions, UpstreamTlsFalseIsOff) { EXPECT_FALSE(appWith("    tls: false\n").tls.enabled); }

TEST(ConfigOptions, UpstreamTlsMapTurnsItOnAndIsRead) {
  UpstreamTls t = appWith("    tls:\n      sni: App.Internal\n      verify: false\n      ca: upstream-ca.pem\n").tls;
  EXPECT_TRUE(t.enabled);
  EXPECT_EQ(t.sni, "app.internal");
  EXPECT_FALSE(t.verify);
  EXPECT_EQ(t.ca, "/etc/pc/upstream-ca.pem");
  EXPECT_EQ(toString(t.ca_mark), "test.yaml:10:11");
  EXPECT_EQ(toString(t.mark), "test.yaml:8:7");
}

// --- health checks --------------------------------------------------------------------------

TEST(ConfigOptions, HealthCheckIsOffByDefault) { EXPECT_FALSE(appWith("").health_check.enabled); }

TEST(ConfigOptions, HealthCheckPresentAloneTurnsItOnWithTheDefaults) {
  HealthCheck h = appWith("    health_check:\n").health_check;
  EXPECT_TRUE(h.enabled);
  EXPECT_EQ(h.path, "/");
  EXPECT_EQ(h.expected, HealthCheck{}.expected);
}

TEST(ConfigOptions, HealthCheckSettingsAreRead) {
  HealthCheck h = appWith(R"(    health_check:
      method: HEAD
      path: /healthz?deep=1
      host: app.internal:8443
      interval: 10s
      timeout: 1500ms
      rise: 1
      fall: 5
)").health_check;
  EXPECT_EQ(h.method, "HEAD");
  EXPECT_EQ(h.path, "/healthz?deep=1");
  EXPECT_EQ(h.host, "app.internal:8443");
  EXPECT_EQ(h.interval, milliseconds(10'000));
  EXPECT_EQ(h.timeout, milliseconds(1500));
  EXPECT_EQ(h.rise, 1u);
  EXPECT_EQ(h.fall, 5u);
}

TEST(ConfigOptions, HealthCheckExpectedMixesCodesAndRanges) {
  HealthCheck h = appWith("    health_check:\n      expected: [200, \"300-399\", 204]\n").health_check;
  EXPECT_EQ(h.expected, (std::vector<std::pair<int, int>>{{200, 200}, {300, 399}, {204, 204}}));
}

TEST(ConfigOptions, HealthCheckExpectedMayBeOneRange) {
  HealthCheck h = appWith("    health_check:\n      expected: 200-299\n").health_check;
  EXPECT_EQ(h.expected, (std::vector<std::pair<int, int>>{{200, 299}}));
}

TEST(ConfigOptions, HealthCheckEnabledFalseKeepsTheSettings) {
  HealthCheck h = appWith("    health_check: {enabled: false, path: /ping}\n").health_check;
  EXPECT_FALSE(h.enabled);
  EXPECT_EQ(h.path, "/ping");
}

TEST(ConfigOptions, HealthCheckMarkPointsAtTheMap) {
  EXPECT_EQ(toString(appWith("    health_check: {path: /ping}\n").health_check.mark),
            "test.yaml:7:19");
}

// --- outlier, queue, retries and the rest ---------------------------------------------------

TEST(ConfigOptions, OutlierSettingsAreRead) {
  OutlierDetection o =
      appWith("    outlier: {consecutive_failures: 3, base_ejection: 10s, max_ejection: 10s}\n")
          .outlier;
  EXPECT_EQ(o.consecutive_failures, 3u);
  EXPECT_EQ(o.base_ejection, milliseconds(10'000));
  EXPECT_EQ(o.max_ejection, milliseconds(10'000));
}

TEST(ConfigOptions, OutlierZeroFailuresTurnsItOff) {
  EXPECT_EQ(appWith("    outlier: {consecutive_failures: 0}\n").outlier.consecutive_failures, 0u);
}

TEST(ConfigOptions, QueueIsRead) {
  Queue q = appWith("    queue: {size: 100, timeout: 3s}\n").queue;
  EXPECT_EQ(q.size, 100u);
  EXPECT_EQ(q.timeout, milliseconds(3000));
}

TEST(ConfigOptions, WhenAllUnhealthyPanicSetsPanicMode) {
  EXPECT_TRUE(appWith("    when_all_unhealthy: panic\n").panic_when_all_unhealthy);
}

TEST(ConfigOptions, WhenAllUnhealthyFailIsTheDefault) {
  EXPECT_FALSE(appWith("    when_all_unhealthy: fail\n").panic_when_all_unhealthy);
  EXPECT_FALSE(appWith("").panic_when_all_unhealthy);
}

TEST(ConfigOptions, SlowStartIsRead) {
  EXPECT_EQ(appWith("    slow_start: 30s\n").slow_start, milliseconds(30'000));
}

TEST(ConfigOptions, SlowStartZeroIsAllowed) {
  EXPECT_EQ(appWith("    slow_start: 0s\n").slow_start, milliseconds(0));
}

TEST(ConfigOptions, RetriesAreRead) { EXPECT_EQ(appWith("    retries: 3\n").retries, 3u); }

TEST(ConfigOptions, RetriesZeroIsAllowed) { EXPECT_EQ(appWith("    retries: 0\n").retries, 0u); }

TEST(ConfigOptions, RetryBudgetIsRead) {
  EXPECT_DOUBLE_EQ(appWith("    retry_budget: 0.5\n").retry_budget, 0.5);
}

TEST(ConfigOptions, DnsRefreshIsRead) {
  EXPECT_EQ(appWith("    dns_refresh: 30s\n").dns_refresh, milliseconds(30'000));
}

TEST(ConfigOptions, DnsRefreshZeroIsAllowed) {
  EXPECT_EQ(appWith("    dns_refresh: 0\n").dns_refresh, milliseconds(0));
}

TEST(ConfigOptions, OmittedUpstreamSettingsKeepTheModelDefaults) {
  Upstream u = appWith("");
  Upstream d;
  EXPECT_EQ(u.outlier.consecutive_failures, d.outlier.consecutive_failures);
  EXPECT_EQ(u.outlier.max_ejection, d.outlier.max_ejection);
  EXPECT_EQ(u.queue.size, d.queue.size);
  EXPECT_EQ(u.slow_start, d.slow_start);
  EXPECT_EQ(u.retries, d.retries);
  EXPECT_DOUBLE_EQ(u.retry_budget, d.retry_budget);
  EXPECT_EQ(u.dns_refresh, d.dns_refresh);
}

// --- route buffering ------------------------------------------------------------------------

TEST(ConfigOptions, BufferingIsOnByDefault) {
  Buffering b = routeWith("").buffering;
  EXPECT_TRUE(b.request);
  EXPECT_TRUE(b.response);
}

TEST(ConfigOptions, BufferingOffStreamsBothWays) {
  Buffering b = routeWith("    buffering: off\n").buffering;
  EXPECT_FALSE(b.request);
  EXPECT_FALSE(b.response);
}

TEST(ConfigOptions, BufferingOnKeepsTheDefaults) {
  Buffering b = routeWith("    buffering: on\n").buffering;
  EXPECT_TRUE(b.request);
  EXPECT_TRUE(b.response);
  EXPECT_EQ(b.memory, Buffering{}.memory);
}

TEST(ConfigOptions, BufferingMapIsRead) {
  Buffering b =
      routeWith("    buffering: {request: false, response: true, memory: 16k, max_file: 2g}\n")
          .buffering;
  EXPECT_FALSE(b.request);
  EXPECT_TRUE(b.response);
  EXPECT_EQ(b.memory, 16u * 1024);
  EXPECT_EQ(b.max_file, 2ull * 1024 * 1024 * 1024);
}

// --- durations in days ----------------------------------------------------------------------

TEST(ConfigOptions, DaysAreAcceptedUpToTheGeneralCap) {
  Config c = mustLoad(R"(
listeners:
  - {name: http, address: "127.0.0.1:8080", redirect_to_https: {}}
timeouts: {client_idle: 1d}
)");
  EXPECT_EQ(c.timeouts.client_idle, milliseconds(86'400'000));
}

}  // namespace
}  // namespace portcullis::config
