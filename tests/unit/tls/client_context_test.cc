// ClientContext: TLS to upstream hosts with verification, SNI and per-host session reuse.
#include "tls/client_context.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tls/context.h"
#include "tls/engine.h"
#include "tls_test_util.h"

namespace portcullis::tls {
namespace {

using ::testing::HasSubstr;
using testing::connect;
using testing::Connection;
using testing::must;
using testing::TestPki;

const TestPki& pki() { return TestPki::get(); }

std::shared_ptr<const ClientContext> trusting(const std::string& ca,
                                              size_t cache = 64) {
  ClientContextOptions o;
  o.ca_file = pki().cert(ca);
  o.session_cache_size = cache;
  return must(ClientContext::create(o));
}

std::shared_ptr<const Context> upstream() {
  return testing::serverContext({pki().pair("localhost"), pki().pair("a-ecdsa"),
                                 pki().pair("wildcard")});
}

TEST(ClientContext, VerifiesTheUpstreamAndSendsSni) {
  Connection c = connect(upstream(), trusting("ca"), "a.example.com");
  ASSERT_TRUE(c.ok()) << c.client.error << " / " << c.server.error;
  EXPECT_EQ(c.server.engine.serverName(), "a.example.com");
  EXPECT_EQ(c.server.engine.alpn(), "http/1.1");
  EXPECT_EQ(testing::commonName(c.client.engine.peerSubject()), "a-ecdsa");
}

TEST(ClientContext, WildcardCertificateVerifies) {
  Connection c = connect(upstream(), trusting("ca"), "b.example.com");
  ASSERT_TRUE(c.ok()) << c.client.error;
  EXPECT_EQ(testing::commonName(c.client.engine.peerSubject()), "wildcard");
}

TEST(ClientContext, HostnameMismatchFailsTheHandshakeReadably) {
  // No certificate covers this name, so the server falls back to "localhost".
  Connection c = connect(upstream(), trusting("ca"), "other.test");
  EXPECT_FALSE(c.client.engine.handshakeDone());
  EXPECT_EQ(c.client.error, "TLS handshake failed: certificate verify failed: Hostname mismatch");
  EXPECT_THAT(c.server.error, HasSubstr("ALERT"));  // the client told the server why
}

TEST(ClientContext, UnknownCaFailsTheHandshakeReadably) {
  Connection c = connect(upstream(), trusting("other-ca"), "a.example.com");
  EXPECT_FALSE(c.client.engine.handshakeDone());
  EXPECT_EQ(c.client.error,
            "TLS handshake failed: certificate verify failed: unable to get local issuer "
            "certificate");
}

TEST(ClientContext, IpLiteralIsVerifiedAgainstIpSanWithoutSni) {
  Connection c = connect(upstream(), trusting("ca"), "127.0.0.1");
  ASSERT_TRUE(c.ok()) << c.client.error;
  EXPECT_EQ(c.server.engine.serverName(), "");  // RFC 6066 §3: no IP literals in SNI
  Connection wrong = connect(upstream(), trusting("ca"), "127.0.0.2");
  EXPECT_THAT(wrong.client.error, HasSubstr("certificate verify failed"));
}

TEST(ClientContext, VerificationNeedsAHostName) {
  EXPECT_THAT(Engine::forClient(trusting("ca"), "").error().message, HasSubstr("without a host name"));
}

TEST(ClientContext, VerificationOffAcceptsAnything) {
  ClientContextOptions o;
  o.verify = false;
  auto client = must(ClientContext::create(o));
  EXPECT_FALSE(client->verifies());
  Connection c = connect(upstream(), client, "other.test");
  EXPECT_TRUE(c.ok()) << c.client.error;
}

TEST(ClientContext, SystemStoreLoads) {
  // Debian's BoringSSL looks for /etc/ssl/cert.pem; the fallback finds Debian's bundle. Our test
  // CA is not in it, so verifying the test upstream fails (and says why).
  auto system = ClientContext::create(ClientContextOptions{});
  ASSERT_TRUE(system.ok()) << system.error().message;
  Connection c = connect(upstream(), *system, "a.example.com");
  EXPECT_THAT(c.client.error, HasSubstr("unable to get local issuer certificate"));
}

TEST(ClientContext, BadCaFileIsAStartupError) {
  ClientContextOptions o;
  o.ca_file = (pki().dir() / "nope.pem").string();
  EXPECT_THAT(ClientContext::create(o).error().message, HasSubstr("cannot read CA file " + o.ca_file));
}

TEST(ClientContext, Tls11IsRefusedAsAnOption) {
  ClientContextOptions o;
  o.min_version = TlsVersion::Tls1_1;
  EXPECT_THAT(ClientContext::create(o).error().message, HasSubstr("RFC 8996"));
}

TEST(ClientContext, SecondConnectionToTheSameHostResumes) {
  auto server = upstream();
  auto client = trusting("ca");
  Connection first = connect(server, client, "a.example.com");
  ASSERT_TRUE(first.ok());
  EXPECT_FALSE(first.client.engine.sessionReused());
  EXPECT_EQ(client->cachedSessions(), 1u);
  Connection second = connect(server, client, "a.example.com");
  ASSERT_TRUE(second.ok());
  EXPECT_TRUE(second.client.engine.sessionReused());
  // The verified identity survives resumption.
  EXPECT_EQ(testing::commonName(second.client.engine.peerSubject()), "a-ecdsa");
}

TEST(ClientContext, SessionsAreKeptPerHost) {
  auto server = upstream();
  auto client = trusting("ca");
  ASSERT_TRUE(connect(server, client, "a.example.com").ok());
  Connection other = connect(server, client, "b.example.com");
  ASSERT_TRUE(other.ok());
  EXPECT_FALSE(other.client.engine.sessionReused());
  EXPECT_EQ(client->cachedSessions(), 2u);
  client->clearSessions();
  EXPECT_EQ(client->cachedSessions(), 0u);
  EXPECT_FALSE(connect(server, client, "a.example.com").client.engine.sessionReused());
}

TEST(ClientContext, CacheSizeBoundsHostsAndZeroDisablesResumption) {
  auto server = upstream();
  auto one = trusting("ca", 1);
  ASSERT_TRUE(connect(server, one, "a.example.com").ok());
  ASSERT_TRUE(connect(server, one, "b.example.com").ok());
  EXPECT_EQ(one->cachedSessions(), 1u);
  auto none = trusting("ca", 0);
  ASSERT_TRUE(connect(server, none, "a.example.com").ok());
  EXPECT_FALSE(connect(server, none, "a.example.com").client.engine.sessionReused());
  EXPECT_EQ(none->cachedSessions(), 0u);
}

TEST(ClientContext, ClientCertificateIsPresented) {
  ServerOptions so;
  so.client_auth = ClientAuthMode::Required;
  so.client_ca_file = pki().cert("ca");
  auto server = testing::serverContext({pki().pair("a-ecdsa")}, so);
  ClientContextOptions o;
  o.ca_file = pki().cert("ca");
  o.certificate_file = pki().cert("client");
  o.key_file = pki().key("client");
  Connection c = connect(server, must(ClientContext::create(o)), "a.example.com");
  ASSERT_TRUE(c.ok()) << c.client.error << " / " << c.server.error;
  EXPECT_EQ(c.server.engine.peerSubject(), "CN=client one,O=Portcullis Tests,C=DE");
}

}  // namespace
}  // namespace portcullis::tls
