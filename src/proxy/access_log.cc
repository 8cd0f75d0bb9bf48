#include "proxy/access_log.h"

#include <charconv>
#include <cstdio>

#include "proxy/worker_context.h"

namespace portcullis::proxy {
namespace {

constexpr char kHex[] = "0123456789abcdef";
constexpr char kHexUpper[] = "0123456789ABCDEF";
constexpr std::string_view kReplacement = "\\ufffd";

void appendUnsigned(std::string& out, uint64_t v) {
  char buf[24];
  auto res = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, static_cast<size_t>(res.ptr - buf));
}

// Microseconds as milliseconds with three decimals: 1234 -> "1.234". Exact (no double).
void appendMillis(std::string& out, uint64_t us) {
  appendUnsigned(out, us / 1000);
  unsigned frac = static_cast<unsigned>(us % 1000);
  const char digits[4] = {'.', static_cast<char>('0' + frac / 100),
                          static_cast<char>('0' + frac / 10 % 10),
                          static_cast<char>('0' + frac % 10)};
  out.append(digits, 4);
}

// The record marks "never happened" with a negative value; the log says null.
void appendCountOrNull(std::string& out, int64_t v) {
  if (v < 0) out.append("null");
  else appendUnsigned(out, static_cast<uint64_t>(v));
}

void appendMillisOrNull(std::string& out, int64_t us) {
  if (us < 0) out.append("null");
  else appendMillis(out, static_cast<uint64_t>(us));
}

// Length of the well-formed UTF-8 sequence at s[i] (RFC 3629: no overlongs, no surrogates,
// nothing above U+10FFFF), or 0 if the byte there does not start one.
size_t utf8Length(std::string_view s, size_t i) {
  auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  auto cont = [&](size_t k) { return k < s.size() && (byte(k) & 0xC0) == 0x80; };
  unsigned char c = byte(i);
  if (c >= 0xC2 && c <= 0xDF) return cont(i + 1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    if (!cont(i + 1) || !cont(i + 2)) return 0;
    unsigned char c1 = byte(i + 1);
    if (c == 0xE0 && c1 < 0xA0) return 0;  // overlong
    if (c == 0xED && c1 > 0x9F) return 0;  // UTF-16 surrogate
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (!cont(i + 1) || !cont(i + 2) || !cont(i + 3)) return 0;
    unsigned char c1 = byte(i + 1);
    if (c == 0xF0 && c1 < 0x90) return 0;  // overlong
    if (c == 0xF4 && c1 > 0x8F) return 0;  // above U+10FFFF
    return 4;
  }
  return 0;
}

// Appends the run of printable ASCII other than '"' and '\\' that starts at `i` in one go (the
// bytes both formats pass through unchanged); returns where it ends.
size_t appendPlainRun(std::string& out, std::string_view s, size_t i) {
  size_t run = i;
  while (run < s.size()) {
    auto c = static_cast<unsigned char>(s[run]);
    if (c < 0x20 || c == '"' || c == '\\' || c >= 0x7F) break;
    ++run;
  }
  out.append(s.data() + i, run - i);
  return run;
}

// A JSON string, quotes included.
void appendJsonString(std::string& out, std::string_view s) {
  out.push_back('"');
  size_t i = 0;
  while (i < s.size()) {
    i = appendPlainRun(out, s, i);
    if (i == s.size()) break;
    auto c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\') {
      const char esc[2] = {'\\', static_cast<char>(c)};
      out.append(esc, 2);
      ++i;
    } else if (c < 0x20 || c == 0x7F) {
      const char esc[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 15]};
      out.append(esc, 6);
      ++i;
    } else if (size_t n = utf8Length(s, i)) {
      out.append(s.data() + i, n);
      i += n;
    } else {
      out.append(kReplacement);
      ++i;
    }
  }
  out.push_back('"');
}

void appendJsonStringOrNull(std::string& out, std::string_view s) {
  if (s.empty()) {
    out.append("null");
  } else {
    appendJsonString(out, s);
  }
}

// nginx's default log escaping: '"', '\' and bytes outside 0x20..0x7E as \xHH; empty as "-".
void appendClf(std::string& out, std::string_view s) {
  if (s.empty()) {
    out.push_back('-');
    return;
  }
  size_t i = 0;
  while (i < s.size()) {
    i = appendPlainRun(out, s, i);
    if (i == s.size()) break;
    auto c = static_cast<unsigned char>(s[i]);
    const char esc[4] = {'\\', 'x', kHexUpper[c >> 4], kHexUpper[c & 15]};
    out.append(esc, 4);
    ++i;
  }
}

// "key": with the comma before every key but the first.
void key(std::string& out, std::string_view k) {
  if (out.size() > 1) out.push_back(',');
  out.push_back('"');
  out.append(k);
  out.append("\":");
}

void appendTwo(char* p, int v) {
  p[0] = static_cast<char>('0' + v / 10 % 10);
  p[1] = static_cast<char>('0' + v % 10);
}

}  // namespace

AccessLog::AccessLog(base::LogWriter& writer, config::AccessLogFormat format)
    : buffer_(writer), format_(format) {
  line_.reserve(1024);
}

AccessLog::~AccessLog() { buffer_.flush(); }

void AccessLog::onRequestDone(const RequestRecord& r) { buffer_.append(format(r)); }

std::string_view AccessLog::format(const RequestRecord& r) {
  line_.clear();
  updateTime(r.start_unix_us);
  if (format_ == config::AccessLogFormat::Combined) {
    combined(r);
  } else {
    json(r);
  }
  line_.push_back('\n');
  return line_;
}

