#pragma once
// A TCP connection, optionally wrapped in TLS, with its input buffer, output queue and one
// timer. Self-deleting: libuv holds pointers into it until its close callbacks run, so nobody
// may `delete` it; close() starts the teardown and the object frees itself afterwards.
//
// Buffers (DESIGN 3.4):
// - input(): plaintext received and not yet consumed. For plain TCP, libuv reads straight into
//   its free tail (no copy). For TLS, ciphertext lands in the loop's scratch buffer and the engine
//   decrypts from there into input() (BoringSSL copies each record into its own buffer first).
// - output(): plaintext to send; flush() hands it to the socket (for TLS, the engine encrypts
//   it and writes the records straight into the socket-bound buffer, once; writes of
//   kEncryptDirectly or more are encrypted at once in write()): a direct send(2) first, the
//   rest is queued and written with uv_write. Bytes given to uv_write
//   live in a second buffer until the write callback (ping-pong, no per-write allocation).
// - Watermarks: when pendingBytes() rises above kHighWatermark the handler learns it from
//   aboveHighWatermark(); when it falls back to kLowWatermark, onDrained() is called so the
//   handler can resume reading on the other side.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "base/buffer.h"
#include "base/tls_info.h"
#include "net/loop.h"
#include "net/socket.h"
#include "tls/client_context.h"
#include "tls/context.h"
#include "tls/engine.h"

struct uv_tcp_s;
struct uv_timer_s;
struct uv_write_s;
struct uv_connect_s;
struct uv_shutdown_s;
struct uv_stream_s;
struct uv_handle_s;
struct uv_buf_t;

namespace portcullis::net {

class Connection;

enum class CloseReason : uint8_t { Local, PeerReset, PeerEof, Error, TlsError, Timeout };

class ConnectionHandler {
 public:
  // Outgoing connections only: status 0 = connected, else a negative libuv error code
  // (UV_ETIMEDOUT on the connect timeout). After a failure the connection closes itself.
  virtual void onConnected(Connection& c, int status) { (void)c; (void)status; }
  // New bytes were appended to input().
  virtual void onData(Connection& c) = 0;
  // The peer finished sending (FIN or TLS close_notify). The write side stays open.
  virtual void onEof(Connection& c) = 0;
  // TLS only: the handshake completed (called once, before the first onData).
  virtual void onHandshakeDone(Connection& c) { (void)c; }
  // Pending output fell to the low watermark after having crossed the high one.
  virtual void onDrained(Connection& c) { (void)c; }
  virtual void onTimeout(Connection& c) = 0;
  // Last callback. The Connection is gone right after it returns; drop every pointer to it.
  virtual void onClose(Connection& c, CloseReason why) = 0;

 protected:
  ~ConnectionHandler() = default;
};

class Connection {
 public:
  static constexpr size_t kHighWatermark = 256 * 1024;
  static constexpr size_t kLowWatermark = 64 * 1024;
  // TLS: a write this large is encrypted at once from the caller's bytes rather than copied into
  // the staging buffer first (a 1 MiB response body would otherwise be copied one more time).
  // Smaller writes are staged so that a head and a small body share one record.
  static constexpr size_t kEncryptDirectly = 8 * 1024;

  // Adopts an accepted socket (called by Listener). Reading starts at once.
  static Connection* accept(Loop& loop, uv_stream_s* server, ConnectionHandler* handler,
                            std::shared_ptr<const tls::Context> tls);
  // Starts a connect; the handler hears onConnected. Returns nullptr if the socket could not
  // even be created (the caller treats it as a connect failure). With `tls`, the connection
  // speaks TLS as a client once connected, sending `sni` and verifying it as the context
  // says; output written before the handshake completes is held by the engine and sent after
  // it. A failed handshake (e.g. verification) closes the connection with TlsError.
  static Connection* connect(Loop& loop, const Address& to, ConnectionHandler* handler,
                             uint64_t timeout_ms,
                             std::shared_ptr<const tls::ClientContext> tls = nullptr,
                             std::string sni = {});

  void setHandler(ConnectionHandler* h) { handler_ = h; }
  Loop& loop() { return loop_; }

