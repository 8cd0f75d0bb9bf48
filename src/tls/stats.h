#pragma once
// Process-wide handshake counters for the metrics endpoint. Relaxed atomics: each is an
// independent monotonically increasing count, read without ordering against anything else
// (DESIGN 3.5: stats counters are relaxed atomics), so a snapshot may be a few handshakes
// inconsistent between fields, never wrong in total.
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

}  // namespace portcullis::tls
