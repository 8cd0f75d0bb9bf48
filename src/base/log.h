#pragma once
// Minimal leveled logging to stderr. Each line is formatted into one buffer and written with a
// single write(2), so lines from different workers never interleave and no lock is taken.
#include <sstream>
#include <string>
#include <string_view>

namespace portcullis::base::log {

enum class Level { Debug = 0, Info = 1, Warn = 2, Error = 3 };

void setLevel(Level level);
Level level();
void write(Level level, std::string_view line);

template <class... Args>
void emit(Level lv, const Args&... args) {
  if (lv < level()) return;
  std::ostringstream os;
  (os << ... << args);
  write(lv, os.str());
}
template <class... Args> void debug(const Args&... a) { emit(Level::Debug, a...); }
template <class... Args> void info(const Args&... a) { emit(Level::Info, a...); }
template <class... Args> void warn(const Args&... a) { emit(Level::Warn, a...); }
template <class... Args> void error(const Args&... a) { emit(Level::Error, a...); }

}  // namespace portcullis::base::log
