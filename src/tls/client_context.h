#pragma once
// A client-side TLS context for connections to upstream hosts: trust anchors, versions, ALPN,
// an optional client certificate, and a small cache of the last session per host so that a new
// connection to the same upstream resumes instead of doing a full handshake. Immutable apart
// from that cache (which has its own mutex); shared by every worker; built on the control
// thread like the server Context. Engine::forClient(ctx, host) makes the connections.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/result.h"
#include "tls/context.h"

namespace portcullis::tls {

struct ClientContextOptions {
  // Verify the upstream's certificate chain and name (RFC 6125 via X509_VERIFY_PARAM_set1_host)
  // — turn off only for tests or an upstream with a self-signed certificate on a trusted link.
  bool verify = true;
  // PEM bundle of trust anchors; empty: the system store (OpenSSL default paths, plus Debian's
  // /etc/ssl/certs/ca-certificates.crt, which Debian's BoringSSL does not know about).
  std::string ca_file;
  std::vector<std::string> alpn{"http/1.1"};  // offered in this order; empty: no ALPN
  TlsVersion min_version = TlsVersion::Tls1_2;  // 1.2 or 1.3
  TlsVersion max_version = TlsVersion::Tls1_3;
  std::string tls12_ciphers;  // empty: ECDHE + AEAD only
  std::string curves;         // empty: X25519:P-256:P-384
  // Optional client certificate for upstreams that require mTLS.
  std::string certificate_file;
  std::string key_file;
  // Hosts whose last session is remembered; 0 turns resumption off.
  size_t session_cache_size = 64;
};

class ClientContext {
 public:
  // Fails with a readable message for an unreadable CA file (or, with verify and no ca_file,
  // no trust anchors found at all), a bad client certificate/key, or a bad version, cipher,
  // curve or ALPN list.
  static base::Result<std::shared_ptr<const ClientContext>> create(
      const ClientContextOptions& opts);
  ~ClientContext();
  ClientContext(const ClientContext&) = delete;
  ClientContext& operator=(const ClientContext&) = delete;

  bool verifies() const;
  // Number of hosts with a cached session (tests and metrics).
  size_t cachedSessions() const;
  // Drops every cached session (e.g. after an upstream's certificate changed).
  void clearSessions() const;

  // For tls/engine.cc only: the SSL_CTX*, owned by this ClientContext.
  void* native() const;

  struct Impl;  // defined in client_context_impl.h (tls/ internal)
  Impl& impl() const { return *impl_; }  // for tls/engine.cc only

 private:
  ClientContext();
  std::unique_ptr<Impl> impl_;
};

}  // namespace portcullis::tls
