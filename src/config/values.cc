#include "config/values.h"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <limits>
#include <tuple>

namespace portcullis::config {
namespace {

using base::makeError;

std::string quoted(std::string_view text) { return "'" + std::string(text) + "'"; }

bool isDigit(char c) { return c >= '0' && c <= '9'; }
bool allDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), isDigit);
}

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }
std::string lowered(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), lower);
  return out;
}

// from_chars on digits only; false on overflow.
bool toU64(std::string_view digits, uint64_t& out) {
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), out);
  return ec == std::errc() && end == digits.data() + digits.size();
}

size_t leadingDigits(std::string_view s) {
  size_t n = 0;
  while (n < s.size() && isDigit(s[n])) ++n;
  return n;
}

// inet_pton is the same parser the server binds with, so what passes here binds there.
bool isIPv4(const std::string& s) {
  in_addr a{};
  return inet_pton(AF_INET, s.c_str(), &a) == 1;
}
bool isIPv6(const std::string& s) {
  in6_addr a{};
  return inet_pton(AF_INET6, s.c_str(), &a) == 1;
}

// RFC 1123 host name: labels of 1..63 letters, digits and '-', not starting or ending with '-',
// 253 characters in all. '_' is accepted too: container and service names use it and resolvers
// return them.
bool isDnsName(std::string_view s) {
  if (s.empty() || s.size() > 253) return false;
  size_t start = 0;
  while (true) {
    size_t dot = s.find('.', start);
    std::string_view label = s.substr(start, dot == std::string_view::npos ? dot : dot - start);
    if (label.empty() || label.size() > 63) return false;
    if (label.front() == '-' || label.back() == '-') return false;
    for (char c : label) {
      bool ok = isDigit(c) || (lower(c) >= 'a' && lower(c) <= 'z') || c == '-' || c == '_';
      if (!ok) return false;
    }
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

// Digits and dots only, yet not a valid IPv4 ("300.1.1.1", "10.0.1"): a typo, never a name
// (getaddrinfo would read "10.0.1" as 10.0.0.1, which is not what anyone meant).
bool looksNumeric(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return isDigit(c) || c == '.'; });
}

// Splits "host:port" / "[v6]:port". `shape` is the example used in messages.
struct Split {
  std::string host;
  std::string_view port;
  bool bracketed = false;
};
base::Result<Split> splitHostPort(std::string_view text, std::string_view shape) {
  std::string expected = "expected " + std::string(shape);
  if (text.empty()) return makeError(expected + ", got ''");
  Split out;
  if (text.front() == '[') {
    size_t close = text.find(']');
    if (close == std::string_view::npos) return makeError(expected + ", got " + quoted(text));
    out.host = std::string(text.substr(1, close - 1));
    out.bracketed = true;
    if (!isIPv6(out.host)) return makeError(quoted(out.host) + " is not an IPv6 address");
    std::string_view rest = text.substr(close + 1);
    if (rest.empty()) return makeError(quoted(text) + " has no port; " + expected);
    if (rest.front() != ':') return makeError(expected + ", got " + quoted(text));
    out.port = rest.substr(1);
  } else {
    size_t colons = static_cast<size_t>(std::count(text.begin(), text.end(), ':'));
    if (colons > 1) {
      return makeError("IPv6 addresses must be in brackets, as in [::1]:443; got " + quoted(text));
    }
    if (colons == 0) return makeError(quoted(text) + " has no port; " + expected);
    size_t colon = text.find(':');
    out.host = std::string(text.substr(0, colon));
    out.port = text.substr(colon + 1);
    if (out.host.empty()) return makeError(quoted(text) + " has no host; " + expected);
  }
  if (out.port.empty()) return makeError(quoted(text) + " has no port; " + expected);
  return out;
}

base::Result<uint16_t> parsePort(std::string_view port, uint64_t min) {
  uint64_t n = 0;
  if (!allDigits(port)) return makeError("port " + quoted(port) + " is not a number");
  if (!toU64(port, n) || n < min || n > 65535) {
    return makeError("port " + std::string(port) + " is out of range " + std::to_string(min) +
                     "..65535");
  }
  return static_cast<uint16_t>(n);
}

}  // namespace

