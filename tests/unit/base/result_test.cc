#include "base/result.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

namespace portcullis::base {
namespace {

Result<int> parsePositive(int v) {
  if (v <= 0) return makeError("not positive: " + std::to_string(v));
  return v;
}

TEST(Result, HoldsAValue) {
  auto r = parsePositive(3);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, 3);
}

TEST(Result, HoldsAnErrorWithItsMessage) {
  auto r = parsePositive(-1);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "not positive: -1");
}

TEST(Result, MovesOutMoveOnlyValues) {
  Result<std::unique_ptr<int>> r(std::make_unique<int>(7));
  std::unique_ptr<int> p = std::move(r).value();
  EXPECT_EQ(*p, 7);
}

TEST(Result, VoidResultIsOkByDefaultAndCarriesErrors) {
  Result<void> ok;
  EXPECT_TRUE(ok.ok());
  Result<void> bad = makeError("boom");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message, "boom");
}

}  // namespace
}  // namespace portcullis::base
