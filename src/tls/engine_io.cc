#include "tls/engine.h"

#include <openssl/bio.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <string_view>

#include "base/buffer.h"
#include "tls/engine_impl.h"
#include "tls/errors.h"

// Where the bytes are copied (DESIGN 3.4 rule 4: TLS adds the copies it cannot avoid and no
// others). The SSL reads and writes through one custom BIO (bioRead/bioWrite below) that works
// on the caller's memory, so with the zero-copy calls:
//   inbound:  socket bytes (the caller's span) --(1: BoringSSL's BIO_read, one record at a time,
//             into its read buffer, where it decrypts in place)--> --(2: SSL_read)--> the
//             caller's plaintext Buffer
//   outbound: the caller's plaintext --(SSL_write encrypts it into BoringSSL's write buffer)-->
//             --(3: BIO_write, appended)--> the caller's ciphertext Buffer (the connection's
//             wire_, which goes to the socket from there)
// None of them can go without giving up SSL_read/SSL_write (BoringSSL's SSL_open_record /
// SSL_seal_record would, at the price of doing post-handshake messages ourselves).
// The span is only valid during the call, so bytes still unread when it returns are copied to
// `stash`. feed() leaves none: BoringSSL reads until the BIO runs dry, a partial record ends up
// in BoringSSL's read buffer, and input after a close_notify or a fatal error is dropped. Only
// the buffered feedCiphertext() stashes (tests). The buffered calls write to `pending`, which
// drainCiphertext() swaps into an empty caller buffer rather than copying.
//
// Before this, two memory BIOs cost two more copies each way (BIO_write into rbio; BIO_write
// into wbio, BIO_read out of it), plus a memmove of rbio's remaining bytes after every 5-byte
// header and record body BoringSSL read (the mem BIO has no read cursor), and both BIOs kept
// the capacity of their largest burst.

namespace portcullis::tls {
namespace {

// One TLS record carries at most 2^14 plaintext bytes (RFC 8446 §5.1), and SSL_read returns at
// most one record per call, so this is the most a single SSL_read can produce.
constexpr size_t kMaxRecordPlaintext = 16384;
// SSL_write takes an int length.
constexpr size_t kMaxChunk = size_t{1} << 30;

}  // namespace

size_t Engine::Impl::takePending(base::Buffer& dst) {
  size_t n = pending.size();
  if (n == 0) return 0;
  if (dst.empty()) {
    dst.swap(pending);
  } else {
    dst.append(pending.view());
    pending.clear();
  }
  pending.release();
  return n;
}

base::Result<void> Engine::Impl::writeAll(std::string_view app) {
  if (app.empty()) return {};
  // Room for every record up front: growing the buffer record by record would copy what is
  // already in it again at each doubling (a 1 MiB write into an empty buffer: 1 MiB more).
  size_t records = (app.size() + kMaxRecordPlaintext - 1) / kMaxRecordPlaintext;
  sink().reserveTail(app.size() + records * SSL_max_seal_overhead(ssl.get()));
  while (!app.empty()) {
    int n = static_cast<int>(std::min(app.size(), kMaxChunk));
    int ret = SSL_write(ssl.get(), app.data(), n);
    if (ret <= 0) return fail(ret, "TLS write failed");
    app.remove_prefix(static_cast<size_t>(ret));
  }
  return {};
}

base::Result<size_t> Engine::Impl::readAll(base::Buffer& dst) {
  if (!handshake_done || peer_closed) return size_t{0};
  size_t total = 0;
  // Nothing buffered anywhere: skip reserving room in `dst` just to learn "want read".
  while (inputPending() > 0 || SSL_has_pending(ssl.get())) {
    // Copy 2 (see the top of the file): plaintext into the caller's buffer. Reserve what can
    // actually come out (the ciphertext waiting bounds the plaintext), not a whole record: a
    // 300-byte request then costs a 4 KiB input buffer instead of 16 KiB, per connection
    // (issue 5, idle memory). A record larger than the room is not lost: BoringSSL keeps the
    // rest for the next turn.
    size_t avail = inputPending() + static_cast<size_t>(SSL_pending(ssl.get()));
    size_t want = std::min(std::max<size_t>(avail, 1024), kMaxRecordPlaintext);
    char* p = dst.reserveTail(want);
    size_t room = std::min(dst.tailRoom(), kMaxRecordPlaintext);
    int ret = SSL_read(ssl.get(), p, static_cast<int>(room));
    if (ret > 0) {
      dst.commit(static_cast<size_t>(ret));
      total += static_cast<size_t>(ret);
      continue;
    }
    int err = SSL_get_error(ssl.get(), ret);
    if (err == SSL_ERROR_WANT_READ) break;  // a partial record, or a post-handshake message
    if (err == SSL_ERROR_ZERO_RETURN) {     // close_notify (RFC 8446 §6.1)
      peer_closed = true;
      break;
    }
    return fail(ret, "TLS read failed");  // bytes already appended stay in `dst`
  }
  return total;
}

// Points the BIO at the caller's span for the length of one call. The span dies with the call,
// so what BoringSSL left unread is copied to the stash, except when nothing will ever read it
// (after close_notify, RFC 8446 §6.1, or a fatal error).
class Engine::Impl::InputScope {
 public:
  InputScope(Impl& im, std::string_view wire) : im_(im) { im_.in = wire; }
  ~InputScope() {
    if (im_.peer_closed || im_.failed) {
      im_.stash.clear();
    } else if (!im_.in.empty()) {
      im_.stash.append(im_.in);
    }
    im_.in = {};
    im_.stash.release();  // no-op unless empty: a partial record is rare, keep idle cost 0
  }
  InputScope(const InputScope&) = delete;
  InputScope& operator=(const InputScope&) = delete;

