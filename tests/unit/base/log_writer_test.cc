#include "base/log_writer.h"
#include "../support/temp_dir.h"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace portcullis::base {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

using testing_support::readAll;
using testing_support::TempDir;

std::vector<std::string> linesOf(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

std::unique_ptr<LogWriter> mustOpen(const std::string& path, LogWriterOptions o = {}) {
  auto w = LogWriter::open(path, o);
  if (!w) {
    ADD_FAILURE() << w.error().message;
    return nullptr;
  }
  return std::move(w).value();
}

TEST(LogWriter, LinesFromSeveralThreadsAllArriveWhole) {
  TempDir dir;
  LogWriterOptions o;
  o.buffer_bytes = 4096;                // many hand-overs
  o.max_queued_bytes = 256 * 1024 * 1024;  // nothing dropped: this test is about integrity
  auto w = mustOpen(dir.file("access.log"), o);
  ASSERT_TRUE(w);
  constexpr int kThreads = 4;
  constexpr int kLines = 20'000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&w, t] {
      LogBuffer buf(*w);
      for (int i = 0; i < kLines; ++i) {
        // Lengths vary so lines fall across buffer boundaries at every offset.
        std::string line = "t" + std::to_string(t) + " n" + std::to_string(i) + " " +
                           std::string(static_cast<size_t>(i % 97), static_cast<char>('a' + t)) +
                           " end\n";
        buf.append(line);
      }
    });
  }
  for (auto& th : threads) th.join();  // each LogBuffer flushed on destruction
  ASSERT_TRUE(w->waitIdle(10s));
  EXPECT_EQ(w->droppedLines(), 0u);
  std::vector<std::string> lines = linesOf(readAll(dir.file("access.log")));
  ASSERT_EQ(lines.size(), static_cast<size_t>(kThreads * kLines));
  std::set<std::pair<int, int>> seen;
  for (const std::string& l : lines) {
    int t = -1, i = -1;
    ASSERT_EQ(std::sscanf(l.c_str(), "t%d n%d", &t, &i), 2) << l;
    std::string expected = "t" + std::to_string(t) + " n" + std::to_string(i) + " " +
                           std::string(static_cast<size_t>(i % 97), static_cast<char>('a' + t)) +
                           " end";
    ASSERT_EQ(l, expected) << "interleaved or torn line";
    seen.emplace(t, i);
  }
  EXPECT_EQ(seen.size(), static_cast<size_t>(kThreads * kLines)) << "a line arrived twice";
}

TEST(LogWriter, CloseWritesEverythingHandedOver) {
  TempDir dir;
  LogWriterOptions o;
  o.buffer_bytes = 256;  // many small hand-overs, so close() comes while some are still queued
  o.max_queued_bytes = 64 * 1024 * 1024;
  auto w = mustOpen(dir.file("a.log"), o);
  ASSERT_TRUE(w);
  constexpr int kLines = 100'000;
  {
    LogBuffer buf(*w);
    for (int i = 0; i < kLines; ++i) buf.append("line " + std::to_string(i) + "\n");
  }
  w->close();  // no waitIdle: close itself must drain the queue
  std::vector<std::string> lines = linesOf(readAll(dir.file("a.log")));
  ASSERT_EQ(lines.size(), static_cast<size_t>(kLines));
  EXPECT_EQ(lines.back(), "line " + std::to_string(kLines - 1));
}

