// TLS features of the "https" listener and of upstream connections, end to end against the real
// binary: certificate selection by SNI and by key type, version floor, session resumption (one
// instance and a fleet sharing ticket_key_file), client certificates (mTLS) and the identity
// headers they produce, TLS to upstreams (verification on and off), and the handshake timeout.
//
// Certificates come from scripts/gen-test-pki.sh (harness testPki()); the configs are written
// by hand here because every test changes the listener's `tls:` block.
#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <initializer_list>
#include <string>
#include <vector>

#include "harness/harness.h"
#include "harness/observability.h"

namespace portcullis::integration {
namespace {

using namespace std::chrono_literals;

std::string yamlQuoted(const std::string& s) { return "\"" + s + "\""; }

// `certificates: [...]` with the PKI certificates `names` in this order (the first is the
// default for clients whose SNI matches none).
std::string certificateList(std::initializer_list<const char*> names) {
  const TestPki& pki = testPki();
  std::string out = "certificates:";
  for (const char* n : names) {
    out += "\n  - {certificate: " + yamlQuoted(pki.pem(n)) + ", key: " + yamlQuoted(pki.key(n)) + "}";
  }
  return out;
}

// A config with one TLS listener ("https") whose `tls:` block holds `tls` (YAML, possibly
// several lines, no indentation) and a catch-all route to upstream "app" at `upstream`, with
// `upstream_extra` keys (one YAML line each).
std::string proxyYaml(const std::string& tls, const std::string& upstream,
                      const std::vector<std::string>& upstream_extra = {}) {
  std::string y =
      "workers: 2\n"
      "listeners:\n"
      "  - name: https\n"
      "    address: 127.0.0.1:0\n"
      "    tls:\n";
  size_t start = 0;
  while (start <= tls.size()) {
    size_t end = tls.find('\n', start);
    if (end == std::string::npos) end = tls.size();
    y += "      " + tls.substr(start, end - start) + "\n";
    start = end + 1;
  }
  y += "upstreams:\n  app:\n    servers: [" + upstream + "]\n";
  for (const auto& line : upstream_extra) y += "    " + line + "\n";
  y += "routes:\n  - { path: \"/\", upstream: app }\n";
  y += "timeouts: { shutdown_grace: 2s }\n";
  return y;
}

// The listener's tls block with only the localhost certificate plus `more` lines.
std::string localhostTls(const std::string& more = "") {
  std::string tls = certificateList({"localhost"});
  if (!more.empty()) tls += "\n" + more;
  return tls;
}

class TlsFeaturesTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(testPki().error.empty()) << "test PKI: " << testPki().error; }

  // Connects with `options` and GETs "/"; the status, or a failure.
  ::testing::AssertionResult get(TlsClient& client, uint16_t port, const TlsOptions& options, int* status,
                                 const std::string& extra_headers = "") {
    auto connected = client.connect(port, options);
    if (!connected) return connected;
    Response resp;
    auto ok = client.roundTrip(getRequest("/", "localhost", extra_headers), &resp);
    if (!ok) return ok;
    *status = resp.status;
    return ::testing::AssertionSuccess();
  }

  FakeUpstream app_{"app"};
  ProxyProcess proxy_;
};

// ---------------------------------------------------------------------------------------------
// Certificate selection by SNI: three certificates, an exact name, a wildcard and the default.

class TlsFeaturesSni : public TlsFeaturesTest {
 protected:
  void SetUp() override {
    TlsFeaturesTest::SetUp();
    if (HasFatalFailure()) return;
    // The wildcard is listed before the exact name, so an exact match must win on its merits,
    // not by coming first.
    ASSERT_TRUE(proxy_.startYaml(proxyYaml(certificateList({"default", "wildcard", "a-ecdsa"}), app_.address())));
  }

  // Connects with SNI `sni` ("" = none) and returns the presented certificate's fingerprint.
  std::string presentedFor(const std::string& sni) {
    TlsOptions options;
    options.sni = sni;
    TlsClient client;
    EXPECT_TRUE(client.connect(proxy_.httpsPort(), options)) << "SNI \"" << sni << "\"";
    return client.peerCertificateSha256();
  }
};

TEST_F(TlsFeaturesSni, ExactNameGetsItsOwnCertificate) {
  EXPECT_EQ(presentedFor("a.example.com"), certificateFileSha256(testPki().pem("a-ecdsa")));
}

TEST_F(TlsFeaturesSni, ExactNameMatchIgnoresCase) {
  // RFC 6066 §3 / RFC 4343: DNS names compare case-insensitively.
  EXPECT_EQ(presentedFor("A.Example.COM"), certificateFileSha256(testPki().pem("a-ecdsa")));
}

