#pragma once
// Parsers for the scalar values of the YAML schema: durations, sizes, integers, booleans, ratios,
// addresses, host patterns, paths, header tokens, hash keys and status ranges (TLS names are in
// tls_values.h). Free of yaml-cpp so each rule is tested on its own; the loader
// puts the key path and file:line:col in front. Messages describe the value only, e.g.
// "expected a duration such as 10s or 500ms, got 'soon'".
#include <chrono>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "base/result.h"
#include "config/model.h"

namespace portcullis::config {

// Above this a duration is a unit mistake ("10000m"), and honouring it would hold a connection
// or a shutdown for days.
inline constexpr std::chrono::hours kMaxDuration{24};

struct HostPort {
  std::string host;  // without brackets for IPv6
  uint16_t port = 0;
};

// The accepted range of one duration key. Most keys take (0, 24h]; a few allow 0 ("off") or a
// longer maximum (ticket_lifetime: 7d, hsts.max_age: 730d).
struct DurationRange {
  std::chrono::milliseconds min{1};  // 0 accepts "0" / "0s"
  std::chrono::milliseconds max = kMaxDuration;
};

// "1500ms", "10s", "2m", "1h", "7d"; a bare integer means seconds. Within `range`.
base::Result<std::chrono::milliseconds> parseDuration(std::string_view text,
                                                      DurationRange range = {});
// The shortest exact spelling in the units above ("24h", "7d", "90s"), for messages.
std::string formatDuration(std::chrono::milliseconds d);

// "true" or "false" (also True/TRUE/False/FALSE, YAML 1.2's core schema); not yes/no/on/off.
base::Result<bool> parseBool(std::string_view text);

// A decimal number in [0, 1] such as "0.2", "1" or "0.05" (no sign, exponent, "nan" or "%").
base::Result<double> parseRatio(std::string_view text);

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

// An RFC 9110 §5.6.2 token: header names, methods and (RFC 6265 §4.1.1) cookie names.
bool isToken(std::string_view text);
// A header name to send or match; `what` names it in the message ("header name").
base::Result<std::string> parseToken(std::string_view text, std::string_view what);

// A TLS server name (SNI): a DNS name, lower-cased. RFC 6066 §3 forbids IP literals there.
base::Result<std::string> parseServerName(std::string_view text);

// A Host header value: "name", "name:port", "IPv4[:port]" or "[IPv6][:port]".
base::Result<std::string> parseHostHeader(std::string_view text);

// A request path for a probe: starts with '/', may carry a query, no spaces, controls or '#'.
base::Result<std::string> parseRequestPath(std::string_view text);

// "client_ip", "header:NAME" or "cookie:NAME" (NAME a token).
struct HashKey {
  HashKeyKind kind = HashKeyKind::ClientIp;
  std::string name;
};
base::Result<HashKey> parseHashKey(std::string_view text);

// An HTTP status "204" or an inclusive range "200-399", each 100..599.
base::Result<std::pair<int, int>> parseStatusRange(std::string_view text);

// Small text helpers shared by the loaders, validation and the server's messages.
// "a, b, c", for "expected one of: ..." messages.
std::string joined(std::span<const std::string_view> names);
// ASCII case-insensitive (header names, curve names).
bool equalsIgnoreCase(std::string_view a, std::string_view b);
// "host:port", with an IPv6 host in brackets: "[::1]:8443".
std::string formatHostPort(std::string_view host, uint16_t port);

}  // namespace portcullis::config
