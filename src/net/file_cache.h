#pragma once
// The open-file cache of one worker (nginx's open_file_cache): what opening a name found (an open
// fd with its size and mtime, or "not found", "forbidden"), kept for a short time so a hot
// static file costs no open/fstat syscall per request. After `valid_ms` an entry is stale and
// the next request opens the name again: a file replaced on disk is seen within that window.
// Bounded (least recently used entries go first); an evicted fd closes once the last request
// reading it lets go (OpenResult::file is shared). One per worker thread: no locks.
#include <cstdint>
#include <list>
#include <string>
#include <string_view>
#include <unordered_map>

#include "net/file_io.h"

namespace portcullis::net {

class FileCache {
 public:
  explicit FileCache(size_t capacity = 1024, uint64_t valid_ms = 2000) : capacity_(capacity), valid_ms_(valid_ms) {}
  // A capacity that leaves most descriptors to connections: each of `workers` caches at most a
  // quarter of RLIMIT_NOFILE's soft limit divided among them, between 16 and 1024 (with the
  // common soft limit of 1024 and 4 workers: 64 files each).
  static size_t capacityFor(unsigned workers);

  // The entry for `key` if fresh at `now_ms`, else null (a stale entry is dropped).
  const OpenResult* find(const std::string& key, uint64_t now_ms);
  // Transient errors (Kind::Error) are not kept.
  void put(const std::string& key, const OpenResult& r, uint64_t now_ms);
  void clear();
  size_t size() const { return map_.size(); }
  uint64_t hits() const { return hits_; }
  uint64_t misses() const { return misses_; }

 private:
  struct Entry {
    std::string key;
    OpenResult result;
    uint64_t expires_ms;
  };
  size_t capacity_;
  uint64_t valid_ms_;
  std::list<Entry> lru_;  // most recent first
  std::unordered_map<std::string_view, std::list<Entry>::iterator> map_;  // views into lru_ keys
  uint64_t hits_ = 0;
  uint64_t misses_ = 0;
};

}  // namespace portcullis::net
