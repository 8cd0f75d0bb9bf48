#pragma once
// Process-wide handshake counters for the metrics endpoint. Relaxed atomics: each is an
// independent monotonically increasing count, read without ordering against anything else
// (DESIGN 3.5: stats counters are relaxed atomics), so a snapshot may be a few handshakes
// inconsistent between fields, never wrong in total.
#include <cstddef>
#include <cstdint>

namespace portcullis::tls {

struct HandshakeCounts {
  uint64_t server_full = 0;      // completed, new session
  uint64_t server_resumed = 0;   // completed by ticket
  uint64_t server_failed = 0;    // fatal error before completion (bad client, no shared cipher,
                                 // missing client certificate, ...)
  uint64_t client_full = 0;      // upstream connections (and tests' client engines)
  uint64_t client_resumed = 0;
  uint64_t client_failed = 0;    // includes certificate verification failures
};

// A snapshot of the counters since process start. Thread-safe, lock-free.
HandshakeCounts handshakeCounts();

enum class HandshakeOutcome { Full, Resumed, Failed };
// For tls/engine.cc: counts one finished handshake. Thread-safe, lock-free.
void countHandshake(bool server, HandshakeOutcome outcome);

// Why a handshake failed, in a few classes that BoringSSL's first error tells apart reliably
// (a bounded label set for metrics). A handshake that times out or that the peer abandons never
// reaches the engine's failure path: the connection that owns the engine counts those two.
enum class HandshakeFailure : uint8_t {
  NoSharedCipher,        // no common cipher suite or group
  UnsupportedVersion,    // TLS 1.0/1.1, or below min_version
  CertificateRequired,   // client_auth required and the client sent none
  CertificateInvalid,    // our verification of the peer's certificate failed (unknown CA, expired, name)
  CertificateRejected,   // the peer refused our certificate (its alert: unknown_ca, bad_certificate, ...)
  ProtocolError,         // malformed or unexpected messages, plain HTTP on a TLS port, bad records
  Other,
  Timeout,               // not complete within the handshake timeout (slow or silent peer)
  Abandoned,             // the peer sent part of a handshake, then closed or reset
};
inline constexpr size_t kHandshakeFailures = 9;
// Stable snake_case label value ("no_shared_cipher").
const char* handshakeFailureName(HandshakeFailure f);
// Failed handshakes by reason since process start (the sum is HandshakeCounts::*_failed).
uint64_t handshakeFailures(bool server, HandshakeFailure f);
// For tls/engine.cc (and net::Connection for Timeout and Abandoned): counts one failed handshake
// (and the Failed outcome).
void countHandshakeFailure(bool server, HandshakeFailure f);

}  // namespace portcullis::tls
