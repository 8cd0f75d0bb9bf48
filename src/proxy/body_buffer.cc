#include "proxy/body_buffer.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace portcullis::proxy {

BodyBuffer::~BodyBuffer() {
  if (fd_ >= 0) ::close(fd_);
}

void BodyBuffer::configure(uint64_t memory_limit, uint64_t file_limit, std::string temp_dir) {
  memory_limit_ = memory_limit;
  file_limit_ = file_limit;
  temp_dir_ = std::move(temp_dir);
}

base::Result<void> BodyBuffer::openFile() {
  // O_TMPFILE: an inode with no name at all (Linux >= 3.11, most local filesystems).
  fd_ = ::open(temp_dir_.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (fd_ < 0) {
    std::string path = temp_dir_ + "/portcullis-body-XXXXXX";
    fd_ = ::mkostemp(path.data(), O_CLOEXEC);
    if (fd_ < 0) return base::makeError("temporary file in " + temp_dir_ + ": " + std::strerror(errno));
    ::unlink(path.c_str());  // nameless from here on: gone when the descriptor closes
  }
  return {};
}

static base::Result<void> writeAll(int fd, const char* p, size_t n, uint64_t offset) {
  while (n > 0) {
    ssize_t w = ::pwrite(fd, p, n, static_cast<off_t>(offset));
    if (w < 0) {
      if (errno == EINTR) continue;
      return base::makeError(std::string("temporary file write: ") + std::strerror(errno));
    }
    p += w;
    n -= static_cast<size_t>(w);
    offset += static_cast<uint64_t>(w);
  }
  return {};
}

base::Result<void> BodyBuffer::append(std::string_view data) {
  if (data.empty()) return {};
  if (fd_ < 0 && memory_.size() + data.size() <= memory_limit_) {
    memory_.append(data);
    total_ += data.size();
    return {};
  }
  // Spill: everything goes to the file from now on, after what memory already held, so the
  // file stays one contiguous prefix of the body.
  if (file_bytes_ + memory_.size() + data.size() > file_limit_) {
    return base::makeError("body exceeds the buffering limit");
  }
  if (fd_ < 0) {
    if (auto r = openFile(); !r) return r;
  }
  if (!memory_.empty()) {
    if (auto r = writeAll(fd_, memory_.data(), memory_.size(), file_bytes_); !r) return r;
    file_bytes_ += memory_.size();
    memory_.clear();
    memory_read_ = 0;
  }
  if (auto r = writeAll(fd_, data.data(), data.size(), file_bytes_); !r) return r;
  file_bytes_ += data.size();
  total_ += data.size();
  return {};
}

base::Result<size_t> BodyBuffer::readInto(base::Buffer& out, size_t max) {
  size_t done = 0;
  while (done < max && consumed_ < total_) {
    if (consumed_ < file_bytes_) {
      size_t want = static_cast<size_t>(std::min<uint64_t>(max - done, file_bytes_ - consumed_));
      char* dst = out.reserveTail(want);
      ssize_t r = ::pread(fd_, dst, want, static_cast<off_t>(consumed_));
      if (r < 0) {
        if (errno == EINTR) continue;
        return base::makeError(std::string("temporary file read: ") + std::strerror(errno));
      }
      if (r == 0) return base::makeError("temporary file shorter than written");
      out.commit(static_cast<size_t>(r));
      consumed_ += static_cast<uint64_t>(r);
      done += static_cast<size_t>(r);
      continue;
    }
    size_t avail = memory_.size() - memory_read_;
    size_t n = std::min(max - done, avail);
    out.append(memory_.data() + memory_read_, n);
    memory_read_ += n;
    consumed_ += n;
    done += n;
  }
  return done;
}

void BodyBuffer::rewind() {
  consumed_ = 0;
  memory_read_ = 0;
}

void BodyBuffer::reset() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  memory_.clear();
  memory_.release();
  file_bytes_ = total_ = consumed_ = 0;
  memory_read_ = 0;
}

}  // namespace portcullis::proxy
