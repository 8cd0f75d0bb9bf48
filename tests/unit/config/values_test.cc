#include "config/values.h"

#include <gtest/gtest.h>

namespace portcullis::config {
namespace {

using std::chrono::milliseconds;

std::string errorOf(const auto& result) { return result ? "(ok)" : result.error().message; }

// --- durations ------------------------------------------------------------------------------

TEST(Duration, BareIntegerMeansSeconds) {
  auto d = parseDuration("30");
  ASSERT_TRUE(d) << errorOf(d);
  EXPECT_EQ(*d, milliseconds(30'000));
}

TEST(Duration, AcceptsMillisecondsSecondsMinutesAndHours) {
  EXPECT_EQ(*parseDuration("1500ms"), milliseconds(1500));
  EXPECT_EQ(*parseDuration("10s"), milliseconds(10'000));
  EXPECT_EQ(*parseDuration("2m"), milliseconds(120'000));
  EXPECT_EQ(*parseDuration("1h"), milliseconds(3'600'000));
}

TEST(Duration, ZeroIsRejected) {
  EXPECT_EQ(errorOf(parseDuration("0ms")), "must be greater than 0, got '0ms'");
}

TEST(Duration, TwentyFourHoursIsTheMaximum) {
  EXPECT_TRUE(parseDuration("24h"));
  EXPECT_EQ(errorOf(parseDuration("1441m")), "'1441m' is longer than the maximum of 24h");
}

TEST(Duration, HugeNumbersDoNotWrapAround) {
  // 5124095576031h is 2^64 ms plus about 34 minutes: multiplied before the range check, it
  // would wrap into a plausible 34m.
  EXPECT_FALSE(parseDuration("5124095576031h"));
  EXPECT_FALSE(parseDuration("99999999999999999999999s"));
}

TEST(Duration, MalformedTextIsRejectedWithAnExample) {
  for (const char* bad : {"soon", "", "s", "10 s", "10sec", "1.5s", "-1s", "+1s", "10S", "1w"}) {
    EXPECT_EQ(errorOf(parseDuration(bad)),
              std::string("expected a duration such as 10s or 500ms, got '") + bad + "'")
        << bad;
  }
}

TEST(Duration, DaysAreAcceptedUpToTheCap) {
  EXPECT_EQ(*parseDuration("1d"), milliseconds(86'400'000));
  EXPECT_EQ(errorOf(parseDuration("2d")), "'2d' is longer than the maximum of 24h");
}

TEST(Duration, ARangeMayRaiseTheMaximum) {
  DurationRange week{milliseconds(1), std::chrono::hours(24 * 7)};
  EXPECT_EQ(*parseDuration("7d", week), milliseconds(604'800'000));
  EXPECT_EQ(errorOf(parseDuration("8d", week)), "'8d' is longer than the maximum of 7d");
}

TEST(Duration, ARangeMayAllowZero) {
  DurationRange zero{milliseconds(0), kMaxDuration};
  EXPECT_EQ(*parseDuration("0", zero), milliseconds(0));
  EXPECT_EQ(*parseDuration("0s", zero), milliseconds(0));
}

TEST(Duration, ARangeMayRaiseTheMinimum) {
  DurationRange minute{std::chrono::minutes(1), kMaxDuration};
  EXPECT_EQ(errorOf(parseDuration("59s", minute)), "must be at least 1m, got '59s'");
  EXPECT_TRUE(parseDuration("60s", minute));
}

TEST(FormatDuration, UsesTheLargestExactUnit) {
  EXPECT_EQ(formatDuration(milliseconds(1500)), "1500ms");
  EXPECT_EQ(formatDuration(milliseconds(90'000)), "90s");
  EXPECT_EQ(formatDuration(milliseconds(120'000)), "2m");
  EXPECT_EQ(formatDuration(std::chrono::hours(24)), "24h");  // the general cap reads in hours
  EXPECT_EQ(formatDuration(std::chrono::hours(48)), "2d");
  EXPECT_EQ(formatDuration(milliseconds(0)), "0s");
}

// --- booleans and ratios --------------------------------------------------------------------

TEST(Bool, TrueAndFalseInTheYamlCoreSpellings) {
  EXPECT_TRUE(*parseBool("true"));
  EXPECT_TRUE(*parseBool("TRUE"));
  EXPECT_FALSE(*parseBool("False"));
}

TEST(Bool, YesNoOnOffAreRejected) {
  // YAML 1.1 read these as booleans and YAML 1.2 does not; refusing them avoids the "Norway
  // problem" either way.
  for (const char* bad : {"yes", "no", "on", "off", "1", "0", ""}) {
    EXPECT_EQ(errorOf(parseBool(bad)), std::string("expected true or false, got '") + bad + "'");
  }
}

TEST(Ratio, AcceptsZeroToOne) {
  EXPECT_DOUBLE_EQ(*parseRatio("0"), 0.0);
  EXPECT_DOUBLE_EQ(*parseRatio("0.25"), 0.25);
  EXPECT_DOUBLE_EQ(*parseRatio("1.0"), 1.0);
}

TEST(Ratio, RejectsOutOfRangeAndOtherSpellings) {
  for (const char* bad : {"1.01", "-0.1", "nan", "inf", "1e-1", ".5", "5.", "20%", "", "0.2 "}) {
    EXPECT_FALSE(parseRatio(bad)) << bad;
  }
}

// --- tokens, names, hash keys, statuses -----------------------------------------------------

TEST(Token, AcceptsRfc9110TokenCharacters) {
  EXPECT_TRUE(isToken("X-Client-Cert_Sha256"));
  EXPECT_TRUE(isToken("!#$%&'*+-.^_`|~09azAZ"));
}

TEST(Token, RejectsSeparatorsSpacesAndEmpty) {
  for (const char* bad : {"", "X Y", "X:Y", "a(b)", "a/b", "a\"b", "a,b", "a;b", "é"}) {
    EXPECT_FALSE(isToken(bad)) << bad;
  }
}

TEST(ServerName, IsLowerCased) { EXPECT_EQ(*parseServerName("App.Internal"), "app.internal"); }

TEST(ServerName, IpLiteralsAreRejected) {
  EXPECT_EQ(errorOf(parseServerName("10.0.0.1")),
            "'10.0.0.1' is an IP address; SNI carries host names only (RFC 6066)");
  EXPECT_FALSE(parseServerName("::1"));
  EXPECT_FALSE(parseServerName("[::1]"));
}

TEST(HostHeader, AcceptsNamesAddressesAndPorts) {
  EXPECT_EQ(*parseHostHeader("App.internal"), "app.internal");
  EXPECT_EQ(*parseHostHeader("app.internal:8080"), "app.internal:8080");
  EXPECT_EQ(*parseHostHeader("10.0.0.1:80"), "10.0.0.1:80");
  EXPECT_EQ(*parseHostHeader("[::1]"), "[::1]");
  EXPECT_EQ(*parseHostHeader("[::1]:8080"), "[::1]:8080");
}

TEST(HostHeader, RejectsBadPortsAndNames) {
  for (const char* bad : {"", "app:", "app:0", "app:x", "::1", "[::1]x", "a b", "10.0.1", "*.a.com"}) {
    EXPECT_FALSE(parseHostHeader(bad)) << bad;
  }
}

TEST(RequestPath, MayCarryAQuery) { EXPECT_EQ(*parseRequestPath("/health?full=1"), "/health?full=1"); }

TEST(RequestPath, RejectsRelativeSpacesAndFragments) {
  EXPECT_EQ(errorOf(parseRequestPath("health")), "must start with '/', got 'health'");
  EXPECT_FALSE(parseRequestPath("/a b"));
  EXPECT_FALSE(parseRequestPath("/a#b"));
}

TEST(HashKey, ClientIpHasNoName) {
  auto k = parseHashKey("client_ip");
  ASSERT_TRUE(k) << errorOf(k);
  EXPECT_EQ(k->kind, HashKeyKind::ClientIp);
  EXPECT_EQ(k->name, "");
}

TEST(HashKey, HeaderAndCookieCarryTheirName) {
  EXPECT_EQ(parseHashKey("header:X-User")->kind, HashKeyKind::Header);
  EXPECT_EQ(parseHashKey("header:X-User")->name, "X-User");
  EXPECT_EQ(parseHashKey("cookie:sessionid")->kind, HashKeyKind::Cookie);
  EXPECT_EQ(parseHashKey("cookie:sessionid")->name, "sessionid");
}

TEST(HashKey, MissingNameIsExplained) {
  EXPECT_EQ(errorOf(parseHashKey("cookie:")), "'cookie:' needs a name, as in cookie:sessionid");
}

TEST(HashKey, UnknownKindIsRejected) {
  EXPECT_EQ(errorOf(parseHashKey("Client_IP")),
            "expected client_ip, header:NAME or cookie:NAME, got 'Client_IP'");
}

TEST(StatusRange, SingleStatusIsARangeOfOne) {
  EXPECT_EQ(*parseStatusRange("204"), (std::pair<int, int>{204, 204}));
}

TEST(StatusRange, RangeIsInclusive) {
  EXPECT_EQ(*parseStatusRange("200-399"), (std::pair<int, int>{200, 399}));
}

TEST(StatusRange, OutsideHundredToFiveNinetyNineIsRejected) {
  for (const char* bad : {"99", "600", "100-600", "2xx", "", "-", "200-", " 200"}) {
    EXPECT_FALSE(parseStatusRange(bad)) << bad;
  }
}

// --- sizes ----------------------------------------------------------------------------------

TEST(Size, BareIntegerMeansBytes) { EXPECT_EQ(*parseSize("100"), 100u); }

TEST(Size, SuffixesAreBinaryMultiples) {
  EXPECT_EQ(*parseSize("8k"), 8u * 1024);
  EXPECT_EQ(*parseSize("100m"), 100u * 1024 * 1024);
  EXPECT_EQ(*parseSize("2g"), 2ull * 1024 * 1024 * 1024);
}

TEST(Size, SuffixesAreCaseInsensitiveAndMayBeIec) {
  EXPECT_EQ(*parseSize("32K"), 32u * 1024);
  EXPECT_EQ(*parseSize("32KiB"), 32u * 1024);
  EXPECT_EQ(*parseSize("1mib"), 1024u * 1024);
  EXPECT_EQ(*parseSize("1GIB"), 1024u * 1024 * 1024);
}

TEST(Size, DecimalLookingSuffixIsRejectedAsAmbiguous) {
  EXPECT_EQ(errorOf(parseSize("100MB")),
            "'100MB' is ambiguous; sizes are binary multiples: write 100m or 100MiB");
}

TEST(Size, OverflowIsRejected) {
  EXPECT_EQ(errorOf(parseSize("17179869184g")), "'17179869184g' is too large");  // 2^34 GiB = 2^64
  EXPECT_TRUE(parseSize("17179869183g"));
}

TEST(Size, MalformedTextIsRejectedWithAnExample) {
  for (const char* bad : {"lots", "", "k", "1.5m", "-1", "8 k", "8t"}) {
    EXPECT_EQ(errorOf(parseSize(bad)),
              std::string("expected a size such as 8k, 32KiB or 100m, got '") + bad + "'")
        << bad;
  }
}

// --- integers -------------------------------------------------------------------------------

TEST(Integer, AcceptsBothEndsOfTheRange) {
  EXPECT_EQ(*parseInteger("1", 1, 256), 1u);
  EXPECT_EQ(*parseInteger("256", 1, 256), 256u);
}

TEST(Integer, RejectsOutsideTheRange) {
  EXPECT_EQ(errorOf(parseInteger("257", 1, 256)), "expected an integer in 1..256, got '257'");
  EXPECT_EQ(errorOf(parseInteger("0", 1, 256)), "expected an integer in 1..256, got '0'");
}

TEST(Integer, RejectsSignsSpacesHexAndExponents) {
  for (const char* bad : {"-1", "+1", " 1", "0x10", "1e3", "", "1.0"}) {
    EXPECT_FALSE(parseInteger(bad, 0, 1000)) << bad;
  }
}

// --- listener addresses ---------------------------------------------------------------------

TEST(ListenAddress, SplitsIPv4AndPort) {
  auto a = parseListenAddress("0.0.0.0:443");
  ASSERT_TRUE(a) << errorOf(a);
  EXPECT_EQ(a->host, "0.0.0.0");
  EXPECT_EQ(a->port, 443);
}

TEST(ListenAddress, IPv6HostLosesItsBrackets) {
  auto a = parseListenAddress("[::1]:8443");
  ASSERT_TRUE(a) << errorOf(a);
  EXPECT_EQ(a->host, "::1");
  EXPECT_EQ(a->port, 8443);
}

TEST(ListenAddress, PortZeroIsAllowedForTests) {
  EXPECT_EQ(parseListenAddress("127.0.0.1:0")->port, 0);
}

TEST(ListenAddress, HostNameIsRejected) {
  EXPECT_EQ(errorOf(parseListenAddress("localhost:443")),
            "'localhost' is not an IP address: a listener binds to a literal address such as "
            "0.0.0.0, 127.0.0.1 or [::]");
}

TEST(ListenAddress, MissingPortIsRejected) {
  EXPECT_EQ(errorOf(parseListenAddress("0.0.0.0")),
            "'0.0.0.0' has no port; expected IPv4:port or [IPv6]:port, such as 0.0.0.0:443 or "
            "[::]:443");
  EXPECT_FALSE(parseListenAddress("0.0.0.0:"));
  EXPECT_FALSE(parseListenAddress("[::]"));
}

TEST(ListenAddress, PortAbove65535IsRejected) {
  EXPECT_EQ(errorOf(parseListenAddress("0.0.0.0:65536")), "port 65536 is out of range 0..65535");
}

TEST(ListenAddress, UnbracketedIPv6IsRejected) {
  EXPECT_EQ(errorOf(parseListenAddress("::1:443")),
            "IPv6 addresses must be in brackets, as in [::1]:443; got '::1:443'");
}

TEST(ListenAddress, BracketsMustHoldAnIPv6Address) {
  EXPECT_EQ(errorOf(parseListenAddress("[127.0.0.1]:443")), "'127.0.0.1' is not an IPv6 address");
}

// --- upstream servers -----------------------------------------------------------------------

TEST(HostPort, AcceptsDnsNamesIPv4AndBracketedIPv6) {
  EXPECT_EQ(parseHostPort("app.internal:8000")->host, "app.internal");
  EXPECT_EQ(parseHostPort("10.0.0.5:8000")->host, "10.0.0.5");
  EXPECT_EQ(parseHostPort("[fd00::5]:8000")->host, "fd00::5");
  EXPECT_EQ(parseHostPort("my_app:8000")->host, "my_app");  // compose service names
}

TEST(HostPort, PortIsRequired) {
  EXPECT_EQ(errorOf(parseHostPort("app")),
            "'app' has no port; expected host:port, such as 127.0.0.1:8000 or app.internal:8000");
}

TEST(HostPort, PortZeroIsRejected) {
  EXPECT_EQ(errorOf(parseHostPort("app:0")), "port 0 is out of range 1..65535");
}

TEST(HostPort, MalformedIPv4IsNotTakenForAName) {
  EXPECT_EQ(errorOf(parseHostPort("10.0.1:80")), "'10.0.1' is not a valid IPv4 address");
}

TEST(HostPort, InvalidHostNamesAreRejected) {
  for (const char* bad : {"app server:80", "-app:80", "app-:80", "a..b:80", "app/x:80"}) {
    EXPECT_FALSE(parseHostPort(bad)) << bad;
  }
}

// --- route hosts and paths ------------------------------------------------------------------

TEST(HostPattern, IsLowerCased) {
  EXPECT_EQ(*parseHostPattern("WWW.Example.COM"), "www.example.com");
}

TEST(HostPattern, WildcardMayBeTheWholeFirstLabel) {
  EXPECT_EQ(*parseHostPattern("*.Example.com"), "*.example.com");
}

TEST(HostPattern, StarAloneIsRejected) {
  EXPECT_EQ(errorOf(parseHostPattern("*")),
            "'*' is not a valid pattern: '*' may only be the whole first label, as in "
            "*.example.com");
}

TEST(HostPattern, WildcardElsewhereIsRejected) {
  for (const char* bad : {"a.*.com", "*example.com", "www.*", "*.*.com", "w*.example.com"}) {
    EXPECT_FALSE(parseHostPattern(bad)) << bad;
  }
}

TEST(HostPattern, PortIsRejected) {
  EXPECT_EQ(errorOf(parseHostPattern("example.com:443")),
            "'example.com:443' must not include a port: a route matches the Host name whatever the "
            "port");
}

TEST(HostPattern, EmptyIsRejected) { EXPECT_FALSE(parseHostPattern("")); }

TEST(HostPattern, BracketedIPv6IsAccepted) { EXPECT_EQ(*parseHostPattern("[::1]"), "[::1]"); }

TEST(PathPrefix, MustStartWithSlash) {
  EXPECT_EQ(errorOf(parsePathPrefix("api/")), "must start with '/', got 'api/'");
  EXPECT_EQ(*parsePathPrefix("/api/"), "/api/");
}

TEST(PathPrefix, QueryAndFragmentAreRejected) {
  EXPECT_FALSE(parsePathPrefix("/a?b=1"));
  EXPECT_FALSE(parsePathPrefix("/a#top"));
}

TEST(PathPrefix, SpacesAndControlCharactersAreRejected) {
  EXPECT_FALSE(parsePathPrefix("/a b"));
  EXPECT_FALSE(parsePathPrefix("/a\tb"));
}

TEST(Name, LettersDigitsUnderscoreDotAndDashOnly) {
  EXPECT_TRUE(isValidName("https-main_2.v4"));
  EXPECT_FALSE(isValidName(""));
  EXPECT_FALSE(isValidName("main https"));
  EXPECT_FALSE(isValidName("app/1"));
}

TEST(TextHelpers, HostPortBracketsIpv6Only) {
  EXPECT_EQ(formatHostPort("127.0.0.1", 8443), "127.0.0.1:8443");
  EXPECT_EQ(formatHostPort("app.internal", 80), "app.internal:80");
  EXPECT_EQ(formatHostPort("::1", 443), "[::1]:443");
}

TEST(TextHelpers, JoinedAndEqualsIgnoreCase) {
  constexpr std::string_view names[] = {"a", "b", "c"};
  EXPECT_EQ(joined(names), "a, b, c");
  EXPECT_EQ(joined({}), "");
  EXPECT_TRUE(equalsIgnoreCase("X-Client-Cert", "x-client-CERT"));
  EXPECT_FALSE(equalsIgnoreCase("X-Client", "X-Client-Cert"));
  EXPECT_FALSE(equalsIgnoreCase("X-Client-A", "X-Client-B"));
}

}  // namespace
}  // namespace portcullis::config
