// RequestParser specs. Every sample goes through feedAtEverySplit(): parsed whole, then for each
// k as "first k bytes, then everything", then byte by byte, and all three must agree. That is
// how incremental-parse bugs (a terminator split across reads, a limit checked only at the end)
// show up (DESIGN 3.6).
#include <gtest/gtest.h>

#include <deque>
#include <string>

#include "http/parser.h"

namespace portcullis::http {
namespace {

std::string describe(ParseStatus st, ParseError err, const RequestHead& h) {
  std::string s = "status=" + std::to_string(static_cast<int>(st)) +
                  " error=" + std::to_string(static_cast<int>(err));
  if (st != ParseStatus::Complete) return s;
  s += " method=" + std::string(h.method_text) + "/" + std::to_string(static_cast<int>(h.method));
  s += " target=" + std::string(h.target) + " path=" + std::string(h.path);
  s += " query=" + std::string(h.query) + (h.has_query ? "(q)" : "");
  s += " v=1." + std::to_string(h.version_minor) + " host=" + std::string(h.host);
  s += " framing=" + std::to_string(static_cast<int>(h.framing));
  s += " cl=" + std::to_string(h.content_length);
  s += " ka=" + std::to_string(h.keep_alive) + " expect=" + std::to_string(h.expect_continue);
  s += " head_bytes=" + std::to_string(h.head_bytes);
  for (const Header& hd : h.headers) s += " [" + std::string(hd.name) + ":" + std::string(hd.value) + "]";
  return s;
}

// Parses `raw` whole, at every split point and byte by byte; fails the test if the outcomes
// differ. Returns the whole-input outcome; `head` keeps views into `raw`.
std::string feedAtEverySplit(const std::string& raw, RequestHead& head, ParserLimits limits = {}) {
  RequestParser whole_parser(limits);
  ParseStatus whole_status = whole_parser.parse(raw, head);
  std::string expected = describe(whole_status, whole_parser.error(), head);

  for (size_t k = 0; k <= raw.size(); ++k) {
    RequestParser p(limits);
    RequestHead h;
    ParseStatus st = p.parse(std::string_view(raw).substr(0, k), h);
    if (st != ParseStatus::Error) st = p.parse(raw, h);
    EXPECT_EQ(describe(st, p.error(), h), expected) << "split at " << k;
  }
  RequestParser p(limits);
  RequestHead h;
  ParseStatus st = ParseStatus::NeedMore;
  for (size_t n = 0; n <= raw.size() && st == ParseStatus::NeedMore; ++n) {
    st = p.parse(std::string_view(raw).substr(0, n), h);
  }
  EXPECT_EQ(describe(st, p.error(), h), expected) << "byte at a time";
  return expected;
}

// Keeps sample bytes alive for the whole test run, so heads returned by parseOk (views into
// them) never dangle even when the sample was a temporary.
const std::string& keep(std::string raw) {
  static std::deque<std::string> store;
  return store.emplace_back(std::move(raw));
}

// The request must parse completely, identically at every split; returns the head.
RequestHead parseOk(std::string sample, ParserLimits limits = {}) {
  const std::string& raw = keep(std::move(sample));
  RequestHead head;
  feedAtEverySplit(raw, head, limits);
  RequestParser p(limits);
  RequestHead out;
  EXPECT_EQ(p.parse(raw, out), ParseStatus::Complete) << p.errorDetail();
  return out;
}

// The request must fail with `error`, identically at every split.
void expectRejected(const std::string& raw, ParseError error, ParserLimits limits = {}) {
  RequestHead head;
  feedAtEverySplit(raw, head, limits);
  RequestParser p(limits);
  EXPECT_EQ(p.parse(raw, head), ParseStatus::Error);
  EXPECT_EQ(p.error(), error) << p.errorDetail();
}

// --- Positive cases -------------------------------------------------------------------------

TEST(RequestParser, ParsesSimpleGet) {
  std::string raw = "GET /index.html HTTP/1.1\r\nHost: example.com\r\n\r\n";
  RequestHead h = parseOk(raw);
  EXPECT_EQ(h.method, Method::Get);
  EXPECT_EQ(h.method_text, "GET");
  EXPECT_EQ(h.target, "/index.html");
  EXPECT_EQ(h.path, "/index.html");
  EXPECT_FALSE(h.has_query);
  EXPECT_EQ(h.version_minor, 1);
  EXPECT_EQ(h.host, "example.com");
  EXPECT_EQ(h.framing, Framing::None);
  EXPECT_TRUE(h.keep_alive);
  EXPECT_FALSE(h.expect_continue);
  EXPECT_EQ(h.head_bytes, raw.size());
  ASSERT_EQ(h.headers.size(), 1u);
}

TEST(RequestParser, SplitsPathAndQuery) {
  RequestHead h = parseOk("GET /a/b?x=1&y=%20z HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_EQ(h.target, "/a/b?x=1&y=%20z");
  EXPECT_EQ(h.path, "/a/b");
  EXPECT_EQ(h.query, "x=1&y=%20z");
  EXPECT_TRUE(h.has_query);
}

TEST(RequestParser, DistinguishesEmptyQueryFromNoQuery) {
  RequestHead with = parseOk("GET /a? HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_EQ(with.path, "/a");
  EXPECT_TRUE(with.has_query);
  EXPECT_EQ(with.query, "");
  RequestHead without = parseOk("GET /a HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_FALSE(without.has_query);
}

TEST(RequestParser, ParsesPostWithContentLength) {
  std::string raw = "POST /submit HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\nhello world";
  RequestHead h = parseOk(raw);
  EXPECT_EQ(h.method, Method::Post);
  EXPECT_EQ(h.framing, Framing::ContentLength);
  EXPECT_EQ(h.content_length, 11u);
  EXPECT_EQ(raw.substr(h.head_bytes), "hello world");
}

TEST(RequestParser, ContentLengthZeroIsContentLengthFraming) {
  RequestHead h = parseOk("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n");
  EXPECT_EQ(h.framing, Framing::ContentLength);
  EXPECT_EQ(h.content_length, 0u);
}

TEST(RequestParser, ParsesChunkedPost) {
  RequestHead h = parseOk("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n");
  EXPECT_EQ(h.framing, Framing::Chunked);
}

TEST(RequestParser, TransferEncodingChunkedIsCaseInsensitiveAndOwsTrimmed) {
  RequestHead h = parseOk("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \t ChUnKeD \t\r\n\r\n");
  EXPECT_EQ(h.framing, Framing::Chunked);
}

TEST(RequestParser, AcceptsRepeatedIdenticalContentLengthHeaders) {
  RequestHead h = parseOk("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n");
  EXPECT_EQ(h.framing, Framing::ContentLength);
  EXPECT_EQ(h.content_length, 5u);
}

TEST(RequestParser, AcceptsContentLengthListOfIdenticalValues) {
  RequestHead h = parseOk("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 7 , 7,7\r\n\r\n");
  EXPECT_EQ(h.content_length, 7u);
}

TEST(RequestParser, AcceptsLargestContentLength) {
  RequestHead h = parseOk("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 9223372036854775807\r\n\r\n");
  EXPECT_EQ(h.content_length, 9223372036854775807u);
}

TEST(RequestParser, NoContentLengthOrTransferEncodingMeansNoBody) {
  RequestHead h = parseOk("POST / HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_EQ(h.framing, Framing::None);
  EXPECT_EQ(h.content_length, 0u);
}

TEST(RequestParser, AbsoluteFormTakesHostFromTarget) {
  RequestHead h = parseOk("GET http://example.com:8080/p/q?x=1 HTTP/1.1\r\nHost: example.com:8080\r\n\r\n");
  EXPECT_EQ(h.host, "example.com:8080");
  EXPECT_EQ(h.target, "http://example.com:8080/p/q?x=1");
  EXPECT_EQ(h.path, "/p/q");
  EXPECT_EQ(h.query, "x=1");
}

TEST(RequestParser, AbsoluteFormSchemeIsCaseInsensitiveAndHttpsAllowed) {
  RequestHead h = parseOk("GET HTTPS://Example.com/ HTTP/1.1\r\nHost: example.COM\r\n\r\n");
  EXPECT_EQ(h.host, "Example.com");
  EXPECT_EQ(h.path, "/");
}

TEST(RequestParser, AbsoluteFormWithoutPathGetsSlash) {
  RequestHead h = parseOk("GET http://example.com?a=b HTTP/1.1\r\nHost: example.com\r\n\r\n");
  EXPECT_EQ(h.path, "/");
  EXPECT_TRUE(h.has_query);
  EXPECT_EQ(h.query, "a=b");
  RequestHead bare = parseOk("GET http://example.com HTTP/1.1\r\nHost: example.com\r\n\r\n");
  EXPECT_EQ(bare.path, "/");
  EXPECT_FALSE(bare.has_query);
}

TEST(RequestParser, AbsoluteFormInHttp10NeedsNoHostHeader) {
  RequestHead h = parseOk("GET http://example.com/x HTTP/1.0\r\n\r\n");
  EXPECT_EQ(h.host, "example.com");
  EXPECT_EQ(h.path, "/x");
}

TEST(RequestParser, AcceptsAsteriskFormForOptions) {
  RequestHead h = parseOk("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_EQ(h.method, Method::Options);
  EXPECT_EQ(h.target, "*");
  EXPECT_EQ(h.path, "*");
}

TEST(RequestParser, ParsesConnectWithAuthorityForm) {
  RequestHead h = parseOk("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n");
  EXPECT_EQ(h.method, Method::Connect);
  EXPECT_EQ(h.target, "example.com:443");
  EXPECT_EQ(h.host, "example.com:443");
}

TEST(RequestParser, KeepsHeaderNameCaseAndTrimsValueOws) {
  RequestHead h = parseOk("GET / HTTP/1.1\r\nhOsT: a\r\nX-Thing: \t some value \t\r\nX-Empty:\r\n\r\n");
  ASSERT_EQ(h.headers.size(), 3u);
  EXPECT_EQ(h.headers[0].name, "hOsT");
  EXPECT_EQ(h.headers[1].name, "X-Thing");
  EXPECT_EQ(h.headers[1].value, "some value");
  EXPECT_EQ(h.headers[2].value, "");
  EXPECT_EQ(h.host, "a");
}

TEST(RequestParser, AcceptsObsTextAndTabInsideHeaderValue) {
  RequestHead h = parseOk("GET / HTTP/1.1\r\nHost: a\r\nX-Name: caf\xc3\xa9\tau lait\r\n\r\n");
  EXPECT_EQ(h.headers[1].value, "caf\xc3\xa9\tau lait");
}

TEST(RequestParser, SkipsLeadingEmptyLinesAndCountsThemInHeadBytes) {
  std::string raw = "\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n";
  RequestHead h = parseOk(raw);
  EXPECT_EQ(h.method, Method::Get);
  EXPECT_EQ(h.head_bytes, raw.size());
}

TEST(RequestParser, Http11IsKeepAliveByDefault) {
  EXPECT_TRUE(parseOk("GET / HTTP/1.1\r\nHost: a\r\n\r\n").keep_alive);
}

TEST(RequestParser, Http11ConnectionCloseDisablesKeepAlive) {
  EXPECT_FALSE(parseOk("GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Close\r\n\r\n").keep_alive);
}

TEST(RequestParser, Http11CloseInSecondConnectionHeaderCounts) {
  EXPECT_FALSE(parseOk("GET / HTTP/1.1\r\nConnection: upgrade\r\nHost: a\r\nConnection: close\r\n\r\n").keep_alive);
}

TEST(RequestParser, Http10IsNotKeepAliveByDefault) {
  RequestHead h = parseOk("GET / HTTP/1.0\r\nHost: a\r\n\r\n");
  EXPECT_EQ(h.version_minor, 0);
  EXPECT_FALSE(h.keep_alive);
}

TEST(RequestParser, Http10KeepAliveWithConnectionHeader) {
  EXPECT_TRUE(parseOk("GET / HTTP/1.0\r\nHost: a\r\nConnection: Keep-Alive\r\n\r\n").keep_alive);
}

TEST(RequestParser, Http10WithoutHostIsAcceptedWithEmptyHost) {
  RequestHead h = parseOk("GET / HTTP/1.0\r\n\r\n");
  EXPECT_EQ(h.host, "");
  EXPECT_EQ(h.version_minor, 0);
}

TEST(RequestParser, DetectsExpectContinueCaseInsensitively) {
  EXPECT_TRUE(parseOk("PUT / HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n\r\n").expect_continue);
}

TEST(RequestParser, IgnoresExpectContinueInHttp10) {
  EXPECT_FALSE(parseOk("PUT / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n").expect_continue);
}

TEST(RequestParser, IgnoresOtherExpectations) {
  EXPECT_FALSE(parseOk("PUT / HTTP/1.1\r\nHost: a\r\nExpect: 200-ok\r\n\r\n").expect_continue);
}

TEST(RequestParser, MapsKnownMethodsCaseSensitively) {
  struct Case { const char* text; Method method; };
  for (Case c : {Case{"GET", Method::Get}, Case{"HEAD", Method::Head}, Case{"POST", Method::Post},
                 Case{"PUT", Method::Put}, Case{"DELETE", Method::Delete},
                 Case{"OPTIONS", Method::Options}, Case{"PATCH", Method::Patch},
                 Case{"TRACE", Method::Trace}, Case{"get", Method::Other},
                 Case{"PROPFIND", Method::Other}}) {
    RequestHead h = parseOk(std::string(c.text) + " / HTTP/1.1\r\nHost: a\r\n\r\n");
    EXPECT_EQ(h.method, c.method) << c.text;
    EXPECT_EQ(h.method_text, c.text);
  }
}

TEST(RequestParser, AcceptsIpv6LiteralHost) {
  EXPECT_EQ(parseOk("GET / HTTP/1.1\r\nHost: [::1]:8443\r\n\r\n").host, "[::1]:8443");
}

TEST(RequestParser, NeedsMoreUntilTheBlankLine) {
  RequestParser p;
  RequestHead h;
  EXPECT_EQ(p.parse("GET / HTTP/1.1\r\nHost: a\r\n", h), ParseStatus::NeedMore);
  EXPECT_EQ(p.parse("GET / HTTP/1.1\r\nHost: a\r\n\r", h), ParseStatus::NeedMore);
  EXPECT_EQ(p.parse("GET / HTTP/1.1\r\nHost: a\r\n\r\n", h), ParseStatus::Complete);
}

TEST(RequestParser, HeadBytesExcludeTheBody) {
  std::string raw = "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabcGET / HTTP/1.1\r\n";
  RequestHead h = parseOk(raw);
  EXPECT_EQ(raw.substr(h.head_bytes, 3), "abc");
}

TEST(RequestParser, ParsesPipelinedRequestsOneAfterAnother) {
  std::string buffer =
      "GET /one HTTP/1.1\r\nHost: a\r\n\r\n"
      "POST /two HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello"
      "POST /three HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
      "GET /four HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
  std::string_view rest = buffer;
  RequestParser p;
  RequestHead h;

  ASSERT_EQ(p.parse(rest, h), ParseStatus::Complete);
  EXPECT_EQ(h.path, "/one");
  rest.remove_prefix(h.head_bytes);
  p.reset();

  ASSERT_EQ(p.parse(rest, h), ParseStatus::Complete);
  EXPECT_EQ(h.path, "/two");
  ASSERT_EQ(h.framing, Framing::ContentLength);
  EXPECT_EQ(rest.substr(h.head_bytes, h.content_length), "hello");
  rest.remove_prefix(h.head_bytes + h.content_length);
  p.reset();

  ASSERT_EQ(p.parse(rest, h), ParseStatus::Complete);
  EXPECT_EQ(h.path, "/three");
  ASSERT_EQ(h.framing, Framing::Chunked);
  rest.remove_prefix(h.head_bytes + std::string_view("3\r\nabc\r\n0\r\n\r\n").size());
  p.reset();

  ASSERT_EQ(p.parse(rest, h), ParseStatus::Complete);
  EXPECT_EQ(h.path, "/four");
  EXPECT_FALSE(h.keep_alive);
  EXPECT_EQ(h.head_bytes, rest.size());
}

TEST(RequestParser, ReusesHeaderStorageAcrossMessages) {
  std::string first = "GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n";
  std::string second = "GET / HTTP/1.1\r\nHost: a\r\nD: 4\r\n\r\n";
  RequestParser p;
  RequestHead h;
  ASSERT_EQ(p.parse(first, h), ParseStatus::Complete);
  const Header* storage = h.headers.data();
  size_t capacity = h.headers.capacity();
  p.reset();
  ASSERT_EQ(p.parse(second, h), ParseStatus::Complete);
  EXPECT_EQ(h.headers.size(), 2u);
  EXPECT_EQ(h.headers.data(), storage);
  EXPECT_EQ(h.headers.capacity(), capacity);
}

TEST(RequestParser, ErrorIsStickyUntilReset) {
  RequestParser p;
  RequestHead h;
  ASSERT_EQ(p.parse("GET / HTTP/1.1\nHost: a\n\n", h), ParseStatus::Error);
  EXPECT_EQ(p.parse("GET / HTTP/1.1\r\nHost: a\r\n\r\n", h), ParseStatus::Error);
  p.reset();
  EXPECT_EQ(p.error(), ParseError::None);
  EXPECT_EQ(p.parse("GET / HTTP/1.1\r\nHost: a\r\n\r\n", h), ParseStatus::Complete);
}

TEST(RequestParser, ResetRestartsTheScanForTheNextMessage) {
  RequestParser p;
  RequestHead h;
  ASSERT_EQ(p.parse("GET /first HTTP/1.1\r\nHost: a\r\n\r\n", h), ParseStatus::Complete);
  p.reset();
  ASSERT_EQ(p.parse("GET /2 HTTP/1.1\r\nHost: b\r\n\r\n", h), ParseStatus::Complete);
  EXPECT_EQ(h.path, "/2");
  EXPECT_EQ(h.host, "b");
}

// White-box: bytes already scanned are not examined again, which is what makes a client that
// trickles its head cost O(new bytes). We prove it by changing an already-scanned byte (which
// real callers never do) and observing that the parser does not notice.
TEST(RequestParser, DoesNotRescanBytesAlreadySeen) {
  std::string first = "GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n";
  RequestParser p;
  RequestHead h;
  ASSERT_EQ(p.parse(first, h), ParseStatus::NeedMore);
  std::string mutated = "GET / HTTP/1.1\r\nHost: a\r\nX: \x01\r\n\r\n";
  EXPECT_EQ(p.parse(mutated, h), ParseStatus::Complete);
  RequestParser fresh;
  EXPECT_EQ(fresh.parse(mutated, h), ParseStatus::Error);
}

// --- Request line rejections ----------------------------------------------------------------

TEST(RequestParser, RejectsInvalidMethodCharacter) {
  expectRejected("G(T / HTTP/1.1\r\nHost: a\r\n\r\n", ParseError::BadRequest);
}

TEST(RequestParser, RejectsLeadingSpaceBeforeMethod) {
  expectRejected(" GET / HTTP/1.1\r\nHost: a\r\n\r\n", ParseError::BadRequest);
}

TEST(RequestParser, RejectsBinaryGarbageWithoutWaitingForALine) {
  RequestParser p;
  RequestHead h;
  EXPECT_EQ(p.parse(std::string_view("\x16\x03\x01\x02\x00", 5), h), ParseStatus::Error);
  EXPECT_EQ(p.error(), ParseError::BadRequest);
  RequestParser p2;
  EXPECT_EQ(p2.parse("GE\xff", h), ParseStatus::Error);
}

TEST(RequestParser, RejectsDoubleSpaceBetweenMethodAndTarget) {
  expectRejected("GET  / HTTP/1.1\r\nHost: a\r\n\r\n", ParseError::BadRequest);
}

TEST(RequestParser, RejectsDoubleSpaceBeforeVersion) {
  expectRejected("GET /  HTTP/1.1\r\nHost: a\r\n\r\n", ParseError::BadRequest);
}

TEST(RequestParser, RejectsTrailingSpaceAfterVersion) {
  expectRejected("GET / HTTP/1.1 \r\nHost: a\r\n\r\n", ParseError::BadRequest);
}

TEST(RequestParser, RejectsRequestLineWithoutVersion) {
  expectRejected("GET /\r\n\r\n", ParseError::BadRequest);
}

TEST(RequestParser, RejectsLowercaseVersionName) {
  expectRejected("GET / http/1.1\r\nHost: a\r\n\r\n", ParseError::BadRequest);
}

TEST(RequestParser, RejectsMalformedVersion) {
  expectRejected("GET / HTTP/1.10\r\nHost: a\r\n\r\n", ParseError::BadRequest);
  expectRejected("GET / HTTP/11\r\nHost: a\r\n\r\n", ParseError::BadRequest);
  expectRejected("GET / HTTP/2\r\nHost: a\r\n\r\n", ParseError::BadRequest);
}

TEST(RequestParser, RejectsHttp2VersionAsNotSupported) {
  expectRejected("GET / HTTP/2.0\r\nHost: a\r\n\r\n", ParseError::VersionNotSupported);
}

TEST(RequestParser, RejectsHttp12AndHttp09AsNotSupported) {
  expectRejected("GET / HTTP/1.2\r\nHost: a\r\n\r\n", ParseError::VersionNotSupported);
  expectRejected("GET / HTTP/0.9\r\nHost: a\r\n\r\n", ParseError::VersionNotSupported);
}

TEST(RequestParser, RejectsHttp2PrefaceAsVersionNotSupported) {
  expectRejected("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", ParseError::VersionNotSupported);
}

TEST(RequestParser, RejectsTargetNotStartingWithSlash) {
  expectRejected("GET foo HTTP/1.1\r\nHost: a\r\n\r\n", ParseError::BadRequest);
}

TEST(RequestParser, RejectsAsteriskFormForGet) {
  expectRejected("GET * HTTP/1.1\r\nHost: a\r\n\r\n", ParseError::BadRequest);
}

TEST(RequestParser, RejectsAuthorityFormForGet) {
  expectRejected("GET example.com:80 HTTP/1.1\r\nHost: example.com:80\r\n\r\n", ParseError::BadRequest);
}

TEST(RequestParser, RejectsConnectWithOriginForm) {
  expectRejected("CONNECT / HTTP/1.1\r\nHost: a\r\n\r\n", ParseError::BadRequest);
}

TEST(RequestParser, RejectsConnectWithoutPort) {
  expectRejected("CONNECT example.com HTTP/1.1\r\nHost: example.com\r\n\r\n", ParseError::BadRequest);
}

TEST(RequestParser, RejectsAbsoluteFormWithUnsupportedScheme) {
  expectRejected("GET ftp://example.com/ HTTP/1.1\r\nHost: example.com\r\n\r\n", ParseError::BadRequest);
}

TEST(RequestParser, RejectsAbsoluteFormWithUserinfo) {
  expectRejected("GET http://user@example.com/ HTTP/1.1\r\nHost: example.com\r\n\r\n", ParseError::BadRequest);
}

TEST(RequestParser, RejectsAbsoluteFormWithEmptyAuthority) {
  expectRejected("GET http:///x HTTP/1.1\r\nHost: a\r\n\r\n", ParseError::BadRequest);
}

TEST(RequestParser, RejectsAbsoluteFormWhoseHostHeaderDiffers) {
  expectRejected("GET http://a.example/ HTTP/1.1\r\nHost: b.example\r\n\r\n", ParseError::BadRequest);
}

TEST(RequestParser, RejectsAbsoluteFormWithInvalidHostHeader) {
  expectRejected("GET http://a.example/ HTTP/1.1\r\nHost: a b\r\n\r\n", ParseError::BadRequest);
}

TEST(RequestParser, RejectsFragmentInTarget) {
  expectRejected("GET /a#frag HTTP/1.1\r\nHost: a\r\n\r\n", ParseError::BadRequest);
}

TEST(RequestParser, RejectsTabInTarget) {
  expectRejected("GET /a\tb HTTP/1.1\r\nHost: a\r\n\r\n", ParseError::BadRequest);
}

TEST(RequestParser, RejectsObsTextInTarget) {
  expectRejected("GET /caf\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n", ParseError::BadRequest);
}

TEST(RequestParser, RejectsControlCharacterInRequestLine) {
  expectRejected("GET /a\x01 HTTP/1.1\r\nHost: a\r\n\r\n", ParseError::BadRequest);
}

// --- Field line rejections ------------------------------------------------------------------

TEST(RequestParser, RejectsHeaderNameWithNonTokenCharacter) {
  expectRejected("GET / HTTP/1.1\r\nHost: a\r\nX[1]: y\r\n\r\n", ParseError::BadRequest);
}

TEST(RequestParser, RejectsSpaceBetweenHeaderNameAndColon) {
  expectRejected("GET / HTTP/1.1\r\nHost : a\r\n\r\n", ParseError::BadRequest);
}

TEST(RequestParser, RejectsTabBetweenHeaderNameAndColon) {
  expectRejected("GET / HTTP/1.1\r\nHost: a\r\nContent-Length\t: 5\r\n\r\n", ParseError::BadRequest);
}

TEST(RequestParser, RejectsHeaderLineWithoutColon) {
  expectRejected("GET / HTTP/1.1\r\nHost: a\r\nNoColonHere\r\n\r\n", ParseError::BadRequest);
}

TEST(RequestParser, RejectsEmptyHeaderName) {
  expectRejected("GET / HTTP/1.1\r\nHost: a\r\n: value\r\n\r\n", ParseError::BadRequest);
}

TEST(RequestParser, RejectsObsFold) {
  expectRejected("GET / HTTP/1.1\r\nHost: a\r\nX-Long: part1\r\n  part2\r\n\r\n", ParseError::BadRequest);
}

TEST(RequestParser, RejectsTabObsFold) {
  expectRejected("GET / HTTP/1.1\r\nHost: a\r\nX-Long: part1\r\n\tpart2\r\n\r\n", ParseError::BadRequest);
}

TEST(RequestParser, RejectsWhitespaceBeforeFirstHeader) {
  expectRejected("GET / HTTP/1.1\r\n Host: a\r\n\r\n", ParseError::BadRequest);
}

TEST(RequestParser, RejectsNulInHeaderValue) {
  using namespace std::string_literals;
  expectRejected("GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n"s, ParseError::BadRequest);
}

TEST(RequestParser, RejectsDelInHeaderValue) {
  expectRejected("GET / HTTP/1.1\r\nHost: a\r\nX: a\x7f" "b\r\n\r\n", ParseError::BadRequest);
}

TEST(RequestParser, RejectsOtherControlCharacterInHeaderValue) {
  expectRejected("GET / HTTP/1.1\r\nHost: a\r\nX: a\x0b" "b\r\n\r\n", ParseError::BadRequest);
}

TEST(RequestParser, RejectsBareCrInHeaderValue) {
  expectRejected("GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n", ParseError::BadRequest);
}

TEST(RequestParser, RejectsCrCrLf) {
  expectRejected("GET / HTTP/1.1\r\nHost: a\r\r\n\r\n", ParseError::BadRequest);
}

TEST(RequestParser, RejectsBareLfLineEndings) {
  expectRejected("GET / HTTP/1.1\nHost: a\n\n", ParseError::BadRequest);
}

TEST(RequestParser, RejectsBareLfEndingTheHead) {
  expectRejected("GET / HTTP/1.1\r\nHost: a\r\n\n", ParseError::BadRequest);
}

TEST(RequestParser, RejectsBareLfAsLeadingEmptyLine) {
  expectRejected("\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", ParseError::BadRequest);
}

// --- Framing rejections (RFC 9112 §6) -------------------------------------------------------

TEST(RequestParser, RejectsContentLengthWithTransferEncoding) {
  expectRejected("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
                 ParseError::BadRequest);
}

TEST(RequestParser, RejectsTransferEncodingWithContentLengthInEitherOrder) {
  expectRejected("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
                 ParseError::BadRequest);
}

TEST(RequestParser, RejectsTransferEncodingInHttp10) {
  expectRejected("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", ParseError::BadRequest);
}

TEST(RequestParser, RejectsTransferEncodingOtherThanChunked) {
  expectRejected("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", ParseError::BadRequest);
  expectRejected("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity\r\n\r\n", ParseError::BadRequest);
}

TEST(RequestParser, RejectsChunkedThatIsNotFinal) {
  expectRejected("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", ParseError::BadRequest);
}

TEST(RequestParser, RejectsAnotherCodingBeforeChunked) {
  expectRejected("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", ParseError::BadRequest);
}

TEST(RequestParser, RejectsChunkedTwiceInOneHeader) {
  expectRejected("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", ParseError::BadRequest);
}

TEST(RequestParser, RejectsChunkedTwiceAcrossHeaders) {
  expectRejected("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
                 ParseError::BadRequest);
}

TEST(RequestParser, RejectsChunkedWithParameters) {
  expectRejected("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked;q=1\r\n\r\n", ParseError::BadRequest);
}

TEST(RequestParser, RejectsEmptyTransferEncoding) {
  expectRejected("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \r\n\r\n", ParseError::BadRequest);
}

TEST(RequestParser, RejectsTransferEncodingWithEmptyListElement) {
  expectRejected("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked,\r\n\r\n", ParseError::BadRequest);
}

TEST(RequestParser, RejectsMisspelledChunked) {
  expectRejected("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunk\r\n\r\n", ParseError::BadRequest);
  expectRejected("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \"chunked\"\r\n\r\n", ParseError::BadRequest);
}

TEST(RequestParser, RejectsNegativeContentLength) {
  expectRejected("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", ParseError::BadRequest);
}

TEST(RequestParser, RejectsContentLengthWithPlusSign) {
  expectRejected("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\n", ParseError::BadRequest);
}

TEST(RequestParser, RejectsSpaceInsideContentLength) {
  expectRejected("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1 2\r\n\r\n", ParseError::BadRequest);
}

TEST(RequestParser, RejectsEmptyContentLength) {
  expectRejected("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: \r\n\r\n", ParseError::BadRequest);
}

TEST(RequestParser, RejectsNonDecimalContentLength) {
  expectRejected("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x10\r\n\r\n", ParseError::BadRequest);
  expectRejected("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1.5\r\n\r\n", ParseError::BadRequest);
}

TEST(RequestParser, RejectsContentLengthAbove2To63Minus1) {
  expectRejected("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 9223372036854775808\r\n\r\n", ParseError::BadRequest);
}

TEST(RequestParser, RejectsContentLengthThatWouldOverflow64Bits) {
  expectRejected("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 18446744073709551621\r\n\r\n", ParseError::BadRequest);
}

TEST(RequestParser, RejectsDifferingContentLengthHeaders) {
  expectRejected("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", ParseError::BadRequest);
}

TEST(RequestParser, RejectsDifferingContentLengthList) {
  expectRejected("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 6\r\n\r\n", ParseError::BadRequest);
}

TEST(RequestParser, RejectsContentLengthListWithEmptyElement) {
  expectRejected("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5,\r\n\r\n", ParseError::BadRequest);
}

// --- Host rejections (RFC 9112 §3.2) --------------------------------------------------------

TEST(RequestParser, RejectsHttp11WithoutHost) {
  expectRejected("GET / HTTP/1.1\r\n\r\n", ParseError::BadRequest);
}

TEST(RequestParser, RejectsMultipleHostHeadersEvenIfIdentical) {
  expectRejected("GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", ParseError::BadRequest);
}

TEST(RequestParser, RejectsEmptyHostInHttp11) {
  expectRejected("GET / HTTP/1.1\r\nHost:\r\n\r\n", ParseError::BadRequest);
}

TEST(RequestParser, RejectsHostWithInvalidCharacters) {
  expectRejected("GET / HTTP/1.1\r\nHost: a b\r\n\r\n", ParseError::BadRequest);
  expectRejected("GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", ParseError::BadRequest);
}

TEST(RequestParser, RejectsHostWithUserinfo) {
  expectRejected("GET / HTTP/1.1\r\nHost: user@a\r\n\r\n", ParseError::BadRequest);
}

TEST(RequestParser, RejectsHostWithPortOutOfRange) {
  expectRejected("GET / HTTP/1.1\r\nHost: a:65536\r\n\r\n", ParseError::BadRequest);
}

TEST(RequestParser, RejectsInvalidHostInHttp10) {
  expectRejected("GET / HTTP/1.0\r\nHost: a:b\r\n\r\n", ParseError::BadRequest);
}

// --- Limits ---------------------------------------------------------------------------------

ParserLimits smallLimits() {
  ParserLimits l;
  l.request_line = 32;
  l.header_bytes = 96;
  l.header_count = 3;
  return l;
}

TEST(RequestParser, AcceptsRequestLineExactlyAtLimit) {
  std::string line = "GET /" + std::string(32 - 14, 'a') + " HTTP/1.1";  // 32 bytes
  ASSERT_EQ(line.size(), 32u);
  parseOk(line + "\r\nHost: a\r\n\r\n", smallLimits());
}

TEST(RequestParser, RejectsRequestLineOverLimit) {
  std::string line = "GET /" + std::string(33 - 14, 'a') + " HTTP/1.1";  // 33 bytes
  expectRejected(line + "\r\nHost: a\r\n\r\n", ParseError::UriTooLong, smallLimits());
}

TEST(RequestParser, RejectsLongRequestLineWithoutWaitingForItsEnd) {
  RequestParser p(smallLimits());
  RequestHead h;
  std::string partial = "GET /" + std::string(27, 'a');  // 32 bytes, no CRLF yet
  EXPECT_EQ(p.parse(partial, h), ParseStatus::NeedMore);
  partial += 'a';
  EXPECT_EQ(p.parse(partial, h), ParseStatus::Error);
  EXPECT_EQ(p.error(), ParseError::UriTooLong);
}

TEST(RequestParser, LeadingEmptyLinesDoNotCountTowardsRequestLineLimit) {
  std::string line = "GET /" + std::string(32 - 14, 'a') + " HTTP/1.1";
  parseOk("\r\n" + line + "\r\nHost: a\r\n\r\n", smallLimits());
}

TEST(RequestParser, AcceptsHeadExactlyAtHeaderBytesLimit) {
  std::string head = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
  std::string filler = "X: " + std::string(96 - head.size() - 5, 'v') + "\r\n";
  std::string raw = "GET / HTTP/1.1\r\nHost: a\r\n" + filler + "\r\n";
  ASSERT_EQ(raw.size(), 96u);
  EXPECT_EQ(parseOk(raw, smallLimits()).head_bytes, 96u);
}

TEST(RequestParser, RejectsHeadOverHeaderBytesLimit) {
  std::string head = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
  std::string filler = "X: " + std::string(97 - head.size() - 5, 'v') + "\r\n";
  std::string raw = "GET / HTTP/1.1\r\nHost: a\r\n" + filler + "\r\n";
  ASSERT_EQ(raw.size(), 97u);
  expectRejected(raw, ParseError::HeaderTooLarge, smallLimits());
}

TEST(RequestParser, RejectsOversizedHeadBeforeItEnds) {
  RequestParser p(smallLimits());
  RequestHead h;
  std::string partial = "GET / HTTP/1.1\r\nHost: a\r\nX: " + std::string(200, 'v');
  EXPECT_EQ(p.parse(partial, h), ParseStatus::Error);
  EXPECT_EQ(p.error(), ParseError::HeaderTooLarge);
}

TEST(RequestParser, LeadingEmptyLinesCountTowardsHeaderBytesLimit) {
  std::string crlfs;
  for (int i = 0; i < 48; ++i) crlfs += "\r\n";  // 96 bytes of empty lines
  expectRejected(crlfs + "GET / HTTP/1.1\r\nHost: a\r\n\r\n", ParseError::HeaderTooLarge, smallLimits());
}

TEST(RequestParser, AcceptsHeaderCountAtLimit) {
  parseOk("GET / HTTP/1.1\r\nHost: a\r\nB: 1\r\nC: 2\r\n\r\n", smallLimits());
}

TEST(RequestParser, RejectsTooManyHeaders) {
  expectRejected("GET / HTTP/1.1\r\nHost: a\r\nB: 1\r\nC: 2\r\nD: 3\r\n\r\n", ParseError::HeaderTooLarge,
                 smallLimits());
}

TEST(RequestParser, RejectsTooManyHeadersBeforeTheHeadEnds) {
  RequestParser p(smallLimits());
  RequestHead h;
  EXPECT_EQ(p.parse("GET / HTTP/1.1\r\nHost: a\r\nB: 1\r\nC: 2\r\nD: 3\r\n", h), ParseStatus::Error);
  EXPECT_EQ(p.error(), ParseError::HeaderTooLarge);
}

// The scan tests plain bytes eight at a time: a byte it must stop at is caught at every offset
// of a long value (so in every lane of a word and in the byte-wise tail), and the bytes it may
// pass (tab, obs-text) are passed at every offset.
TEST(RequestParser, ControlCharacterInAValueIsRejectedAtEveryOffset) {
  for (char bad : {'\x00', '\x01', '\x1f', '\x7f', '\r', '\n'}) {
    for (size_t at = 0; at < 24; ++at) {
      std::string value(24, 'v');
      value[at] = bad;
      SCOPED_TRACE("byte " + std::to_string(static_cast<int>(bad)) + " at " + std::to_string(at));
      expectRejected("GET / HTTP/1.1\r\nHost: a\r\nX-Long-Name: " + value + "\r\n\r\n", ParseError::BadRequest);
    }
  }
}

TEST(RequestParser, TabAndObsTextInAValueAreAcceptedAtEveryOffset) {
  for (char ok : {'\t', '\x80', '\xff', '~', ' '}) {
    for (size_t at = 1; at + 1 < 24; ++at) {  // inside the value: OWS at its ends is trimmed
      std::string value(24, 'v');
      value[at] = ok;
      SCOPED_TRACE("byte " + std::to_string(static_cast<unsigned char>(ok)) + " at " + std::to_string(at));
      RequestHead h = parseOk("GET / HTTP/1.1\r\nHost: a\r\nX-Long-Name: " + value + "\r\n\r\n");
      ASSERT_EQ(h.headers.size(), 2u);
      EXPECT_EQ(h.headers[1].value, value);
    }
  }
}

TEST(RequestParser, ControlCharacterInTheTargetIsRejectedAtEveryOffset) {
  for (size_t at = 1; at < 20; ++at) {
    std::string target = "/" + std::string(19, 'p');
    target[at] = '\x01';
    SCOPED_TRACE(at);
    expectRejected("GET " + target + " HTTP/1.1\r\nHost: a\r\n\r\n", ParseError::BadRequest);
  }
}

TEST(RequestParser, LongValueUpToTheHeaderBytesLimit) {
  // The word-at-a-time run must stop at the limit, not at the end of the word it is in.
  for (size_t extra = 0; extra < 9; ++extra) {
    std::string raw = "GET / HTTP/1.1\r\nHost: a\r\nX: " + std::string(60 + extra, 'v') + "\r\n\r\n";
    SCOPED_TRACE(raw.size());
    if (raw.size() <= 96) parseOk(raw, smallLimits());
    else expectRejected(raw, ParseError::HeaderTooLarge, smallLimits());
  }
}

}  // namespace
}  // namespace portcullis::http
