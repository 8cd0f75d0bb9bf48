// A listener's `tls` section: certificates, protocol settings, session tickets, client
// certificates.
#include <algorithm>
#include <array>
#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "config/load_internal.h"
#include "config/tls_values.h"
#include "config/values.h"

namespace portcullis::config::internal {
namespace {

constexpr std::array<std::string_view, 12> kTlsKeys = {
    "certificate",       "key",           "certificates",        "min_version",
    "ciphers",           "curves",        "handshake_timeout",   "session_tickets",
    "ticket_key_rotation", "ticket_lifetime", "ticket_key_file", "client_auth"};
constexpr std::array<std::string_view, 2> kCertificateKeys = {"certificate", "key"};
constexpr std::array<std::string_view, 4> kClientAuthKeys = {"mode", "ca", "subject_header",
                                                             "fingerprint_header"};

// RFC 8446 §4.6.1: a ticket lifetime above 604800 s (7 days) MUST NOT be used.
constexpr DurationRange kTicketLifetime{milliseconds(1), 7 * kDay};
// Rotating more often than a minute buys nothing and makes most resumptions miss.
constexpr DurationRange kTicketRotation{std::chrono::minutes(1), kMaxDuration};

}  // namespace

TlsFiles Loader::tlsFiles(const Value& v) const {
  TlsFiles t;
  t.mark = markOf(where(v));
  std::vector<Entry> entries = mapEntries(v, kTlsKeys);
  const Entry* list = find(entries, "certificates");
  const Entry* single = find(entries, "certificate");
  if (!single) single = find(entries, "key");
  if (list && single) {
    failAt(list->key_mark, v.path + ": has both '" + single->key +
                               "' and 'certificates'; use one pair or the list");
  }
  if (list) {
    std::vector<Value> items = listItems(list->value);
    if (items.empty()) fail(list->value, "at least one certificate is required");
    for (const Value& item : items) {
      std::vector<Entry> pair = mapEntries(item, kCertificateKeys);
      CertificateFiles c = certificatePair(item, pair);
      for (size_t i = 0; i < t.certificates.size(); ++i) {
        if (t.certificates[i].certificate == c.certificate) {
          fail(find(pair, "certificate")->value,
               "same file as " + list->value.path + "[" + std::to_string(i) + "]");
        }
      }
      t.certificates.push_back(std::move(c));
    }
  } else {
    if (!find(entries, "certificate")) {
      fail(v, "missing required key 'certificate' (or a 'certificates' list)");
    }
    t.certificates.push_back(certificatePair(v, entries));
  }

  for (const Entry& e : entries) {
    const Value& val = e.value;
    if (e.key == "min_version") {
      t.min_version = check(val, parseTlsVersion(scalar(val, "a TLS version such as \"1.2\"")));
    } else if (e.key == "ciphers") {
      t.ciphers = check(val, parseCipherList(scalar(val, "a ':'-separated cipher list")));
      t.ciphers_mark = markOf(where(val));
    } else if (e.key == "curves") {
      t.curves = curves(val);
      t.curves_mark = markOf(where(val));
    } else if (e.key == "handshake_timeout") {
      t.handshake_timeout = duration(val);
    } else if (e.key == "session_tickets") {
      t.session_tickets = boolean(val);
    } else if (e.key == "ticket_key_rotation") {
      t.ticket_key_rotation = duration(val, kTicketRotation);
    } else if (e.key == "ticket_lifetime") {
      t.ticket_lifetime = duration(val, kTicketLifetime);
    } else if (e.key == "ticket_key_file") {
      filePath(val, t.ticket_key_file, t.ticket_key_file_mark);
    } else if (e.key == "client_auth") {
      t.client_auth = clientAuth(val);
    }
  }
  // A key is used for new tickets for one rotation period and decrypts for the lifetime; a
  // lifetime shorter than that would refuse tickets its own current key issued.
  ordered(entries, v, kAtMost, "ticket_key_rotation", t.ticket_key_rotation, "ticket_lifetime",
          t.ticket_lifetime, "ticket_lifetime");
  return t;
}

CertificateFiles Loader::certificatePair(const Value& v,
                                         const std::vector<Entry>& entries) const {
  CertificateFiles c;
  filePath(require(entries, v, "certificate").value, c.certificate, c.certificate_mark);
  filePath(require(entries, v, "key").value, c.key, c.key_mark);
  return c;
}

std::vector<std::string> Loader::curves(const Value& v) const {
  std::vector<Value> items = listItems(v);
  if (items.empty()) fail(v, "at least one curve is required");
  std::vector<std::string> out;
  for (const Value& item : items) {
    std::string written = scalar(item, "a curve name");
    std::string curve = check(item, parseCurve(written));
    if (std::find(out.begin(), out.end(), curve) != out.end()) {
      fail(item, "'" + written + "' is " + (written == curve ? "" : curve + ", ") +
                     "already listed");
    }
    out.push_back(std::move(curve));
  }
  return out;
}

ClientAuth Loader::clientAuth(const Value& v) const {
  ClientAuth a;
  a.mark = markOf(where(v));
  std::vector<Entry> entries = mapEntries(v, kClientAuthKeys);
  // No default mode: `client_auth:` with a CA but no mode must not quietly mean "off".
  constexpr std::array<ClientAuthMode, 3> kModes = {ClientAuthMode::Off, ClientAuthMode::Optional,
                                                    ClientAuthMode::Required};
  a.mode = kModes[choice(require(entries, v, "mode").value, {"off", "optional", "required"})];
  for (const Entry& e : entries) {
    if (e.key == "ca") filePath(e.value, a.ca, a.ca_mark);
    if (e.key == "subject_header") {
      a.subject_header = check(e.value, parseToken(scalar(e.value, "a header name"), "header name"));
    }
    if (e.key == "fingerprint_header") {
      a.fingerprint_header =
          check(e.value, parseToken(scalar(e.value, "a header name"), "header name"));
    }
  }
  // `mode: off` keeps a configured CA, so switching it back on is a one-word edit.
  if (a.mode != ClientAuthMode::Off && a.ca.empty()) {
    fail(v, "missing required key 'ca' (the CA bundle client certificates must chain to)");
  }
  if (equalsIgnoreCase(a.subject_header, a.fingerprint_header)) {
    const Entry* e = find(entries, "fingerprint_header");
    if (!e) e = find(entries, "subject_header");
    fail(e->value, "subject_header and fingerprint_header must be different headers");
  }
  return a;
}

}  // namespace portcullis::config::internal
