#pragma once
// Parsers for the scalar values of the YAML schema: durations, sizes, integers, addresses, route
// host patterns and path prefixes. Free of yaml-cpp so each rule is tested on its own; load.cc
// puts the key path and file:line:col in front. Messages describe the value only, e.g.
// "expected a duration such as 10s or 500ms, got 'soon'".
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/result.h"

namespace portcullis::config {

// Above this a duration is a unit mistake ("10000m"), and honouring it would hold a connection
// or a shutdown for days.
inline constexpr std::chrono::hours kMaxDuration{24};

struct HostPort {
  std::string host;  // without brackets for IPv6
  uint16_t port = 0;
};

// "1500ms", "10s", "2m", "1h"; a bare integer means seconds. Must be > 0 and <= kMaxDuration.
base::Result<std::chrono::milliseconds> parseDuration(std::string_view text);

// "8k", "32KiB", "100m", "1g" (binary multiples, suffix case-insensitive); a bare integer is bytes.
base::Result<uint64_t> parseSize(std::string_view text);

// Decimal digits only (no sign, spaces, 0x or exponent), within [min, max].
base::Result<uint64_t> parseInteger(std::string_view text, uint64_t min, uint64_t max);

// A listener address: "IPv4:port" or "[IPv6]:port", literal addresses only (a listener binds,
// it does not resolve), port 0..65535 (0 = ephemeral, for tests).
base::Result<HostPort> parseListenAddress(std::string_view text);

// An upstream server: "host:port" with host a DNS name, an IPv4 literal or "[IPv6]"; the port is
// required (no scheme to imply one) and 1..65535.
base::Result<HostPort> parseHostPort(std::string_view text);

// A route host: "example.com" or "*.example.com" (one or more labels), no port. Returned
// lower-cased because Host matching is case-insensitive (RFC 9110 §4.2.3).
base::Result<std::string> parseHostPattern(std::string_view text);

// A route path prefix: starts with '/', no whitespace, control characters, '?' or '#'.
base::Result<std::string> parsePathPrefix(std::string_view text);

// Listener and upstream names: [A-Za-z0-9_.-]+, since they appear in logs and metric labels.
bool isValidName(std::string_view name);

}  // namespace portcullis::config
