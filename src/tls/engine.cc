#include "tls/engine.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <cstring>
#include <optional>
#include <utility>

#include "tls/client_context_impl.h"
#include "tls/errors.h"
#include "tls/internal.h"
#include "tls/stats.h"

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

// The static SSL_CTX for client engines: tests and (later) TLS to upstreams. Verification is
// off on purpose (tests use self-signed certificates); versions and ciphers are set per SSL.
// No client session cache: each client engine does a full handshake.
SSL_CTX* clientContext() {
  static SSL_CTX* const ctx = [] {
    SSL_CTX* c = SSL_CTX_new(TLS_method());
    if (!c) return c;
    SSL_CTX_set_verify(c, SSL_VERIFY_NONE, nullptr);
    SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
    return c;
  }();
  return ctx;  // never freed: lives as long as the process, like BoringSSL's own globals
}

}  // namespace

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

  // Gives the caller's buffer what the buffered calls (or forClient) left in `pending`, so it
  // goes out before anything this call writes. Swapping leaves `pending` with the caller's
  // old (empty) storage: released, since `pending` is rarely used by a zero-copy caller.
  size_t takePending(base::Buffer& dst) {
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

  // Records a fatal failure after an SSL call returned `ret`. SSL_get_error must come first: it
  // looks at the ERR queue, which takeError() then empties.
  base::Error fail(int ret, std::string_view what) {
    int err = SSL_get_error(ssl.get(), ret);
    base::Error e;
    uint32_t first = peekFirstError();
    long verify = SSL_get_verify_result(ssl.get());
    switch (err) {
      case SSL_ERROR_SSL:
        if (ERR_GET_LIB(first) == ERR_LIB_SSL &&
            ERR_GET_REASON(first) == SSL_R_CERTIFICATE_VERIFY_FAILED && verify != X509_V_OK) {
          // "SSL routines: CERTIFICATE_VERIFY_FAILED" says nothing about why; the verify
          // result does ("Hostname mismatch", "unable to get local issuer certificate", ...).
          clearErrors();
          e = base::makeError(std::string(what) + ": certificate verify failed: " +
                              X509_verify_cert_error_string(verify));
          break;
        }
        e = takeError(what);
        break;
      case SSL_ERROR_SYSCALL:  // with our BIO: only an unexpected EOF, which it never signals
        e = base::makeError(std::string(what) + ": " + takeErrorText("unexpected end of stream"));
        break;
      default:
        clearErrors();
        e = base::makeError(std::string(what) + ": SSL_get_error " + std::to_string(err));
        break;
    }
    failed = e;
    return e;
  }

  base::Error failWith(std::string message) {  // sticky, unlike tls::failWith
    failed = tls::failWith(std::move(message));
    return *failed;
  }

  // Encrypts all of `app`. Our BIO never refuses a write and partial writes are off, so
  // SSL_write either takes the whole chunk or fails.
  base::Result<void> writeAll(std::string_view app) {
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

  // Before fail(), which empties the ERR queue. BoringSSL's first error is the one that decided.
  HandshakeFailure classifyFailure(int ret) {
    if (SSL_get_error(ssl.get(), ret) != SSL_ERROR_SSL) return HandshakeFailure::Other;
    uint32_t first = peekFirstError();
    if (ERR_GET_LIB(first) != ERR_LIB_SSL) return HandshakeFailure::Other;
    switch (ERR_GET_REASON(first)) {
      case SSL_R_NO_SHARED_CIPHER:
      case SSL_R_NO_SHARED_GROUP:
      case SSL_R_NO_CIPHER_MATCH:
      case SSL_R_SSLV3_ALERT_HANDSHAKE_FAILURE:
        return HandshakeFailure::NoSharedCipher;
      case SSL_R_UNSUPPORTED_PROTOCOL:
      case SSL_R_TLSV1_ALERT_PROTOCOL_VERSION:
        return HandshakeFailure::UnsupportedVersion;
      case SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE:
      case SSL_R_TLSV1_CERTIFICATE_REQUIRED:
        return HandshakeFailure::CertificateRequired;
      case SSL_R_CERTIFICATE_VERIFY_FAILED:
        return HandshakeFailure::CertificateInvalid;
      case SSL_R_TLSV1_ALERT_UNKNOWN_CA:
      case SSL_R_SSLV3_ALERT_BAD_CERTIFICATE:
      case SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN:
      case SSL_R_SSLV3_ALERT_CERTIFICATE_EXPIRED:
      case SSL_R_SSLV3_ALERT_CERTIFICATE_REVOKED:
      case SSL_R_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE:
        return HandshakeFailure::CertificateRejected;
      default:
        return HandshakeFailure::ProtocolError;  // an SSL-library error not above: the peer misbehaved
    }
  }

  // Runs the handshake as far as the input allows. WANT_READ is normal: it needs more bytes.
  base::Result<void> driveHandshake() {
    int ret = SSL_do_handshake(ssl.get());
    if (ret != 1) {
      if (SSL_get_error(ssl.get(), ret) == SSL_ERROR_WANT_READ) return {};
      countHandshakeFailure(server, classifyFailure(ret));
      return fail(ret, "TLS handshake failed");
    }
    handshake_done = true;
    countHandshake(server, SSL_session_reused(ssl.get()) ? HandshakeOutcome::Resumed
                                                         : HandshakeOutcome::Full);
    if (server) {
      // A TLS 1.3 BoringSSL server holds its NewSessionTicket messages until the application
      // next writes (so that a client which never reads cannot stall a server with a small
      // socket buffer). Our BIO appends to memory and never stalls, and a client that sends a
      // request and waits should have its tickets now, not with the response: a zero-byte
      // write flushes them (the way ssl.h suggests). Nothing to report if it fails: the
      // tickets would go with the first response instead.
      if (SSL_write(ssl.get(), "", 0) < 0) clearErrors();
    }
    if (!early_plaintext.empty()) {
      std::string early = std::exchange(early_plaintext, {});  // also frees its capacity
      return writeAll(early);
    }
    return {};
  }

  // Decrypts everything the input holds into `dst`.
  base::Result<size_t> readAll(base::Buffer& dst) {
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
  return method;  // never freed, like clientContext()
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

base::Result<Engine> Engine::forServer(std::shared_ptr<const Context> ctx) {
  if (!ctx || !ctx->native()) return base::makeError("TLS server engine needs a context");
  auto impl = Impl::create(static_cast<SSL_CTX*>(ctx->native()));
  if (!impl) return impl.error();
  SSL_set_accept_state((*impl)->ssl.get());
  // Frees the handshake configuration (certificate chains, keys, ALPN and cipher settings) once
  // the handshake is done: memory per idle connection. Everything Engine asks afterwards (SNI,
  // ALPN, cipher, version, peer certificate) comes from the handshake's results, which stay.
  // Clients keep theirs: they are few (pooled upstream connections).
  SSL_set_shed_handshake_config((*impl)->ssl.get(), 1);
  (*impl)->server = true;
  (*impl)->ctx = std::move(ctx);
  Engine e;
  e.impl_ = std::move(*impl);
  return e;
}

base::Result<Engine> Engine::forClient(std::string_view sni, std::string_view alpn) {
  ClientOptions opts;
  opts.sni = std::string(sni);
  opts.alpn = std::string(alpn);
  return forClient(opts);
}

base::Result<Engine> Engine::forClient(const ClientOptions& opts) {
  clearErrors();
  SSL_CTX* ctx = clientContext();
  if (!ctx) return takeError("cannot create TLS client context");
  auto created = Impl::create(ctx);
  if (!created) return created.error();
  std::unique_ptr<Impl> impl = std::move(*created);
  SSL* ssl = impl->ssl.get();
  SSL_set_connect_state(ssl);

  if (SSL_set_min_proto_version(ssl, internal::toWire(opts.min_version)) != 1 ||
      SSL_set_max_proto_version(ssl, internal::toWire(opts.max_version)) != 1) {
    return takeError("cannot set TLS versions");
  }
  if (!opts.tls12_ciphers.empty() &&
      SSL_set_strict_cipher_list(ssl, opts.tls12_ciphers.c_str()) != 1) {
    return takeError("cannot set cipher list '" + opts.tls12_ciphers + "'");
  }
  if (!opts.sni.empty() && SSL_set_tlsext_host_name(ssl, opts.sni.c_str()) != 1) {
    return takeError("cannot set server name '" + opts.sni + "'");
  }
  if (!opts.signature_algorithms.empty() &&
      SSL_set_verify_algorithm_prefs(ssl, opts.signature_algorithms.data(),
                                     opts.signature_algorithms.size()) != 1) {
    return takeError("cannot set signature algorithms");
  }
  if (!opts.alpn.empty()) {
    auto wire = internal::encodeAlpn(std::string_view(opts.alpn));
    if (!wire) return wire.error();
    // Unlike almost every other BoringSSL function, SSL_set_alpn_protos returns 0 on success.
    if (SSL_set_alpn_protos(ssl, reinterpret_cast<const uint8_t*>(wire->data()), wire->size()) !=
        0) {
      return takeError("cannot set ALPN");
    }
  }

  // Writes the ClientHello into `pending`, so the caller can drain it right away.
  if (auto r = impl->driveHandshake(); !r) return r.error();
  Engine e;
  e.impl_ = std::move(impl);
  return e;
}

base::Result<Engine> Engine::forClient(std::shared_ptr<const ClientContext> ctx,
                                      std::string_view host) {
  clearErrors();
  if (!ctx || !ctx->native()) return base::makeError("TLS client engine needs a context");
  std::string name = internal::normalizeHost(host);
  bool ip = internal::isIpLiteral(name);
  if (ctx->verifies() && name.empty()) {
    return base::makeError("cannot verify an upstream certificate without a host name");
  }
  auto created = Impl::create(static_cast<SSL_CTX*>(ctx->native()));
  if (!created) return created.error();
  std::unique_ptr<Impl> impl = std::move(*created);
  SSL* ssl = impl->ssl.get();
  SSL_set_connect_state(ssl);
  if (!name.empty() && !ip && SSL_set_tlsext_host_name(ssl, name.c_str()) != 1) {
    return takeError("cannot set server name '" + name + "'");
  }
  if (ctx->verifies()) {
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
    std::string bare = name;
    if (ip && bare.size() > 2 && bare.front() == '[') bare = bare.substr(1, bare.size() - 2);
    // RFC 6125 §6.4.3: a wildcard matches one whole left-most label (BoringSSL never matches
    // partial wildcards). An IP literal must be in an IP subjectAltName (RFC 6125 §1.7.2).
    int ok = ip ? X509_VERIFY_PARAM_set1_ip_asc(param, bare.c_str())
                : X509_VERIFY_PARAM_set1_host(param, bare.data(), bare.size());
    if (ok != 1) return takeError("cannot set the host name to verify '" + name + "'");
  }
  // The session cache key is the host: the same name means the same upstream certificate and
  // so the same verification. Ex-data points into Impl, which outlives the SSL it owns.
  impl->session_key = name;
  SSL_set_ex_data(ssl, internal::sessionKeyIndex(), &impl->session_key);
  if (!name.empty()) {
    if (bssl::UniquePtr<SSL_SESSION> session = ctx->impl().sessions.get(name)) {
      SSL_set_session(ssl, session.get());  // takes its own reference
    }
  }
  impl->client_ctx = std::move(ctx);
  // Writes the ClientHello into `pending`, so the caller can drain it right away.
  if (auto r = impl->driveHandshake(); !r) return r.error();
  Engine e;
  e.impl_ = std::move(impl);
  return e;
}

Engine::Engine(Engine&&) noexcept = default;
Engine& Engine::operator=(Engine&&) noexcept = default;
Engine::~Engine() = default;

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

bool Engine::handshakeDone() const { return impl_ && impl_->handshake_done; }

bool Engine::peerClosed() const { return impl_ && impl_->peer_closed; }

std::string_view Engine::alpn() const {
  if (!impl_) return {};
  const uint8_t* data = nullptr;
  unsigned len = 0;
  SSL_get0_alpn_selected(impl_->ssl.get(), &data, &len);
  return data ? std::string_view(reinterpret_cast<const char*>(data), len) : std::string_view{};
}

std::string_view Engine::serverName() const {
  if (!impl_) return {};
  const char* name = SSL_get_servername(impl_->ssl.get(), TLSEXT_NAMETYPE_host_name);
  return name ? std::string_view(name) : std::string_view{};
}

bool Engine::sessionReused() const { return impl_ && SSL_session_reused(impl_->ssl.get()) == 1; }

std::string_view Engine::protocolVersion() const {
  if (!handshakeDone()) return {};
  return SSL_get_version(impl_->ssl.get());
}

std::string_view Engine::cipherName() const {
  if (!impl_) return {};
  const SSL_CIPHER* cipher = SSL_get_current_cipher(impl_->ssl.get());
  return cipher ? std::string_view(SSL_CIPHER_get_name(cipher)) : std::string_view{};
}

namespace {
// The peer's leaf, or null. The server side has to ask SSL_get_peer_certificate (the chain
// from SSL_get0_peer_certificates omits nothing, but the X509 form is what the helpers take).
bssl::UniquePtr<X509> peerLeaf(const SSL* ssl) {
  return bssl::UniquePtr<X509>(SSL_get_peer_certificate(ssl));
}
}  // namespace

std::string Engine::peerSubject() const {
  if (!handshakeDone()) return {};
  bssl::UniquePtr<X509> leaf = peerLeaf(impl_->ssl.get());
  return leaf ? internal::subjectLine(leaf.get()) : std::string();
}

std::string Engine::peerFingerprint() const {
  if (!handshakeDone()) return {};
  bssl::UniquePtr<X509> leaf = peerLeaf(impl_->ssl.get());
  return leaf ? internal::sha256Fingerprint(leaf.get()) : std::string();
}

base::TlsInfo Engine::info() const {
  base::TlsInfo i;
  if (!handshakeDone()) return i;
  i.version = protocolVersion();
  i.cipher = cipherName();
  if (uint16_t id = SSL_get_curve_id(impl_->ssl.get()); id != 0) {
    if (const char* name = SSL_get_curve_name(id)) i.group = name;
  }
  i.alpn = alpn();
  i.sni = serverName();
  i.resumed = sessionReused();
  // One parse of the leaf for both: a client certificate is only there with client_auth on.
  if (bssl::UniquePtr<X509> leaf = peerLeaf(impl_->ssl.get())) {
    i.client_subject = internal::subjectLine(leaf.get());
    i.client_fingerprint = internal::sha256Fingerprint(leaf.get());
  }
  return i;
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