TEST_F(TlsFeaturesSni, OtherSubdomainGetsTheWildcardCertificate) {
  TlsOptions options;
  options.sni = "x.example.com";
  TlsClient client;
  ASSERT_TRUE(client.connect(proxy_.httpsPort(), options));
  EXPECT_EQ(client.peerCertificateDnsNames(), std::vector<std::string>{"*.example.com"});
  EXPECT_EQ(client.peerCertificateSha256(), certificateFileSha256(testPki().pem("wildcard")));
}

TEST_F(TlsFeaturesSni, WildcardDoesNotCoverTwoLabels) {
  // RFC 6125 §6.4.3: "*" matches exactly one label, so y.x.example.com gets the default.
  EXPECT_EQ(presentedFor("y.x.example.com"), certificateFileSha256(testPki().pem("default")));
}

TEST_F(TlsFeaturesSni, UnknownNameGetsTheFirstCertificate) {
  EXPECT_EQ(presentedFor("unknown.test"), certificateFileSha256(testPki().pem("default")));
}

TEST_F(TlsFeaturesSni, NoSniGetsTheFirstCertificate) {
  TlsOptions options;
  options.sni.clear();
  TlsClient client;
  ASSERT_TRUE(client.connect(proxy_.httpsPort(), options));
  EXPECT_EQ(client.peerCertificateDnsNames(), std::vector<std::string>{"default.test"});
  EXPECT_EQ(client.peerCertificateSha256(), certificateFileSha256(testPki().pem("default")));
}

TEST_F(TlsFeaturesSni, ConnectionOnASelectedCertificateIsServed) {
  TlsOptions options;
  options.sni = "a.example.com";
  TlsClient client;
  int status = 0;
  ASSERT_TRUE(get(client, proxy_.httpsPort(), options, &status));
  EXPECT_EQ(status, 200);
  EXPECT_EQ(app_.requestCount(), 1u);
}

// ---------------------------------------------------------------------------------------------
// ECDSA and RSA certificates for the same name: the key type follows what the client can verify.
// Parameter: the RSA certificate is listed first (true) or second, so neither outcome can come
// from list order alone.

class TlsFeaturesKeyType : public TlsFeaturesTest, public ::testing::WithParamInterface<bool> {
 protected:
  void SetUp() override {
    TlsFeaturesTest::SetUp();
    if (HasFatalFailure()) return;
    std::string certs = GetParam() ? certificateList({"default", "a-rsa", "a-ecdsa"})
                                   : certificateList({"default", "a-ecdsa", "a-rsa"});
    ASSERT_TRUE(proxy_.startYaml(proxyYaml(certs, app_.address())));
  }

  // Connects to a.example.com with `options` and checks the served certificate is `name`'s.
  void expectCertificate(TlsOptions options, const char* name, int key_type) {
    options.sni = "a.example.com";
    TlsClient client;
    int status = 0;
    ASSERT_TRUE(get(client, proxy_.httpsPort(), options, &status));
    EXPECT_EQ(status, 200);
    EXPECT_EQ(client.peerKeyType(), key_type);
    EXPECT_EQ(client.peerCertificateSha256(), certificateFileSha256(testPki().pem(name)));
  }
};

TEST_P(TlsFeaturesKeyType, Tls13ClientOfferingEcdsaGetsEcdsa) {
  TlsOptions options;
  options.min_version = TLS1_3_VERSION;
  options.signature_algorithms = {SSL_SIGN_ECDSA_SECP256R1_SHA256, SSL_SIGN_RSA_PSS_RSAE_SHA256};
  expectCertificate(options, "a-ecdsa", EVP_PKEY_EC);
}

TEST_P(TlsFeaturesKeyType, Tls13ClientOfferingOnlyRsaPssGetsRsa) {
  TlsOptions options;
  options.min_version = TLS1_3_VERSION;
  options.signature_algorithms = {SSL_SIGN_RSA_PSS_RSAE_SHA256, SSL_SIGN_RSA_PSS_RSAE_SHA384,
                                  SSL_SIGN_RSA_PSS_RSAE_SHA512};
  expectCertificate(options, "a-rsa", EVP_PKEY_RSA);
}

TEST_P(TlsFeaturesKeyType, Tls12ClientWithEcdsaCiphersGetsEcdsa) {
  TlsOptions options;
  options.max_version = TLS1_2_VERSION;
  options.tls12_ciphers = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256";
  expectCertificate(options, "a-ecdsa", EVP_PKEY_EC);
}

TEST_P(TlsFeaturesKeyType, Tls12ClientWithOnlyRsaCiphersGetsRsa) {
  TlsOptions options;
  options.max_version = TLS1_2_VERSION;
  options.tls12_ciphers = "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384";
  expectCertificate(options, "a-rsa", EVP_PKEY_RSA);
}

