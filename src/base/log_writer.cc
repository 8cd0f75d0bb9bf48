#include "base/log_writer.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "base/log.h"

namespace portcullis::base {
namespace {

std::atomic<uint64_t> g_dropped_lines{0};
std::atomic<uint64_t> g_write_errors{0};

constexpr std::string_view kStdout = "stdout";
// A failing disk fails every write: one message a minute says so without flooding stderr.
constexpr std::chrono::seconds kReportEvery{60};
// A non-blocking fd 1 (inherited from a parent) that stays full this long drops the chunk
// rather than holding the queue forever.
constexpr int kPollMs = 1000;

int openFile(const std::string& path) {
  // O_NONBLOCK only for the open itself: a FIFO without a reader then fails (ENXIO) instead of
  // hanging the start. Writes block, which is fine: only the writer thread makes them.
  int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NONBLOCK, 0640);
  if (fd < 0) return -1;
  int flags = ::fcntl(fd, F_GETFL);
  if (flags >= 0) ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
  return fd;
}

size_t countLines(std::string_view text) {
  return static_cast<size_t>(std::count(text.begin(), text.end(), '\n'));
}

}  // namespace

Result<std::unique_ptr<LogWriter>> LogWriter::open(const std::string& path,
                                                   LogWriterOptions options) {
  int fd = 1;
  if (path != kStdout) {
    fd = openFile(path);
    if (fd < 0) return makeError(path + ": cannot open: " + std::strerror(errno));
  }
  options.buffer_bytes = std::max<size_t>(options.buffer_bytes, 256);
  options.max_queued_bytes = std::max(options.max_queued_bytes, options.buffer_bytes);
  return std::unique_ptr<LogWriter>(new LogWriter(path, fd, options));
}

LogWriter::LogWriter(std::string path, int fd, LogWriterOptions options)
    : path_(std::move(path)),
      options_(options),
      // Enough recycled buffers to refill a full queue, plus one per producer or so.
      max_free_(options.max_queued_bytes / options.buffer_bytes + 8),
      fd_(fd) {
  thread_ = std::thread([this] { run(); });
}

LogWriter::~LogWriter() {
  close();
  if (fd_ > 2) ::close(fd_);
}

uint64_t LogWriter::totalDroppedLines() { return g_dropped_lines.load(std::memory_order_relaxed); }
uint64_t LogWriter::totalWriteErrors() { return g_write_errors.load(std::memory_order_relaxed); }

void LogWriter::reopen() {
  if (path_ == kStdout) return;
  {
    std::lock_guard lk(mu_);
    reopen_ = true;
  }
  wake_.notify_one();
}