base::Result<std::chrono::milliseconds> parseDuration(std::string_view text,
                                                      DurationRange range) {
  auto malformed = [&] {
    return makeError("expected a duration such as 10s or 500ms, got " + quoted(text));
  };
  size_t digits = leadingDigits(text);
  if (digits == 0) return malformed();
  std::string_view unit = text.substr(digits);
  uint64_t unit_ms = 0;
  if (unit.empty() || unit == "s") {
    unit_ms = 1000;  // a bare number is seconds, as in nginx
  } else if (unit == "ms") {
    unit_ms = 1;
  } else if (unit == "m") {
    unit_ms = 60'000;
  } else if (unit == "h") {
    unit_ms = 3'600'000;
  } else if (unit == "d") {
    unit_ms = 86'400'000;  // for the keys that go past a day (ticket_lifetime, hsts.max_age)
  } else {
    return malformed();
  }
  const auto max_ms = static_cast<uint64_t>(range.max.count());
  uint64_t n = 0;
  // Compare before multiplying so "99999999999999h" cannot wrap into a small value.
  if (!toU64(text.substr(0, digits), n) || n > max_ms / unit_ms) {
    return makeError(quoted(text) + " is longer than the maximum of " + formatDuration(range.max));
  }
  std::chrono::milliseconds d(static_cast<int64_t>(n * unit_ms));
  if (n == 0 && range.min.count() > 0) {
    return makeError("must be greater than 0, got " + quoted(text));
  }
  if (d < range.min) {
    return makeError("must be at least " + formatDuration(range.min) + ", got " + quoted(text));
  }
  return d;
}

