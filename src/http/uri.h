#pragma once
// Authority (Host header) validation, RFC 9110 §7.2 + RFC 3986 §3.2.2.
#include <optional>
#include <string_view>

namespace portcullis::http {

struct Authority {
  std::string_view host;  // reg-name or IPv4 as sent, or an IPv6 literal WITH its brackets
  std::string_view port;  // digits only, empty if absent
  bool ipv6 = false;
};

// Returns nullopt for anything that is not a valid authority without userinfo: empty host,
// bad characters, an unbracketed IPv6, a port with non-digits or > 65535, "host:" with an empty
// port is accepted as no port (RFC 3986 allows it). reg-name allows unreserved / pct-encoded /
// sub-delims per RFC 3986, but this proxy additionally rejects '%', '!', '$', '&', '\'', '(', ')',
// '*', '+', ',', ';', '=' in host names because no DNS name contains them and they only serve to
// confuse Location and routing.
std::optional<Authority> parseAuthority(std::string_view value);

}  // namespace portcullis::http
