#include "config/tls_values.h"

#include <gtest/gtest.h>

#include <string>

#include "config/model.h"

namespace portcullis::config {
namespace {

std::string errorOf(const auto& result) { return result ? "(ok)" : result.error().message; }

TEST(TlsVersion, AcceptsBothSpellings) {
  EXPECT_EQ(*parseTlsVersion("1.2"), "1.2");
  EXPECT_EQ(*parseTlsVersion("TLSv1.3"), "1.3");
}

TEST(TlsVersion, OldVersionsGetTheirOwnMessage) {
  for (const char* old : {"1.0", "1.1", "TLSv1", "TLSv1.1"}) {
    EXPECT_EQ(errorOf(parseTlsVersion(old)),
              std::string("TLS 1.0 and 1.1 are not supported (RFC 8996); use \"1.2\" or \"1.3\", "
                          "got '") + old + "'");
  }
}

TEST(TlsVersion, OtherTextIsRejected) {
  for (const char* bad : {"", "1.4", "tlsv1.2", "1.2.0", "12"}) {
    EXPECT_EQ(errorOf(parseTlsVersion(bad)),
              std::string("expected \"1.2\" or \"1.3\", got '") + bad + "'");
  }
}

TEST(CipherList, TheModelDefaultIsAccepted) {
  // The default must pass its own validation, or a config that sets it explicitly would fail.
  const TlsFiles defaults;
  EXPECT_EQ(*parseCipherList(defaults.ciphers), defaults.ciphers);
}

TEST(CipherList, EveryAllowedNameIsAcceptedAlone) {
  for (std::string_view c : allowedCiphers()) EXPECT_TRUE(parseCipherList(c)) << c;
}

TEST(CipherList, WeakOrUnknownSuitesAreRejected) {
  // CBC, static RSA key exchange, 3DES, OpenSSL keywords and exclusions.
  for (const char* bad : {"ECDHE-RSA-AES128-SHA", "AES128-GCM-SHA256", "DES-CBC3-SHA", "HIGH",
                          "ALL:!aNULL", "ecdhe-rsa-aes128-gcm-sha256"}) {
    EXPECT_FALSE(parseCipherList(bad)) << bad;
  }
}

TEST(CipherList, MessageListsTheAllowedNames) {
  EXPECT_EQ(errorOf(parseCipherList("RC4-SHA")),
            "'RC4-SHA' is not allowed; use ':'-separated names from: "
            "ECDHE-ECDSA-AES128-GCM-SHA256, ECDHE-RSA-AES128-GCM-SHA256, "
            "ECDHE-ECDSA-AES256-GCM-SHA384, ECDHE-RSA-AES256-GCM-SHA384, "
            "ECDHE-ECDSA-CHACHA20-POLY1305, ECDHE-RSA-CHACHA20-POLY1305");
}

TEST(CipherList, EmptyListAndRepeatsAreRejected) {
  EXPECT_EQ(errorOf(parseCipherList("")), "must not be empty; leave 'ciphers' out for the default");
  EXPECT_EQ(errorOf(parseCipherList("ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256")),
            "'ECDHE-RSA-AES128-GCM-SHA256' is listed twice");
  EXPECT_FALSE(parseCipherList("ECDHE-RSA-AES128-GCM-SHA256:"));
}

TEST(Curve, CanonicalNamesAnyCase) {
  EXPECT_EQ(*parseCurve("X25519"), "X25519");
  EXPECT_EQ(*parseCurve("x25519"), "X25519");
  EXPECT_EQ(*parseCurve("p-384"), "P-384");
}

TEST(Curve, OpenSslAliasesAreNormalised) {
  EXPECT_EQ(*parseCurve("prime256v1"), "P-256");
  EXPECT_EQ(*parseCurve("secp256r1"), "P-256");
  EXPECT_EQ(*parseCurve("secp384r1"), "P-384");
  EXPECT_EQ(*parseCurve("secp521r1"), "P-521");
}

TEST(Curve, UnknownGroupsAreRejected) {
  EXPECT_EQ(errorOf(parseCurve("X448")),
            "'X448' is not a supported curve; use one of: X25519, P-256, P-384, P-521");
}

TEST(Curve, TheModelDefaultsAreCanonical) {
  const TlsFiles defaults;
  for (const std::string& c : defaults.curves) EXPECT_EQ(*parseCurve(c), c);
}

}  // namespace
}  // namespace portcullis::config
