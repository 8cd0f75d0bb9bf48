#include "net/file_cache.h"

#include <sys/resource.h>

#include <algorithm>
#include <thread>

namespace portcullis::net {

const OpenResult* FileCache::find(const std::string& key, uint64_t now_ms) {
  auto it = map_.find(key);
  if (it == map_.end()) {
    ++misses_;
    return nullptr;
  }
  if (now_ms >= it->second->expires_ms) {
    lru_.erase(it->second);
    map_.erase(it);
    ++misses_;
    return nullptr;
  }
  lru_.splice(lru_.begin(), lru_, it->second);
  ++hits_;
  return &it->second->result;
}

void FileCache::put(const std::string& key, const OpenResult& r, uint64_t now_ms) {
  if (r.kind == OpenResult::Kind::Error || capacity_ == 0) return;
  if (auto it = map_.find(key); it != map_.end()) {
    it->second->result = r;
    it->second->expires_ms = now_ms + valid_ms_;
    lru_.splice(lru_.begin(), lru_, it->second);
    return;
  }
  while (map_.size() >= capacity_) {
    map_.erase(std::string_view(lru_.back().key));
    lru_.pop_back();
  }
  lru_.push_front(Entry{key, r, now_ms + valid_ms_});
  map_.emplace(std::string_view(lru_.front().key), lru_.begin());
}

size_t FileCache::capacityFor(unsigned workers) {
  if (workers == 0) workers = std::max(1u, std::thread::hardware_concurrency());
  struct rlimit rl;
  uint64_t fds = 1024;
  if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) fds = rl.rlim_cur;
  else if (::getrlimit(RLIMIT_NOFILE, &rl) == 0) fds = 1u << 20;
  return static_cast<size_t>(std::clamp<uint64_t>(fds / 4 / workers, 16, 1024));
}

void FileCache::clear() {
  map_.clear();
  lru_.clear();
}

}  // namespace portcullis::net
