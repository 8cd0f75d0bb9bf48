#pragma once
// An append-only line sink (the access log) that never blocks the threads producing lines.
//
// Each producer (a worker) fills its own LogBuffer, with no lock; a full buffer, or the worker's
// periodic flush, hands the whole buffer to the LogWriter under a short mutex (once per buffer,
// never per line). One writer thread does the write(2)s. What is handed over but not yet
// written is bounded (`max_queued_bytes`): when the disk is slow, full or failing, whole
// buffers are dropped and their lines counted, and traffic never waits for the disk (nginx's
// buffered access_log blocks its worker in write(2); HAProxy drops to its UDP/ring sink; this
// is the latter's trade with a file). Buffers are recycled, so a warm producer allocates nothing.
#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "base/result.h"

namespace portcullis::base {

struct LogWriterOptions {
  size_t buffer_bytes = 64 * 1024;              // one producer buffer; handed over when full
  size_t max_queued_bytes = 4 * 1024 * 1024;    // handed over, not yet written; beyond: dropped
};

class LogWriter {
 public:
  // "stdout" writes to fd 1 (never reopened or closed); anything else is a file opened
  // O_WRONLY|O_APPEND|O_CREAT|O_CLOEXEC, mode 0640, and the writer thread is started.
  static Result<std::unique_ptr<LogWriter>> open(const std::string& path,
                                                 LogWriterOptions options = {});
  ~LogWriter();  // close()
  LogWriter(const LogWriter&) = delete;
  LogWriter& operator=(const LogWriter&) = delete;

  // Thread-safe, returns at once: the writer thread reopens the path (logrotate's
  // postrotate: rename the file, then SIGUSR1). If the new open fails the old file stays in use
  // and the failure is logged. A no-op for stdout.
  void reopen();
  // Writes everything handed over so far, then stops the writer thread. Call after every
  // producer has flushed (shutdown: workers joined). Idempotent.
  void close();
  // Waits until everything handed over has been written (or dropped); false on timeout.
  // For tests and shutdown checks, not for the data path.
  bool waitIdle(std::chrono::milliseconds timeout);

  // Lines lost: dropped at hand-over (queue full) or not written because write(2) failed.
  uint64_t droppedLines() const { return dropped_lines_.load(std::memory_order_relaxed); }
  // write(2) or reopen failures (ENOSPC, EIO, ...).
  uint64_t writeErrors() const { return write_errors_.load(std::memory_order_relaxed); }
  const std::string& path() const { return path_; }
  size_t bufferBytes() const { return options_.buffer_bytes; }

  // Process-wide totals over every LogWriter (there is one, the access log): what
  // /metrics exports as portcullis_access_log_dropped_lines_total. Never reset.
  static uint64_t totalDroppedLines();
  static uint64_t totalWriteErrors();

 private:
  friend class LogBuffer;
  LogWriter(std::string path, int fd, LogWriterOptions options);
  // Takes `chunk` (whole lines) for writing, or drops it when the queue is full; either way
  // `chunk` comes back empty with buffer_bytes of capacity, recycled when possible.
  void submit(std::string& chunk);
  void run();
  void writeChunk(const std::string& chunk);
  void reopenFile();
  void dropLines(std::string_view text);
  void reportError(const char* what, int err);

  const std::string path_;
  const LogWriterOptions options_;
  const size_t max_free_;
  int fd_;  // only the writer thread touches it after open()

  std::mutex mu_;
  std::condition_variable wake_;  // writer: work, reopen or stop
  std::condition_variable idle_;  // waitIdle()
  std::vector<std::string> queue_;
  std::vector<std::string> free_;
  size_t queued_bytes_ = 0;  // in queue_ and in the batch being written
  bool writing_ = false;
  bool reopen_ = false;
  bool stopping_ = false;

  std::atomic<uint64_t> dropped_lines_{0};
  std::atomic<uint64_t> write_errors_{0};
  bool torn_ = false;  // writer thread: a failed write left half a line in the file
  std::chrono::steady_clock::time_point last_report_{};
  std::thread thread_;
};

// One producer's buffer. Not thread-safe: each worker owns one. Lines are appended whole, so
// a line never straddles two hand-overs and never interleaves with another worker's.
class LogBuffer {
 public:
  explicit LogBuffer(LogWriter& writer);
  ~LogBuffer();  // flush()
  LogBuffer(const LogBuffer&) = delete;
  LogBuffer& operator=(const LogBuffer&) = delete;

  // `line` must end with '\n'.
  void append(std::string_view line);
  // Hands over what is buffered (the worker's 1 s timer, and at exit). Cheap when empty.
  void flush();
  size_t buffered() const { return chunk_.size(); }

 private:
  LogWriter& writer_;
  std::string chunk_;
};

}  // namespace portcullis::base
