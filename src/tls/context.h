#pragma once
// A server-side TLS context: certificate chain + key, protocol versions, ALPN. Built once at
// start (and later on reload) on the control thread, then shared read-only by every worker;
// BoringSSL's SSL_CTX is reference counted and safe for concurrent SSL_new.
#include <memory>
#include <string>

#include "base/result.h"

namespace portcullis::tls {

struct ServerOptions {
  std::string certificate_file;  // PEM: leaf first, then intermediates (served as the chain)
  std::string key_file;          // PEM private key (ECDSA or RSA)
};

class Context {
 public:
  // Fails with a readable message for: unreadable file, no certificate in file, bad PEM, key
  // that does not match the certificate. TLS 1.2 minimum, TLS 1.3 maximum; TLS 1.2 ciphers are
  // ECDHE with AES-GCM or ChaCha20 only; ALPN selects "http/1.1" (and nothing else yet).
  static base::Result<std::shared_ptr<const Context>> forServer(const ServerOptions& opts);
  ~Context();
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  // For tls/engine.cc only: the SSL_CTX*, as an opaque pointer so this header stays free of
  // BoringSSL includes.
  void* native() const { return ctx_; }

 private:
  Context() = default;
  void* ctx_ = nullptr;  // SSL_CTX*, owned (freed in ~Context)
};

}  // namespace portcullis::tls