INSTANTIATE_TEST_SUITE_P(TlsFeatures, TlsFeaturesKeyType, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? std::string("RsaListedFirst") : std::string("EcdsaListedFirst");
                         });

// ---------------------------------------------------------------------------------------------
// Protocol versions. (TLS 1.1 refusal and 1.2/1.3 each alone: tls_termination_test.cc.)

TEST_F(TlsFeaturesTest, MinVersion13RefusesTls12OnlyClient) {
  ASSERT_TRUE(proxy_.startYaml(proxyYaml(localhostTls("min_version: \"1.3\""), app_.address())));
  TlsOptions options;
  options.max_version = TLS1_2_VERSION;
  TlsClient client;
  EXPECT_FALSE(client.connect(proxy_.httpsPort(), options, 3s));
  EXPECT_EQ(app_.requestCount(), 0u);
}

TEST_F(TlsFeaturesTest, MinVersion13ServesTls13Client) {
  ASSERT_TRUE(proxy_.startYaml(proxyYaml(localhostTls("min_version: \"1.3\""), app_.address())));
  TlsClient client;
  int status = 0;
  ASSERT_TRUE(get(client, proxy_.httpsPort(), TlsOptions{}, &status));
  EXPECT_EQ(client.protocolVersion(), TLS1_3_VERSION);
  EXPECT_EQ(status, 200);
}

TEST_F(TlsFeaturesTest, DefaultNegotiatesTls13WithAClientOfferingBoth) {
  // RFC 9325 §4.1: support 1.2, prefer 1.3.
  ASSERT_TRUE(proxy_.startYaml(proxyYaml(localhostTls(), app_.address())));
  TlsOptions options;
  options.min_version = TLS1_2_VERSION;
  options.max_version = TLS1_3_VERSION;
  TlsClient client;
  ASSERT_TRUE(client.connect(proxy_.httpsPort(), options));
  EXPECT_EQ(client.protocolVersion(), TLS1_3_VERSION);
}

// ---------------------------------------------------------------------------------------------
// Session resumption by ticket. Parameter: the protocol version (1.2 and 1.3 tickets differ:
// RFC 5077 vs RFC 8446 §4.6.1 PSK).

class TlsFeaturesResumption : public TlsFeaturesTest, public ::testing::WithParamInterface<uint16_t> {
 protected:
  TlsOptions versionOptions() const {
    TlsOptions o;
    o.min_version = o.max_version = GetParam();
    return o;
  }

  // One request on a fresh full handshake to `port`; the session it left, or null (a failure).
  std::shared_ptr<SSL_SESSION> firstSession(uint16_t port, TlsOptions options) {
    TlsClient client;
    int status = 0;
    EXPECT_TRUE(get(client, port, options, &status));
    EXPECT_EQ(status, 200);
    EXPECT_FALSE(client.sessionReused()) << "the first connection had no session to resume";
    EXPECT_NE(client.session(), nullptr) << "the proxy issued no session ticket";
    return client.session();
  }

  // Offers `session` to `port`; whether the handshake resumed it. The request must succeed
  // either way (a ticket that does not decrypt means a full handshake, not a failure).
  bool resumes(uint16_t port, TlsOptions options, std::shared_ptr<SSL_SESSION> session) {
    options.session = std::move(session);
    TlsClient client;
    int status = 0;
    EXPECT_TRUE(get(client, port, options, &status));
    EXPECT_EQ(status, 200);
    return client.sessionReused();
  }

  // A fleet secret file (48 bytes of `fill`; at least 32 are required) in `dir`.
  std::string secretFile(const TempDir& dir, const std::string& name, char fill) {
    return dir.writeFile(name, std::string(48, fill) + "\n");
  }
};

TEST_P(TlsFeaturesResumption, SecondConnectionResumesOnTheSameInstance) {
  ASSERT_TRUE(proxy_.startYaml(proxyYaml(localhostTls(), app_.address())));
  auto session = firstSession(proxy_.httpsPort(), versionOptions());
  ASSERT_NE(session, nullptr);
  EXPECT_TRUE(resumes(proxy_.httpsPort(), versionOptions(), session));
}

TEST_P(TlsFeaturesResumption, ResumesOnACertificateChosenBySni) {
  // The ticket is issued after the handshake switched to a.example.com's certificate (another
  // SSL_CTX); resuming must not depend on which one started the connection.
  ASSERT_TRUE(proxy_.startYaml(proxyYaml(certificateList({"default", "a-ecdsa"}), app_.address())));
  TlsOptions options = versionOptions();
  options.sni = "a.example.com";
  auto session = firstSession(proxy_.httpsPort(), options);
  ASSERT_NE(session, nullptr);
  EXPECT_TRUE(resumes(proxy_.httpsPort(), options, session));
}

