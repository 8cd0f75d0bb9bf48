#pragma once
// One TLS connection as a pure state machine over two memory BIOs: the caller feeds ciphertext
// read from the socket, pulls plaintext, pushes plaintext, and drains ciphertext to write to the
// socket. It never does I/O and never calls back, so it can be tested engine-to-engine in memory.
//
// Contract: after every feedCiphertext()/writePlaintext()/readPlaintext()/shutdown() the caller
// must drainCiphertext() and send what it returns (handshake messages, alerts, records).
#include <cstddef>
#include <memory>
#include <string_view>

#include "base/buffer.h"
#include "base/result.h"
#include "tls/context.h"

namespace portcullis::tls {

class Engine {
 public:
  // Keeps `ctx` alive for the life of the engine.
  static base::Result<Engine> forServer(std::shared_ptr<const Context> ctx);
  // Client side, used by tests (and later by TLS to upstreams). `sni` may be empty.
  // Verification is off: tests talk to self-signed certificates.
  static base::Result<Engine> forClient(std::string_view sni, std::string_view alpn);
  Engine(Engine&&) noexcept;
  Engine& operator=(Engine&&) noexcept;
  ~Engine();

  // Feeds bytes received from the socket. Drives the handshake when it is not done yet.
  // Error = fatal TLS failure (bad record, handshake failure, ...): the caller closes.
  base::Result<void> feedCiphertext(std::string_view wire);
  // Appends decrypted application data to `out`. Returns bytes appended; 0 = needs more input
  // (or handshake still in progress). Error = fatal. Sets peerClosed() on close_notify.
  base::Result<size_t> readPlaintext(base::Buffer& out);
  // Encrypts all of `app` (buffers it internally if the handshake is not done). Error = fatal.
  base::Result<void> writePlaintext(std::string_view app);
  // Moves pending ciphertext to `out`; returns bytes moved.
  size_t drainCiphertext(base::Buffer& out);
  // Queues close_notify.
  void shutdown();

  bool handshakeDone() const;
  bool peerClosed() const { return peer_closed_; }
  std::string_view alpn() const;         // negotiated protocol, empty if none
  std::string_view serverName() const;   // SNI sent by the client, empty if none
  bool sessionReused() const;
  // Frees per-connection buffers while idle (no-op when BoringSSL already releases them).
  void releaseBuffers();

 private:
  Engine() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
  bool peer_closed_ = false;
};

}  // namespace portcullis::tls
