#pragma once
// A server-side TLS context: one or more certificate chains + keys chosen by SNI, protocol
// versions, ciphers, groups, ALPN, session tickets and optional client certificates. Built once
// at start (and again on reload) on the control thread, then shared read-only by every worker;
// BoringSSL's SSL_CTX is reference counted and safe for concurrent SSL_new. A Context never
// changes after forServer() returns: a reload builds a new one and swaps the shared_ptr.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "tls/ticket_keys.h"

namespace portcullis::tls {

enum class TlsVersion { Tls1_0, Tls1_1, Tls1_2, Tls1_3 };

struct CertificatePair {
  std::string certificate_file;  // PEM: leaf first, then intermediates (served as the chain)
  std::string key_file;          // PEM private key (ECDSA or RSA)
};

enum class ClientAuthMode {
  None,      // no CertificateRequest
  Optional,  // asks; no certificate is fine, an unverifiable one fails the handshake
  Required,  // asks; no certificate or an unverifiable one fails the handshake
};

struct ServerOptions {
  ServerOptions() = default;
  // The single-pair form every caller used before SNI selection: ServerOptions{cert, key}.
  ServerOptions(std::string certificate, std::string key)
      : certificate_file(std::move(certificate)), key_file(std::move(key)) {}

  // Legacy single pair. When set it is the first pair (the default), before `certificates`.
  std::string certificate_file;
  std::string key_file;
  // More pairs, chosen by SNI against each leaf's subjectAltName DNS entries (see forServer).
  std::vector<CertificatePair> certificates;

  TlsVersion min_version = TlsVersion::Tls1_2;  // Tls1_2 or Tls1_3; 1.0/1.1 are refused
  std::string tls12_ciphers;                    // OpenSSL-style list; empty: AEAD + ECDHE only
  std::string curves;                           // "X25519:P-256"; empty: X25519:P-256:P-384
  std::vector<std::string> alpn{"http/1.1"};    // server preference order (the config sets it)

  bool session_tickets = true;
  // Shared ticket keys (same manager for every context of a listener, across reloads, so
  // tickets survive a SIGHUP). Null with session_tickets: a private random-key manager.
  std::shared_ptr<TicketKeyManager> ticket_keys;

  ClientAuthMode client_auth = ClientAuthMode::None;
  std::string client_ca_file;  // PEM bundle the client's certificate must chain to

  // Unix seconds, for the expiry checks; empty: the system clock.
  std::function<int64_t()> clock;
  int expiry_warning_days = 14;
};

class Context {
 public:
  // Loads every pair and checks it. Fails with a readable message for: no pair configured,
  // unreadable file, no certificate in file, bad PEM, a key that does not match its
  // certificate, an expired certificate, TLS 1.0/1.1 as minimum, a bad cipher/curve/ALPN list,
  // an unusable client CA file. Certificates expiring within expiry_warning_days (and other
  // non-fatal findings) end up in warnings().
  //
  // SNI selection, per handshake: an exact subjectAltName DNS match, else a one-label wildcard
  // match (`*.example.com` covers `a.example.com`, not `example.com` or `a.b.example.com`),
  // else the default: the first pair (and its twin of the other key type with the same names).
  // Among the candidates, a client that can verify ECDSA (signature_algorithms, and for TLS
  // 1.2 an ECDHE-ECDSA suite) gets the ECDSA certificate, any other client the RSA one.
  static base::Result<std::shared_ptr<const Context>> forServer(const ServerOptions& opts);
  ~Context();
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  // True when some certificate's DNS (or IP) subjectAltName covers `host` (case-insensitive,
  // trailing dot ignored, wildcards as above). The server checks every route host with this.
  bool covers(std::string_view host) const;
  // Every certificate's subjectAltName entries (DNS names lower-cased, wildcards as written,
  // IP addresses as text), in configuration order, each once. For `portcullis django-settings`.
  std::vector<std::string> certificateNames() const;
  // Non-fatal findings from forServer, e.g. "certificate a.pem expires in 9 days". Stable.
  const std::vector<std::string>& warnings() const;
  // The ticket key manager in use (null when tickets are off). Pass it to the next Context.
  const std::shared_ptr<TicketKeyManager>& ticketKeys() const;

  // For tls/engine.cc only: the default SSL_CTX*, as an opaque pointer so this header stays
  // free of BoringSSL includes. Owned by this Context.
  void* native() const;

  struct Impl;  // defined in context.cc

 private:
  Context();
  std::unique_ptr<Impl> impl_;
};

}  // namespace portcullis::tls