 private:
  Impl& im_;
};

// Points the BIO's writes at the caller's buffer for the length of one call.
class Engine::Impl::OutputScope {
 public:
  OutputScope(Impl& im, base::Buffer& dst) : im_(im) {
    im_.takePending(dst);
    im_.out = &dst;
  }
  ~OutputScope() { im_.out = nullptr; }
  OutputScope(const OutputScope&) = delete;
  OutputScope& operator=(const OutputScope&) = delete;

 private:
  Impl& im_;
};

// The BIO between BoringSSL and the engine's buffers. BoringSSL reads a record as its 5-byte
// header and then its body, each with one BIO_read, and writes each sealed record (or handshake
// flight) with BIO_write, then BIO_flush.
int Engine::Impl::bioRead(BIO* bio, char* dst, int len) {
  BIO_clear_retry_flags(bio);
  auto* im = static_cast<Impl*>(BIO_get_data(bio));
  if (!im || len <= 0) return 0;
  size_t want = static_cast<size_t>(len);
  size_t got = 0;
  if (!im->stash.empty()) {
    got = std::min(want, im->stash.size());
    std::memcpy(dst, im->stash.data(), got);
    im->stash.consume(got);
  }
  if (got < want && !im->in.empty()) {
    size_t n = std::min(want - got, im->in.size());
    std::memcpy(dst + got, im->in.data(), n);
    im->in.remove_prefix(n);
    got += n;
  }
  if (got == 0) {
    // "Want read", not EOF: 0 would make BoringSSL treat the connection as closed by the peer
    // without a close_notify (DESIGN 3.4 rule 6).
    BIO_set_retry_read(bio);
    return -1;
  }
  return static_cast<int>(got);
}

int Engine::Impl::bioWrite(BIO* bio, const char* src, int len) {
  BIO_clear_retry_flags(bio);
  auto* im = static_cast<Impl*>(BIO_get_data(bio));
  if (!im || len <= 0) return 0;
  // Copy 3 (see the top of the file). Never refuses: the engine never says "want write", the
  // caller applies backpressure (watermarks) on plaintext instead.
  im->sink().append(src, static_cast<size_t>(len));
  return len;
}

long Engine::Impl::bioCtrl(BIO* bio, int cmd, long, void*) {
  auto* im = static_cast<Impl*>(BIO_get_data(bio));
  switch (cmd) {
    case BIO_CTRL_FLUSH:  // BoringSSL flushes after each flight; <= 0 would fail the handshake
      return 1;
    case BIO_CTRL_PENDING:
      return im ? static_cast<long>(im->inputPending()) : 0;
    case BIO_CTRL_WPENDING:
      return im ? static_cast<long>(im->pending.size()) : 0;
    default:  // nothing else applies (no fd, no close flag, no reset)
      return 0;
  }
}

// The BIO is not usable until create() attached it to its Impl (BIO_read/BIO_write refuse an
// uninitialised BIO), and it owns nothing: the Impl owns the buffers and outlives the SSL.
int Engine::Impl::bioCreate(BIO* bio) {
  BIO_set_data(bio, nullptr);
  BIO_set_init(bio, 0);
  return 1;
}

int Engine::Impl::bioDestroy(BIO* bio) {
  BIO_set_data(bio, nullptr);
  BIO_set_init(bio, 0);
  return 1;
}

const BIO_METHOD* Engine::Impl::bioMethod() {
  static const BIO_METHOD* const method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "portcullis");
    if (!m || !BIO_meth_set_read(m, bioRead) || !BIO_meth_set_write(m, bioWrite) ||
        !BIO_meth_set_ctrl(m, bioCtrl) || !BIO_meth_set_create(m, bioCreate) ||
        !BIO_meth_set_destroy(m, bioDestroy)) {
      BIO_meth_free(m);
      return static_cast<BIO_METHOD*>(nullptr);
    }
    return m;
  }();
  return method;  // never freed, like clientContext() in engine.cc
}

