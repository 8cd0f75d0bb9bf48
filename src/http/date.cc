#include "http/date.h"

#include <ctime>

namespace portcullis::http {

std::string_view httpDateNow() {
  thread_local std::time_t cached_second = -1;
  thread_local char buf[32];
  thread_local size_t len = 0;
  std::time_t now = std::time(nullptr);
  if (now != cached_second) {
    std::tm tm{};
    gmtime_r(&now, &tm);
    len = std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);  // C locale names
    cached_second = now;
  }
  return {buf, len};
}

}  // namespace portcullis::http
