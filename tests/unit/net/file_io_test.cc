// file_io.h and file_cache.h specs on real temp files and a real loop (libuv's thread pool).
#include "net/file_io.h"
#include "../support/loop_runner.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <string>
#include <thread>

#include "net/file_cache.h"

namespace portcullis::net {
namespace {

using testing_support::runUntil;

class FileIo : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/pc-fileio-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    root_ = dir_ + "/root";
    ::mkdir(root_.c_str(), 0755);
    ::mkdir((root_ + "/d").c_str(), 0755);
    write("root/a.txt", "hello world");
    write("secret.txt", "outside");
    ASSERT_EQ(::symlink("../secret.txt", (root_ + "/up").c_str()), 0);
    ASSERT_EQ(::symlink((dir_ + "/secret.txt").c_str(), (root_ + "/abs").c_str()), 0);
    ASSERT_EQ(::symlink("a.txt", (root_ + "/in").c_str()), 0);
    ASSERT_EQ(::mkfifo((root_ + "/fifo").c_str(), 0644), 0);
  }
  void TearDown() override {
    std::string cmd = "rm -rf '" + dir_ + "'";
    (void)std::system(cmd.c_str());
  }
  void write(const std::string& rel, const std::string& content) {
    std::ofstream(dir_ + "/" + rel, std::ios::binary) << content;
  }
  OpenResult open(const std::string& rel, bool beneath = true) { return openUnder({root_, rel, beneath}); }

  std::string dir_, root_;
};

TEST_F(FileIo, OpensARegularFileWithItsFacts) {
  OpenResult r = open("a.txt");
  ASSERT_EQ(r.kind, OpenResult::Kind::File);
  EXPECT_EQ(r.size, 11u);
  EXPECT_GT(r.mtime_sec, 0);
  ASSERT_TRUE(r.file);
  EXPECT_GE(r.file->fd(), 0);
}

TEST_F(FileIo, ClassifiesWhatIsNotAServableFile) {
  EXPECT_EQ(open("missing").kind, OpenResult::Kind::NotFound);
  EXPECT_EQ(open("a.txt/x").kind, OpenResult::Kind::NotFound);
  EXPECT_EQ(open("d").kind, OpenResult::Kind::Forbidden);
  EXPECT_EQ(open("").kind, OpenResult::Kind::Forbidden);
  EXPECT_EQ(open("fifo").kind, OpenResult::Kind::Forbidden);  // and the open did not block
  EXPECT_EQ(open("up").kind, OpenResult::Kind::Escape);
  EXPECT_EQ(open("abs").kind, OpenResult::Kind::Escape);
  EXPECT_EQ(open("../secret.txt").kind, OpenResult::Kind::Escape);
  EXPECT_EQ(open("in").kind, OpenResult::Kind::File);
  // Allowed out: symlinks are followed anywhere.
  EXPECT_EQ(open("up", false).kind, OpenResult::Kind::File);
  EXPECT_EQ(open("abs", false).kind, OpenResult::Kind::File);
}

TEST_F(FileIo, OpenAndReadCompleteOnTheLoop) {
  Loop loop;
  std::vector<OpenResult> got;
  bool opened = false;
  std::thread::id on;
  FileTask* t = openFiles(loop, {{root_, "a.txt", true}, {root_, "missing", true}}, [&](std::vector<OpenResult>& r) {
    got = r;
    opened = true;
    on = std::this_thread::get_id();
  });
  ASSERT_NE(t, nullptr);
  ASSERT_TRUE(runUntil(loop, [&] { return opened; }));
  EXPECT_EQ(on, std::this_thread::get_id());
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].kind, OpenResult::Kind::File);
  EXPECT_EQ(got[1].kind, OpenResult::Kind::NotFound);

  auto buf = std::make_shared<std::vector<char>>(4);
  int64_t n = -2;
  ASSERT_NE(readFile(loop, got[0].file, 6, 5, buf, [&](int64_t g) { n = g; }), nullptr);
  ASSERT_TRUE(runUntil(loop, [&] { return n != -2; }));
  ASSERT_EQ(n, 5);
  EXPECT_EQ(std::string(buf->data(), 5), "world");
  // Past the end: short.
  n = -2;
  ASSERT_NE(readFile(loop, got[0].file, 8, 10, buf, [&](int64_t g) { n = g; }), nullptr);
  ASSERT_TRUE(runUntil(loop, [&] { return n != -2; }));
  EXPECT_EQ(n, 3);
}

