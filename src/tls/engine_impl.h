#pragma once
// Engine::Impl, shared by the two halves of the engine: engine.cc (creating engines, the
// handshake, failures and what the handshake established) and engine_io.cc (the BIO and record
// I/O). Nothing outside those two files includes it.
#include <openssl/base.h>
#include <openssl/ssl.h>

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "base/buffer.h"
#include "base/result.h"
#include "tls/client_context.h"
#include "tls/context.h"
#include "tls/engine.h"
#include "tls/stats.h"

namespace portcullis::tls {

struct Engine::Impl {
  std::shared_ptr<const Context> ctx;                // server side: keeps certificates alive
  std::shared_ptr<const ClientContext> client_ctx;   // client side via ClientContext
  std::string session_key;  // client: the host whose cached session this connection uses
  // What the BIO reads: `stash` first (older bytes), then `in`. `in` is the caller's span and
  // is only set during a call (InputScope); `stash` holds what a call left unread.
  std::string_view in;
  base::Buffer stash;
  // Where the BIO writes: the caller's buffer during a zero-copy call (OutputScope), else
  // `pending`, which drainCiphertext() hands over.
  base::Buffer* out = nullptr;
  base::Buffer pending;
  // Declared after the buffers so that it is destroyed before them: the BIO points at them.
  bssl::UniquePtr<SSL> ssl;

  // Plaintext written before the handshake finished; sent as soon as it does.
  std::string early_plaintext;
  bool handshake_done = false;
  bool shutdown_sent = false;
  bool peer_closed = false;
  bool server = false;
  std::optional<base::Error> failed;  // sticky: once fatal, every call reports this

  size_t inputPending() const { return stash.size() + in.size(); }
  base::Buffer& sink() { return out ? *out : pending; }  // where the BIO writes now

  // --- engine.cc ------------------------------------------------------------------------------
  // Records a fatal failure after an SSL call returned `ret`. SSL_get_error must come first: it
  // looks at the ERR queue, which takeError() then empties.
  base::Error fail(int ret, std::string_view what);
  base::Error failWith(std::string message);  // sticky, unlike tls::failWith
  // Before fail(), which empties the ERR queue. BoringSSL's first error is the one that decided.
  HandshakeFailure classifyFailure(int ret);
  // Runs the handshake as far as the input allows. WANT_READ is normal: it needs more bytes.
  base::Result<void> driveHandshake();

  // --- engine_io.cc ---------------------------------------------------------------------------
  // Gives the caller's buffer what the buffered calls (or forClient) left in `pending`, so it
  // goes out before anything this call writes. Swapping leaves `pending` with the caller's
  // old (empty) storage: released, since `pending` is rarely used by a zero-copy caller.
  size_t takePending(base::Buffer& dst);
  // Encrypts all of `app`. Our BIO never refuses a write and partial writes are off, so
  // SSL_write either takes the whole chunk or fails.
  base::Result<void> writeAll(std::string_view app);
  // Decrypts everything the input holds into `dst`.
  base::Result<size_t> readAll(base::Buffer& dst);

  static base::Result<std::unique_ptr<Impl>> create(SSL_CTX* ctx);

  class InputScope;
  class OutputScope;
  static int bioRead(BIO* bio, char* dst, int len);
  static int bioWrite(BIO* bio, const char* src, int len);
  static long bioCtrl(BIO* bio, int cmd, long, void*);
  static int bioCreate(BIO* bio);
  static int bioDestroy(BIO* bio);
  static const BIO_METHOD* bioMethod();
};

}  // namespace portcullis::tls