  base::Buffer& input() { return input_; }
  // A TLS client is not TLS yet while connecting (the engine comes with the connect), but what
  // it writes then is plaintext all the same: it waits in staging_ for the handshake.
  base::Buffer& output() { return tls_ || client_tls_ ? staging_ : wire_; }
  void write(std::string_view bytes) {
    if (tls_ && bytes.size() >= kEncryptDirectly) {
      encryptNow(bytes);
      return;
    }
    output().append(bytes);
  }
  // Sends everything in output(). May close the connection on a write error (the handler hears
  // onClose before flush returns): check closing() afterwards if you keep going.
  void flush();
  size_t pendingBytes() const;
  // True above kHighWatermark; from then on an onDrained is owed, even when the bytes that made
  // it true were still staged and a write in flight completes before the next flush (the caller
  // that saw "above" and stopped must hear when to go on).
  bool aboveHighWatermark() const {
    if (pendingBytes() <= kHighWatermark) return false;
    was_above_high_ = true;
    return true;
  }

  void pauseReading();
  void resumeReading();
  bool readingPaused() const { return paused_; }

  // One timer per connection; a new setTimeout replaces the previous one.
  void setTimeout(uint64_t ms);
  void clearTimeout();

  // Graceful: flushes output, sends TLS close_notify, then closes. With `linger`, it half-closes
  // and discards input for a short while first (lingering close, as nginx): closing a socket
  // with unread input sends RST, which can destroy a response the client has not read yet
  // (a 413 while the client is still sending its body). Without unread input there is nothing
  // to protect, and lingering would only hold the socket (and a draining worker) open.
  void close(bool with_linger = false);
  // Half-close (a tunnel passing on its peer's EOF): once the pending output is sent (TLS: and
  // close_notify), a FIN; reading goes on until the peer closes or close()/abort().
  void shutdownWrite();
  // Immediate close; pending output is dropped.
  void abort(CloseReason why = CloseReason::Local);
  // From close() or abort() on: the handler has heard onClose (or onConnected(failure)).
  bool closing() const { return !live(); }

  bool isTls() const { return tls_ != nullptr; }
  // TLS facts (version, cipher, SNI, ALPN, resumption, client certificate) once the handshake
  // is done; null for plain TCP and before. Owned by the connection.
  const base::TlsInfo* tlsInfo() const { return tls_info_.get(); }
  // Plaintext bytes handed to the socket (or the TLS engine) so far: a request's share is the
  // difference across it.
  uint64_t bytesOut() const { return bytes_out_; }
  // Peer address as text ("127.0.0.1", "::1") for X-Forwarded-For.
  const std::string& peerIp() const { return peer_ip_; }
  uint16_t peerPort() const { return peer_port_; }
  uint16_t localPort() const { return local_port_; }
  // Gives back buffer memory while a keep-alive connection waits for its next request.
  void releaseIdleMemory();

 private:
  friend class Listener;
  Connection(Loop& loop, ConnectionHandler* handler);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // The lifecycle, declared in order: live() and closing() compare. Every change goes through
  // setState(), which asserts that it is one of these (debug builds):
  //   New -> Connecting -> AwaitingHello -> Handshaking -> Open    connect(); plain TCP: -> Open
  //   New -> AwaitingHello | Open                                  accept()
  //   AwaitingHello | Handshaking | Open -> Flushing | FlushingToLinger    close()
  //   FlushingToLinger -> Lingering                                everything sent, peer still open
  //   any but Closed -> Closed                                     abort(), errors, the end of a close
  enum class State : uint8_t {
    New,               // inside accept()/connect(), before either has decided
    Connecting,        // the TCP connect is in flight; output waits in output()
    AwaitingHello,     // TLS: connected, not one handshake byte from the peer yet (a probe may leave)
    Handshaking,       // TLS: the peer has spoken, the handshake is not done (leaving now abandons it)
    Open,              // plain TCP connected, or the TLS handshake done
    Flushing,          // close(): the handler is told; pending output goes out, then Closed
    FlushingToLinger,  // the same, then half-close and Lingering: unread input would mean an RST
    Lingering,         // half-closed, discarding input until the peer's FIN or the linger deadline
    Closed,            // terminal: uv_close called; the object frees itself when libuv is done
  };
  static bool legalTransition(State from, State to);
  void setState(State to);
  // The handler has not heard onClose (or onConnected(failure)) yet.
  bool live() const { return state_ < State::Flushing; }
  // Connected and not closing: reading may (re)start.
  bool connected() const { return state_ >= State::AwaitingHello && state_ <= State::Open; }
  bool flushing() const { return state_ == State::Flushing || state_ == State::FlushingToLinger; }

