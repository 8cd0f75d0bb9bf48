#include "http/content_coding.h"

#include <gtest/gtest.h>

namespace portcullis::http {
namespace {

constexpr unsigned kAll = codingBit(Coding::Brotli) | codingBit(Coding::Zstd) | codingBit(Coding::Gzip);

Coding pick(std::string_view field, unsigned offered = kAll) {
  AcceptEncoding a;
  a.add(field);
  return a.choose(offered);
}

TEST(AcceptEncoding, AbsentMeansIdentity) {
  AcceptEncoding a;
  EXPECT_TRUE(a.empty());
  EXPECT_EQ(a.choose(kAll), Coding::Identity);
}

TEST(AcceptEncoding, ServerOrderBreaksTies) {
  EXPECT_EQ(pick("gzip, deflate, br, zstd"), Coding::Brotli);
  EXPECT_EQ(pick("gzip, zstd"), Coding::Zstd);
  EXPECT_EQ(pick("gzip, deflate"), Coding::Gzip);
  EXPECT_EQ(pick("gzip, br", codingBit(Coding::Gzip)), Coding::Gzip);
}

TEST(AcceptEncoding, HigherQWins) {
  EXPECT_EQ(pick("br;q=0.5, gzip;q=0.9"), Coding::Gzip);
  EXPECT_EQ(pick("br ; q=1.0 , gzip;q=0.999"), Coding::Brotli);
  EXPECT_EQ(pick("gzip;Q=0.1, zstd;q=0.2"), Coding::Zstd);
}

TEST(AcceptEncoding, QZeroRefuses) {
  EXPECT_EQ(pick("br;q=0, gzip;q=0"), Coding::Identity);
  EXPECT_EQ(pick("*;q=0"), Coding::Identity);
  EXPECT_EQ(pick("*, br;q=0"), Coding::Zstd);
}

TEST(AcceptEncoding, StarCoversWhatIsNotNamed) {
  EXPECT_EQ(pick("*"), Coding::Brotli);
  EXPECT_EQ(pick("gzip;q=0.8, *;q=0.1"), Coding::Gzip);
}

TEST(AcceptEncoding, CaseAndAliases) {
  EXPECT_EQ(pick("GZIP"), Coding::Gzip);
  EXPECT_EQ(pick("x-gzip"), Coding::Gzip);
  EXPECT_EQ(pick("Br"), Coding::Brotli);
}

TEST(AcceptEncoding, MalformedWeightsAreIgnored) {
  EXPECT_EQ(pick("br;q=2, gzip"), Coding::Gzip);
  EXPECT_EQ(pick("br;q=0.12345, gzip"), Coding::Gzip);
  EXPECT_EQ(pick("br;q=, gzip"), Coding::Gzip);
  EXPECT_EQ(pick(",,, ;q=1, gzip"), Coding::Gzip);
}

TEST(AcceptEncoding, SeveralFieldsAccumulate) {
  AcceptEncoding a;
  a.add("gzip;q=0.5");
  a.add("br;q=0.7");
  EXPECT_EQ(a.choose(kAll), Coding::Brotli);
  EXPECT_FALSE(a.empty());
}

TEST(AcceptEncoding, IdentityOnlyWhenNothingOffered) {
  EXPECT_EQ(pick("br, gzip", 0), Coding::Identity);
}

TEST(ContentCoding, TokensAndSuffixes) {
  EXPECT_EQ(codingToken(Coding::Brotli), "br");
  EXPECT_EQ(codingToken(Coding::Zstd), "zstd");
  EXPECT_EQ(codingToken(Coding::Gzip), "gzip");
  EXPECT_EQ(codingSuffix(Coding::Gzip), ".gz");
  EXPECT_EQ(codingSuffix(Coding::Zstd), ".zst");
  EXPECT_EQ(codingSuffix(Coding::Identity), "");
}

}  // namespace
}  // namespace portcullis::http