TEST_P(TlsFeaturesResumption, NoResumptionWhenTicketsAreOff) {
  ASSERT_TRUE(proxy_.startYaml(proxyYaml(localhostTls("session_tickets: false"), app_.address())));
  TlsClient client;
  int status = 0;
  ASSERT_TRUE(get(client, proxy_.httpsPort(), versionOptions(), &status));
  auto session = client.session();
  if (session == nullptr) return;  // no ticket at all: nothing can resume
  EXPECT_FALSE(resumes(proxy_.httpsPort(), versionOptions(), session));
}

TEST_P(TlsFeaturesResumption, SessionFromOneFleetInstanceResumesOnAnother) {
  TempDir dir;
  std::string secret = secretFile(dir, "ticket.key", 'k');
  std::string tls = localhostTls("ticket_key_file: " + yamlQuoted(secret));
  ProxyProcess other;
  ASSERT_TRUE(proxy_.startYaml(proxyYaml(tls, app_.address())));
  ASSERT_TRUE(other.startYaml(proxyYaml(tls, app_.address())));
  auto session = firstSession(proxy_.httpsPort(), versionOptions());
  ASSERT_NE(session, nullptr);
  EXPECT_TRUE(resumes(other.httpsPort(), versionOptions(), session));
}

TEST_P(TlsFeaturesResumption, NoResumptionAcrossInstancesWithDifferentSecrets) {
  TempDir dir;
  ProxyProcess other;
  ASSERT_TRUE(proxy_.startYaml(
      proxyYaml(localhostTls("ticket_key_file: " + yamlQuoted(secretFile(dir, "a.key", 'a'))), app_.address())));
  ASSERT_TRUE(other.startYaml(
      proxyYaml(localhostTls("ticket_key_file: " + yamlQuoted(secretFile(dir, "b.key", 'b'))), app_.address())));
  auto session = firstSession(proxy_.httpsPort(), versionOptions());
  ASSERT_NE(session, nullptr);
  EXPECT_FALSE(resumes(other.httpsPort(), versionOptions(), session));
}

TEST_P(TlsFeaturesResumption, NoResumptionAcrossInstancesWithRandomKeys) {
  ProxyProcess other;
  ASSERT_TRUE(proxy_.startYaml(proxyYaml(localhostTls(), app_.address())));
  ASSERT_TRUE(other.startYaml(proxyYaml(localhostTls(), app_.address())));
  auto session = firstSession(proxy_.httpsPort(), versionOptions());
  ASSERT_NE(session, nullptr);
  EXPECT_FALSE(resumes(other.httpsPort(), versionOptions(), session));
}

INSTANTIATE_TEST_SUITE_P(TlsFeatures, TlsFeaturesResumption, ::testing::Values(TLS1_2_VERSION, TLS1_3_VERSION),
                         [](const ::testing::TestParamInfo<uint16_t>& info) {
                           return info.param == TLS1_2_VERSION ? std::string("Tls12") : std::string("Tls13");
                         });

// ---------------------------------------------------------------------------------------------
// Client certificates (mutual TLS).

constexpr const char* kClientSubject = "CN=client one,O=Portcullis Tests,C=DE";  // RFC 2253 order

// Succeeds if the proxy refused the connection: the handshake failed, or (TLS 1.3, where the
// client finishes before the server has checked its certificate, RFC 8446 §4.4.2.4) the proxy
// closed or alerted instead of answering. Fails if it answered, or hung past the deadline.
::testing::AssertionResult isRefused(uint16_t port, const TlsOptions& options) {
  TlsClient client;
  if (!client.connect(port, options, 3s)) return ::testing::AssertionSuccess() << "handshake failed";
  if (!client.send(getRequest("/"), 3s)) return ::testing::AssertionSuccess() << "write failed";
  std::string received;
  auto closed = client.waitForClose(3s, &received);
  if (!closed) {
    std::string message = closed.message();
    if (message.find("read failed") != std::string::npos) return ::testing::AssertionSuccess() << message;
    return ::testing::AssertionFailure() << "not refused: " << message;
  }
  if (!received.empty()) return ::testing::AssertionFailure() << "not refused; the proxy answered:\n" << received;
  return ::testing::AssertionSuccess() << "closed without an answer";
}

TlsOptions withClientCertificate(const std::string& name, uint16_t version = TLS1_3_VERSION) {
  TlsOptions o;
  o.min_version = o.max_version = version;
  if (!name.empty()) {
    o.client_certificate = testPki().pem(name);
    o.client_key = testPki().key(name);
  }
  return o;
}