void LogWriter::close() {
  {
    std::lock_guard lk(mu_);
    stopping_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
}

bool LogWriter::waitIdle(std::chrono::milliseconds timeout) {
  std::unique_lock lk(mu_);
  return idle_.wait_for(lk, timeout, [this] { return queue_.empty() && !writing_ && !reopen_; });
}

void LogWriter::submit(std::string& chunk) {
  if (chunk.empty()) return;
  const size_t n = chunk.size();
  bool recycled = false;
  {
    std::unique_lock lk(mu_);
    if (stopping_ || queued_bytes_ + n > options_.max_queued_bytes) {
      lk.unlock();
      dropLines(chunk);
      chunk.clear();  // keeps its capacity: the producer refills the same buffer
      return;
    }
    queued_bytes_ += n;
    queue_.push_back(std::move(chunk));
    if (!free_.empty()) {
      chunk = std::move(free_.back());
      free_.pop_back();
      recycled = true;
    }
  }
  wake_.notify_one();
  if (!recycled) {
    // Only while warming up (or after a burst beyond max_free_): outside the lock.
    chunk = std::string();
    chunk.reserve(options_.buffer_bytes);
  }
}

void LogWriter::dropLines(std::string_view text) {
  size_t lines = countLines(text);
  dropped_lines_.fetch_add(lines, std::memory_order_relaxed);
  g_dropped_lines.fetch_add(lines, std::memory_order_relaxed);
}

void LogWriter::reportError(const char* what, int err) {
  write_errors_.fetch_add(1, std::memory_order_relaxed);
  g_write_errors.fetch_add(1, std::memory_order_relaxed);
  auto now = std::chrono::steady_clock::now();
  const bool reported = last_report_ != std::chrono::steady_clock::time_point{};
  if (reported && now - last_report_ < kReportEvery) return;
  last_report_ = now;
  log::error("access log ", path_, ": ", what, ": ", std::strerror(err), " (", droppedLines(),
             " lines dropped so far)");
}

void LogWriter::run() {
  // Signals belong to the main thread's sigwait. Blocked here, a SIGPIPE from writing to a
  // FIFO whose reader left stays pending on this thread and write(2) returns EPIPE instead.
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, nullptr);

  std::vector<std::string> batch;
  std::unique_lock lk(mu_);
  for (;;) {
    wake_.wait(lk, [this] { return !queue_.empty() || reopen_ || stopping_; });
    // Taken now: a SIGUSR1 that arrives while this batch is written gets a reopen of its own.
    const bool reopen = std::exchange(reopen_, false);
    batch.swap(queue_);  // both keep their capacity: no allocation once warm
    writing_ = true;
    lk.unlock();

    if (reopen) reopenFile();
    size_t written = 0;
    for (const std::string& c : batch) {
      writeChunk(c);
      written += c.size();
    }

    lk.lock();
    queued_bytes_ -= written;
    for (std::string& c : batch) {
      c.clear();
      if (free_.size() < max_free_) free_.push_back(std::move(c));
    }
    batch.clear();
    writing_ = false;
    idle_.notify_all();
    if (stopping_ && queue_.empty()) break;
  }
}

void LogWriter::reopenFile() {
  int fd = openFile(path_);
  if (fd < 0) {
    // The old file is better than nothing: keep writing there until a reopen works.
    reportError("reopen failed", errno);
    return;
  }
  if (fd_ > 2) ::close(fd_);
  fd_ = fd;
  torn_ = false;
}

void LogWriter::writeChunk(const std::string& chunk) {
  std::string_view rest = chunk;
  // After a failed write left half a line, end it first so the next line starts clean.
  std::string_view pending = torn_ ? std::string_view("\n") : std::string_view();
  while (!pending.empty() || !rest.empty()) {
    std::string_view& cur = pending.empty() ? rest : pending;
    ssize_t n = ::write(fd_, cur.data(), cur.size());
    if (n > 0) {
      cur.remove_prefix(static_cast<size_t>(n));
      if (&cur == &pending && pending.empty()) torn_ = false;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      pollfd p{fd_, POLLOUT, 0};
      if (::poll(&p, 1, kPollMs) > 0) continue;
      errno = EAGAIN;
    }
    int err = n < 0 ? errno : EIO;
    // The line cut by the failure counts as dropped: its newline never made it.
    const size_t done = chunk.size() - rest.size();
    if (&cur == &rest && done > 0 && chunk[done - 1] != '\n') torn_ = true;
    dropLines(rest);
    reportError("write failed", err);
    return;
  }
}

LogBuffer::LogBuffer(LogWriter& writer) : writer_(writer) { chunk_.reserve(writer.bufferBytes()); }

LogBuffer::~LogBuffer() { flush(); }

void LogBuffer::append(std::string_view line) {
  const size_t cap = writer_.bufferBytes();
  if (chunk_.size() + line.size() > cap) flush();
  chunk_.append(line);  // a line longer than the buffer grows it: rare, and still one piece
  if (chunk_.size() >= cap) flush();
}

void LogBuffer::flush() {
  if (!chunk_.empty()) writer_.submit(chunk_);
}

}  // namespace portcullis::base
