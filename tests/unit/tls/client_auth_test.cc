// Client certificates (mTLS) on the server side: required and optional modes, and what the
// engine reports about the verified peer.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>

#include "tls/client_context.h"
#include "tls/context.h"
#include "tls/engine.h"
#include "tls/stats.h"
#include "tls_test_util.h"

namespace portcullis::tls {
namespace {

using ::testing::AnyOf;
using ::testing::HasSubstr;
using testing::connect;
using testing::Connection;
using testing::must;
using testing::TestPki;

const TestPki& pki() { return TestPki::get(); }

std::shared_ptr<const Context> serverRequiring(ClientAuthMode mode) {
  ServerOptions o;
  o.client_auth = mode;
  o.client_ca_file = pki().cert("ca");
  return testing::serverContext({pki().pair("a-ecdsa")}, o);
}

// A verifying client presenting `cert` ("" for none).
std::shared_ptr<const ClientContext> clientWith(const std::string& cert,
                                                TlsVersion max = TlsVersion::Tls1_3) {
  ClientContextOptions o;
  o.ca_file = pki().cert("ca");
  o.max_version = max;
  if (!cert.empty()) {
    o.certificate_file = pki().cert(cert);
    o.key_file = pki().key(cert);
  }
  return must(ClientContext::create(o));
}

// In TLS 1.3 the client finishes its handshake before the server has looked at its certificate
// (RFC 8446 §4.4.2), so a refusal reaches it as an alert on its first read, not as a failed
// handshake: send a request and pump once more to see it.
Connection connectAndTalk(const std::shared_ptr<const Context>& server,
                          const std::shared_ptr<const ClientContext>& client) {
  Connection c = connect(server, client, "a.example.com");
  if (c.client.error.empty() && c.client.engine.handshakeDone()) {
    EXPECT_TRUE(c.client.engine.writePlaintext("GET / HTTP/1.1\r\n\r\n").ok());
    testing::pump(c.client, c.server);
  }
  return c;
}

std::string opensslFingerprint(const std::string& pem) {
  std::string cmd = "openssl x509 -in '" + pem + "' -noout -fingerprint -sha256";
  FILE* p = popen(cmd.c_str(), "r");
  char buf[256] = {};
  if (!p || !fgets(buf, sizeof buf, p)) return {};
  pclose(p);
  std::string line(buf);  // "sha256 Fingerprint=AB:CD:..."
  std::string hex;
  for (char ch : line.substr(line.find('=') + 1)) {
    if (std::isxdigit(static_cast<unsigned char>(ch))) hex.push_back(static_cast<char>(std::tolower(ch)));
  }
  return hex;
}

TEST(ClientAuth, RequiredAcceptsACertificateFromTheCa) {
  Connection c = connectAndTalk(serverRequiring(ClientAuthMode::Required), clientWith("client"));
  ASSERT_TRUE(c.ok()) << c.client.error << " / " << c.server.error;
  EXPECT_EQ(c.server.text(), "GET / HTTP/1.1\r\n\r\n");
  EXPECT_EQ(c.server.engine.peerSubject(), "CN=client one,O=Portcullis Tests,C=DE");
  EXPECT_EQ(c.server.engine.peerFingerprint(), opensslFingerprint(pki().cert("client")));
  EXPECT_EQ(c.server.engine.peerFingerprint().size(), 64u);
}

TEST(ClientAuth, RequiredRefusesAClientWithoutCertificate) {
  HandshakeCounts before = handshakeCounts();
  uint64_t required_before = handshakeFailures(true, HandshakeFailure::CertificateRequired);
  Connection c = connectAndTalk(serverRequiring(ClientAuthMode::Required), clientWith(""));
  EXPECT_FALSE(c.server.engine.handshakeDone());
  EXPECT_THAT(c.server.error, HasSubstr("PEER_DID_NOT_RETURN_A_CERTIFICATE"));
  EXPECT_THAT(c.client.error, HasSubstr("CERTIFICATE_REQUIRED"));  // RFC 8446 alert 116
  EXPECT_EQ(handshakeCounts().server_failed - before.server_failed, 1u);
  EXPECT_EQ(handshakeFailures(true, HandshakeFailure::CertificateRequired) - required_before, 1u);
}

TEST(ClientAuth, RequiredRefusesACertificateFromAnotherCa) {
  uint64_t invalid_before = handshakeFailures(true, HandshakeFailure::CertificateInvalid);
  Connection c = connectAndTalk(serverRequiring(ClientAuthMode::Required), clientWith("rogue-client"));
  EXPECT_EQ(handshakeFailures(true, HandshakeFailure::CertificateInvalid) - invalid_before, 1u);
  // The TLS 1.3 client finished its handshake before the server judged its certificate: the
  // unknown_ca alert reaches it as a read error, not as a failed handshake.
  EXPECT_FALSE(c.server.engine.handshakeDone());
  EXPECT_THAT(c.server.error, HasSubstr("certificate verify failed: unable to get local issuer"));
  EXPECT_THAT(c.client.error, HasSubstr("TLSV1_ALERT_UNKNOWN_CA"));
}

TEST(ClientAuth, RequiredRefusesAServerCertificateUsedAsClientCertificate) {
  // Signed by the right CA, but its extendedKeyUsage is serverAuth only.
  Connection c = connectAndTalk(serverRequiring(ClientAuthMode::Required), clientWith("localhost"));
  EXPECT_FALSE(c.server.engine.handshakeDone());
  EXPECT_THAT(c.server.error, HasSubstr("certificate verify failed"));
}

TEST(ClientAuth, RequiredWorksOverTls12) {
  Connection c = connectAndTalk(serverRequiring(ClientAuthMode::Required),
                                clientWith("client", TlsVersion::Tls1_2));
  ASSERT_TRUE(c.ok()) << c.client.error << " / " << c.server.error;
  EXPECT_EQ(c.server.engine.protocolVersion(), "TLSv1.2");
  EXPECT_EQ(c.server.engine.peerSubject(), "CN=client one,O=Portcullis Tests,C=DE");
  Connection none = connectAndTalk(serverRequiring(ClientAuthMode::Required),
                                   clientWith("", TlsVersion::Tls1_2));
  EXPECT_THAT(none.server.error, HasSubstr("PEER_DID_NOT_RETURN_A_CERTIFICATE"));
}

TEST(ClientAuth, OptionalAcceptsNoCertificate) {
  Connection c = connectAndTalk(serverRequiring(ClientAuthMode::Optional), clientWith(""));
  ASSERT_TRUE(c.ok()) << c.client.error << " / " << c.server.error;
  EXPECT_EQ(c.server.engine.peerSubject(), "");
  EXPECT_EQ(c.server.engine.peerFingerprint(), "");
}

TEST(ClientAuth, OptionalReportsAValidCertificate) {
  Connection c = connectAndTalk(serverRequiring(ClientAuthMode::Optional), clientWith("client"));
  ASSERT_TRUE(c.ok()) << c.client.error << " / " << c.server.error;
  EXPECT_EQ(c.server.engine.peerSubject(), "CN=client one,O=Portcullis Tests,C=DE");
}

TEST(ClientAuth, OptionalRefusesAnInvalidCertificate) {
  Connection c = connectAndTalk(serverRequiring(ClientAuthMode::Optional), clientWith("rogue-client"));
  EXPECT_FALSE(c.server.engine.handshakeDone());
  EXPECT_THAT(c.server.error, HasSubstr("certificate verify failed"));
}

TEST(ClientAuth, NoneNeverAsksSoNothingIsReported) {
  Connection c = connectAndTalk(serverRequiring(ClientAuthMode::None), clientWith("client"));
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c.server.engine.peerSubject(), "");
}

TEST(ClientAuth, ResumedSessionKeepsTheClientIdentity) {
  auto server = serverRequiring(ClientAuthMode::Required);
  auto client = clientWith("client");
  ASSERT_TRUE(connectAndTalk(server, client).ok());
  Connection again = connectAndTalk(server, client);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again.server.engine.sessionReused());
  EXPECT_EQ(again.server.engine.peerSubject(), "CN=client one,O=Portcullis Tests,C=DE");
}

