#include "http/compressor.h"

#include "../support/reference_decoders.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace portcullis::http {
namespace {

using test_support::Decoded;

Decoded decode(Coding c, std::string_view in) { return test_support::decode(codingToken(c), in); }

// Text that compresses like a web page, with a share of noise so blocks differ.
std::string sample(size_t n, uint32_t seed = 1) {
  std::mt19937 rng(seed);
  static const char* words[] = {"<div class=\"item\">", "portcullis ", "proxy ", "</div>\n", "{\"id\": ", "}, ",
                                "lorem ", "ipsum "};
  std::string s;
  s.reserve(n + 32);
  while (s.size() < n) {
    if (rng() % 8 == 0) s.push_back(static_cast<char>(rng()));
    else s += words[rng() % 8];
  }
  s.resize(n);
  return s;
}

const Coding kCodings[] = {Coding::Brotli, Coding::Zstd, Coding::Gzip};
const int kDefaultLevel[] = {0, 4, 3, 6};  // by Coding value

class CompressorCoding : public ::testing::TestWithParam<Coding> {};

TEST_P(CompressorCoding, RoundTripsManySizesInSmallWrites) {
  const Coding c = GetParam();
  Compressor z;
  for (size_t n : {size_t{0}, size_t{1}, size_t{17}, size_t{1000}, size_t{16384}, size_t{65537}, size_t{300001},
                   size_t{1} << 20}) {
    const std::string in = sample(n, static_cast<uint32_t>(n));
    ASSERT_TRUE(z.start(c, kDefaultLevel[static_cast<int>(c)]));
    std::string out;
    size_t pos = 0, step = 1;
    while (pos < in.size()) {
      size_t k = std::min(step, in.size() - pos);
      ASSERT_TRUE(z.write(std::string_view(in).substr(pos, k), out));
      pos += k;
      step = step * 3 % 5003 + 1;  // 1 .. 5003 bytes, irregular
    }
    ASSERT_TRUE(z.finish(out));
    EXPECT_FALSE(z.active());
    Decoded d = decode(c, out);
    EXPECT_FALSE(d.error) << n;
    EXPECT_TRUE(d.finished) << n;
    EXPECT_EQ(d.data.size(), in.size());
    EXPECT_TRUE(d.data == in) << "size " << n;
    if (n >= 16384) {
      EXPECT_LT(out.size(), in.size() / 2) << "compressible input, size " << n;
    }
  }
}

TEST_P(CompressorCoding, FlushMakesEverythingSoFarDecodable) {
  const Coding c = GetParam();
  Compressor z;
  ASSERT_TRUE(z.start(c, kDefaultLevel[static_cast<int>(c)]));
  std::string out, sent;
  for (int i = 0; i < 5; ++i) {
    std::string part = "event: tick\ndata: " + std::to_string(i) + "\n\n" + sample(100 + i * 3000, i);
    ASSERT_TRUE(z.write(part, out));
    sent += part;
    ASSERT_TRUE(z.flush(out));
    Decoded d = decode(c, out);
    EXPECT_FALSE(d.error);
    EXPECT_FALSE(d.finished);
    EXPECT_TRUE(d.data == sent) << "after flush " << i << ": " << d.data.size() << " of " << sent.size();
  }
  // A flush with nothing new costs little and breaks nothing.
  size_t before = out.size();
  ASSERT_TRUE(z.flush(out));
  EXPECT_LE(out.size() - before, 16u);
  ASSERT_TRUE(z.finish(out));
  Decoded d = decode(c, out);
  EXPECT_TRUE(d.finished);
  EXPECT_FALSE(d.error);
  EXPECT_TRUE(d.data == sent);
}

TEST_P(CompressorCoding, ResetAbandonsAStreamAndTheObjectIsReused) {
  const Coding c = GetParam();
  Compressor z;
  for (int round = 0; round < 3; ++round) {
    // A response cut short: half written, then dropped.
    ASSERT_TRUE(z.start(c, kDefaultLevel[static_cast<int>(c)]));
    std::string junk;
    ASSERT_TRUE(z.write(sample(50000, 7), junk));
    z.reset();
    EXPECT_FALSE(z.active());
    // The next response starts clean: nothing of the last one leaks into it.
    const std::string in = sample(20000 + round, 100 + round);
    ASSERT_TRUE(z.start(c, kDefaultLevel[static_cast<int>(c)]));
    std::string out;
    ASSERT_TRUE(z.write(in, out));
    ASSERT_TRUE(z.finish(out));
    Decoded d = decode(c, out);
    EXPECT_TRUE(d.finished);
    EXPECT_FALSE(d.error);
    EXPECT_TRUE(d.data == in) << "round " << round;
  }
}

TEST_P(CompressorCoding, HigherLevelIsNotLarger) {
  const Coding c = GetParam();
  const std::string in = sample(200000, 3);
  auto size_at = [&](int level) {
    Compressor z;
    std::string out;
    EXPECT_TRUE(z.start(c, level));
    EXPECT_TRUE(z.write(in, out));
    EXPECT_TRUE(z.finish(out));
    EXPECT_TRUE(decode(c, out).data == in);
    return out.size();
  };
  const int low = c == Coding::Brotli ? 0 : 1;
  const int high = c == Coding::Brotli ? 11 : c == Coding::Zstd ? 19 : 9;
  size_t lo = size_at(low), hi = size_at(high);
  EXPECT_LT(hi, lo) << "level " << high << " vs " << low;
}

INSTANTIATE_TEST_SUITE_P(Codings, CompressorCoding, ::testing::ValuesIn(kCodings),
                         [](const auto& info) { return std::string(codingToken(info.param)); });

TEST(Compressor, SwitchesCodingAndLevelBetweenStreams) {
  Compressor z;
  const std::string in = sample(70000, 9);
  const Coding order[] = {Coding::Gzip, Coding::Zstd, Coding::Brotli, Coding::Gzip, Coding::Brotli, Coding::Zstd};
  int level = 1;
  for (Coding c : order) {
    ASSERT_TRUE(z.start(c, level));
    EXPECT_EQ(z.coding(), c);
    std::string out;
    ASSERT_TRUE(z.write(in, out));
    ASSERT_TRUE(z.finish(out));
    Decoded d = decode(c, out);
    EXPECT_TRUE(d.finished);
    EXPECT_TRUE(d.data == in) << codingToken(c);
    level = level % 9 + 4;
  }
}

TEST(Compressor, GzipLevelChangeOnReuseIsHonoured) {
  const std::string in = sample(200000, 5);
  Compressor z;
  std::string fast, best;
  ASSERT_TRUE(z.start(Coding::Gzip, 1));
  ASSERT_TRUE(z.write(in, fast));
  ASSERT_TRUE(z.finish(fast));
  ASSERT_TRUE(z.start(Coding::Gzip, 9));
  ASSERT_TRUE(z.write(in, best));
  ASSERT_TRUE(z.finish(best));
  EXPECT_LT(best.size(), fast.size());
  EXPECT_TRUE(decode(Coding::Gzip, best).data == in);
}

// A warm object (one response compressed) takes its blocks from what it kept: brotli's encoder
// is created anew per response, zlib's is reset; neither goes back to malloc.
TEST(Compressor, WarmObjectAllocatesNoNewBlocks) {
  for (Coding c : {Coding::Brotli, Coding::Gzip}) {
    Compressor z;
    std::string out;
    out.reserve(1 << 20);
    const std::string big = sample(300000, 21), small = sample(5000, 22);
    ASSERT_TRUE(z.start(c, kDefaultLevel[static_cast<int>(c)]));
    ASSERT_TRUE(z.write(big, out));
    ASSERT_TRUE(z.finish(out));
    const uint64_t warm = z.blocksAllocated();
    EXPECT_GT(warm, 0u);
    for (int i = 0; i < 4; ++i) {
      out.clear();
      ASSERT_TRUE(z.start(c, kDefaultLevel[static_cast<int>(c)]));
      ASSERT_TRUE(z.write(i % 2 ? small : big, out));
      if (i == 2) z.reset();  // cut short
      else ASSERT_TRUE(z.finish(out));
    }
    EXPECT_EQ(z.blocksAllocated(), warm) << codingToken(c);
  }
}

TEST(Compressor, IdentityIsNotACoding) {
  Compressor z;
  EXPECT_FALSE(z.start(Coding::Identity, 1));
  EXPECT_FALSE(z.active());
  std::string out;
  EXPECT_FALSE(z.write("x", out));
}

}  // namespace
}  // namespace portcullis::http
