#pragma once
// A body held by the proxy: in memory up to a limit, then in a temporary file.
//
// Why: gunicorn's sync workers handle one request at a time, so the proxy must take a slow
// client's upload whole before it occupies a worker, and take a response as fast as the app
// produces it so the worker frees while a slow client downloads (DESIGN §6). Memory stays
// bounded per request; the rest goes to disk, as nginx's client_body_temp / proxy_temp.
//
// The file is created with O_TMPFILE (or mkstemp + unlink at once), so it has no name and
// disappears with its descriptor: nothing outlives the request, even after a crash. Disk I/O is
// synchronous on the worker's loop, as in nginx without aio: page-cache writes of 64 KiB
// chunks are fast, and a proxy that needs to spill is already off its fast path.
#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/buffer.h"
#include "base/result.h"

namespace portcullis::proxy {

class BodyBuffer {
 public:
  BodyBuffer() = default;
  ~BodyBuffer();
  BodyBuffer(const BodyBuffer&) = delete;
  BodyBuffer& operator=(const BodyBuffer&) = delete;

  // `memory_limit`: bytes kept in memory before spilling; `file_limit`: most bytes spilled
  // (0 = no file: append fails past memory); `temp_dir`: where the unnamed file lives.
  void configure(uint64_t memory_limit, uint64_t file_limit, std::string temp_dir);

  // Error = past limit() or the disk failed: a request answers 500, a response falls back to
  // streaming (the session checks limit() first, so for it only a disk error gets here).
  base::Result<void> append(std::string_view data);
  // Copies up to `max` unread bytes to the end of `out`; returns how many. Reads the oldest
  // bytes first (memory holds the tail once a file exists: file bytes come first).
  base::Result<size_t> readInto(base::Buffer& out, size_t max);

  uint64_t size() const { return total_ - consumed_; }   // unread bytes
  uint64_t total() const { return total_; }              // bytes ever appended
  // The most bytes append() takes in all: the memory limit, or once spilled the file limit
  // (the file then holds what memory held too). reset() starts the count again.
  uint64_t limit() const { return std::max(memory_limit_, file_limit_); }
  bool empty() const { return size() == 0; }
  bool spilled() const { return fd_ >= 0; }
  // Rewinds to the first byte (to replay a buffered request body on a retry).
  void rewind();
  // Drops everything, closes the file; configuration is kept.
  void reset();

 private:
  base::Result<void> openFile();

  base::Buffer memory_;       // bytes after file_bytes_ (or all of them when no file)
  uint64_t memory_limit_ = 64 * 1024;
  uint64_t file_limit_ = 0;
  std::string temp_dir_ = "/tmp";
  int fd_ = -1;
  uint64_t file_bytes_ = 0;   // bytes in the file (they precede memory_)
  uint64_t total_ = 0;
  uint64_t consumed_ = 0;     // bytes read so far (file first, then memory)
  size_t memory_read_ = 0;    // offset of the next unread byte in memory_
};

}  // namespace portcullis::proxy
