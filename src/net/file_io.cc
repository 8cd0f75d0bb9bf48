#include "net/file_io.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <uv.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>

namespace portcullis::net {

OpenFile::~OpenFile() {
  if (fd_ >= 0) ::close(fd_);
}

namespace {

OpenResult::Kind kindOf(int err) {
  switch (err) {
    case ENOENT:
    case ENOTDIR:
    case ENAMETOOLONG:
      return OpenResult::Kind::NotFound;
    case EACCES:
    case EPERM:
    case EISDIR:
      return OpenResult::Kind::Forbidden;
    case EXDEV:  // openat2 RESOLVE_BENEATH: ".." or a symlink leads out of the root
    case ELOOP:  // a magic link, or a symlink loop
      return OpenResult::Kind::Escape;
    default:
      return OpenResult::Kind::Error;
  }
}

// Kernels without openat2 (before 5.6): open, then check where the fd really is.
bool insideRoot(int fd, const std::string& root) {
  char link[64];
  std::snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  char real[PATH_MAX];
  ssize_t n = ::readlink(link, real, sizeof real - 1);
  if (n < 0) return false;
  real[n] = 0;
  char* rroot = ::realpath(root.c_str(), nullptr);
  if (!rroot) return false;
  std::string r(rroot);
  std::free(rroot);
  if (r.size() > 1 && r.back() != '/') r += '/';
  return std::strncmp(real, r.c_str(), r.size()) == 0;
}

}  // namespace

OpenResult openUnder(const OpenRequest& req) {
  OpenResult out;
  if (req.rel.empty()) {
    out.kind = OpenResult::Kind::Forbidden;  // the root itself: a directory
    return out;
  }
  int dir = ::open(req.root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) {
    out.err = errno;
    out.kind = out.err == ENOENT ? OpenResult::Kind::NotFound : OpenResult::Kind::Error;
    return out;
  }
  // O_NONBLOCK: opening a FIFO must not wait for a writer (it is refused after fstat).
  const int flags = O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY;
  int fd = -1;
  if (req.beneath) {
    struct open_how how;
    std::memset(&how, 0, sizeof how);
    how.flags = static_cast<uint64_t>(flags);
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
    fd = static_cast<int>(::syscall(SYS_openat2, dir, req.rel.c_str(), &how, sizeof how));
    if (fd < 0 && errno == ENOSYS) {
      fd = ::openat(dir, req.rel.c_str(), flags);
      if (fd >= 0 && !insideRoot(fd, req.root)) {
        ::close(fd);
        ::close(dir);
        out.kind = OpenResult::Kind::Escape;
        return out;
      }
    }
  } else {
    fd = ::openat(dir, req.rel.c_str(), flags);
  }
  int err = errno;
  ::close(dir);
  if (fd < 0) {
    out.err = err;
    out.kind = kindOf(err);
    return out;
  }
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    out.err = errno;
    ::close(fd);
    out.kind = OpenResult::Kind::Error;
    return out;
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    out.kind = OpenResult::Kind::Forbidden;  // directories are never listed; no FIFOs, devices
    return out;
  }
  out.kind = OpenResult::Kind::File;
  out.file = std::make_shared<const OpenFile>(fd);
  out.size = static_cast<uint64_t>(st.st_size);
  out.mtime_sec = st.st_mtim.tv_sec;
  out.mtime_nsec = st.st_mtim.tv_nsec;
  return out;
}

namespace {

// One pool job; freed in its after-work callback, whether or not its owner cancelled it.
template <class Self>
struct Job : FileTask {
  uv_work_t req;
  static void afterWork(uv_work_t* r, int) {
    auto* self = static_cast<Self*>(r->data);
    if (!self->cancelled_) self->complete();
    delete self;
  }
  static void work(uv_work_t* r) { static_cast<Self*>(r->data)->run(); }
  bool submit(Loop& loop) {
    req.data = static_cast<Self*>(this);
    return uv_queue_work(loop.native(), &req, &Job::work, &Job::afterWork) == 0;
  }
};

struct OpenJob final : Job<OpenJob> {
  std::vector<OpenRequest> reqs;
  std::vector<OpenResult> results;
  std::function<void(std::vector<OpenResult>&)> done;
  void run() {
    results.clear();
    for (const auto& r : reqs) results.push_back(openUnder(r));
  }
  void complete() { done(results); }
};

struct ReadJob final : Job<ReadJob> {
  std::shared_ptr<const OpenFile> file;
  std::shared_ptr<std::vector<char>> buf;
  uint64_t offset = 0;
  size_t len = 0;
  int64_t got = 0;
  std::function<void(int64_t)> done;
  void run() {
    size_t have = 0;
    while (have < len) {
      ssize_t n = ::pread(file->fd(), buf->data() + have, len - have, static_cast<off_t>(offset + have));
      if (n < 0) {
        if (errno == EINTR) continue;
        got = -errno;
        return;
      }
      if (n == 0) break;
      have += static_cast<size_t>(n);
    }
    got = static_cast<int64_t>(have);
  }
  void complete() { done(got); }
};

}  // namespace

FileTask* openFiles(Loop& loop, std::vector<OpenRequest> reqs, std::function<void(std::vector<OpenResult>&)> done) {
  auto* job = new OpenJob;
  job->reqs = std::move(reqs);
  job->done = std::move(done);
  if (!job->submit(loop)) {
    delete job;
    return nullptr;
  }
  return job;
}

FileTask* readFile(Loop& loop, std::shared_ptr<const OpenFile> file, uint64_t offset, size_t len,
                   std::shared_ptr<std::vector<char>> buf, std::function<void(int64_t got)> done) {
  auto* job = new ReadJob;
  if (buf->size() < len) buf->resize(len);
  job->file = std::move(file);
  job->buf = std::move(buf);
  job->offset = offset;
  job->len = len;
  job->done = std::move(done);
  if (!job->submit(loop)) {
    delete job;
    return nullptr;
  }
  return job;
}

}  // namespace portcullis::net
