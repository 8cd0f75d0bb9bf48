#include "base/buffer.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>

namespace portcullis::base {
namespace {

TEST(Buffer, AppendedBytesAreReadBackInOrder) {
  Buffer b;
  b.append("hello ");
  b.append("world");
  EXPECT_EQ(b.view(), "hello world");
  EXPECT_EQ(b.size(), 11u);
}

TEST(Buffer, ConsumeDropsBytesFromTheFront) {
  Buffer b;
  b.append("abcdef");
  b.consume(2);
  EXPECT_EQ(b.view(), "cdef");
}

TEST(Buffer, ConsumingEverythingRewindsToTheStart) {
  Buffer b;
  b.append("abc");
  b.consume(3);
  EXPECT_TRUE(b.empty());
  // The whole capacity is usable again: no memmove needed for the next read.
  EXPECT_EQ(b.tailRoom(), b.capacity());
}

TEST(Buffer, ReserveTailThenCommitAppends) {
  Buffer b;
  char* p = b.reserveTail(100);
  ASSERT_GE(b.tailRoom(), 100u);
  std::memcpy(p, "xyz", 3);
  b.commit(3);
  EXPECT_EQ(b.view(), "xyz");
}

TEST(Buffer, ReserveTailSlidesUnreadBytesInsteadOfGrowingWhenThatFits) {
  Buffer b(64);
  size_t cap = b.capacity();
  b.append(std::string(60, 'a'));
  b.append("tail");
  b.consume(60);
  b.reserveTail(cap - 8);  // fits once the 4 unread bytes move to the front
  EXPECT_EQ(b.capacity(), cap);
  EXPECT_EQ(b.view(), "tail");
}

TEST(Buffer, ReserveTailGrowsAndKeepsUnreadBytes) {
  Buffer b;
  b.append("keep me");
  b.reserveTail(1 << 20);
  EXPECT_GE(b.tailRoom(), 1u << 20);
  EXPECT_EQ(b.view(), "keep me");
}

TEST(Buffer, ReleaseFreesAnEmptyBufferOnly) {
  Buffer b;
  b.append("x");
  b.release();
  EXPECT_EQ(b.view(), "x") << "release must not drop unread bytes";
  b.consume(1);
  b.release();
  EXPECT_EQ(b.capacity(), 0u);
}

TEST(Buffer, MoveLeavesTheSourceEmpty) {
  Buffer a;
  a.append("data");
  Buffer b(std::move(a));
  EXPECT_EQ(b.view(), "data");
  EXPECT_TRUE(a.empty());  // NOLINT(bugprone-use-after-move): moved-from state is specified
}

}  // namespace
}  // namespace portcullis::base
