// Certificate selection by SNI and key type, per-context options, and the startup checks.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <ctime>

#include "tls/context.h"
#include "tls/engine.h"
#include "tls_test_util.h"

namespace portcullis::tls {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::ContainsRegex;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using testing::commonName;
using testing::connect;
using testing::Connection;
using testing::serverContext;
using testing::TestPki;

const TestPki& pki() { return TestPki::get(); }

// default, wildcard first (exact must still win over it), then the a.example.com pair in both
// key types.
std::shared_ptr<const Context> sniContext() {
  return serverContext({pki().pair("default"), pki().pair("wildcard"), pki().pair("a-ecdsa"),
                        pki().pair("a-rsa")});
}

ClientOptions sni(std::string name) {
  ClientOptions o;
  o.sni = std::move(name);
  o.alpn = "http/1.1";
  return o;
}

// Which certificate the server chose, by its CN ("a-ecdsa", "wildcard", ...).
std::string served(const std::shared_ptr<const Context>& ctx, const ClientOptions& opts) {
  Connection c = connect(ctx, opts);
  EXPECT_TRUE(c.ok()) << c.client.error << " / " << c.server.error;
  return commonName(c.client.engine.peerSubject());
}

// --- Selection by name --------------------------------------------------------------------------

TEST(SniSelection, ExactNameBeatsWildcard) {
  EXPECT_EQ(served(sniContext(), sni("a.example.com")), "a-ecdsa");
}

TEST(SniSelection, EverySanNameSelects) {
  EXPECT_EQ(served(sniContext(), sni("alt.example.net")), "a-ecdsa");
}

TEST(SniSelection, NameIsCaseInsensitiveAndIgnoresTrailingDot) {
  EXPECT_EQ(served(sniContext(), sni("A.Example.COM.")), "a-ecdsa");
}

TEST(SniSelection, WildcardCoversOneLabel) {
  EXPECT_EQ(served(sniContext(), sni("b.example.com")), "wildcard");
}

TEST(SniSelection, WildcardDoesNotCoverTwoLabelsOrTheBareDomain) {
  auto ctx = sniContext();
  EXPECT_EQ(served(ctx, sni("x.b.example.com")), "default");
  EXPECT_EQ(served(ctx, sni("example.com")), "default");
}

TEST(SniSelection, UnknownNameAndNoSniGetTheFirstPair) {
  auto ctx = sniContext();
  EXPECT_EQ(served(ctx, sni("unknown.test")), "default");
  EXPECT_EQ(served(ctx, sni("")), "default");
}

TEST(SniSelection, SinglePairServesEveryName) {
  auto ctx = serverContext({pki().pair("a-rsa")});
  EXPECT_EQ(served(ctx, sni("whatever.test")), "a-rsa");
}

// --- Selection by key type ----------------------------------------------------------------------

TEST(SniSelection, Tls13ClientAcceptingEcdsaGetsEcdsa) {
  Connection c = connect(sniContext(), sni("a.example.com"));
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c.client.engine.protocolVersion(), "TLSv1.3");
  EXPECT_EQ(commonName(c.client.engine.peerSubject()), "a-ecdsa");
}

TEST(SniSelection, Tls13ClientAcceptingOnlyRsaGetsRsa) {
  ClientOptions o = sni("a.example.com");
  o.signature_algorithms = {kSigRsaPssSha256};
  EXPECT_EQ(served(sniContext(), o), "a-rsa");
}

TEST(SniSelection, Tls12ClientWithOnlyRsaSuitesGetsRsa) {
  ClientOptions o = sni("a.example.com");
  o.max_version = TlsVersion::Tls1_2;
  o.tls12_ciphers = "ECDHE-RSA-AES128-GCM-SHA256";
  EXPECT_EQ(served(sniContext(), o), "a-rsa");
}

TEST(SniSelection, Tls12ClientWithEcdsaSuitesGetsEcdsa) {
  ClientOptions o = sni("a.example.com");
  o.max_version = TlsVersion::Tls1_2;
  o.tls12_ciphers = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256";
  EXPECT_EQ(served(sniContext(), o), "a-ecdsa");
}

TEST(SniSelection, Tls12ClientWithEcdsaSuiteButRsaOnlySignaturesGetsRsa) {
  ClientOptions o = sni("a.example.com");
  o.max_version = TlsVersion::Tls1_2;
  o.signature_algorithms = {kSigRsaPkcs1Sha256};
  EXPECT_EQ(served(sniContext(), o), "a-rsa");
}

TEST(SniSelection, DefaultPairHasItsRsaTwin) {
  // a-ecdsa is first, so it (and its RSA twin for the same names) is the default.
  auto ctx = serverContext({pki().pair("a-ecdsa"), pki().pair("default"), pki().pair("a-rsa")});
  ClientOptions o = sni("unknown.test");
  o.signature_algorithms = {kSigRsaPssSha256};
  EXPECT_EQ(served(ctx, o), "a-rsa");
}

