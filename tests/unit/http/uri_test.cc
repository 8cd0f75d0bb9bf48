// parseAuthority specs: what a Host header (or absolute-form authority) may look like.
#include <gtest/gtest.h>

#include <string>

#include "http/uri.h"

namespace portcullis::http {
namespace {

TEST(ParseAuthority, AcceptsRegName) {
  auto a = parseAuthority("www.Example-1.com");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->host, "www.Example-1.com");
  EXPECT_EQ(a->port, "");
  EXPECT_FALSE(a->ipv6);
}

TEST(ParseAuthority, AcceptsUnderscoreTildeAndTrailingDot) {
  EXPECT_TRUE(parseAuthority("_dmarc.example.com."));
  EXPECT_TRUE(parseAuthority("a~b"));
}

TEST(ParseAuthority, SplitsHostAndPort) {
  auto a = parseAuthority("example.com:8443");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->host, "example.com");
  EXPECT_EQ(a->port, "8443");
}

TEST(ParseAuthority, AcceptsIpv4) {
  auto a = parseAuthority("192.0.2.1:80");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->host, "192.0.2.1");
  EXPECT_EQ(a->port, "80");
  EXPECT_FALSE(a->ipv6);
}

TEST(ParseAuthority, AcceptsEmptyPortAsNoPort) {
  auto a = parseAuthority("example.com:");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->host, "example.com");
  EXPECT_EQ(a->port, "");
}

TEST(ParseAuthority, AcceptsPortBounds) {
  EXPECT_TRUE(parseAuthority("a:0"));
  EXPECT_TRUE(parseAuthority("a:65535"));
}

TEST(ParseAuthority, KeepsBracketsOnIpv6) {
  auto a = parseAuthority("[2001:db8::1]:443");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->host, "[2001:db8::1]");
  EXPECT_EQ(a->port, "443");
  EXPECT_TRUE(a->ipv6);
}

TEST(ParseAuthority, AcceptsIpv6TextForms) {
  for (const char* v : {"[::1]", "[::]", "[1:2:3:4:5:6:7:8]", "[1::]", "[::ffff:192.0.2.1]",
                        "[1:2:3:4:5:6:192.0.2.1]", "[fe80::1:2]", "[ABCD::ef]"}) {
    EXPECT_TRUE(parseAuthority(v)) << v;
  }
}

TEST(ParseAuthority, RejectsMalformedIpv6) {
  for (const char* v : {"[]", "[1:2:3:4:5:6:7:8:9]", "[1:2:3:4:5:6:7]", "[1::2::3]", "[:::1]",
                        "[12345::1]", "[g::1]", "[::1", "[::1]x", "[:1::]", "[1:]",
                        "[fe80::1%25eth0]", "[::192.0.2.1:1]", "[1:2:3:4:5:6:7:192.0.2.1]",
                        "[::256.0.0.1]", "[v1.x]"}) {
    EXPECT_FALSE(parseAuthority(v)) << v;
  }
}

TEST(ParseAuthority, AcceptsIpv6WithEmptyPort) {
  auto a = parseAuthority("[::1]:");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->host, "[::1]");
  EXPECT_EQ(a->port, "");
}

TEST(ParseAuthority, RejectsUnbracketedIpv6) {
  EXPECT_FALSE(parseAuthority("::1"));
  EXPECT_FALSE(parseAuthority("2001:db8::1"));
}

TEST(ParseAuthority, RejectsEmptyHost) {
  EXPECT_FALSE(parseAuthority(""));
  EXPECT_FALSE(parseAuthority(":80"));
}

TEST(ParseAuthority, RejectsUserinfo) {
  EXPECT_FALSE(parseAuthority("user@example.com"));
  EXPECT_FALSE(parseAuthority("user:pass@example.com"));
}

TEST(ParseAuthority, RejectsSubDelimsAndPercentInHost) {
  for (char c : std::string_view("%!$&'()*+,;=")) {
    std::string host = std::string("a") + c + "b";
    EXPECT_FALSE(parseAuthority(host)) << host;
  }
}

TEST(ParseAuthority, RejectsWhitespaceSlashAndControls) {
  EXPECT_FALSE(parseAuthority("a b"));
  EXPECT_FALSE(parseAuthority("a/b"));
  EXPECT_FALSE(parseAuthority("a\tb"));
  EXPECT_FALSE(parseAuthority("a\x01"));
  EXPECT_FALSE(parseAuthority("caf\xc3\xa9"));
}

TEST(ParseAuthority, RejectsPortAbove65535) {
  EXPECT_FALSE(parseAuthority("a:65536"));
  EXPECT_FALSE(parseAuthority("a:99999999999999999999999"));
}

TEST(ParseAuthority, RejectsNonDigitPort) {
  EXPECT_FALSE(parseAuthority("a:8o"));
  EXPECT_FALSE(parseAuthority("a:-1"));
  EXPECT_FALSE(parseAuthority("a: 80"));
  EXPECT_FALSE(parseAuthority("a:80:81"));
}

TEST(ParseAuthority, EveryByteInANameIsJudgedAsUnreserved) {
  // The name check is a 256-entry table: every byte, in the middle and at each end of a name.
  for (int i = 0; i < 256; ++i) {
    char c = static_cast<char>(i);
    bool unreserved = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '-' || c == '.' || c == '_' || c == '~';
    std::string mid = std::string("a") + c + "b";
    std::string first = std::string(1, c) + "b:80";
    std::string last = std::string("a") + c;
    EXPECT_EQ(parseAuthority(mid).has_value(), unreserved) << "byte " << i;
    EXPECT_EQ(parseAuthority(first).has_value(), unreserved) << "byte " << i;
    if (c != ':') {
      EXPECT_EQ(parseAuthority(last).has_value(), unreserved) << "byte " << i;
    }
    if (unreserved) {
      EXPECT_EQ(parseAuthority(first)->host, first.substr(0, 2));
    }
  }
  EXPECT_EQ(parseAuthority("a:")->host, "a");  // ':' ends the name; an empty port is no port
}

}  // namespace
}  // namespace portcullis::http