void AccessLog::updateTime(int64_t unix_us) {
  // Floor division: a time before 1970 (a broken clock) still gets a consistent second.
  int64_t sec = unix_us >= 0 ? unix_us / 1'000'000 : -((-unix_us + 999'999) / 1'000'000);
  if (sec == cached_second_) return;
  cached_second_ = sec;
  std::time_t t = static_cast<std::time_t>(sec);
  std::tm tm{};
  gmtime_r(&t, &tm);
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  int year = tm.tm_year + 1900;
  std::snprintf(iso_, sizeof iso_, "%04d-", year % 10000);
  appendTwo(iso_ + 5, tm.tm_mon + 1);
  iso_[7] = '-';
  appendTwo(iso_ + 8, tm.tm_mday);
  iso_[10] = 'T';
  appendTwo(iso_ + 11, tm.tm_hour);
  iso_[13] = ':';
  appendTwo(iso_ + 14, tm.tm_min);
  iso_[16] = ':';
  appendTwo(iso_ + 17, tm.tm_sec);
  std::snprintf(clf_, sizeof clf_, "%02d/%s/%04d:%02d:%02d:%02d +0000", tm.tm_mday,
                kMonths[tm.tm_mon], year % 10000, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

void AccessLog::json(const RequestRecord& r) {
  std::string& o = line_;
  o.push_back('{');
  key(o, "time");
  o.push_back('"');
  o.append(iso_, 19);
  {
    int64_t us = r.start_unix_us;
    auto ms = static_cast<int>(((us % 1'000'000) + 1'000'000) % 1'000'000 / 1000);
    const char frac[5] = {'.', static_cast<char>('0' + ms / 100),
                          static_cast<char>('0' + ms / 10 % 10), static_cast<char>('0' + ms % 10),
                          'Z'};
    o.append(frac, 5);
  }
  o.push_back('"');
  key(o, "listener");
  appendJsonStringOrNull(o, r.listener ? std::string_view(r.listener->name) : std::string_view());
  key(o, "connection_id");
  appendUnsigned(o, r.connection_id);
  key(o, "client_ip");
  appendJsonStringOrNull(o, r.client_ip);
  key(o, "client_port");
  appendUnsigned(o, r.client_port);
  key(o, "request_id");
  appendJsonStringOrNull(o, r.request_id);

  key(o, "method");
  appendJsonStringOrNull(o, r.method);
  std::string_view target = r.target;
  size_t q = target.find('?');
  key(o, "path");
  appendJsonStringOrNull(o, target.substr(0, q));
  key(o, "query");
  if (q == std::string_view::npos) {
    o.append("null");
  } else {
    appendJsonString(o, target.substr(q + 1));  // "" for a bare '?'
  }
  key(o, "protocol");
  appendJsonStringOrNull(o, r.protocol);
  key(o, "host");
  appendJsonStringOrNull(o, r.host);
  key(o, "user_agent");
  appendJsonStringOrNull(o, r.user_agent);
  key(o, "referer");
  appendJsonStringOrNull(o, r.referer);

  key(o, "status");
  appendCountOrNull(o, r.status > 0 ? r.status : -1);
  key(o, "bytes_in");
  appendUnsigned(o, r.bytes_in);
  key(o, "bytes_out");
  appendUnsigned(o, r.bytes_out);
  key(o, "duration_ms");
  appendMillis(o, r.duration_us);
  key(o, "upstream_connect_ms");
  appendMillisOrNull(o, r.upstream_connect_us);
  key(o, "upstream_first_byte_ms");
  appendMillisOrNull(o, r.upstream_first_byte_us);

  key(o, "route");
  appendCountOrNull(o, r.route);
  key(o, "cluster");
  appendJsonStringOrNull(o, r.cluster_name);
  key(o, "upstream_host");
  appendJsonStringOrNull(o, r.upstream_host);
  key(o, "attempts");
  appendUnsigned(o, r.attempts);
  key(o, "retries");
  appendUnsigned(o, r.retries);
  key(o, "queued");
  o.append(r.queued ? "true" : "false");
  key(o, "error");
  appendJsonStringOrNull(o, r.has_error ? errorName(r.error) : std::string_view());

  const base::TlsInfo* tls = r.tls;
  key(o, "tls_version");
  appendJsonStringOrNull(o, tls ? tls->version : std::string_view());
  key(o, "tls_cipher");
  appendJsonStringOrNull(o, tls ? tls->cipher : std::string_view());
  key(o, "sni");
  appendJsonStringOrNull(o, tls ? std::string_view(tls->sni) : std::string_view());
  key(o, "tls_resumed");
  o.append(!tls ? "null" : tls->resumed ? "true" : "false");
  o.push_back('}');
}

void AccessLog::combined(const RequestRecord& r) {
  std::string& o = line_;
  appendClf(o, r.client_ip);
  o.append(" - - [");
  o.append(clf_, 26);
  o.append("] \"");
  // $request: the request line as sent; "-" when the head never completed.
  if (r.method.empty()) {
    o.push_back('-');
  } else {
    appendClf(o, r.method);
    o.push_back(' ');
    appendClf(o, r.target);
    if (!r.protocol.empty()) {
      o.push_back(' ');
      appendClf(o, r.protocol);
    }
  }
  o.append("\" ");
  appendUnsigned(o, static_cast<uint64_t>(r.status > 0 ? r.status : 0));
  o.push_back(' ');
  appendUnsigned(o, r.bytes_out);
  o.append(" \"");
  appendClf(o, r.referer);
  o.append("\" \"");
  appendClf(o, r.user_agent);
  o.push_back('"');
}

}  // namespace portcullis::proxy
