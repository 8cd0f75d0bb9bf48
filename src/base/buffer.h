#pragma once
// A contiguous byte buffer with a read cursor, used for connection input and output.
//
// Why contiguous rather than a chain of slices: the HTTP/1 parser hands out string_views into
// the request head, which must therefore sit in one piece; heads are bounded by
// limits.header_bytes, so the buffer never grows past that plus one read. Consumed bytes are
// reclaimed by sliding the unread tail to the front only when the front gap is larger than the
// tail, so the memmove costs at most as much as the bytes already processed (amortised O(1)).
//
// Ownership: the buffer owns its bytes. Views from data()/view() are valid until the next
// call to any non-const member.
#include <cstddef>
#include <cstring>
#include <string_view>
#include <utility>

#include "base/page_pool.h"

namespace portcullis::base {

class Buffer {
 public:
  Buffer() = default;
  explicit Buffer(size_t capacity) { reserveTail(capacity); }
  ~Buffer() { page_pool::deallocate(data_, cap_); }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  Buffer(Buffer&& o) noexcept { swap(o); }
  Buffer& operator=(Buffer&& o) noexcept {
    if (this != &o) { Buffer tmp(std::move(o)); swap(tmp); }
    return *this;
  }
  void swap(Buffer& o) noexcept {
    std::swap(data_, o.data_);
    std::swap(cap_, o.cap_);
    std::swap(begin_, o.begin_);
    std::swap(end_, o.end_);
  }

  // Unread bytes.
  const char* data() const { return data_ + begin_; }
  char* data() { return data_ + begin_; }
  size_t size() const { return end_ - begin_; }
  bool empty() const { return begin_ == end_; }
  std::string_view view() const { return {data(), size()}; }
  size_t capacity() const { return cap_; }

  // Marks n unread bytes as processed.
  void consume(size_t n) {
    begin_ += n;
    if (begin_ == end_) begin_ = end_ = 0;
  }
  void clear() { begin_ = end_ = 0; }

  // Returns writable space of at least `min` bytes at the tail (for a socket read or an
  // encoder); call commit(n) with what was actually written.
  char* reserveTail(size_t min) {
    if (cap_ - end_ >= min) return data_ + end_;
    size_t unread = end_ - begin_;
    if (begin_ > 0 && cap_ - unread >= min && begin_ >= unread) {
      std::memmove(data_, data_ + begin_, unread);
      begin_ = 0;
      end_ = unread;
      return data_ + end_;
    }
    size_t want = cap_ ? cap_ : page_pool::kMinBlock;  // the pool takes kMinBlock * 2^k
    while (want - unread < min) want *= 2;
    char* fresh = static_cast<char*>(page_pool::allocate(want));
    if (unread) std::memcpy(fresh, data_ + begin_, unread);
    page_pool::deallocate(data_, cap_);
    data_ = fresh;
    cap_ = want;
    begin_ = 0;
    end_ = unread;
    return data_ + end_;
  }
  size_t tailRoom() const { return cap_ - end_; }
  char* tail() { return data_ + end_; }
  void commit(size_t n) { end_ += n; }

  void append(const void* p, size_t n) {
    if (n == 0) return;
    std::memcpy(reserveTail(n), p, n);
    end_ += n;
  }
  void append(std::string_view s) { append(s.data(), s.size()); }

  // Gives memory back when a connection goes idle: a keep-alive connection with nothing
  // buffered should cost nothing but its struct (issue 5: memory per idle connection).
  void release() {
    if (begin_ == end_) {
      page_pool::deallocate(data_, cap_);
      data_ = nullptr;
      cap_ = begin_ = end_ = 0;
    }
  }

 private:
  char* data_ = nullptr;
  size_t cap_ = 0;
  size_t begin_ = 0;
  size_t end_ = 0;
};

}  // namespace portcullis::base
