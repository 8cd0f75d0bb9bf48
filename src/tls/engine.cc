#include "tls/engine.h"

#include <openssl/bio.h>
#include <openssl/buf.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <climits>
#include <optional>
#include <utility>

#include "tls/client_context_impl.h"
#include "tls/errors.h"
#include "tls/internal.h"
#include "tls/stats.h"

// Where the bytes are copied (DESIGN 3.4 rule 4: TLS adds the copies its memory BIOs force and
// no others):
//   inbound:  socket buffer --(1: feedCiphertext, BIO_write)--> rbio --(2: BoringSSL reads the
//             record into its own buffer, decrypts in place)--> --(3: SSL_read)--> caller's Buffer
//   outbound: caller's bytes --(encryption writes the record into BoringSSL's write buffer)-->
//             --(4: BIO_write)--> wbio --(5: drainCiphertext, BIO_read)--> caller's Buffer
// Copies 1 and 4-5 are the price of memory BIOs; a custom BIO_METHOD reading the caller's span
// and writing straight into a base::Buffer would remove them (and the memmove below) later.
// Also note BoringSSL's mem BIO memmoves what is left after every read (it has no read cursor),
// and BoringSSL reads a record as a 5-byte header then the body: feeding one socket read at a
// time (<= 64 KiB) keeps that cheap; feeding megabytes at once costs O(size^2 / 16 KiB).

namespace portcullis::tls {
namespace {

// One TLS record carries at most 2^14 plaintext bytes (RFC 8446 §5.1), and SSL_read returns at
// most one record per call, so this is the most a single SSL_read can produce.
constexpr size_t kMaxRecordPlaintext = 16384;
// BIO_read/BIO_write/SSL_write take an int length.
constexpr size_t kMaxChunk = size_t{1} << 30;

// Memory BIO whose empty read returns -1 with the retry flag, i.e. "want read", rather than 0,
// which BoringSSL would take as the peer's EOF (DESIGN 3.4 rule 6). -1 is already the mem BIO
// default; set it anyway so the behaviour we rely on is written down where it matters.
BIO* newReadBio() {
  BIO* bio = BIO_new(BIO_s_mem());
  if (bio) BIO_set_mem_eof_return(bio, -1);
  return bio;
}

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
  bssl::UniquePtr<SSL> ssl;
  // Plaintext written before the handshake finished; sent as soon as it does.
  std::string early_plaintext;
  bool handshake_done = false;
  bool shutdown_sent = false;
  bool server = false;
  std::optional<base::Error> failed;  // sticky: once fatal, every call reports this

  BIO* rbio() const { return SSL_get_rbio(ssl.get()); }
  BIO* wbio() const { return SSL_get_wbio(ssl.get()); }

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
      case SSL_ERROR_SYSCALL:  // with memory BIOs: only an unexpected EOF, which we never signal
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

  base::Error failWith(std::string message) {
    clearErrors();
    failed = base::makeError(std::move(message));
    return *failed;
  }

  // Encrypts all of `app` into wbio. A memory BIO never refuses a write and partial writes are
  // off, so SSL_write either takes the whole chunk or fails.
  base::Result<void> writeAll(std::string_view app) {
    while (!app.empty()) {
      int n = static_cast<int>(std::min(app.size(), kMaxChunk));
      int ret = SSL_write(ssl.get(), app.data(), n);
      if (ret <= 0) return fail(ret, "TLS write failed");
      app.remove_prefix(static_cast<size_t>(ret));
    }
    return {};
  }

