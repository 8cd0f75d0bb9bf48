#pragma once
// Parsers for the TLS settings of a listener: protocol version, TLS 1.2 cipher list and key
// exchange groups. Kept to what BoringSSL offers and what is safe to offer, so a config that
// loads never fails later in SSL_CTX setup for a name the library does not know. Free of
// yaml-cpp and of BoringSSL (layer rule); load_tls.cc adds the key path and position.
#include <span>
#include <string>
#include <string_view>

#include "base/result.h"

namespace portcullis::config {

// The TLS 1.2 suites accepted in `ciphers`: forward-secret (ECDHE) key exchange with an AEAD.
// CBC suites (Lucky13, BEAST), static-RSA key exchange (no forward secrecy, ROBOT) and
// 3DES/RC4 are refused; BoringSSL's own default list is this set plus those.
std::span<const std::string_view> allowedCiphers();
// The groups accepted in `curves`, by their canonical (RFC 8446 / BoringSSL) names.
std::span<const std::string_view> allowedCurves();

// "1.2" or "1.3" (also "TLSv1.2" / "TLSv1.3"), returned as "1.2" / "1.3". TLS 1.0 and 1.1 are
// refused with their own message (RFC 8996 deprecates them).
base::Result<std::string> parseTlsVersion(std::string_view text);

// A ':'-separated list of names from allowedCiphers(), no repeats. Returned unchanged.
base::Result<std::string> parseCipherList(std::string_view text);

// One name from allowedCurves(), or an OpenSSL alias (prime256v1, secp256r1, secp384r1,
// secp521r1), any case; returned as the canonical name ("P-256").
base::Result<std::string> parseCurve(std::string_view text);

}  // namespace portcullis::config