// A slow reader (a FIFO read only after close() has begun) holds the writer thread in write(2)
// while more buffers wait in the queue: close() must still write every one of them.
TEST(LogWriter, CloseWritesWhatIsQueuedBehindASlowWrite) {
  TempDir dir;
  const std::string fifo = dir.file("fifo");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  int reader = ::open(fifo.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  ASSERT_GE(reader, 0);
  LogWriterOptions o;
  o.buffer_bytes = 4096;
  o.max_queued_bytes = 16 * 1024 * 1024;
  auto w = mustOpen(fifo, o);
  ASSERT_TRUE(w);
  constexpr int kLines = 20'000;  // ~1 MB: far more than the pipe holds
  {
    LogBuffer buf(*w);
    for (int i = 0; i < kLines; ++i) buf.append("line " + std::to_string(i) + " of the log\n");
  }
  std::string got;
  std::thread drain([&] {
    std::this_thread::sleep_for(100ms);  // let close() start while the writer is stuck
    ::fcntl(reader, F_SETFL, ::fcntl(reader, F_GETFL) & ~O_NONBLOCK);
    char b[65536];
    for (ssize_t n; (n = ::read(reader, b, sizeof b)) != 0;) {
      if (n > 0) got.append(b, static_cast<size_t>(n));
    }
  });
  w->close();
  w.reset();  // closes the FIFO: the reader sees EOF
  drain.join();
  ::close(reader);
  EXPECT_EQ(linesOf(got).size(), static_cast<size_t>(kLines));
}

TEST(LogWriter, UnflushedLinesStayInTheBufferUntilFlush) {
  TempDir dir;
  auto w = mustOpen(dir.file("a.log"));
  ASSERT_TRUE(w);
  LogBuffer buf(*w);
  buf.append("one\n");
  ASSERT_TRUE(w->waitIdle(5s));
  EXPECT_EQ(readAll(dir.file("a.log")), "");
  buf.flush();
  ASSERT_TRUE(w->waitIdle(5s));
  EXPECT_EQ(readAll(dir.file("a.log")), "one\n");
}

TEST(LogWriter, ReopenAfterRenameWritesToTheNewFile) {
  TempDir dir;
  const std::string path = dir.file("access.log");
  auto w = mustOpen(path);
  ASSERT_TRUE(w);
  LogBuffer buf(*w);
  buf.append("before\n");
  buf.flush();
  ASSERT_TRUE(w->waitIdle(5s));
  ASSERT_EQ(::rename(path.c_str(), (path + ".1").c_str()), 0);
  w->reopen();
  ASSERT_TRUE(w->waitIdle(5s));
  buf.append("after\n");
  buf.flush();
  ASSERT_TRUE(w->waitIdle(5s));
  EXPECT_EQ(readAll(path + ".1"), "before\n");
  EXPECT_EQ(readAll(path), "after\n");
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  mode_t mask = ::umask(0);
  ::umask(mask);
  EXPECT_EQ(st.st_mode & 0777, 0640u & ~mask);
}

TEST(LogWriter, FailedReopenKeepsTheOldFile) {
  TempDir dir;
  const std::string sub = dir.file("logs");
  ASSERT_EQ(::mkdir(sub.c_str(), 0755), 0);
  const std::string path = sub + "/access.log";
  auto w = mustOpen(path);
  ASSERT_TRUE(w);
  ASSERT_EQ(::rename(sub.c_str(), dir.file("moved").c_str()), 0);  // the path cannot be opened now
  w->reopen();
  ASSERT_TRUE(w->waitIdle(5s));
  EXPECT_EQ(w->writeErrors(), 1u);
  LogBuffer buf(*w);
  buf.append("still here\n");
  buf.flush();
  ASSERT_TRUE(w->waitIdle(5s));
  EXPECT_EQ(readAll(dir.file("moved/access.log")), "still here\n");
  EXPECT_EQ(w->droppedLines(), 0u);
}

TEST(LogWriter, FullDiskDropsAndCountsWithoutWaiting) {
  auto w = mustOpen("/dev/full");
  ASSERT_TRUE(w);
  const uint64_t total_before = LogWriter::totalDroppedLines();
  LogBuffer buf(*w);
  const auto start = Clock::now();
  for (int i = 0; i < 100; ++i) buf.append("a line that will not fit\n");
  buf.flush();
  EXPECT_LT(Clock::now() - start, 500ms);
  ASSERT_TRUE(w->waitIdle(5s));
  EXPECT_EQ(w->droppedLines(), 100u);
  EXPECT_GE(w->writeErrors(), 1u);
  EXPECT_EQ(LogWriter::totalDroppedLines() - total_before, 100u);
  EXPECT_GE(LogWriter::totalWriteErrors(), 1u);
}

// A FIFO whose reader never reads: the writer thread blocks in write(2) once the pipe is full.
// The producer must go on at full speed, dropping whole buffers and counting their lines.
TEST(LogWriter, StalledWriterNeverBlocksTheProducer) {
  TempDir dir;
  const std::string fifo = dir.file("fifo");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  int reader = ::open(fifo.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  ASSERT_GE(reader, 0);
  LogWriterOptions o;
  o.buffer_bytes = 16 * 1024;
  o.max_queued_bytes = 256 * 1024;
  auto w = mustOpen(fifo, o);
  ASSERT_TRUE(w);
  const std::string line(99, 'x');
  const std::string with_nl = line + "\n";
  constexpr int kLines = 200'000;  // 20 MB: far beyond the pipe plus the queue
  {
    LogBuffer buf(*w);
    const auto start = Clock::now();
    for (int i = 0; i < kLines; ++i) buf.append(with_nl);
    buf.flush();
    EXPECT_LT(Clock::now() - start, 3s) << "the producer waited for the writer";
  }
  EXPECT_GT(w->droppedLines(), static_cast<uint64_t>(kLines) / 2);
  // The reader leaves: the blocked write fails (EPIPE, not a SIGPIPE death) and close() ends.
  ::close(reader);
  w->close();
  EXPECT_GE(w->writeErrors(), 1u);
}

TEST(LogWriter, FifoWithoutReaderFailsToOpenInsteadOfHanging) {
  TempDir dir;
  const std::string fifo = dir.file("fifo");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  auto w = LogWriter::open(fifo);
  ASSERT_FALSE(w);
  EXPECT_NE(w.error().message.find("cannot open"), std::string::npos) << w.error().message;
}

TEST(LogWriter, UnopenablePathIsAnErrorNamingIt) {
  auto w = LogWriter::open("/nonexistent-dir/access.log");
  ASSERT_FALSE(w);
  EXPECT_EQ(w.error().message,
            "/nonexistent-dir/access.log: cannot open: No such file or directory");
}

}  // namespace
}  // namespace portcullis::base
