#include "tls/engine.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "tls/client_context_impl.h"
#include "tls/engine_impl.h"
#include "tls/errors.h"
#include "tls/internal.h"
#include "tls/stats.h"

// Creating engines, the handshake and its failures, and what the handshake established. The
// BIO and record I/O are in engine_io.cc.

namespace portcullis::tls {
namespace {

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

base::Error Engine::Impl::fail(int ret, std::string_view what) {
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

base::Error Engine::Impl::failWith(std::string message) {
  failed = tls::failWith(std::move(message));
  return *failed;
}

HandshakeFailure Engine::Impl::classifyFailure(int ret) {
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

base::Result<void> Engine::Impl::driveHandshake() {
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
  // Only an HTTP/2 client coalesces: an HTTP/1.1 handshake need not copy them.
  if (i.alpn == "h2") {
    if (const auto* names = internal::chosenCertificateNames(impl_->ssl.get())) i.certificate_names = *names;
  }
  // One parse of the leaf for both: a client certificate is only there with client_auth on.
  if (bssl::UniquePtr<X509> leaf = peerLeaf(impl_->ssl.get())) {
    i.client_subject = internal::subjectLine(leaf.get());
    i.client_fingerprint = internal::sha256Fingerprint(leaf.get());
  }
  return i;
}

}  // namespace portcullis::tls