std::string formatDuration(std::chrono::milliseconds d) {
  const int64_t ms = d.count();
  if (ms == 0) return "0s";
  constexpr int64_t kDay = 86'400'000;
  // "24h" rather than "1d": the general cap reads better in hours.
  if (ms % kDay == 0 && ms > kDay) return std::to_string(ms / kDay) + "d";
  if (ms % 3'600'000 == 0) return std::to_string(ms / 3'600'000) + "h";
  if (ms % 60'000 == 0) return std::to_string(ms / 60'000) + "m";
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

base::Result<bool> parseBool(std::string_view text) {
  if (text == "true" || text == "True" || text == "TRUE") return true;
  if (text == "false" || text == "False" || text == "FALSE") return false;
  return makeError("expected true or false, got " + quoted(text));
}

base::Result<double> parseRatio(std::string_view text) {
  // digits ['.' digits]: from_chars alone would also take "nan", "inf" and "1e-1".
  size_t whole = leadingDigits(text);
  bool shaped = whole > 0;
  if (shaped && whole < text.size()) {
    shaped = text[whole] == '.' && whole + 1 < text.size() &&
             leadingDigits(text.substr(whole + 1)) == text.size() - whole - 1;
  }
  double v = -1;
  if (shaped) {
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    shaped = ec == std::errc() && end == text.data() + text.size();
  }
  if (!shaped || v < 0 || v > 1) {
    return makeError("expected a number from 0 to 1 such as 0.2, got " + quoted(text));
  }
  return v;
}

base::Result<uint64_t> parseSize(std::string_view text) {
  size_t digits = leadingDigits(text);
  std::string unit = lowered(text.substr(digits));
  if (digits > 0 && (unit == "kb" || unit == "mb" || unit == "gb")) {
    // "MB" means 10^6 to some and 2^20 to others; make the user say which we use.
    std::string n(text.substr(0, digits));
    char u = unit.front();
    return makeError(quoted(text) + " is ambiguous; sizes are binary multiples: write " + n + u +
                     " or " + n + static_cast<char>(u - 'a' + 'A') + "iB");
  }
  unsigned shift = 0;
  if (unit.empty()) {
    shift = 0;
  } else if (unit == "k" || unit == "kib") {
    shift = 10;
  } else if (unit == "m" || unit == "mib") {
    shift = 20;
  } else if (unit == "g" || unit == "gib") {
    shift = 30;
  } else {
    digits = 0;  // falls into the malformed message below
  }
  if (digits == 0) {
    return makeError("expected a size such as 8k, 32KiB or 100m, got " + quoted(text));
  }
  uint64_t n = 0;
  if (!toU64(text.substr(0, digits), n) || n > (std::numeric_limits<uint64_t>::max() >> shift)) {
    return makeError(quoted(text) + " is too large");
  }
  return n << shift;
}

base::Result<uint64_t> parseInteger(std::string_view text, uint64_t min, uint64_t max) {
  uint64_t n = 0;
  if (allDigits(text) && toU64(text, n) && n >= min && n <= max) return n;
  std::string range = max == std::numeric_limits<uint64_t>::max()
                          ? ">= " + std::to_string(min)
                          : "in " + std::to_string(min) + ".." + std::to_string(max);
  return makeError("expected an integer " + range + ", got " + quoted(text));
}

base::Result<HostPort> parseListenAddress(std::string_view text) {
  auto split = splitHostPort(text, "IPv4:port or [IPv6]:port, such as 0.0.0.0:443 or [::]:443");
  if (!split) return split.error();
  if (!split->bracketed && !isIPv4(split->host)) {
    return makeError(quoted(split->host) +
                     " is not an IP address: a listener binds to a literal address such as "
                     "0.0.0.0, 127.0.0.1 or [::]");
  }
  auto port = parsePort(split->port, 0);
  if (!port) return port.error();
  return HostPort{std::move(split->host), *port};
}

base::Result<HostPort> parseHostPort(std::string_view text) {
  auto split = splitHostPort(text, "host:port, such as 127.0.0.1:8000 or app.internal:8000");
  if (!split) return split.error();
  const std::string& host = split->host;
  if (!split->bracketed && !isIPv4(host)) {
    if (looksNumeric(host)) return makeError(quoted(host) + " is not a valid IPv4 address");
    if (!isDnsName(host)) return makeError(quoted(host) + " is not a valid host name");
  }
  auto port = parsePort(split->port, 1);
  if (!port) return port.error();
  return HostPort{std::move(split->host), *port};
}

base::Result<std::string> parseHostPattern(std::string_view text) {
  std::string host = lowered(text);
  if (host.empty()) return makeError("must not be empty; leave 'host' out to match any host");
  if (host.front() == '[') {
    // Host: [::1] is how a client names an IPv6 literal (RFC 3986 §3.2.2).
    if (host.back() == ']' && isIPv6(host.substr(1, host.size() - 2))) return host;
    return makeError(quoted(text) + " is not a valid host name or [IPv6] address");
  }
  if (host.find(':') != std::string::npos) {
    return makeError(quoted(text) +
                     " must not include a port: a route matches the Host name whatever the port");
  }
  std::string_view name = host;
  if (name.starts_with("*.")) name.remove_prefix(2);
  if (name.find('*') != std::string_view::npos) {
    return makeError(quoted(text) +
                     " is not a valid pattern: '*' may only be the whole first label, as in "
                     "*.example.com");
  }
  if (!isDnsName(name) || (looksNumeric(name) && !isIPv4(std::string(name)))) {
    return makeError(quoted(text) + " is not a valid host name");
  }
  return host;
}

base::Result<std::string> parsePathPrefix(std::string_view text) {
  if (text.empty() || text.front() != '/') {
    return makeError("must start with '/', got " + quoted(text));
  }
  for (char c : text) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f) {
      return makeError("must not contain spaces or control characters, got " + quoted(text));
    }
    if (c == '?' || c == '#') {
      return makeError(
          "must not contain '?' or '#' (a route matches the path, not the query), got " +
          quoted(text));
    }
  }
  return std::string(text);
}

bool isToken(std::string_view text) {
  static constexpr std::string_view kSymbols = "!#$%&'*+-.^_`|~";
  return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
    return isDigit(c) || (lower(c) >= 'a' && lower(c) <= 'z') ||
           kSymbols.find(c) != std::string_view::npos;
  });
}

base::Result<std::string> parseToken(std::string_view text, std::string_view what) {
  if (isToken(text)) return std::string(text);
  return makeError(quoted(text) + " is not a valid " + std::string(what) +
                   " (letters, digits and !#$%&'*+-.^_`|~ only)");
}

