#pragma once
// One TLS connection as a pure state machine: the caller feeds ciphertext read from the socket,
// pulls plaintext, pushes plaintext, and takes the ciphertext to write to the socket. It never
// does I/O and never calls back, so it can be tested engine-to-engine in memory.
//
// Two ways to drive it, which may be mixed (output keeps its order):
// - Zero-copy (what net::Connection uses): feed(wire, plaintext, ciphertext),
//   writePlaintext(app, ciphertext), shutdown(ciphertext). BoringSSL reads the records straight
//   out of `wire`, and writes its records straight into the caller's `ciphertext` buffer.
//   Everything the call produced to send (handshake messages, tickets, alerts) is in
//   `ciphertext` when it returns, including after a failure: a fatal error leaves an alert to
//   send before closing.
// - Buffered (tests, simple callers): feedCiphertext(bytes) (copies them into the engine);
//   readPlaintext(in) (one call reads everything available); writePlaintext(app); shutdown();
//   and after each of them drainCiphertext(out), sending what it returns. A client engine has
//   its ClientHello waiting there as soon as forClient() returns (a zero-copy caller gets it
//   too: every zero-copy call first moves the waiting bytes into its `ciphertext`).
//
// A failed engine stays failed: every later call returns the same error.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/buffer.h"
#include "base/result.h"
#include "base/tls_info.h"
#include "tls/client_context.h"
#include "tls/context.h"

namespace portcullis::tls {

// What a throwaway client engine offers (no verification, no session reuse): tests use the
// version, cipher and signature knobs to play old or unusual clients. Upstream connections use
// a ClientContext instead.
struct ClientOptions {
  std::string sni;                        // empty: no server_name extension
  std::string alpn;                       // comma-separated, in preference order ("h2,http/1.1")
  TlsVersion min_version = TlsVersion::Tls1_2;
  TlsVersion max_version = TlsVersion::Tls1_3;
  std::string tls12_ciphers;              // OpenSSL-style list; empty: BoringSSL's default
  // SignatureSchemes the client accepts from the server (RFC 8446 §4.2.3), e.g. 0x0804 for
  // rsa_pss_rsae_sha256 only; empty: BoringSSL's default (ECDSA and RSA).
  std::vector<uint16_t> signature_algorithms;
};

class Engine {
 public:
  // Keeps `ctx` alive for the life of the engine.
  static base::Result<Engine> forServer(std::shared_ptr<const Context> ctx);
  // Client side, used by tests (and later by TLS to upstreams). `sni` may be empty.
  // Verification is off: tests talk to self-signed certificates.
  // `alpn` is a comma-separated list, may be empty. Same as forClient(ClientOptions{sni, alpn}).
  static base::Result<Engine> forClient(std::string_view sni, std::string_view alpn);
  static base::Result<Engine> forClient(const ClientOptions& opts);
  // A connection to an upstream `host` (DNS name or IP literal) with `ctx`'s settings, kept
  // alive by the engine. A DNS name goes out as SNI (an IP literal does not: RFC 6066 §3) and,
  // when ctx verifies, the certificate must match `host`; with verification `host` must not be
  // empty. Offers the session cached for `host` and caches the ones the server sends, so the
  // next connection to the same host resumes. Verification failures come out of the handshake
  // as "TLS handshake failed: certificate verify failed: <reason>".
  static base::Result<Engine> forClient(std::shared_ptr<const ClientContext> ctx,
                                        std::string_view host);
  // A moved-from engine may only be destroyed or assigned to.
  Engine(Engine&&) noexcept;
  Engine& operator=(Engine&&) noexcept;
  ~Engine();

  // --- Zero-copy ---------------------------------------------------------------------------
  // `plaintext` and `ciphertext` must be two different buffers.
  //
  // Decrypts `wire` (bytes just received from the socket; only read during the call) and
  // appends the plaintext to `plaintext`: the handshake first when it is not done yet, then
  // every complete record. Appends whatever is to be sent to `ciphertext`. Returns the plaintext
  // bytes appended; 0 = needs more input (or the handshake is still in progress). Error = fatal
  // (plaintext appended before the failure stays, the alert is in `ciphertext`): the caller
  // sends the alert and closes. Sets peerClosed() on close_notify.
  base::Result<size_t> feed(std::string_view wire, base::Buffer& plaintext,
                            base::Buffer& ciphertext);
  // Encrypts all of `app` and appends the records to `ciphertext` (holds `app` until the
  // handshake is done, as writePlaintext(app) does). Error = fatal.
  base::Result<void> writePlaintext(std::string_view app, base::Buffer& ciphertext);
  // shutdown(), with the close_notify appended to `ciphertext`.
  void shutdown(base::Buffer& ciphertext);

  // --- Buffered ------------------------------------------------------------------------------
  // Feeds bytes received from the socket. Drives the handshake when it is not done yet; the
  // bytes it does not use are copied into the engine until readPlaintext().
  // Error = fatal TLS failure (bad record, handshake failure, ...): the caller closes.
  base::Result<void> feedCiphertext(std::string_view wire);
  // Appends decrypted application data to `out`. Returns bytes appended; 0 = needs more input
  // (or handshake still in progress). Error = fatal. Sets peerClosed() on close_notify.
  base::Result<size_t> readPlaintext(base::Buffer& out);
  // Encrypts all of `app` (buffers it internally if the handshake is not done). Error = fatal.
  base::Result<void> writePlaintext(std::string_view app);
  // Moves the ciphertext waiting in the engine to `out` (without copying when `out` is empty);
  // returns bytes moved.
  size_t drainCiphertext(base::Buffer& out);
  // Queues close_notify (once; a no-op before the handshake completes or after a fatal error).
  void shutdown();

  bool handshakeDone() const;
  bool peerClosed() const;
  std::string_view alpn() const;         // negotiated protocol, empty if none
  std::string_view serverName() const;   // SNI sent by the client, empty if none
  bool sessionReused() const;
  std::string_view protocolVersion() const;  // "TLSv1.3", "TLSv1.2"; for logs and tests
  std::string_view cipherName() const;       // e.g. "ECDHE-ECDSA-AES128-GCM-SHA256"; empty before
  // The peer's leaf certificate after the handshake, empty when it sent none. On a server this
  // is a client certificate, and it has been verified (the handshake fails otherwise, see
  // ClientAuthMode); on a client it is the server's, verified unless the context turned
  // verification off (ClientOptions engines never verify). Also set on resumed sessions.
  std::string peerSubject() const;      // RFC 2253 one line: "CN=client one,O=Portcullis Tests,C=DE"
  std::string peerFingerprint() const;  // SHA-256 of the DER, 64 lower-case hex digits
  // Every fact above as one plain value, for layers that must not see the engine (proxy logs and
  // forwards them). Call once the handshake is done; empty before.
  base::TlsInfo info() const;
  // Frees the engine's own buffers while idle (BoringSSL frees its record buffers itself when
  // they are empty). Call when a keep-alive connection goes idle; the engine stays usable.
  void releaseBuffers();

 private:
  Engine() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// SignatureScheme values (RFC 8446 §4.2.3) for ClientOptions::signature_algorithms.
inline constexpr uint16_t kSigEcdsaP256Sha256 = 0x0403;
inline constexpr uint16_t kSigRsaPssSha256 = 0x0804;
inline constexpr uint16_t kSigRsaPkcs1Sha256 = 0x0401;

}  // namespace portcullis::tls
