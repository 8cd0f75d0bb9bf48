#pragma once
// File I/O off the event loop: opening (with fstat) and pread run on libuv's thread pool and
// complete on the loop that asked. Used for static files; the loop never blocks on a disk.
//
// Cancellation: each call returns a FileTask the owner may cancel() until its callback ran.
// After cancel() the callback is never called; the task frees itself (and whatever it holds:
// the read buffer, its reference to the file) when the worker thread is done with it. So an
// owner torn down mid-read cancels its task and forgets it.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "net/loop.h"

namespace portcullis::net {

// An open regular file, shared by every request reading it (pread with offsets: no shared
// position). Closed when the last reference goes.
class OpenFile {
 public:
  explicit OpenFile(int fd) : fd_(fd) {}
  ~OpenFile();
  OpenFile(const OpenFile&) = delete;
  OpenFile& operator=(const OpenFile&) = delete;
  int fd() const { return fd_; }

 private:
  int fd_;
};

// What opening a name under a root found.
struct OpenResult {
  enum class Kind : uint8_t {
    File,       // a regular file: `file` and the facts are set
    NotFound,   // ENOENT, ENOTDIR (or an empty name)
    Forbidden,  // EACCES/EPERM, a directory, a FIFO/device/socket
    Escape,     // the name resolves outside the root (a symlink, EXDEV/ELOOP from openat2)
    Error,      // anything else (errno in `err`)
  };
  Kind kind = Kind::NotFound;
  int err = 0;
  std::shared_ptr<const OpenFile> file;
  uint64_t size = 0;
  int64_t mtime_sec = 0;
  int64_t mtime_nsec = 0;
};

// One name to open: `rel` under `root` (rel has no leading '/' and was checked: no "..", no
// NUL). `beneath`: resolution may not leave root, symlinks included (openat2 with
// RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS); false: plain openat, symlinks followed anywhere.
struct OpenRequest {
  std::string root;
  std::string rel;
  bool beneath = true;
};

class FileTask {
 public:
  // No callback after this. Safe to call only before the callback ran.
  void cancel() { cancelled_ = true; }

 protected:
  FileTask() = default;
  ~FileTask() = default;
  bool cancelled_ = false;
};

// Synchronous open (what the thread pool runs): for tests and the work function.
OpenResult openUnder(const OpenRequest& req);

// Opens every name of `reqs` (one pool job), results in the same order.
FileTask* openFiles(Loop& loop, std::vector<OpenRequest> reqs,
                    std::function<void(std::vector<OpenResult>&)> done);

// Reads up to `len` bytes at `offset` into `buf` (resized to len; kept alive by the task until
// the worker is done with it, even after a cancel). `got` < 0: -errno; fewer than asked: the
// file is shorter than that now (0 at its end).
FileTask* readFile(Loop& loop, std::shared_ptr<const OpenFile> file, uint64_t offset, size_t len,
                   std::shared_ptr<std::vector<char>> buf, std::function<void(int64_t got)> done);

}  // namespace portcullis::net