TEST(SniSelection, OnlyCandidateIsServedEvenIfClientPrefersTheOtherType) {
  // Only an RSA certificate for b: an ECDSA-capable client still gets it (and can use it).
  auto ctx = serverContext({pki().pair("default"), pki().pair("a-rsa")});
  EXPECT_EQ(served(ctx, sni("a.example.com")), "a-rsa");
}

// --- covers() -----------------------------------------------------------------------------------

TEST(ContextCovers, ExactWildcardAndIpNames) {
  auto ctx = serverContext({pki().pair("default"), pki().pair("wildcard"), pki().pair("a-ecdsa"),
                            pki().pair("localhost")});
  EXPECT_TRUE(ctx->covers("a.example.com"));
  EXPECT_TRUE(ctx->covers("alt.example.net"));
  EXPECT_TRUE(ctx->covers("Zz.Example.Com."));
  EXPECT_TRUE(ctx->covers("default.test"));
  EXPECT_TRUE(ctx->covers("localhost"));
  EXPECT_TRUE(ctx->covers("127.0.0.1"));
  EXPECT_FALSE(ctx->covers("example.com"));
  EXPECT_FALSE(ctx->covers("x.y.example.com"));
  EXPECT_FALSE(ctx->covers("other.test"));
  EXPECT_FALSE(ctx->covers(""));
}

// certificateNames(): every subjectAltName, in configuration order, each once (a-rsa repeats
// a-ecdsa's names), for `portcullis django-settings`.
TEST(ContextCovers, CertificateNamesInConfigurationOrderEachOnce) {
  auto ctx = serverContext({pki().pair("default"), pki().pair("wildcard"), pki().pair("a-ecdsa"),
                            pki().pair("a-rsa"), pki().pair("localhost")});
  EXPECT_THAT(ctx->certificateNames(), ElementsAre("default.test", "*.example.com", "a.example.com",
                                                   "alt.example.net", "localhost", "127.0.0.1"));
}

// --- Startup checks -----------------------------------------------------------------------------

TEST(ContextChecks, KeyOfAnotherPairIsRefused) {
  ServerOptions o;
  o.certificates = {pki().pair("default"), {pki().cert("a-ecdsa"), pki().key("a-rsa")}};
  auto ctx = Context::forServer(o);
  ASSERT_FALSE(ctx.ok());
  EXPECT_EQ(ctx.error().message,
            "key " + pki().key("a-rsa") + " does not match certificate " + pki().cert("a-ecdsa"));
}

int64_t daysFromNow(int days) { return static_cast<int64_t>(std::time(nullptr)) + days * 86400; }

TEST(ContextChecks, ExpiredCertificateIsAnError) {
  ServerOptions o;
  o.clock = [] { return daysFromNow(400); };  // the PKI is valid for 365 days
  o.certificates = {pki().pair("default"), pki().pair("a-ecdsa")};
  auto ctx = Context::forServer(o);
  ASSERT_FALSE(ctx.ok());
  EXPECT_THAT(ctx.error().message,
              AllOf(HasSubstr("certificate " + pki().cert("default")), HasSubstr("expired on")));
}

TEST(ContextChecks, CertificateExpiringWithinTwoWeeksIsAWarning) {
  ServerOptions o;
  o.clock = [] { return daysFromNow(360); };
  o.certificates = {pki().pair("default")};
  auto ctx = Context::forServer(o);
  ASSERT_TRUE(ctx.ok()) << ctx.error().message;
  ASSERT_EQ((*ctx)->warnings().size(), 1u);
  // 365 - 360 days, less the seconds since the PKI was made: 4 or 5 days depending on how the
  // remaining time rounds, so either is right.
  EXPECT_THAT((*ctx)->warnings()[0],
              AllOf(HasSubstr("certificate " + pki().cert("default")), ContainsRegex("expires in [45] days")));
}

TEST(ContextChecks, FreshCertificatesGiveNoWarnings) {
  EXPECT_THAT(sniContext()->warnings(), IsEmpty());
}

TEST(ContextChecks, DuplicateNameAndKeyTypeIsAWarning) {
  auto ctx = serverContext({pki().pair("a-ecdsa"), pki().pair("a-ecdsa")});
  EXPECT_THAT(ctx->warnings(), ElementsAre(HasSubstr("already served by"), HasSubstr("already served by")));
}

TEST(ContextChecks, NoPairAtAllIsAnError) {
  EXPECT_EQ(Context::forServer(ServerOptions{}).error().message, "no certificate file configured");
}

TEST(ContextChecks, Tls11MinimumIsRefused) {
  ServerOptions o;
  o.certificates = {pki().pair("default")};
  o.min_version = TlsVersion::Tls1_1;
  auto ctx = Context::forServer(o);
  ASSERT_FALSE(ctx.ok());
  EXPECT_THAT(ctx.error().message, HasSubstr("RFC 8996"));
}