base::Result<std::string> parseServerName(std::string_view text) {
  std::string name = lowered(text);
  if (isIPv4(name) || isIPv6(name) || (name.starts_with('[') && name.ends_with(']'))) {
    return makeError(quoted(text) + " is an IP address; SNI carries host names only (RFC 6066)");
  }
  if (!isDnsName(name) || looksNumeric(name)) {
    return makeError(quoted(text) + " is not a valid host name");
  }
  return name;
}

base::Result<std::string> parseHostHeader(std::string_view text) {
  std::string host = lowered(text);
  auto invalid = [&] { return makeError(quoted(text) + " is not a valid host or host:port"); };
  std::string_view port;
  std::string name;
  if (host.starts_with('[')) {
    size_t close = host.find(']');
    if (close == std::string::npos || !isIPv6(host.substr(1, close - 1))) return invalid();
    std::string_view rest = std::string_view(host).substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return invalid();
      port = rest.substr(1);
    }
  } else {
    size_t colon = host.find(':');
    if (colon != std::string::npos && host.find(':', colon + 1) != std::string::npos) {
      return makeError("IPv6 addresses must be in brackets, as in [::1]:8000; got " + quoted(text));
    }
    name = host.substr(0, colon);
    if (colon != std::string::npos) port = std::string_view(host).substr(colon + 1);
    bool ok = isIPv4(name) || (isDnsName(name) && !looksNumeric(name));
    if (!ok) return invalid();
  }
  if (port.data() != nullptr || host.ends_with(':')) {
    auto p = parsePort(port, 1);
    if (!p) return p.error();
  }
  return host;
}

base::Result<std::string> parseRequestPath(std::string_view text) {
  if (text.empty() || text.front() != '/') {
    return makeError("must start with '/', got " + quoted(text));
  }
  for (char c : text) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f || c == '#') {
      return makeError("must not contain spaces, control characters or '#', got " + quoted(text));
    }
  }
  return std::string(text);
}

base::Result<HashKey> parseHashKey(std::string_view text) {
  if (text == "client_ip") return HashKey{HashKeyKind::ClientIp, ""};
  for (auto [prefix, kind, what] : {std::tuple{"header:", HashKeyKind::Header, "header name"},
                                    std::tuple{"cookie:", HashKeyKind::Cookie, "cookie name"}}) {
    std::string_view p(prefix);
    if (!text.starts_with(p)) continue;
    std::string_view name = text.substr(p.size());
    if (name.empty()) {
      return makeError(quoted(text) + " needs a name, as in " + std::string(p) +
                       (kind == HashKeyKind::Header ? "X-User" : "sessionid"));
    }
    auto token = parseToken(name, what);
    if (!token) return token.error();
    return HashKey{kind, std::move(token).value()};
  }
  return makeError("expected client_ip, header:NAME or cookie:NAME, got " + quoted(text));
}

base::Result<std::pair<int, int>> parseStatusRange(std::string_view text) {
  auto malformed = [&] {
    return makeError("expected a status such as 204 or a range such as 200-399, within 100..599, "
                     "got " + quoted(text));
  };
  size_t dash = text.find('-');
  std::string_view first = text.substr(0, dash);
  std::string_view last = dash == std::string_view::npos ? first : text.substr(dash + 1);
  uint64_t a = 0;
  uint64_t b = 0;
  if (!allDigits(first) || !allDigits(last) || !toU64(first, a) || !toU64(last, b) || a < 100 ||
      a > 599 || b < 100 || b > 599) {
    return malformed();
  }
  if (a > b) {
    return makeError(quoted(text) + " is backwards; write " + std::string(last) + "-" +
                     std::string(first));
  }
  return std::pair<int, int>(static_cast<int>(a), static_cast<int>(b));
}

bool isValidName(std::string_view name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return isDigit(c) || (lower(c) >= 'a' && lower(c) <= 'z') || c == '_' || c == '.' || c == '-';
  });
}

std::string joined(std::span<const std::string_view> names) {
  std::string out;
  for (std::string_view n : names) out += (out.empty() ? "" : ", ") + std::string(n);
  return out;
}

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return lower(x) == lower(y); });
}

std::string formatHostPort(std::string_view host, uint16_t port) {
  std::string h(host);
  if (h.find(':') != std::string::npos) h = "[" + h + "]";
  return h + ":" + std::to_string(port);
}

}  // namespace portcullis::config
