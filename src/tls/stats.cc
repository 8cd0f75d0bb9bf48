#include "tls/stats.h"

#include <atomic>

namespace portcullis::tls {
namespace {

// Each counter on its own cache line: every worker bumps them once per handshake, and false
// sharing between the server and client counters would make that a cross-core ping-pong.
struct alignas(64) Counter {
  std::atomic<uint64_t> value{0};
};
Counter g_counters[2][3];  // [server][outcome]
Counter g_failures[2][kHandshakeFailures];  // [server][reason]

uint64_t read(bool server, HandshakeOutcome o) {
  return g_counters[server][static_cast<int>(o)].value.load(std::memory_order_relaxed);
}

}  // namespace

void countHandshake(bool server, HandshakeOutcome outcome) {
  g_counters[server][static_cast<int>(outcome)].value.fetch_add(1, std::memory_order_relaxed);
}

const char* handshakeFailureName(HandshakeFailure f) {
  switch (f) {
    case HandshakeFailure::NoSharedCipher: return "no_shared_cipher";
    case HandshakeFailure::UnsupportedVersion: return "unsupported_version";
    case HandshakeFailure::CertificateRequired: return "certificate_required";
    case HandshakeFailure::CertificateInvalid: return "certificate_invalid";
    case HandshakeFailure::CertificateRejected: return "certificate_rejected";
    case HandshakeFailure::ProtocolError: return "protocol_error";
    case HandshakeFailure::Other: return "other";
    case HandshakeFailure::Timeout: return "timeout";
    case HandshakeFailure::Abandoned: return "abandoned";
  }
  return "other";
}

uint64_t handshakeFailures(bool server, HandshakeFailure f) {
  return g_failures[server][static_cast<size_t>(f)].value.load(std::memory_order_relaxed);
}

void countHandshakeFailure(bool server, HandshakeFailure f) {
  g_failures[server][static_cast<size_t>(f)].value.fetch_add(1, std::memory_order_relaxed);
  countHandshake(server, HandshakeOutcome::Failed);
}

HandshakeCounts handshakeCounts() {
  HandshakeCounts c;
  c.server_full = read(true, HandshakeOutcome::Full);
  c.server_resumed = read(true, HandshakeOutcome::Resumed);
  c.server_failed = read(true, HandshakeOutcome::Failed);
  c.client_full = read(false, HandshakeOutcome::Full);
  c.client_resumed = read(false, HandshakeOutcome::Resumed);
  c.client_failed = read(false, HandshakeOutcome::Failed);
  return c;
}

}  // namespace portcullis::tls
