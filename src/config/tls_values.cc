#include "config/tls_values.h"

#include "config/values.h"

#include <algorithm>
#include <array>
#include <utility>
#include <vector>

namespace portcullis::config {
namespace {

using base::makeError;

constexpr std::array<std::string_view, 6> kCiphers = {
    "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256",
    "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-RSA-AES256-GCM-SHA384",
    "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-RSA-CHACHA20-POLY1305"};

constexpr std::array<std::string_view, 4> kCurves = {"X25519", "P-256", "P-384", "P-521"};

// OpenSSL/SEC 2 spellings people copy from other configs, and what BoringSSL calls them.
constexpr std::array<std::pair<std::string_view, std::string_view>, 4> kCurveAliases = {{
    {"prime256v1", "P-256"}, {"secp256r1", "P-256"}, {"secp384r1", "P-384"}, {"secp521r1", "P-521"}}};

}  // namespace

std::span<const std::string_view> allowedCiphers() { return kCiphers; }
std::span<const std::string_view> allowedCurves() { return kCurves; }

base::Result<std::string> parseTlsVersion(std::string_view text) {
  std::string_view v = text;
  if (v.starts_with("TLSv")) v.remove_prefix(4);
  if (v == "1.2" || v == "1.3") return std::string(v);
  if (v == "1" || v == "1.0" || v == "1.1") {
    return makeError("TLS 1.0 and 1.1 are not supported (RFC 8996); use \"1.2\" or \"1.3\", got '" +
                     std::string(text) + "'");
  }
  return makeError("expected \"1.2\" or \"1.3\", got '" + std::string(text) + "'");
}

base::Result<std::string> parseCipherList(std::string_view text) {
  if (text.empty()) return makeError("must not be empty; leave 'ciphers' out for the default");
  std::vector<std::string_view> seen;
  size_t start = 0;
  while (true) {
    size_t colon = text.find(':', start);
    std::string_view name =
        text.substr(start, colon == std::string_view::npos ? colon : colon - start);
    if (std::find(kCiphers.begin(), kCiphers.end(), name) == kCiphers.end()) {
      std::string shown = name.empty() ? "an empty name" : "'" + std::string(name) + "'";
      return makeError(shown + " is not allowed; use ':'-separated names from: " +
                       joined(kCiphers));
    }
    if (std::find(seen.begin(), seen.end(), name) != seen.end()) {
      return makeError("'" + std::string(name) + "' is listed twice");
    }
    seen.push_back(name);
    if (colon == std::string_view::npos) return std::string(text);
    start = colon + 1;
  }
}

base::Result<std::string> parseCurve(std::string_view text) {
  for (std::string_view c : kCurves) {
    if (equalsIgnoreCase(text, c)) return std::string(c);
  }
  for (auto [alias, name] : kCurveAliases) {
    if (equalsIgnoreCase(text, alias)) return std::string(name);
  }
  return makeError("'" + std::string(text) + "' is not a supported curve; use one of: " +
                   joined(kCurves));
}

}  // namespace portcullis::config