class TlsFeaturesClientAuthRequired : public TlsFeaturesTest {
 protected:
  void SetUp() override {
    TlsFeaturesTest::SetUp();
    if (HasFatalFailure()) return;
    ASSERT_TRUE(proxy_.startYaml(proxyYaml(
        localhostTls("client_auth:\n"
                     "  mode: required\n"
                     "  ca: " + yamlQuoted(testPki().pem("ca")) + "\n"
                     "  subject_header: X-Client-Cert-Subject\n"
                     "  fingerprint_header: X-Client-Cert-Sha256"),
        app_.address())));
  }
};

TEST_F(TlsFeaturesClientAuthRequired, Tls12ClientWithoutCertificateIsRefused) {
  EXPECT_TRUE(isRefused(proxy_.httpsPort(), withClientCertificate("", TLS1_2_VERSION)));
  EXPECT_EQ(app_.requestCount(), 0u);
}

TEST_F(TlsFeaturesClientAuthRequired, Tls13ClientWithoutCertificateIsRefused) {
  EXPECT_TRUE(isRefused(proxy_.httpsPort(), withClientCertificate("", TLS1_3_VERSION)));
  EXPECT_EQ(app_.requestCount(), 0u);
}

TEST_F(TlsFeaturesClientAuthRequired, CertificateFromAnotherCaIsRefused) {
  EXPECT_TRUE(isRefused(proxy_.httpsPort(), withClientCertificate("rogue-client", TLS1_2_VERSION)));
  EXPECT_TRUE(isRefused(proxy_.httpsPort(), withClientCertificate("rogue-client", TLS1_3_VERSION)));
  EXPECT_EQ(app_.requestCount(), 0u);
}

TEST_F(TlsFeaturesClientAuthRequired, TrustedCertificateReachesTheUpstreamAsSubjectAndFingerprint) {
  TlsClient client;
  int status = 0;
  ASSERT_TRUE(get(client, proxy_.httpsPort(), withClientCertificate("client"), &status));
  EXPECT_EQ(status, 200);
  RecordedRequest got;
  ASSERT_TRUE(app_.waitForRequest(0, &got));
  EXPECT_EQ(got.request.headers.getAll("X-Client-Cert-Subject"), std::vector<std::string>{kClientSubject});
  EXPECT_EQ(got.request.headers.getAll("X-Client-Cert-Sha256"),
            std::vector<std::string>{certificateFileSha256(testPki().pem("client"))});
}

TEST_F(TlsFeaturesClientAuthRequired, Tls12TrustedCertificateIsServed) {
  TlsClient client;
  int status = 0;
  ASSERT_TRUE(get(client, proxy_.httpsPort(), withClientCertificate("client", TLS1_2_VERSION), &status));
  EXPECT_EQ(status, 200);
  RecordedRequest got;
  ASSERT_TRUE(app_.waitForRequest(0, &got));
  EXPECT_EQ(got.request.headers.get("X-Client-Cert-Subject").value_or("(none)"), kClientSubject);
}

TEST_F(TlsFeaturesClientAuthRequired, ClientSentIdentityHeadersAreReplaced) {
  TlsClient client;
  int status = 0;
  ASSERT_TRUE(get(client, proxy_.httpsPort(), withClientCertificate("client"), &status,
                  "X-Client-Cert-Subject: CN=admin\r\nx-client-cert-sha256: 00ff\r\n"));
  EXPECT_EQ(status, 200);
  RecordedRequest got;
  ASSERT_TRUE(app_.waitForRequest(0, &got));
  EXPECT_EQ(got.request.headers.getAll("X-Client-Cert-Subject"), std::vector<std::string>{kClientSubject})
      << got.request.headers.toString();
  EXPECT_EQ(got.request.headers.getAll("X-Client-Cert-Sha256"),
            std::vector<std::string>{certificateFileSha256(testPki().pem("client"))})
      << got.request.headers.toString();
}

TEST_F(TlsFeaturesClientAuthRequired, EveryRequestOfAConnectionCarriesTheIdentity) {
  TlsClient client;
  ASSERT_TRUE(client.connect(proxy_.httpsPort(), withClientCertificate("client")));
  for (int i = 0; i < 3; ++i) {
    Response resp;
    ASSERT_TRUE(client.roundTrip(getRequest("/" + std::to_string(i)), &resp)) << "request " << i;
    EXPECT_EQ(resp.status, 200);
  }
  ASSERT_TRUE(app_.waitForRequests(3));
  for (const auto& r : app_.requests()) {
    EXPECT_EQ(r.request.headers.get("X-Client-Cert-Subject").value_or("(none)"), kClientSubject)
        << r.request.target;
  }
}