// Creates the SSL with its BIO.
base::Result<std::unique_ptr<Engine::Impl>> Engine::Impl::create(SSL_CTX* ctx) {
  auto impl = std::make_unique<Impl>();
  impl->ssl.reset(SSL_new(ctx));
  if (!impl->ssl) return takeError("cannot create TLS connection");
  const BIO_METHOD* method = bioMethod();
  BIO* bio = method ? BIO_new(method) : nullptr;
  if (!bio) return takeError("cannot create the TLS BIO");
  // The Impl is on the heap and never moves (Engine moves the pointer), so the BIO can point
  // at it for the life of the SSL.
  BIO_set_data(bio, impl.get());
  BIO_set_init(bio, 1);
  // One BIO for both directions: SSL_set_bio takes that single reference, and frees the BIO
  // with the SSL.
  SSL_set_bio(impl->ssl.get(), bio, bio);
  return impl;
}

base::Result<size_t> Engine::feed(std::string_view wire, base::Buffer& plaintext,
                                   base::Buffer& ciphertext) {
  Impl& im = *impl_;
  // Before the failure check: an alert from a failed buffered call may still be in `pending`.
  Impl::OutputScope out(im, ciphertext);
  if (im.failed) return *im.failed;
  Impl::InputScope in(im, wire);
  if (!im.handshake_done) {
    if (auto r = im.driveHandshake(); !r) return r.error();
  }
  // Records that came with the peer's Finished are decrypted in the same call.
  return im.readAll(plaintext);
}

base::Result<void> Engine::feedCiphertext(std::string_view wire) {
  Impl& im = *impl_;
  if (im.failed) return *im.failed;
  // The handshake reads `wire` in place; what it leaves (all of it once the handshake is done)
  // is copied to the stash until readPlaintext().
  Impl::InputScope in(im, wire);
  // After the handshake, records wait until readPlaintext(); decryption errors surface there.
  // Application data that arrived together with the peer's Finished does too.
  if (!im.handshake_done) return im.driveHandshake();
  return {};
}

base::Result<size_t> Engine::readPlaintext(base::Buffer& out) {
  Impl& im = *impl_;
  if (im.failed) return *im.failed;
  Impl::InputScope in(im, {});
  return im.readAll(out);
}

base::Result<void> Engine::writePlaintext(std::string_view app) {
  Impl& im = *impl_;
  if (im.failed) return *im.failed;
  if (app.empty()) return {};
  if (!im.handshake_done) {
    // A server normally answers only after reading a request, but buffering here makes early
    // writes (a client's first request, a canned error) safe instead of an error.
    im.early_plaintext.append(app);
    return {};
  }
  if (im.shutdown_sent) return im.failWith("TLS write after shutdown");
  return im.writeAll(app);
}

base::Result<void> Engine::writePlaintext(std::string_view app, base::Buffer& ciphertext) {
  Impl::OutputScope out(*impl_, ciphertext);
  return writePlaintext(app);
}

size_t Engine::drainCiphertext(base::Buffer& out) {
  // Works after a failure too: the fatal alert BoringSSL wrote is still to be sent.
  return impl_->takePending(out);
}

void Engine::shutdown() {
  Impl& im = *impl_;
  // Before the handshake completes there is nothing to close cleanly (BoringSSL's SSL_shutdown
  // would silently do nothing), and after a fatal error the alert already said it all.
  if (im.failed || !im.handshake_done || im.shutdown_sent) return;
  im.shutdown_sent = true;
  // Returns 0: close_notify written, the peer's not seen yet. We do not wait for the peer's
  // close_notify (RFC 8446 §6.1 allows closing the read side at once); reads still report it
  // through peerClosed() if it arrives.
  int ret = SSL_shutdown(im.ssl.get());
  if (ret < 0) {
    SSL_get_error(im.ssl.get(), ret);
    clearErrors();  // not fatal for the caller: it is closing anyway
  }
}

void Engine::shutdown(base::Buffer& ciphertext) {
  Impl::OutputScope out(*impl_, ciphertext);
  shutdown();
}

void Engine::releaseBuffers() {
  if (!impl_) return;
  Impl& im = *impl_;
  if (im.early_plaintext.empty()) im.early_plaintext.shrink_to_fit();
  // Each is a no-op unless empty: bytes waiting (a partial record, undrained output) stay.
  im.stash.release();
  im.pending.release();
}

}  // namespace portcullis::tls