  // Runs the handshake as far as the input allows. WANT_READ is normal: it needs more bytes.
  base::Result<void> driveHandshake() {
    int ret = SSL_do_handshake(ssl.get());
    if (ret != 1) {
      if (SSL_get_error(ssl.get(), ret) == SSL_ERROR_WANT_READ) return {};
      countHandshake(server, HandshakeOutcome::Failed);
      return fail(ret, "TLS handshake failed");
    }
    handshake_done = true;
    countHandshake(server, SSL_session_reused(ssl.get()) ? HandshakeOutcome::Resumed
                                                         : HandshakeOutcome::Full);
    if (server) {
      // A TLS 1.3 BoringSSL server holds its NewSessionTicket messages until the application
      // next writes (so that a client which never reads cannot stall a server with a small
      // socket buffer). Our wbio is memory and never stalls, and a client that sends a request
      // and waits should have its tickets now, not with the response: a zero-byte write
      // flushes them (the way ssl.h suggests). Nothing to report if it fails: the tickets would
      // go with the first response instead.
      if (SSL_write(ssl.get(), "", 0) < 0) clearErrors();
    }
    if (!early_plaintext.empty()) {
      std::string pending = std::exchange(early_plaintext, {});  // also frees its capacity
      return writeAll(pending);
    }
    return {};
  }