TEST_F(TlsFeaturesClientAuthRequired, ResumedSessionKeepsTheIdentity) {
  // A resumed handshake carries no certificate; the identity comes from the session
  // (RFC 8446 §2.2: the PSK stands for the original handshake's authentication).
  TlsClient first;
  int status = 0;
  ASSERT_TRUE(get(first, proxy_.httpsPort(), withClientCertificate("client"), &status));
  ASSERT_NE(first.session(), nullptr) << "no session ticket";
  TlsOptions options = withClientCertificate("client");
  options.session = first.session();
  TlsClient second;
  ASSERT_TRUE(get(second, proxy_.httpsPort(), options, &status));
  EXPECT_EQ(status, 200);
  EXPECT_TRUE(second.sessionReused());
  ASSERT_TRUE(app_.waitForRequests(2));
  RecordedRequest got;
  ASSERT_TRUE(app_.waitForRequest(1, &got));
  EXPECT_EQ(got.request.headers.get("X-Client-Cert-Subject").value_or("(none)"), kClientSubject);
  EXPECT_EQ(got.request.headers.get("X-Client-Cert-Sha256").value_or("(none)"),
            certificateFileSha256(testPki().pem("client")));
}

class TlsFeaturesClientAuthOptional : public TlsFeaturesTest {
 protected:
  void SetUp() override {
    TlsFeaturesTest::SetUp();
    if (HasFatalFailure()) return;
    // Header names other than the defaults: the names must come from the config.
    ASSERT_TRUE(proxy_.startYaml(proxyYaml(
        localhostTls("client_auth:\n"
                     "  mode: optional\n"
                     "  ca: " + yamlQuoted(testPki().pem("ca")) + "\n"
                     "  subject_header: X-Tls-Subject\n"
                     "  fingerprint_header: X-Tls-Fingerprint"),
        app_.address())));
  }
};

TEST_F(TlsFeaturesClientAuthOptional, WithoutCertificateIsServedWithoutIdentityHeaders) {
  TlsClient client;
  int status = 0;
  ASSERT_TRUE(get(client, proxy_.httpsPort(), withClientCertificate(""), &status));
  EXPECT_EQ(status, 200);
  RecordedRequest got;
  ASSERT_TRUE(app_.waitForRequest(0, &got));
  EXPECT_FALSE(got.request.headers.has("X-Tls-Subject")) << got.request.headers.toString();
  EXPECT_FALSE(got.request.headers.has("X-Tls-Fingerprint")) << got.request.headers.toString();
}

TEST_F(TlsFeaturesClientAuthOptional, ClientSentIdentityHeadersAreStrippedWithoutCertificate) {
  TlsClient client;
  int status = 0;
  ASSERT_TRUE(get(client, proxy_.httpsPort(), withClientCertificate(""), &status,
                  "X-Tls-Subject: CN=admin\r\nX-Tls-Fingerprint: 00ff\r\n"));
  EXPECT_EQ(status, 200);
  RecordedRequest got;
  ASSERT_TRUE(app_.waitForRequest(0, &got));
  EXPECT_FALSE(got.request.headers.has("X-Tls-Subject")) << got.request.headers.toString();
  EXPECT_FALSE(got.request.headers.has("X-Tls-Fingerprint")) << got.request.headers.toString();
}

TEST_F(TlsFeaturesClientAuthOptional, TrustedCertificateReachesTheUpstreamUnderConfiguredNames) {
  TlsClient client;
  int status = 0;
  ASSERT_TRUE(get(client, proxy_.httpsPort(), withClientCertificate("client"), &status));
  EXPECT_EQ(status, 200);
  RecordedRequest got;
  ASSERT_TRUE(app_.waitForRequest(0, &got));
  EXPECT_EQ(got.request.headers.get("X-Tls-Subject").value_or("(none)"), kClientSubject);
  EXPECT_EQ(got.request.headers.get("X-Tls-Fingerprint").value_or("(none)"),
            certificateFileSha256(testPki().pem("client")));
  EXPECT_FALSE(got.request.headers.has("X-Client-Cert-Subject")) << "the default name was used";
}

TEST_F(TlsFeaturesClientAuthOptional, UntrustedCertificateNeverYieldsAnIdentity) {
  // Refusing the handshake or serving without identity headers are both safe; forwarding an
  // unverified subject is not.
  TlsClient client;
  int status = 0;
  if (!get(client, proxy_.httpsPort(), withClientCertificate("rogue-client"), &status)) return;  // refused
  ASSERT_TRUE(app_.waitForRequests(1));
  auto got = app_.requests()[0];
  EXPECT_FALSE(got.request.headers.has("X-Tls-Subject")) << got.request.headers.toString();
  EXPECT_FALSE(got.request.headers.has("X-Tls-Fingerprint")) << got.request.headers.toString();
}

