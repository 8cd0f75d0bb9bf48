#include "http/static_file.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

namespace portcullis::http {
namespace {

// --- mapStaticPath ---

PathCheck check(std::string_view encoded) {
  std::string out;
  return mapStaticPath(encoded, out);
}

std::string mapped(std::string_view encoded) {
  std::string out;
  EXPECT_EQ(mapStaticPath(encoded, out), PathCheck::Ok) << encoded;
  return out;
}

TEST(StaticPath, PlainNameIsUnchanged) { EXPECT_EQ(mapped("css/app.css"), "css/app.css"); }

TEST(StaticPath, LeadingSlashIsStripped) { EXPECT_EQ(mapped("/css/app.css"), "css/app.css"); }

TEST(StaticPath, EmptyPathIsTheRoot) {
  EXPECT_EQ(mapped(""), "");
  EXPECT_EQ(mapped("/"), "");
}

TEST(StaticPath, TrailingSlashIsKept) { EXPECT_EQ(mapped("/docs/"), "docs/"); }

TEST(StaticPath, EmptySegmentsAreRemoved) { EXPECT_EQ(mapped("//a//b///c"), "a/b/c"); }

TEST(StaticPath, DotSegmentsAreRemoved) {
  EXPECT_EQ(mapped("./a/./b/."), "a/b");
  EXPECT_EQ(mapped("a/%2e/b"), "a/b");
  EXPECT_EQ(mapped("a/./"), "a/");
}

TEST(StaticPath, PercentDecodesBothHexCases) {
  EXPECT_EQ(mapped("a%20b%2Bc%2bd"), "a b+c+d");
  EXPECT_EQ(mapped("%7e%7E"), "~~");
}

TEST(StaticPath, Utf8NamesAreAllowed) {
  EXPECT_EQ(mapped("caf%C3%A9/%E6%97%A5%E6%9C%AC.txt"), "café/日本.txt");
  EXPECT_EQ(mapped("café.txt"), "café.txt");
}

TEST(StaticPath, DotDotIsBadRequest) {
  EXPECT_EQ(check(".."), PathCheck::BadRequest);
  EXPECT_EQ(check("../etc/passwd"), PathCheck::BadRequest);
  EXPECT_EQ(check("/a/../../etc/passwd"), PathCheck::BadRequest);
  EXPECT_EQ(check("a/.."), PathCheck::BadRequest);
}

TEST(StaticPath, DotDotInsideTheRootIsStillBadRequest) {
  EXPECT_EQ(check("a/b/../c"), PathCheck::BadRequest);
}

TEST(StaticPath, EncodedDotDotIsBadRequest) {
  EXPECT_EQ(check("%2e%2e"), PathCheck::BadRequest);
  EXPECT_EQ(check("%2E%2e/etc/passwd"), PathCheck::BadRequest);
  EXPECT_EQ(check(".%2e/x"), PathCheck::BadRequest);
  EXPECT_EQ(check("%2e./x"), PathCheck::BadRequest);
}

TEST(StaticPath, EncodedSlashIsBadRequest) {
  EXPECT_EQ(check("a%2fb"), PathCheck::BadRequest);
  EXPECT_EQ(check("a%2Fb"), PathCheck::BadRequest);
  EXPECT_EQ(check("..%2fetc%2fpasswd"), PathCheck::BadRequest);
}

TEST(StaticPath, BackslashIsBadRequest) {
  EXPECT_EQ(check("a%5cb"), PathCheck::BadRequest);
  EXPECT_EQ(check("a%5Cb"), PathCheck::BadRequest);
  EXPECT_EQ(check("..\\windows"), PathCheck::BadRequest);
  EXPECT_EQ(check("a\\b"), PathCheck::BadRequest);
}

TEST(StaticPath, NulIsBadRequest) {
  EXPECT_EQ(check("a%00.txt"), PathCheck::BadRequest);
  EXPECT_EQ(check(std::string_view("a\0b", 3)), PathCheck::BadRequest);
}

TEST(StaticPath, ControlCharactersAreBadRequest) {
  EXPECT_EQ(check("a%0ab"), PathCheck::BadRequest);
  EXPECT_EQ(check("a%0Db"), PathCheck::BadRequest);
  EXPECT_EQ(check("a%1fb"), PathCheck::BadRequest);
  EXPECT_EQ(check("a%7fb"), PathCheck::BadRequest);
  EXPECT_EQ(check("a\tb"), PathCheck::BadRequest);
}

TEST(StaticPath, MalformedPercentIsBadRequest) {
  EXPECT_EQ(check("%"), PathCheck::BadRequest);
  EXPECT_EQ(check("a%2"), PathCheck::BadRequest);
  EXPECT_EQ(check("a%zz"), PathCheck::BadRequest);
  EXPECT_EQ(check("a%g0"), PathCheck::BadRequest);
  EXPECT_EQ(check("a%0g"), PathCheck::BadRequest);
  EXPECT_EQ(check("%%41"), PathCheck::BadRequest);
}

TEST(StaticPath, DoubleEncodingIsDecodedOnce) {
  EXPECT_EQ(mapped("%252e%252e/x"), "%2e%2e/x");
  EXPECT_EQ(mapped("a%252fb"), "a%2fb");
  EXPECT_EQ(mapped("a%255cb"), "a%5cb");
}

TEST(StaticPath, DotfileIsForbidden) {
  EXPECT_EQ(check(".env"), PathCheck::Forbidden);
  EXPECT_EQ(check("/.htaccess"), PathCheck::Forbidden);
  EXPECT_EQ(check("a/.hidden/b.txt"), PathCheck::Forbidden);
}

TEST(StaticPath, DotDirectoryIsForbidden) {
  EXPECT_EQ(check(".git/config"), PathCheck::Forbidden);
  EXPECT_EQ(check(".well-known/"), PathCheck::Forbidden);
}

TEST(StaticPath, EncodedDotfileIsForbidden) {
  EXPECT_EQ(check("%2eenv"), PathCheck::Forbidden);
  EXPECT_EQ(check("%2Egit/HEAD"), PathCheck::Forbidden);
  EXPECT_EQ(check("..."), PathCheck::Forbidden);
}

TEST(StaticPath, DotInsideANameIsAllowed) { EXPECT_EQ(mapped("a.b/c..d/e."), "a.b/c..d/e."); }

TEST(StaticPath, BadRequestWinsOverForbidden) {
  EXPECT_EQ(check(".git/%00"), PathCheck::BadRequest);
  EXPECT_EQ(check(".git/../x"), PathCheck::BadRequest);
}

TEST(StaticPath, VeryLongPathMaps) {
  std::string path;
  for (int i = 0; i < 5000; ++i) path += "/abcdefghij%41";
  std::string expected;
  for (int i = 0; i < 5000; ++i) expected += (i ? "/" : "") + std::string("abcdefghijA");
  EXPECT_EQ(mapped(path), expected);
}

TEST(StaticPath, VeryLongTraversalIsBadRequest) {
  std::string path;
  for (int i = 0; i < 10000; ++i) path += "../";
  EXPECT_EQ(check(path + "etc/passwd"), PathCheck::BadRequest);
}

TEST(StaticPath, WarmOutputDoesNotReallocate) {
  std::string out;
  ASSERT_EQ(mapStaticPath("/some/fairly/long/path/to/a/file%20name.css", out), PathCheck::Ok);
  const char* data = out.data();
  size_t capacity = out.capacity();
  ASSERT_EQ(mapStaticPath("/other/path/to/a/file%20name.css", out), PathCheck::Ok);
  EXPECT_EQ(out, "other/path/to/a/file name.css");
  EXPECT_EQ(out.data(), data);
  EXPECT_EQ(out.capacity(), capacity);
}

TEST(StaticPath, OutputIsResetOnEachCall) {
  std::string out = "stale";
  ASSERT_EQ(mapStaticPath("x", out), PathCheck::Ok);
  EXPECT_EQ(out, "x");
}

// --- MimeTypes ---

// A mime.types in a temporary file, removed with the test.
class MimeFile {
 public:
  explicit MimeFile(const std::string& content) {
    char tmpl[] = "/tmp/mime_types_test_XXXXXX";
    int fd = mkstemp(tmpl);
    EXPECT_GE(fd, 0);
    close(fd);
    path_ = tmpl;
    std::ofstream(path_) << content;
  }
  ~MimeFile() { std::remove(path_.c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

const char* const kMissing = "/nonexistent/portcullis/mime.types";

TEST(MimeTypes, BuiltInWebTypes) {
  MimeTypes m = MimeTypes::load(kMissing);
  EXPECT_EQ(m.lookup("a.png"), "image/png");
  EXPECT_EQ(m.lookup("a.jpg"), "image/jpeg");
  EXPECT_EQ(m.lookup("a.jpeg"), "image/jpeg");
  EXPECT_EQ(m.lookup("a.gif"), "image/gif");
  EXPECT_EQ(m.lookup("a.webp"), "image/webp");
  EXPECT_EQ(m.lookup("a.avif"), "image/avif");
  EXPECT_EQ(m.lookup("a.ico"), "image/x-icon");
  EXPECT_EQ(m.lookup("a.woff"), "font/woff");
  EXPECT_EQ(m.lookup("a.woff2"), "font/woff2");
  EXPECT_EQ(m.lookup("a.ttf"), "font/ttf");
  EXPECT_EQ(m.lookup("a.otf"), "font/otf");
  EXPECT_EQ(m.lookup("a.eot"), "application/vnd.ms-fontobject");
  EXPECT_EQ(m.lookup("a.pdf"), "application/pdf");
  EXPECT_EQ(m.lookup("a.zip"), "application/zip");
  EXPECT_EQ(m.lookup("a.gz"), "application/gzip");
  EXPECT_EQ(m.lookup("a.zst"), "application/zstd");
  EXPECT_EQ(m.lookup("a.wasm"), "application/wasm");
  EXPECT_EQ(m.lookup("a.mp4"), "video/mp4");
  EXPECT_EQ(m.lookup("a.webm"), "video/webm");
  EXPECT_EQ(m.lookup("a.mp3"), "audio/mpeg");
  EXPECT_EQ(m.lookup("a.ogg"), "audio/ogg");
  EXPECT_EQ(m.lookup("a.wav"), "audio/wav");
}

TEST(MimeTypes, TextTypesCarryCharset) {
  MimeTypes m = MimeTypes::load(kMissing);
  EXPECT_EQ(m.lookup("index.html"), "text/html; charset=utf-8");
  EXPECT_EQ(m.lookup("index.htm"), "text/html; charset=utf-8");
  EXPECT_EQ(m.lookup("a.css"), "text/css; charset=utf-8");
  EXPECT_EQ(m.lookup("a.txt"), "text/plain; charset=utf-8");
  EXPECT_EQ(m.lookup("a.csv"), "text/csv; charset=utf-8");
  EXPECT_EQ(m.lookup("README.md"), "text/markdown; charset=utf-8");
}

TEST(MimeTypes, JavaScriptIsTextJavascript) {
  MimeTypes m = MimeTypes::load(kMissing);
  EXPECT_EQ(m.lookup("app.js"), "text/javascript; charset=utf-8");
  EXPECT_EQ(m.lookup("app.mjs"), "text/javascript; charset=utf-8");
}

TEST(MimeTypes, JsonXmlAndSvgCarryCharset) {
  MimeTypes m = MimeTypes::load(kMissing);
  EXPECT_EQ(m.lookup("a.json"), "application/json; charset=utf-8");
  EXPECT_EQ(m.lookup("app.js.map"), "application/json; charset=utf-8");
  EXPECT_EQ(m.lookup("site.webmanifest"), "application/manifest+json; charset=utf-8");
  EXPECT_EQ(m.lookup("a.xml"), "application/xml; charset=utf-8");
  EXPECT_EQ(m.lookup("logo.svg"), "image/svg+xml; charset=utf-8");
}

TEST(MimeTypes, BinaryTypesHaveNoCharset) {
  MimeTypes m = MimeTypes::load(kMissing);
  EXPECT_EQ(m.lookup("a.wasm").find("charset"), std::string_view::npos);
  EXPECT_EQ(m.lookup("a.png").find("charset"), std::string_view::npos);
}

TEST(MimeTypes, ExtensionIsCaseInsensitive) {
  MimeTypes m = MimeTypes::load(kMissing);
  EXPECT_EQ(m.lookup("PHOTO.JPG"), "image/jpeg");
  EXPECT_EQ(m.lookup("Index.HtMl"), "text/html; charset=utf-8");
}

TEST(MimeTypes, UnknownIsOctetStream) {
  MimeTypes m = MimeTypes::load(kMissing);
  EXPECT_EQ(m.lookup("a.nosuchext"), "application/octet-stream");
  EXPECT_EQ(m.lookup("a.averyveryverylongextension"), "application/octet-stream");
}

TEST(MimeTypes, NoExtensionIsOctetStream) {
  MimeTypes m = MimeTypes::load(kMissing);
  EXPECT_EQ(m.lookup("README"), "application/octet-stream");
  EXPECT_EQ(m.lookup("file."), "application/octet-stream");
  EXPECT_EQ(m.lookup(""), "application/octet-stream");
}

TEST(MimeTypes, DotfileHasNoExtension) {
  MimeTypes m = MimeTypes::load(kMissing);
  EXPECT_EQ(m.lookup(".htaccess"), "application/octet-stream");
  EXPECT_EQ(m.lookup("dir/.css"), "application/octet-stream");
}

TEST(MimeTypes, OnlyTheLastSegmentCounts) {
  MimeTypes m = MimeTypes::load(kMissing);
  EXPECT_EQ(m.lookup("v1.2/README"), "application/octet-stream");
  EXPECT_EQ(m.lookup("assets.css/logo.png"), "image/png");
}

TEST(MimeTypes, LastExtensionWins) {
  MimeTypes m = MimeTypes::load(kMissing);
  EXPECT_EQ(m.lookup("archive.tar.gz"), "application/gzip");
}

TEST(MimeTypes, MissingFileLeavesTheBuiltInTable) {
  MimeTypes builtin = MimeTypes::load(kMissing);
  EXPECT_GT(builtin.size(), 40u);
  EXPECT_EQ(builtin.lookup("a.odt"), "application/octet-stream");
}

TEST(MimeTypes, FileAddsTypesWithCommentsBlankLinesAndTabs) {
  MimeFile f(
      "# a comment line\n"
      "\n"
      "   \t\n"
      "application/vnd.oasis.opendocument.text\todt\n"
      "text/x-portcullis\t\tpcx1   PCX2 # trailing comment\n"
      "image/x-test  tst\r\n"
      "application/x-no-extensions\n"
      "#text/x-commented\tcmt\n");
  MimeTypes m = MimeTypes::load(f.path());
  EXPECT_EQ(m.lookup("a.odt"), "application/vnd.oasis.opendocument.text");
  EXPECT_EQ(m.lookup("a.pcx1"), "text/x-portcullis; charset=utf-8");
  EXPECT_EQ(m.lookup("a.pcx2"), "text/x-portcullis; charset=utf-8");
  EXPECT_EQ(m.lookup("a.tst"), "image/x-test");
  EXPECT_EQ(m.lookup("a.cmt"), "application/octet-stream");
  EXPECT_EQ(m.lookup("a.comment"), "application/octet-stream");
}

TEST(MimeTypes, FileNeverOverridesBuiltIn) {
  MimeFile f(
      "application/javascript\tjs mjs\n"
      "image/vnd.microsoft.icon\tico\n"
      "text/plain\tpng\n");
  MimeTypes m = MimeTypes::load(f.path());
  EXPECT_EQ(m.lookup("a.js"), "text/javascript; charset=utf-8");
  EXPECT_EQ(m.lookup("a.ico"), "image/x-icon");
  EXPECT_EQ(m.lookup("a.png"), "image/png");
}

TEST(MimeTypes, FileLineWithoutATypeIsSkipped) {
  MimeFile f("notatype\tfoo\n");
  EXPECT_EQ(MimeTypes::load(f.path()).lookup("a.foo"), "application/octet-stream");
}

TEST(MimeTypes, FileFirstEntryForAnExtensionWins) {
  MimeFile f("application/x-first\tdup\napplication/x-second\tdup\n");
  EXPECT_EQ(MimeTypes::load(f.path()).lookup("a.dup"), "application/x-first");
}

TEST(MimeTypes, SystemFileKeepsWebTypes) {
  MimeTypes m = MimeTypes::load();  // /etc/mime.types when present; the built-ins either way
  EXPECT_EQ(m.lookup("a.js"), "text/javascript; charset=utf-8");
  EXPECT_EQ(m.lookup("a.css"), "text/css; charset=utf-8");
  EXPECT_EQ(m.lookup("a.wasm"), "application/wasm");
}

// --- isHashedName ---

TEST(StaticHashedName, DjangoManifestName) { EXPECT_TRUE(isHashedName("app.3f2a9c1b7d4e.css")); }

TEST(StaticHashedName, BundlerDotHash) { EXPECT_TRUE(isHashedName("main.8f3a2b1c.js")); }

TEST(StaticHashedName, BundlerDashHash) { EXPECT_TRUE(isHashedName("chunk-4e5f6a7b8c9d0e1f.js")); }

TEST(StaticHashedName, LastSegmentCounts) {
  EXPECT_TRUE(isHashedName("css/base.0123456789ab.css"));
  EXPECT_FALSE(isHashedName("deadbeef12/base.css"));
  EXPECT_FALSE(isHashedName("abcdef12.v2/README"));
}

TEST(StaticHashedName, WholeStemHashIsHashed) { EXPECT_TRUE(isHashedName("deadbeef.css")); }

TEST(StaticHashedName, HashMustBeRightBeforeTheExtension) {
  EXPECT_FALSE(isHashedName("x.abcdef12.min.js"));
  EXPECT_TRUE(isHashedName("x.min.abcdef12.js"));
}

TEST(StaticHashedName, PlainNameIsNot) {
  EXPECT_FALSE(isHashedName("app.css"));
  EXPECT_FALSE(isHashedName("cafe.css"));  // hex letters, but a word
  EXPECT_FALSE(isHashedName("assets/face-bad.png"));
}

TEST(StaticHashedName, SevenDigitsAreTooFew) {
  EXPECT_FALSE(isHashedName("app.abc4567.css"));
  EXPECT_TRUE(isHashedName("app.abc45678.css"));
}

TEST(StaticHashedName, SixtyFiveDigitsAreTooMany) {
  EXPECT_TRUE(isHashedName("app." + std::string(64, 'a') + ".css"));
  EXPECT_FALSE(isHashedName("app." + std::string(65, 'a') + ".css"));
}

TEST(StaticHashedName, NonHexIsNot) {
  EXPECT_FALSE(isHashedName("app.ghijklmn.css"));
  EXPECT_FALSE(isHashedName("app.abcdefgh.css"));
}

TEST(StaticHashedName, AllDigitsIsADateNotAHash) {
  EXPECT_FALSE(isHashedName("backup-20240101.zip"));
  EXPECT_FALSE(isHashedName("app.1234567.css"));
  EXPECT_FALSE(isHashedName("12345678.css"));
}

TEST(StaticHashedName, NeedsAnExtension) {
  EXPECT_FALSE(isHashedName("deadbeef"));
  EXPECT_FALSE(isHashedName("app.deadbeef."));
  EXPECT_FALSE(isHashedName(".deadbeef"));
}

// --- cacheControl, makeEtag, lastModified ---

TEST(StaticCacheControl, HashedIsImmutableForAYear) {
  std::string out;
  cacheControl(true, std::chrono::seconds(60), out);
  EXPECT_EQ(out, "public, max-age=31536000, immutable");
}

TEST(StaticCacheControl, OtherwiseTheConfiguredMaxAge) {
  std::string out = "stale";
  cacheControl(false, std::chrono::seconds(3600), out);
  EXPECT_EQ(out, "public, max-age=3600");
  cacheControl(false, std::chrono::seconds(0), out);
  EXPECT_EQ(out, "public, max-age=0");
}

TEST(StaticCacheControl, NegativeMaxAgeIsZero) {
  std::string out;
  cacheControl(false, std::chrono::seconds(-5), out);
  EXPECT_EQ(out, "public, max-age=0");
}

TEST(StaticEtag, MtimeAndSizeInHex) {
  std::string out = "stale";
  makeEtag({.size = 1234, .mtime_sec = 0x5f5e1000, .mtime_nsec = 999}, Coding::Identity, out);
  EXPECT_EQ(out, "\"5f5e1000-4d2\"");
}

TEST(StaticEtag, PrecompressedVariantsHaveTheirOwnTag) {
  FileFacts f{.size = 16, .mtime_sec = 255};
  std::string out;
  makeEtag(f, Coding::Brotli, out);
  EXPECT_EQ(out, "\"ff-10-br\"");
  makeEtag(f, Coding::Zstd, out);
  EXPECT_EQ(out, "\"ff-10-zst\"");
  makeEtag(f, Coding::Gzip, out);
  EXPECT_EQ(out, "\"ff-10-gz\"");
}

std::string lm(int64_t t) {
  std::string out = "stale";
  lastModified({.size = 0, .mtime_sec = t}, out);
  return out;
}

TEST(StaticLastModified, RfcExample) { EXPECT_EQ(lm(784111777), "Sun, 06 Nov 1994 08:49:37 GMT"); }

TEST(StaticLastModified, Epoch) { EXPECT_EQ(lm(0), "Thu, 01 Jan 1970 00:00:00 GMT"); }

TEST(StaticLastModified, LeapDay) { EXPECT_EQ(lm(951782400), "Tue, 29 Feb 2000 00:00:00 GMT"); }

TEST(StaticLastModified, EndOfYear) { EXPECT_EQ(lm(1767225599), "Wed, 31 Dec 2025 23:59:59 GMT"); }

TEST(StaticLastModified, BeforeTheEpoch) { EXPECT_EQ(lm(-1), "Wed, 31 Dec 1969 23:59:59 GMT"); }

TEST(StaticLastModified, ClampedToFourDigitYears) {
  EXPECT_EQ(lm(INT64_MAX), "Fri, 31 Dec 9999 23:59:59 GMT");
  EXPECT_EQ(lm(INT64_MIN), "Mon, 01 Jan 0001 00:00:00 GMT");
}

TEST(StaticLastModified, EveryDayOfA400YearCycleRoundTrips) {
  // lastModified's output, read back as If-Unmodified-Since, must name the same second.
  for (int64_t t = 0; t < int64_t{146097} * 86400; t += 86400 + 3661) {
    Conditions c;
    std::string date = lm(t);
    c.if_unmodified_since = date;
    ASSERT_EQ(planResponse(c, {.size = 1, .mtime_sec = t}, "\"e\"").outcome, Outcome::Full) << date;
    ASSERT_EQ(planResponse(c, {.size = 1, .mtime_sec = t + 1}, "\"e\"").outcome,
              Outcome::PreconditionFailed)
        << date;
  }
}

// --- planResponse ---

constexpr int64_t kMtime = 784111777;  // Sun, 06 Nov 1994 08:49:37 GMT
constexpr const char* kDate = "Sun, 06 Nov 1994 08:49:37 GMT";
constexpr const char* kDateBefore = "Sun, 06 Nov 1994 08:49:36 GMT";
constexpr const char* kDateAfter = "Sun, 06 Nov 1994 08:49:38 GMT";
constexpr const char* kEtag = "\"2ebc3c21-64\"";
const FileFacts kFile{.size = 100, .mtime_sec = kMtime, .mtime_nsec = 500000000};

Plan plan(const Conditions& c, const FileFacts& f = kFile) { return planResponse(c, f, kEtag); }

Outcome outcome(const Conditions& c, const FileFacts& f = kFile) { return plan(c, f).outcome; }

TEST(StaticPlan, NoConditionsIsTheWholeFile) {
  Plan p = plan({});
  EXPECT_EQ(p.outcome, Outcome::Full);
  EXPECT_EQ(p.offset, 0u);
  EXPECT_EQ(p.length, 100u);
}

TEST(StaticPlan, IfNoneMatchSameTagIsNotModified) {
  EXPECT_EQ(outcome({.if_none_match = kEtag}), Outcome::NotModified);
}

TEST(StaticPlan, NotModifiedSendsNoBytes) {
  EXPECT_EQ(plan({.if_none_match = kEtag}).length, 0u);
}

TEST(StaticPlan, IfNoneMatchOtherTagIsFull) {
  EXPECT_EQ(outcome({.if_none_match = "\"other\""}), Outcome::Full);
}

TEST(StaticPlan, IfNoneMatchListMatchesAnyMember) {
  EXPECT_EQ(outcome({.if_none_match = "\"a\", \"2ebc3c21-64\",\"b\""}), Outcome::NotModified);
  EXPECT_EQ(outcome({.if_none_match = "\"a\",\t\"b\""}), Outcome::Full);
}

TEST(StaticPlan, IfNoneMatchIsWeakComparison) {
  EXPECT_EQ(outcome({.if_none_match = "W/\"2ebc3c21-64\""}), Outcome::NotModified);
  EXPECT_EQ(outcome({.if_none_match = "\"x\", W/\"2ebc3c21-64\""}), Outcome::NotModified);
}

TEST(StaticPlan, IfNoneMatchStarIsNotModified) {
  EXPECT_EQ(outcome({.if_none_match = "*"}), Outcome::NotModified);
}

TEST(StaticPlan, IfNoneMatchTagIsNotAPrefixMatch) {
  EXPECT_EQ(outcome({.if_none_match = "\"2ebc3c21-64-gz\""}), Outcome::Full);
  EXPECT_EQ(outcome({.if_none_match = "2ebc3c21-64"}), Outcome::Full);
}

TEST(StaticPlan, IfNoneMatchSkipsMalformedMembers) {
  EXPECT_EQ(outcome({.if_none_match = "garbage, \"2ebc3c21-64\""}), Outcome::NotModified);
  EXPECT_EQ(outcome({.if_none_match = "\"unterminated"}), Outcome::Full);
}

TEST(StaticPlan, IfMatchSameTagIsFull) { EXPECT_EQ(outcome({.if_match = kEtag}), Outcome::Full); }

TEST(StaticPlan, IfMatchOtherTagIsPreconditionFailed) {
  EXPECT_EQ(outcome({.if_match = "\"other\""}), Outcome::PreconditionFailed);
  EXPECT_EQ(plan({.if_match = "\"other\""}).length, 0u);
}

TEST(StaticPlan, IfMatchIsStrongComparison) {
  EXPECT_EQ(outcome({.if_match = "W/\"2ebc3c21-64\""}), Outcome::PreconditionFailed);
}

TEST(StaticPlan, IfMatchListAndStar) {
  EXPECT_EQ(outcome({.if_match = "\"a\", \"2ebc3c21-64\""}), Outcome::Full);
  EXPECT_EQ(outcome({.if_match = "*"}), Outcome::Full);
}

TEST(StaticPlan, IfMatchWinsOverIfNoneMatch) {
  EXPECT_EQ(outcome({.if_match = "\"other\"", .if_none_match = kEtag}), Outcome::PreconditionFailed);
}

TEST(StaticPlan, IfUnmodifiedSinceAfterIsFull) {
  EXPECT_EQ(outcome({.if_unmodified_since = kDate}), Outcome::Full);
  EXPECT_EQ(outcome({.if_unmodified_since = kDateAfter}), Outcome::Full);
}

TEST(StaticPlan, IfUnmodifiedSinceBeforeIsPreconditionFailed) {
  EXPECT_EQ(outcome({.if_unmodified_since = kDateBefore}), Outcome::PreconditionFailed);
}

TEST(StaticPlan, IfUnmodifiedSinceIsIgnoredWithIfMatch) {
  EXPECT_EQ(outcome({.if_match = kEtag, .if_unmodified_since = kDateBefore}), Outcome::Full);
}

TEST(StaticPlan, IfUnmodifiedSinceUnparsableIsIgnored) {
  EXPECT_EQ(outcome({.if_unmodified_since = "yesterday"}), Outcome::Full);
}

TEST(StaticPlan, IfModifiedSinceNotModified) {
  EXPECT_EQ(outcome({.if_modified_since = kDate}), Outcome::NotModified);
  EXPECT_EQ(outcome({.if_modified_since = kDateAfter}), Outcome::NotModified);
}

TEST(StaticPlan, IfModifiedSinceModifiedIsFull) {
  EXPECT_EQ(outcome({.if_modified_since = kDateBefore}), Outcome::Full);
}

TEST(StaticPlan, IfModifiedSinceComparesWholeSeconds) {
  // mtime_nsec is half a second past kDate; HTTP dates cannot say so.
  FileFacts f = kFile;
  f.mtime_nsec = 999999999;
  EXPECT_EQ(outcome({.if_modified_since = kDate}, f), Outcome::NotModified);
}

TEST(StaticPlan, IfModifiedSinceIsIgnoredWithIfNoneMatch) {
  EXPECT_EQ(outcome({.if_none_match = "\"other\"", .if_modified_since = kDate}), Outcome::Full);
}

// Each would be a 304 if it were read as a date.
TEST(StaticPlan, IfModifiedSinceUnparsableIsIgnored) {
  EXPECT_EQ(outcome({.if_modified_since = "Sun, 06 Nov 1994 08:49:37"}), Outcome::Full);
  EXPECT_EQ(outcome({.if_modified_since = "Thu, 31 Nov 1994 08:49:37 GMT"}), Outcome::Full);
  EXPECT_EQ(outcome({.if_modified_since = "Sun, 29 Feb 1995 08:49:37 GMT"}), Outcome::Full);
  EXPECT_EQ(outcome({.if_modified_since = "Mon, 29 Feb 2100 08:49:37 GMT"}), Outcome::Full);
  EXPECT_EQ(outcome({.if_modified_since = "Sun, 06 Nov 1994 24:00:00 GMT"}), Outcome::Full);
  EXPECT_EQ(outcome({.if_modified_since = "Sun, 06 nov 1994 08:49:37 GMT"}), Outcome::Full);
  EXPECT_EQ(outcome({.if_modified_since = "Sun, 06 Nov 1994 08:49:37 GMT junk"}), Outcome::Full);
  EXPECT_EQ(outcome({.if_modified_since = "784111777"}), Outcome::Full);
}

TEST(StaticPlan, IfModifiedSinceAcceptsRfc850Date) {
  EXPECT_EQ(outcome({.if_modified_since = "Sunday, 06-Nov-94 08:49:37 GMT"}), Outcome::NotModified);
  EXPECT_EQ(outcome({.if_modified_since = "Sunday, 06-Nov-94 08:49:36 GMT"}), Outcome::Full);
}

TEST(StaticPlan, Rfc850TwoDigitYearBefore70IsThisCentury) {
  FileFacts f = kFile;
  f.mtime_sec = 1700000000;  // 2023
  EXPECT_EQ(outcome({.if_modified_since = "Monday, 01-Jan-24 00:00:00 GMT"}, f), Outcome::NotModified);
}

TEST(StaticPlan, IfModifiedSinceAcceptsAsctimeDate) {
  EXPECT_EQ(outcome({.if_modified_since = "Sun Nov  6 08:49:37 1994"}), Outcome::NotModified);
  EXPECT_EQ(outcome({.if_modified_since = "Sun Nov  6 08:49:36 1994"}), Outcome::Full);
  FileFacts f = kFile;
  f.mtime_sec = 785839777;  // Sat, 26 Nov 1994 08:49:37 GMT
  EXPECT_EQ(outcome({.if_modified_since = "Sat Nov 26 08:49:37 1994"}, f), Outcome::NotModified);
}

TEST(StaticPlan, DatesTolerateSurroundingWhitespace) {
  EXPECT_EQ(outcome({.if_modified_since = "  Sun, 06 Nov 1994 08:49:37 GMT\t"}), Outcome::NotModified);
}

TEST(StaticPlan, RangeClosed) {
  Plan p = plan({.range = "bytes=0-9"});
  EXPECT_EQ(p.outcome, Outcome::Partial);
  EXPECT_EQ(p.offset, 0u);
  EXPECT_EQ(p.length, 10u);
}

TEST(StaticPlan, RangeSingleByte) {
  Plan p = plan({.range = "bytes=99-99"});
  EXPECT_EQ(p.outcome, Outcome::Partial);
  EXPECT_EQ(p.offset, 99u);
  EXPECT_EQ(p.length, 1u);
}

TEST(StaticPlan, RangeOpenEnded) {
  Plan p = plan({.range = "bytes=5-"});
  EXPECT_EQ(p.outcome, Outcome::Partial);
  EXPECT_EQ(p.offset, 5u);
  EXPECT_EQ(p.length, 95u);
}

TEST(StaticPlan, RangeSuffix) {
  Plan p = plan({.range = "bytes=-3"});
  EXPECT_EQ(p.outcome, Outcome::Partial);
  EXPECT_EQ(p.offset, 97u);
  EXPECT_EQ(p.length, 3u);
}

TEST(StaticPlan, RangeSuffixLongerThanTheFileIsTheWholeFile) {
  Plan p = plan({.range = "bytes=-500"});
  EXPECT_EQ(p.outcome, Outcome::Partial);
  EXPECT_EQ(p.offset, 0u);
  EXPECT_EQ(p.length, 100u);
}

TEST(StaticPlan, RangeSuffixZeroIsNotSatisfiable) {
  EXPECT_EQ(outcome({.range = "bytes=-0"}), Outcome::RangeNotSatisfiable);
}

TEST(StaticPlan, RangeEndPastTheFileIsClamped) {
  Plan p = plan({.range = "bytes=90-1000"});
  EXPECT_EQ(p.outcome, Outcome::Partial);
  EXPECT_EQ(p.offset, 90u);
  EXPECT_EQ(p.length, 10u);
}

TEST(StaticPlan, RangeStartAtTheEndIsNotSatisfiable) {
  EXPECT_EQ(outcome({.range = "bytes=100-"}), Outcome::RangeNotSatisfiable);
  EXPECT_EQ(outcome({.range = "bytes=100-200"}), Outcome::RangeNotSatisfiable);
  EXPECT_EQ(plan({.range = "bytes=100-"}).length, 0u);
}

TEST(StaticPlan, RangeStartBeforeTheEndIsSatisfiable) {
  EXPECT_EQ(outcome({.range = "bytes=99-"}), Outcome::Partial);
}

TEST(StaticPlan, RangeBackwardsIsIgnored) {
  EXPECT_EQ(outcome({.range = "bytes=9-0"}), Outcome::Full);
}

TEST(StaticPlan, RangeListIsTheWholeFile) {
  EXPECT_EQ(outcome({.range = "bytes=0-1,5-6"}), Outcome::Full);
  EXPECT_EQ(outcome({.range = "bytes=0-1, -3"}), Outcome::Full);
}

TEST(StaticPlan, RangeListEmptyElementsAreAllowed) {
  EXPECT_EQ(outcome({.range = "bytes=0-9,"}), Outcome::Partial);
  EXPECT_EQ(outcome({.range = "bytes=, 0-9 ,,"}), Outcome::Partial);
  EXPECT_EQ(outcome({.range = "bytes=,"}), Outcome::Full);
}

TEST(StaticPlan, RangeToleratesWhitespace) {
  Plan p = plan({.range = " bytes = 0-9 "});
  EXPECT_EQ(p.outcome, Outcome::Partial);
  EXPECT_EQ(p.length, 10u);
}

TEST(StaticPlan, RangeUnitIsCaseInsensitive) {
  EXPECT_EQ(outcome({.range = "Bytes=0-9"}), Outcome::Partial);
  EXPECT_EQ(outcome({.range = "BYTES=0-9"}), Outcome::Partial);
}

TEST(StaticPlan, RangeOtherUnitIsIgnored) {
  EXPECT_EQ(outcome({.range = "items=0-1"}), Outcome::Full);
  EXPECT_EQ(outcome({.range = "bytesx=0-1"}), Outcome::Full);
}

TEST(StaticPlan, RangeMalformedIsIgnored) {
  for (const char* r : {"bytes", "bytes=", "bytes=-", "bytes=a-b", "bytes=1", "bytes=0-9x",
                        "bytes=--1", "bytes=+1-2", "bytes=1-+2", "bytes 0-9", "bytes=0 - 9"}) {
    EXPECT_EQ(outcome({.range = r}), Outcome::Full) << r;
  }
}

TEST(StaticPlan, RangeOverflowIsIgnored) {
  EXPECT_EQ(outcome({.range = "bytes=0-18446744073709551616"}), Outcome::Full);
  EXPECT_EQ(outcome({.range = "bytes=18446744073709551616-"}), Outcome::Full);
  EXPECT_EQ(outcome({.range = "bytes=-99999999999999999999999"}), Outcome::Full);
}

TEST(StaticPlan, RangeAtUint64MaxIsNotSatisfiable) {
  EXPECT_EQ(outcome({.range = "bytes=18446744073709551615-"}), Outcome::RangeNotSatisfiable);
  Plan p = plan({.range = "bytes=0-18446744073709551615"});
  EXPECT_EQ(p.outcome, Outcome::Partial);
  EXPECT_EQ(p.length, 100u);
}

// RFC 9110 §14.1.1: a 0-byte file has no first-pos below its length, so "bytes=0-" is a 416
// (nginx answers 200 there); a suffix range is satisfiable but selects nothing a 206 could
// describe, so it gets the whole (empty) file.
TEST(StaticPlan, EmptyFileIntRangeIsNotSatisfiable) {
  FileFacts empty{.size = 0, .mtime_sec = kMtime};
  EXPECT_EQ(outcome({.range = "bytes=0-"}, empty), Outcome::RangeNotSatisfiable);
  EXPECT_EQ(outcome({.range = "bytes=0-0"}, empty), Outcome::RangeNotSatisfiable);
}

TEST(StaticPlan, EmptyFileSuffixRangeIsTheWholeFile) {
  FileFacts empty{.size = 0, .mtime_sec = kMtime};
  Plan p = plan({.range = "bytes=-5"}, empty);
  EXPECT_EQ(p.outcome, Outcome::Full);
  EXPECT_EQ(p.length, 0u);
  EXPECT_EQ(outcome({.range = "bytes=-0"}, empty), Outcome::RangeNotSatisfiable);
}

TEST(StaticPlan, RangeIsNotHonouredAfterNotModified) {
  EXPECT_EQ(outcome({.if_none_match = kEtag, .range = "bytes=0-9"}), Outcome::NotModified);
}

TEST(StaticPlan, RangeIsNotHonouredAfterPreconditionFailed) {
  EXPECT_EQ(outcome({.if_match = "\"x\"", .range = "bytes=500-"}), Outcome::PreconditionFailed);
}

TEST(StaticPlan, RangeAfterPassingConditions) {
  EXPECT_EQ(outcome({.if_match = kEtag, .if_none_match = "\"old\"", .range = "bytes=0-9"}),
            Outcome::Partial);
}

TEST(StaticPlan, IfRangeStrongTagMatchHonoursRange) {
  EXPECT_EQ(outcome({.range = "bytes=0-9", .if_range = kEtag}), Outcome::Partial);
}

TEST(StaticPlan, IfRangeOtherTagIsTheWholeFile) {
  EXPECT_EQ(outcome({.range = "bytes=0-9", .if_range = "\"other\""}), Outcome::Full);
}

TEST(StaticPlan, IfRangeWeakTagNeverMatches) {
  EXPECT_EQ(outcome({.range = "bytes=0-9", .if_range = "W/\"2ebc3c21-64\""}), Outcome::Full);
}

TEST(StaticPlan, IfRangeWithAWeakServerTagNeverMatches) {
  Conditions c{.range = "bytes=0-9", .if_range = "\"2ebc3c21-64\""};
  EXPECT_EQ(planResponse(c, kFile, "W/\"2ebc3c21-64\"").outcome, Outcome::Full);
}

TEST(StaticPlan, IfRangeExactDateHonoursRange) {
  EXPECT_EQ(outcome({.range = "bytes=0-9", .if_range = kDate}), Outcome::Partial);
}

TEST(StaticPlan, IfRangeOtherDateIsTheWholeFile) {
  EXPECT_EQ(outcome({.range = "bytes=0-9", .if_range = kDateAfter}), Outcome::Full);
  EXPECT_EQ(outcome({.range = "bytes=0-9", .if_range = kDateBefore}), Outcome::Full);
}

TEST(StaticPlan, IfRangeUnparsableIsTheWholeFile) {
  EXPECT_EQ(outcome({.range = "bytes=0-9", .if_range = "tomorrow"}), Outcome::Full);
}

TEST(StaticPlan, IfRangeMismatchAvoidsA416) {
  EXPECT_EQ(outcome({.range = "bytes=500-", .if_range = "\"other\""}), Outcome::Full);
}

TEST(StaticPlan, IfRangeWithoutRangeIsIgnored) {
  EXPECT_EQ(outcome({.if_range = "\"other\""}), Outcome::Full);
}

// --- contentRange ---

TEST(StaticContentRange, Partial) {
  std::string out;
  contentRange({Outcome::Partial, 0, 10}, 1234, out);
  EXPECT_EQ(out, "bytes 0-9/1234");
  contentRange({Outcome::Partial, 1233, 1}, 1234, out);
  EXPECT_EQ(out, "bytes 1233-1233/1234");
}

TEST(StaticContentRange, NotSatisfiable) {
  std::string out;
  contentRange({Outcome::RangeNotSatisfiable, 0, 0}, 1234, out);
  EXPECT_EQ(out, "bytes */1234");
}

TEST(StaticContentRange, OtherOutcomesHaveNone) {
  std::string out = "stale";
  contentRange({Outcome::Full, 0, 1234}, 1234, out);
  EXPECT_EQ(out, "");
}

TEST(StaticContentRange, FromAPlan) {
  std::string out;
  contentRange(plan({.range = "bytes=-3"}), kFile.size, out);
  EXPECT_EQ(out, "bytes 97-99/100");
}

}  // namespace
}  // namespace portcullis::http
