#include "proxy/body_buffer.h"

#include <gtest/gtest.h>

#include <dirent.h>

#include <string>

namespace portcullis::proxy {
namespace {

std::string pattern(size_t n, int seed) {
  std::string s(n, '\0');
  uint32_t x = static_cast<uint32_t>(seed) * 2654435761u + 1;
  for (auto& c : s) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    c = static_cast<char>(x);
  }
  return s;
}

std::string readAll(BodyBuffer& b, size_t step) {
  base::Buffer out;
  for (;;) {
    auto r = b.readInto(out, step);
    EXPECT_TRUE(r.ok());
    if (!r.ok() || *r == 0) break;
  }
  return std::string(out.view());
}

size_t entriesIn(const std::string& dir) {
  size_t n = 0;
  if (DIR* d = opendir(dir.c_str())) {
    while (dirent* e = readdir(d)) n += std::string(e->d_name) != "." && std::string(e->d_name) != "..";
    closedir(d);
  }
  return n;
}

class BodyBufferTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/pc-bodybuf-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { rmdir(dir_.c_str()); }
  std::string dir_;
};

TEST_F(BodyBufferTest, SmallBodyStaysInMemory) {
  BodyBuffer b;
  b.configure(1024, 1 << 20, dir_);
  ASSERT_TRUE(b.append("hello").ok());
  EXPECT_FALSE(b.spilled());
  EXPECT_EQ(readAll(b, 2), "hello");
  EXPECT_TRUE(b.empty());
}

TEST_F(BodyBufferTest, LargeBodySpillsToFileAndReadsBackInOrder) {
  BodyBuffer b;
  b.configure(1000, 10 << 20, dir_);
  std::string body = pattern(3 << 20, 1);
  for (size_t off = 0; off < body.size(); off += 777) ASSERT_TRUE(b.append(std::string_view(body).substr(off, 777)).ok());
  EXPECT_TRUE(b.spilled());
  EXPECT_EQ(b.total(), body.size());
  EXPECT_EQ(readAll(b, 65536), body);
}

TEST_F(BodyBufferTest, SpillFileHasNoNameInTheTempDir) {
  BodyBuffer b;
  b.configure(10, 1 << 20, dir_);
  ASSERT_TRUE(b.append(pattern(100, 2)).ok());
  ASSERT_TRUE(b.spilled());
  EXPECT_EQ(entriesIn(dir_), 0u);
}

TEST_F(BodyBufferTest, AppendPastFileLimitFails) {
  BodyBuffer b;
  b.configure(10, 100, dir_);
  ASSERT_TRUE(b.append(pattern(60, 3)).ok());
  EXPECT_FALSE(b.append(pattern(60, 4)).ok());
}

TEST_F(BodyBufferTest, NoFileLimitMeansMemoryOnly) {
  BodyBuffer b;
  b.configure(10, 0, dir_);
  EXPECT_FALSE(b.append(pattern(11, 5)).ok());
}

TEST_F(BodyBufferTest, RewindReplaysTheWholeBody) {
  BodyBuffer b;
  b.configure(100, 1 << 20, dir_);
  std::string body = pattern(5000, 6);
  ASSERT_TRUE(b.append(body).ok());
  EXPECT_EQ(readAll(b, 999), body);
  b.rewind();
  EXPECT_EQ(readAll(b, 4096), body);
}

TEST_F(BodyBufferTest, InterleavedAppendAndReadKeepOrder) {
  BodyBuffer b;
  b.configure(64, 1 << 20, dir_);
  std::string body = pattern(10000, 7), got;
  base::Buffer out;
  for (size_t off = 0; off < body.size(); off += 1000) {
    ASSERT_TRUE(b.append(std::string_view(body).substr(off, 1000)).ok());
    auto r = b.readInto(out, 600);
    ASSERT_TRUE(r.ok());
  }
  got = std::string(out.view()) + readAll(b, 4096);
  EXPECT_EQ(got, body);
}

TEST_F(BodyBufferTest, ResetDropsEverything) {
  BodyBuffer b;
  b.configure(10, 1 << 20, dir_);
  ASSERT_TRUE(b.append(pattern(100, 8)).ok());
  b.reset();
  EXPECT_TRUE(b.empty());
  EXPECT_FALSE(b.spilled());
  EXPECT_EQ(b.total(), 0u);
}

}  // namespace
}  // namespace portcullis::proxy
