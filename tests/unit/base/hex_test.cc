// base::hex16: the branch-free hex digits used for per-request ids.
#include "base/hex.h"

#include <gtest/gtest.h>

#include <cinttypes>
#include <cstdio>
#include <random>
#include <string>

namespace portcullis::base {
namespace {

std::string viaPrintf(uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016" PRIx64, v);
  return buf;
}

std::string viaHex16(uint64_t v) {
  char buf[16];
  hex16(v, buf);
  return std::string(buf, 16);
}

TEST(Hex16, EdgeValues) {
  EXPECT_EQ(viaHex16(0), "0000000000000000");
  EXPECT_EQ(viaHex16(~0ull), "ffffffffffffffff");
  EXPECT_EQ(viaHex16(0x0123456789abcdefull), "0123456789abcdef");
  EXPECT_EQ(viaHex16(0xfedcba9876543210ull), "fedcba9876543210");
  EXPECT_EQ(viaHex16(0x9a9a9a9a9a9a9a9aull), "9a9a9a9a9a9a9a9a");  // the 9/a boundary
}

TEST(Hex16, EveryNibbleInEveryPosition) {
  for (int pos = 0; pos < 16; ++pos)
    for (uint64_t d = 0; d < 16; ++d) EXPECT_EQ(viaHex16(d << (4 * pos)), viaPrintf(d << (4 * pos)));
}

TEST(Hex16, MatchesPrintfOnRandomValues) {
  std::mt19937_64 rng(42);
  for (int i = 0; i < 100000; ++i) {
    uint64_t v = rng();
    ASSERT_EQ(viaHex16(v), viaPrintf(v)) << v;
  }
}

TEST(Hex16, WritesExactlySixteenBytes) {
  char buf[18];
  std::memset(buf, '#', sizeof buf);
  hex16(0x1234, buf + 1);
  EXPECT_EQ(buf[0], '#');
  EXPECT_EQ(buf[17], '#');
  EXPECT_EQ(std::string(buf + 1, 16), "0000000000001234");
}

}  // namespace
}  // namespace portcullis::base
