#pragma once
// The access log: one line per request, formatted on the worker that served it from its
// RequestRecord, into that worker's LogBuffer (base/log_writer.h: written off the loop, never
// blocking it). Two formats:
//
//  - json: one object per line, every field always present (null when unknown), so a line
//    parses into the same schema whatever happened to the request. The fields are documented in
//    README.md ("Access log"). Strings are valid UTF-8: bytes that are not are replaced by
//    U+FFFD, control characters are written \u00XX.
//  - combined: exactly nginx's `combined` (Apache's with %b), so GoAccess, AWStats and the
//    like read it unchanged:
//      client_ip - - [03/Dec/2026:14:00:00 +0000] "GET /a?b=1 HTTP/1.1" 200 1234 "referer" "agent"
//    Times are UTC (+0000). The size is bytes_out: the whole response as sent, head included
//    (nginx's $bytes_sent; the record does not split head from body). Empty fields are "-";
//    '"', '\' and bytes outside printable ASCII are written \xHH, as nginx escapes them.
//
// Once warm, formatting a line allocates nothing: the line is built in a reused string and the
// time text is rebuilt once per second.
#include <cstdint>
#include <ctime>
#include <string>
#include <string_view>

#include "base/log_writer.h"
#include "config/model.h"
#include "proxy/request_record.h"

namespace portcullis::proxy {

class AccessLog final : public RequestObserver {
 public:
  // `writer` is the process's one sink, shared by every worker's AccessLog; it must outlive it.
  AccessLog(base::LogWriter& writer, config::AccessLogFormat format);
  ~AccessLog();  // hands over what is still buffered

  void onRequestDone(const RequestRecord& r) override;
  bool readsText() const override { return true; }
  // Hands the buffered lines to the writer: the worker calls it every second (so a quiet
  // proxy's lines reach the file within a second or so) and once more when its loop ends.
  void flush() { buffer_.flush(); }

  // The line for `r` (with its '\n'), valid until the next call. For tests.
  std::string_view format(const RequestRecord& r);

 private:
  void json(const RequestRecord& r);
  void combined(const RequestRecord& r);
  // Rebuilds the cached time texts when the second changes.
  void updateTime(int64_t unix_us);

  base::LogBuffer buffer_;
  const config::AccessLogFormat format_;
  std::string line_;
  int64_t cached_second_ = INT64_MIN;
  char iso_[20] = {};       // "2026-12-03T14:00:00"
  char clf_[27] = {};       // "03/Dec/2026:14:00:00 +0000"
};

}  // namespace portcullis::proxy