TEST_F(TlsFeaturesTest, ClientAuthModeOffStillStripsClientSentIdentityHeaders) {
  // conf/portcullis.yaml: the identity headers "are always removed from what clients send", and
  // `mode: off` exists so mTLS can be switched off with one word. An upstream that trusts these
  // headers must not become spoofable when that word is flipped.
  ASSERT_TRUE(proxy_.startYaml(proxyYaml(
      localhostTls("client_auth:\n"
                   "  mode: off\n"
                   "  ca: " + yamlQuoted(testPki().pem("ca")) + "\n"
                   "  subject_header: X-Tls-Subject\n"
                   "  fingerprint_header: X-Tls-Fingerprint"),
      app_.address())));
  TlsClient client;
  int status = 0;
  ASSERT_TRUE(get(client, proxy_.httpsPort(), TlsOptions{}, &status,
                  "X-Tls-Subject: CN=admin\r\nX-Tls-Fingerprint: 00ff\r\n"));
  EXPECT_EQ(status, 200);
  RecordedRequest got;
  ASSERT_TRUE(app_.waitForRequest(0, &got));
  EXPECT_FALSE(got.request.headers.has("X-Tls-Subject")) << got.request.headers.toString();
  EXPECT_FALSE(got.request.headers.has("X-Tls-Fingerprint")) << got.request.headers.toString();
}

TEST_F(TlsFeaturesTest, WithoutClientAuthTheDefaultIdentityHeadersAreStripped) {
  // No client_auth block at all: the default names (X-Client-Cert-Subject/-Sha256) are still
  // never passed on from a client.
  ASSERT_TRUE(proxy_.startYaml(proxyYaml(localhostTls(), app_.address())));
  TlsClient client;
  int status = 0;
  ASSERT_TRUE(get(client, proxy_.httpsPort(), TlsOptions{}, &status,
                  "X-Client-Cert-Subject: CN=admin\r\nX-Client-Cert-Sha256: 00ff\r\n"));
  EXPECT_EQ(status, 200);
  RecordedRequest got;
  ASSERT_TRUE(app_.waitForRequest(0, &got));
  EXPECT_FALSE(got.request.headers.has("X-Client-Cert-Subject")) << got.request.headers.toString();
  EXPECT_FALSE(got.request.headers.has("X-Client-Cert-Sha256")) << got.request.headers.toString();
}

// ---------------------------------------------------------------------------------------------
// TLS to the upstream.

class TlsFeaturesUpstreamTls : public TlsFeaturesTest {
 protected:
  // Starts the proxy with upstream "app" = the TLS upstream and `tls` as its tls setting, then
  // sends one request; the status the client got.
  int statusWith(const std::string& upstream_tls) {
    EXPECT_TRUE(proxy_.startYaml(proxyYaml(localhostTls(), upstream_.address(), {"tls: " + upstream_tls})));
    TlsClient client;
    int status = 0;
    EXPECT_TRUE(get(client, proxy_.httpsPort(), TlsOptions{}, &status));
    return status;
  }

  TlsUpstream upstream_{testPki().pem("localhost"), testPki().key("localhost"), "tls-app"};
};

TEST_F(TlsFeaturesUpstreamTls, TrustedCertificateWithMatchingSniIsServed) {
  EXPECT_EQ(statusWith("{ca: " + yamlQuoted(testPki().pem("ca")) + ", sni: localhost}"), 200);
  EXPECT_EQ(upstream_.requestCount(), 1u);
  EXPECT_EQ(upstream_.serverNames(), std::vector<std::string>{"localhost"});
}

TEST_F(TlsFeaturesUpstreamTls, IpAddressServerIsVerifiedAgainstItsIpSanAndGetsNoSni) {
  // No sni: the server is 127.0.0.1, which the certificate names (IP SAN); RFC 6066 §3 forbids
  // IP literals in SNI.
  EXPECT_EQ(statusWith("{ca: " + yamlQuoted(testPki().pem("ca")) + "}"), 200);
  EXPECT_EQ(upstream_.serverNames(), std::vector<std::string>{""});
}

TEST_F(TlsFeaturesUpstreamTls, CertificateNotInTheSystemStoreIsRejected) {
  EXPECT_EQ(statusWith("{sni: localhost}"), 502);
  EXPECT_EQ(upstream_.requestCount(), 0u);
}

TEST_F(TlsFeaturesUpstreamTls, CertificateFromAnotherCaIsRejected) {
  EXPECT_EQ(statusWith("{ca: " + yamlQuoted(testPki().pem("other-ca")) + ", sni: localhost}"), 502);
  EXPECT_EQ(upstream_.requestCount(), 0u);
}

