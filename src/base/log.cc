#include "base/log.h"

#include <unistd.h>

#include <atomic>
#include <ctime>

namespace portcullis::base::log {
namespace {
std::atomic<Level> g_level{Level::Info};
const char* name(Level l) {
  switch (l) {
    case Level::Debug: return "debug";
    case Level::Info: return "info";
    case Level::Warn: return "warn";
    case Level::Error: return "error";
  }
  return "?";
}
}  // namespace

void setLevel(Level l) { g_level.store(l, std::memory_order_relaxed); }
Level level() { return g_level.load(std::memory_order_relaxed); }

void write(Level l, std::string_view msg) {
  char stamp[32];
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  size_t n = std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);
  std::string line;
  line.reserve(n + msg.size() + 16);
  line.append(stamp, n).append(" [").append(name(l)).append("] ").append(msg).push_back('\n');
  ssize_t off = 0;
  while (off < static_cast<ssize_t>(line.size())) {
    ssize_t w = ::write(2, line.data() + off, line.size() - off);
    if (w <= 0) break;
    off += w;
  }
}

}  // namespace portcullis::base::log