TEST(ClientAuth, WorksWithSniSwitchedCertificates) {
  ServerOptions o;
  o.client_auth = ClientAuthMode::Required;
  o.client_ca_file = pki().cert("ca");
  auto server = testing::serverContext({pki().pair("default"), pki().pair("a-ecdsa")}, o);
  Connection good = connectAndTalk(server, clientWith("client"));
  ASSERT_TRUE(good.ok()) << good.client.error << " / " << good.server.error;
  EXPECT_EQ(testing::commonName(good.client.engine.peerSubject()), "a-ecdsa");
  Connection bad = connectAndTalk(server, clientWith("rogue-client"));
  EXPECT_THAT(bad.server.error, HasSubstr("certificate verify failed"));
}

TEST(ClientAuth, MissingOrUnreadableCaFileIsAStartupError) {
  ServerOptions o;
  o.certificates = {pki().pair("a-ecdsa")};
  o.client_auth = ClientAuthMode::Required;
  EXPECT_THAT(Context::forServer(o).error().message, HasSubstr("no client CA file configured"));
  o.client_ca_file = (pki().dir() / "nope.pem").string();
  EXPECT_THAT(Context::forServer(o).error().message,
              HasSubstr("cannot read client CA file " + o.client_ca_file));
}

}  // namespace
}  // namespace portcullis::tls