TEST_F(TlsFeaturesUpstreamTls, CertificateForAnotherNameIsRejected) {
  EXPECT_EQ(statusWith("{ca: " + yamlQuoted(testPki().pem("ca")) + ", sni: a.example.com}"), 502);
  EXPECT_EQ(upstream_.requestCount(), 0u);
}

TEST_F(TlsFeaturesUpstreamTls, VerifyFalseAcceptsAnUntrustedCertificate) {
  EXPECT_EQ(statusWith("{verify: false, sni: localhost}"), 200);
  EXPECT_EQ(upstream_.requestCount(), 1u);
}

TEST_F(TlsFeaturesUpstreamTls, PlainUpstreamConfigFailsAgainstTlsServer) {
  // Control for the tests above: without `tls` the proxy speaks plain HTTP to a TLS server,
  // which cannot work, so the 200s above really went over TLS.
  ASSERT_TRUE(proxy_.startYaml(proxyYaml(localhostTls(), upstream_.address())));
  TlsClient client;
  int status = 0;
  ASSERT_TRUE(get(client, proxy_.httpsPort(), TlsOptions{}, &status));
  EXPECT_EQ(status, 502);
}

// ---------------------------------------------------------------------------------------------
// Handshake timeout.

class TlsFeaturesHandshakeTimeout : public TlsFeaturesTest {
 protected:
  void SetUp() override {
    TlsFeaturesTest::SetUp();
    if (HasFatalFailure()) return;
    ASSERT_TRUE(proxy_.startYaml(proxyYaml(localhostTls("handshake_timeout: 500ms"), app_.address()) +
                                 "admin: {address: \"127.0.0.1:0\"}\n"));
  }

  double failures(const std::string& reason) {
    MetricSamples m;
    if (!scrapeMetrics(proxy_, &m)) return -1;
    return sampleAt(m, "portcullis_tls_handshake_failures_total|reason=" + reason + ",side=server");
  }

  // Connects over plain TCP, sends `bytes`, and expects the proxy to close within 0.4-2 s.
  void expectClosedByTimeout(const std::string& bytes) {
    RawClient client;
    ASSERT_TRUE(client.connect(proxy_.httpsPort()));
    auto start = Clock::now();
    if (!bytes.empty()) {
      ASSERT_TRUE(client.send(bytes));
    }
    ASSERT_TRUE(client.waitForClose(3s));
    auto elapsed = std::chrono::duration_cast<milliseconds>(Clock::now() - start);
    EXPECT_GE(elapsed.count(), 400) << "closed before the handshake timeout";
    EXPECT_LE(elapsed.count(), 2000) << "closed long after the 500 ms handshake timeout";
  }
};

TEST_F(TlsFeaturesHandshakeTimeout, SilentClientIsClosed) { expectClosedByTimeout(""); }

TEST_F(TlsFeaturesHandshakeTimeout, HalfAClientHelloIsClosed) {
  // A handshake record header announcing 512 bytes, a ClientHello header and a few bytes of it.
  std::string partial = std::string("\x16\x03\x01\x02\x00", 5) + std::string("\x01\x00\x01\xfc\x03\x03", 6) +
                        std::string(20, '\x42');
  expectClosedByTimeout(partial);
}

TEST_F(TlsFeaturesHandshakeTimeout, TimeoutsAndAbandonedHandshakesAreCountedButNotBareProbes) {
  expectClosedByTimeout("");
  {
    RawClient probe;  // an L4 health check: connects, says nothing, leaves
    ASSERT_TRUE(probe.connect(proxy_.httpsPort()));
  }
  {
    RawClient quitter;  // half a ClientHello, then gone
    ASSERT_TRUE(quitter.connect(proxy_.httpsPort()));
    ASSERT_TRUE(quitter.send(std::string("\x16\x03\x01\x02\x00", 5) + std::string("\x01\x00\x01\xfc\x03\x03", 6)));
  }
  ASSERT_TRUE(pollUntil([&] { return failures("abandoned") == 1; }, 3000ms)) << failures("abandoned");
  EXPECT_EQ(failures("timeout"), 1);
  EXPECT_EQ(failures("protocol_error"), 0);
}

TEST_F(TlsFeaturesHandshakeTimeout, CompletedHandshakeOutlivesTheTimeout) {
  TlsClient client;
  ASSERT_TRUE(client.connect(proxy_.httpsPort()));
  EXPECT_TRUE(client.staysOpenAndSilent(1200ms));
  Response resp;
  ASSERT_TRUE(client.roundTrip(getRequest("/"), &resp));
  EXPECT_EQ(resp.status, 200);
}

}  // namespace
}  // namespace portcullis::integration
