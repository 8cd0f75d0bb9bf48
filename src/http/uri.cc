#include "http/uri.h"

#include <array>
#include <cstdint>

#include "http/message.h"

namespace portcullis::http {
namespace {

constexpr bool isHex(char c) {
  return isDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
constexpr bool isAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// reg-name / IPv4 characters we accept: RFC 3986 "unreserved" (ALPHA DIGIT - . _ ~). The
// sub-delims and pct-encoding RFC 3986 also allows are refused (see uri.h): no DNS name uses them.
constexpr bool isRegNameChar(char c) {
  return isAlpha(c) || isDigit(c) || c == '-' || c == '.' || c == '_' || c == '~';
}
// The same predicate as a table: the Host is checked twice per request (parser, then routing or
// the redirect), and the chain of compares above cost ~10 instructions a character (callgrind:
// 130 per call for "localhost"); a look-up is 3.
constexpr auto kRegNameChar = [] {
  std::array<bool, 256> t{};
  for (int c = 0; c < 256; ++c) t[static_cast<size_t>(c)] = isRegNameChar(static_cast<char>(c));
  return t;
}();

// RFC 3986 §3.2.2 dec-octet: 0-255 without leading zeros ("010" is ambiguous: octal to some
// resolvers, decimal to others).
bool isDecOctet(std::string_view s) {
  if (s.empty() || s.size() > 3) return false;
  if (s.size() > 1 && s[0] == '0') return false;
  int v = 0;
  for (char c : s) {
    if (!isDigit(c)) return false;
    v = v * 10 + (c - '0');
  }
  return v <= 255;
}

bool isIpv4(std::string_view s) {
  for (int part = 0; part < 4; ++part) {
    size_t dot = s.find('.');
    if ((part < 3) != (dot != std::string_view::npos)) return false;
    if (!isDecOctet(s.substr(0, dot))) return false;
    if (part < 3) s.remove_prefix(dot + 1);
  }
  return true;
}

// Counts the 16-bit pieces of one side of an IPv6 address ("1:2:3"); an IPv4 tail ("1.2.3.4")
// is allowed only as the last piece of the address and counts as two. Empty input is 0 pieces.
bool countIpv6Pieces(std::string_view s, bool ipv4_tail_allowed, int& count) {
  count = 0;
  if (s.empty()) return true;
  while (true) {
    size_t colon = s.find(':');
    std::string_view piece = s.substr(0, colon);
    bool last = colon == std::string_view::npos;
    if (piece.find('.') != std::string_view::npos) {
      if (!last || !ipv4_tail_allowed || !isIpv4(piece)) return false;
      count += 2;
    } else {
      if (piece.empty() || piece.size() > 4) return false;
      for (char c : piece) {
        if (!isHex(c)) return false;
      }
      ++count;
    }
    if (last) return true;
    s.remove_prefix(colon + 1);
  }
}

// RFC 4291 §2.2 text forms: eight pieces, or fewer with exactly one "::"; optional IPv4 tail.
// Zone identifiers (RFC 6874, "%25eth0") and IPvFuture are refused: meaningless to an upstream.
bool isIpv6(std::string_view s) {
  size_t gap = s.find("::");
  int left = 0;
  int right = 0;
  if (gap == std::string_view::npos) return countIpv6Pieces(s, true, left) && left == 8;
  if (s.find("::", gap + 1) != std::string_view::npos) return false;  // also rejects ":::"
  return countIpv6Pieces(s.substr(0, gap), false, left) &&
         countIpv6Pieces(s.substr(gap + 2), true, right) && left + right <= 7;
}

bool isPort(std::string_view s) {
  uint32_t v = 0;
  for (char c : s) {
    if (!isDigit(c)) return false;
    v = v * 10 + static_cast<uint32_t>(c - '0');
    if (v > 65535) return false;  // checked per digit, so a 40-digit port cannot overflow
  }
  return true;
}

}  // namespace

std::optional<Authority> parseAuthority(std::string_view value) {
  Authority a;
  std::string_view rest;
  if (!value.empty() && value.front() == '[') {
    size_t close = value.find(']');
    if (close == std::string_view::npos || !isIpv6(value.substr(1, close - 1))) return std::nullopt;
    a.host = value.substr(0, close + 1);
    a.ipv6 = true;
    rest = value.substr(close + 1);
  } else {
    // One pass: the name runs to the first byte that is not a name character; only ':' (the
    // port) or the end may stop it.
    size_t n = 0;
    while (n < value.size() && kRegNameChar[static_cast<unsigned char>(value[n])]) ++n;
    if (n == 0 || (n < value.size() && value[n] != ':')) return std::nullopt;
    a.host = value.substr(0, n);
    rest = value.substr(n);
  }
  if (rest.empty()) return a;
  // Only ":" port may follow the host; a second ':' (unbracketed IPv6) lands here as a non-digit.
  if (rest.front() != ':' || !isPort(rest.substr(1))) return std::nullopt;
  a.port = rest.substr(1);
  return a;
}

}  // namespace portcullis::http