TEST_F(FileIo, ACancelledTaskNeverCallsBackAndKeepsItsBuffer) {
  Loop loop;
  OpenResult f = open("a.txt");
  ASSERT_EQ(f.kind, OpenResult::Kind::File);
  bool called = false;
  std::weak_ptr<std::vector<char>> weak;
  {
    auto buf = std::make_shared<std::vector<char>>(16);
    weak = buf;
    FileTask* t = readFile(loop, f.file, 0, 11, buf, [&](int64_t) { called = true; });
    ASSERT_NE(t, nullptr);
    t->cancel();
  }
  EXPECT_FALSE(weak.expired());  // the task holds it while the worker may write into it
  bool other = false;
  auto buf2 = std::make_shared<std::vector<char>>(16);
  readFile(loop, f.file, 0, 1, buf2, [&](int64_t) { other = true; });
  ASSERT_TRUE(runUntil(loop, [&] { return other && weak.expired(); }));
  EXPECT_FALSE(called);
}

TEST_F(FileIo, CacheKeepsResultsForItsWindowAndEvictsTheOldest) {
  FileCache cache(2, 100);
  OpenResult a = open("a.txt");
  OpenResult missing = open("missing");
  cache.put("a", a, 1000);
  cache.put("m", missing, 1000);
  ASSERT_NE(cache.find("a", 1050), nullptr);
  EXPECT_EQ(cache.find("a", 1050)->kind, OpenResult::Kind::File);
  EXPECT_EQ(cache.find("m", 1099)->kind, OpenResult::Kind::NotFound);  // negative results too
  EXPECT_EQ(cache.find("m", 1100), nullptr);                            // stale: gone
  EXPECT_EQ(cache.size(), 1u);
  cache.put("m", missing, 1100);
  cache.put("a", a, 1100);  // refreshed: valid to 1200
  (void)cache.find("m", 1100);
  (void)cache.find("a", 1101);  // "a" is the most recent now
  cache.put("x", missing, 1101);
  EXPECT_EQ(cache.size(), 2u);
  EXPECT_EQ(cache.find("m", 1102), nullptr);  // least recently used: evicted
  EXPECT_NE(cache.find("a", 1102), nullptr);
  // Transient errors are not kept.
  OpenResult err;
  err.kind = OpenResult::Kind::Error;
  cache.put("e", err, 1102);
  EXPECT_EQ(cache.find("e", 1102), nullptr);
}

TEST_F(FileIo, AnEvictedFdClosesOnlyWhenItsLastReaderLetsGo) {
  FileCache cache(1, 1000);
  OpenResult a = open("a.txt");
  int fd = a.file->fd();
  std::shared_ptr<const OpenFile> reader = a.file;
  cache.put("a", a, 0);
  a = OpenResult();
  cache.put("b", open("missing"), 0);  // evicts "a"
  EXPECT_EQ(::fcntl(fd, F_GETFD), FD_CLOEXEC);  // still open for the reader
  reader.reset();
  EXPECT_EQ(::fcntl(fd, F_GETFD), -1);
}

TEST(FileCacheCapacity, LeavesMostDescriptorsToConnections) {
  struct rlimit saved;
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &saved), 0);
  struct rlimit low = saved;
  low.rlim_cur = 1024;
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &low), 0);
  EXPECT_EQ(FileCache::capacityFor(4), 64u);
  EXPECT_EQ(FileCache::capacityFor(64), 16u);  // never below 16
  low.rlim_cur = std::min<rlim_t>(saved.rlim_max, 1 << 20);
  if (::setrlimit(RLIMIT_NOFILE, &low) == 0 && low.rlim_cur >= 8 * 4096) {
    EXPECT_EQ(FileCache::capacityFor(8), 1024u);  // never above 1024
  }
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &saved), 0);
}

}  // namespace
}  // namespace portcullis::net