TEST(ContextChecks, BadCipherCurveOrAlpnListIsRefused) {
  ServerOptions o;
  o.certificates = {pki().pair("default")};
  o.tls12_ciphers = "NOT-A-CIPHER";
  EXPECT_THAT(Context::forServer(o).error().message, HasSubstr("cipher list 'NOT-A-CIPHER'"));
  o.tls12_ciphers.clear();
  o.curves = "P-999";
  EXPECT_THAT(Context::forServer(o).error().message, HasSubstr("groups 'P-999'"));
  o.curves.clear();
  o.alpn = {"http/1.1", ""};
  EXPECT_THAT(Context::forServer(o).error().message, HasSubstr("ALPN"));
}

TEST(ContextChecks, LegacyPairStillWorksAndComesFirst) {
  ServerOptions o(pki().cert("default"), pki().key("default"));
  o.certificates = {pki().pair("a-ecdsa")};
  auto ctx = testing::must(Context::forServer(o));
  EXPECT_EQ(served(ctx, sni("none.test")), "default");
  EXPECT_EQ(served(ctx, sni("a.example.com")), "a-ecdsa");
}

// --- Per-context options ------------------------------------------------------------------------

TEST(ContextOptions, MinimumTls13RefusesTls12Clients) {
  ServerOptions so;
  so.min_version = TlsVersion::Tls1_3;
  auto ctx = serverContext({pki().pair("default")}, so);
  ClientOptions o = sni("default.test");
  o.max_version = TlsVersion::Tls1_2;
  Connection c = connect(ctx, o);
  EXPECT_THAT(c.server.error, HasSubstr("UNSUPPORTED_PROTOCOL"));
  EXPECT_TRUE(connect(ctx, sni("default.test")).ok());
}

TEST(ContextOptions, CustomTls12CipherListIsEnforced) {
  ServerOptions so;
  so.tls12_ciphers = "ECDHE-ECDSA-AES256-GCM-SHA384";
  auto ctx = serverContext({pki().pair("default")}, so);
  ClientOptions o = sni("default.test");
  o.max_version = TlsVersion::Tls1_2;
  o.tls12_ciphers = "ECDHE-ECDSA-AES128-GCM-SHA256";
  EXPECT_THAT(connect(ctx, o).server.error, HasSubstr("NO_SHARED_CIPHER"));
  o.tls12_ciphers = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384";
  Connection c = connect(ctx, o);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c.server.engine.cipherName(), "ECDHE-ECDSA-AES256-GCM-SHA384");
}

TEST(ContextOptions, CurvesListIsEnforced) {
  ServerOptions so;
  so.curves = "P-384";
  auto server = serverContext({pki().pair("default")}, so);
  ClientContextOptions co;
  co.verify = false;
  co.curves = "X25519";
  auto x25519_only = testing::must(ClientContext::create(co));
  EXPECT_THAT(connect(server, x25519_only, "default.test").server.error,
              HasSubstr("NO_SHARED_GROUP"));
  co.curves = "X25519:P-384";
  EXPECT_TRUE(connect(server, testing::must(ClientContext::create(co)), "default.test").ok());
}

// The listener's `protocols` (default [h2, http/1.1]) become ServerOptions::alpn as written.
TEST(ContextOptions, AlpnFollowsServerPreference) {
  ServerOptions so;
  so.alpn = {"h2", "http/1.1"};
  auto ctx = serverContext({pki().pair("default")}, so);
  ClientOptions o = sni("default.test");
  o.alpn = "h2,http/1.1";  // what browsers and curl offer
  Connection both = connect(ctx, o);
  ASSERT_TRUE(both.ok()) << both.client.error << " / " << both.server.error;
  EXPECT_EQ(both.server.engine.alpn(), "h2");
  EXPECT_EQ(both.client.engine.alpn(), "h2");
  o.alpn = "http/1.1,h2";  // the server's order wins over the client's
  EXPECT_EQ(connect(ctx, o).server.engine.alpn(), "h2");
  o.alpn = "http/1.1";
  EXPECT_EQ(connect(ctx, o).server.engine.alpn(), "http/1.1");
  o.alpn = "spdy/3";
  Connection c = connect(ctx, o);
  EXPECT_TRUE(c.ok());
  EXPECT_EQ(c.server.engine.alpn(), "");
}

TEST(ContextOptions, AlpnWithoutH2AnswersHttp11ToAClientPreferringH2) {
  ServerOptions so;
  so.alpn = {"http/1.1"};  // `protocols: [http/1.1]`
  auto ctx = serverContext({pki().pair("default")}, so);
  ClientOptions o = sni("default.test");
  o.alpn = "h2,http/1.1";
  Connection c = connect(ctx, o);
  ASSERT_TRUE(c.ok()) << c.client.error << " / " << c.server.error;
  EXPECT_EQ(c.server.engine.alpn(), "http/1.1");
  EXPECT_EQ(c.client.engine.alpn(), "http/1.1");
  // A client offering only h2 here gets no ALPN answer: TlsEngine.ClientOfferingOnlyH2...
}

TEST(ContextOptions, AlpnWorksAfterSwitchingCertificate) {
  // ALPN is read from the SNI-selected SSL_CTX: every one must carry the callback.
  Connection c = connect(sniContext(), sni("b.example.com"));
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c.server.engine.alpn(), "http/1.1");
}

}  // namespace
}  // namespace portcullis::tls