  bool init();
  void startReading();
  void onReadable(long nread, const uv_buf_t* buf);
  void handleTlsInput(const char* data, size_t len);
  void onWriteDone();
  void startWrite();
  void onPeerEof();
  void failConnect(int status);
  Connection* discard();
  bool sealStaged();  // TLS: staging_ encrypted into wire_; false on an engine failure
  void encryptNow(std::string_view bytes);
  long trySend(const char* data, size_t len);
  void closeHandles();
  void linger();
  void sendFin();
  bool requestFin();  // uv_shutdown once the output queued in libuv is out; false if refused
  void notifyClose(CloseReason why, State was);
  void fireTimeout();

  static void onAlloc(uv_handle_s* h, size_t suggested, uv_buf_t* buf);
  static void onRead(uv_stream_s* s, long nread, const uv_buf_t* buf);
  static void onWrite(uv_write_s* req, int status);
  static void onConnect(uv_connect_s* req, int status);
  static void onShutdown(uv_shutdown_s* req, int status);
  static void onTimer(uv_timer_s* t);
  static void onHandleClosed(uv_handle_s* h);

  Loop& loop_;
  ConnectionHandler* handler_;
  std::unique_ptr<uv_tcp_s> tcp_;
  std::unique_ptr<uv_timer_s> timer_;
  std::unique_ptr<uv_write_s> write_req_;
  std::unique_ptr<uv_connect_s> connect_req_;
  std::unique_ptr<uv_shutdown_s> shutdown_req_;
  std::unique_ptr<tls::Engine> tls_;
  std::shared_ptr<const tls::ClientContext> client_tls_;  // set until the TCP connect completes
  std::string sni_;
  // Server side only, made at handshake: a client connection's facts are nobody's business.
  std::unique_ptr<base::TlsInfo> tls_info_;
  uint64_t bytes_out_ = 0;
  size_t wire_counted_ = 0;  // plain TCP: bytes of wire_ already in bytes_out_
  base::Buffer input_;
  base::Buffer staging_;   // TLS only: plaintext waiting to be encrypted
  base::Buffer wire_;      // bytes for the socket, not yet handed to uv_write
  base::Buffer inflight_;  // bytes owned by the in-flight uv_write
  std::string peer_ip_;
  uint16_t peer_port_ = 0;
  uint16_t local_port_ = 0;
  uint64_t deadline_ = 0;   // loop time (ms) the current timeout is due; 0 = none
  uint64_t timer_due_ = 0;  // when the libuv timer is armed to fire; 0 = not armed
  int open_handles_ = 0;
  State state_ = State::New;
  // Facts that stay flags: each can hold or not in several states, independently of the others,
  // so folding one into State would double the states it spans.
  bool accepted_ = false;          // server side (Listener), not connect(): fixed at birth, not a phase
  bool reading_ = false;           // uv_read_start is in effect: mirrors libuv, which cannot be asked
  bool paused_ = false;            // the handler's pauseReading(): may be set from Connecting to Flushing
  bool writing_ = false;           // a uv_write is in flight: comes and goes in every connected state
  mutable bool was_above_high_ = false;  // crossed kHighWatermark, onDrained owed: write-side hysteresis
  bool eof_ = false;               // the peer finished sending: our write side goes on, in any state
  bool tls_write_failed_ = false;  // encryptNow may not close under its caller; the next flush() does
  bool write_shut_ = false;        // shutdownWrite(): no more output, FIN once flushed; Open goes on reading
  bool fin_sent_ = false;          // ... the FIN is asked of libuv (a later linger must not ask again)
};

}  // namespace portcullis::net