  // Creates the SSL with its two memory BIOs.
  static base::Result<std::unique_ptr<Impl>> create(SSL_CTX* ctx) {
    auto impl = std::make_unique<Impl>();
    impl->ssl.reset(SSL_new(ctx));
    if (!impl->ssl) return takeError("cannot create TLS connection");
    BIO* rbio = newReadBio();
    BIO* wbio = BIO_new(BIO_s_mem());
    if (!rbio || !wbio) {
      BIO_free(rbio);
      BIO_free(wbio);
      return takeError("cannot create TLS memory buffers");
    }
    // SSL_set_bio takes ownership of both BIOs: they are freed with the SSL, never by us.
    SSL_set_bio(impl->ssl.get(), rbio, wbio);
    return impl;
  }
};

base::Result<Engine> Engine::forServer(std::shared_ptr<const Context> ctx) {
  if (!ctx || !ctx->native()) return base::makeError("TLS server engine needs a context");
  auto impl = Impl::create(static_cast<SSL_CTX*>(ctx->native()));
  if (!impl) return impl.error();
  SSL_set_accept_state((*impl)->ssl.get());
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

  // Writes the ClientHello into wbio, so the caller can drain it right away.
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
  // Writes the ClientHello into wbio, so the caller can drain it right away.
  if (auto r = impl->driveHandshake(); !r) return r.error();
  Engine e;
  e.impl_ = std::move(impl);
  return e;
}

Engine::Engine(Engine&&) noexcept = default;
Engine& Engine::operator=(Engine&&) noexcept = default;
Engine::~Engine() = default;

base::Result<void> Engine::feedCiphertext(std::string_view wire) {
  Impl& im = *impl_;
  if (im.failed) return *im.failed;
  // Copy 1 (see the top of the file): socket bytes into rbio.
  while (!wire.empty()) {
    int n = static_cast<int>(std::min(wire.size(), kMaxChunk));
    int ret = BIO_write(im.rbio(), wire.data(), n);
    if (ret <= 0) {
      im.failed = takeError("cannot buffer TLS input");  // memory BIO: only on out-of-memory
      return *im.failed;
    }
    wire.remove_prefix(static_cast<size_t>(ret));
  }
  // After the handshake, records wait in rbio until readPlaintext(); decryption errors surface
  // there. Application data that arrived together with the peer's Finished does too.
  if (!im.handshake_done) return im.driveHandshake();
  return {};
}

base::Result<size_t> Engine::readPlaintext(base::Buffer& out) {
  Impl& im = *impl_;
  if (im.failed) return *im.failed;
  if (!im.handshake_done || peer_closed_) return size_t{0};
  size_t total = 0;
  // Nothing buffered anywhere: skip reserving 16 KiB of `out` just to learn "want read".
  while (BIO_pending(im.rbio()) > 0 || SSL_has_pending(im.ssl.get())) {
    // Copy 3: plaintext into the caller's buffer. Reserve what can actually come out (the
    // ciphertext waiting bounds the plaintext), not a whole record: a 300-byte request then
    // costs a 4 KiB input buffer instead of 16 KiB, per connection (issue 5, idle memory).
    // A record larger than the room is not lost: BoringSSL keeps the rest for the next turn.
    size_t avail = BIO_pending(im.rbio()) + static_cast<size_t>(SSL_pending(im.ssl.get()));
    size_t want = std::min(std::max<size_t>(avail, 1024), kMaxRecordPlaintext);
    char* dst = out.reserveTail(want);
    size_t room = std::min(out.tailRoom(), kMaxRecordPlaintext);
    int ret = SSL_read(im.ssl.get(), dst, static_cast<int>(room));
    if (ret > 0) {
      out.commit(static_cast<size_t>(ret));
      total += static_cast<size_t>(ret);
      continue;
    }
    int err = SSL_get_error(im.ssl.get(), ret);
    if (err == SSL_ERROR_WANT_READ) break;  // a partial record, or a post-handshake message
    if (err == SSL_ERROR_ZERO_RETURN) {     // close_notify (RFC 8446 §6.1)
      peer_closed_ = true;
      break;
    }
    return im.fail(ret, "TLS read failed");  // bytes already appended stay in `out`
  }
  return total;
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

size_t Engine::drainCiphertext(base::Buffer& out) {
  // Works after a failure too: the fatal alert BoringSSL wrote is still to be sent.
  BIO* wbio = impl_->wbio();
  size_t total = 0;
  // One BIO_read of everything pending: a single copy (5) and nothing left for the mem BIO to
  // memmove. (BIO_mem_contents + BIO_reset would cost the same copy plus a memset of the whole
  // BIO capacity on reset.)
  for (size_t pending = BIO_pending(wbio); pending > 0; pending = BIO_pending(wbio)) {
    size_t n = std::min(pending, kMaxChunk);
    int ret = BIO_read(wbio, out.reserveTail(n), static_cast<int>(n));
    if (ret <= 0) break;  // cannot happen with bytes pending in a memory BIO
    out.commit(static_cast<size_t>(ret));
    total += static_cast<size_t>(ret);
  }
  return total;
}

void Engine::shutdown() {
  Impl& im = *impl_;
  // Before the handshake completes there is nothing to close cleanly (BoringSSL's SSL_shutdown
  // would silently do nothing), and after a fatal error the alert already said it all.
  if (im.failed || !im.handshake_done || im.shutdown_sent) return;
  im.shutdown_sent = true;
  // Returns 0: close_notify queued in wbio, the peer's not seen yet. We do not wait for the
  // peer's close_notify (RFC 8446 §6.1 allows closing the read side at once); readPlaintext
  // still reports it through peerClosed() if it arrives.
  int ret = SSL_shutdown(im.ssl.get());
  if (ret < 0) {
    SSL_get_error(im.ssl.get(), ret);
    clearErrors();  // not fatal for the caller: it is closing anyway
  }
}

bool Engine::handshakeDone() const { return impl_ && impl_->handshake_done; }

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

void Engine::releaseBuffers() {
  if (!impl_ || impl_->failed) return;
  Impl& im = *impl_;
  if (im.early_plaintext.empty()) im.early_plaintext.shrink_to_fit();
  if (BIO_pending(im.rbio()) > 0 || BIO_pending(im.wbio()) > 0) return;
  // A memory BIO never shrinks its BUF_MEM; an empty one that once held a burst still holds its
  // capacity. Replacing an empty BIO loses nothing and frees that memory.
  auto holdsMemory = [](BIO* bio) {
    BUF_MEM* mem = nullptr;
    return BIO_get_mem_ptr(bio, &mem) == 1 && mem && mem->max > 0;
  };
  if (holdsMemory(im.rbio())) {
    if (BIO* fresh = newReadBio()) SSL_set0_rbio(im.ssl.get(), fresh);  // takes ownership
  }
  if (holdsMemory(im.wbio())) {
    if (BIO* fresh = BIO_new(BIO_s_mem())) SSL_set0_wbio(im.ssl.get(), fresh);  // takes ownership
  }
  clearErrors();  // a failed BIO_new above queued an error we chose to ignore
}

}  // namespace portcullis::tls
