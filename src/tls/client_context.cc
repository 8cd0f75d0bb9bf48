#include "tls/client_context.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <unistd.h>

#include <mutex>
#include <unordered_map>

#include "tls/client_context_impl.h"
#include "tls/errors.h"
#include "tls/internal.h"

namespace portcullis::tls {
namespace {

// Debian's (and Ubuntu's) bundle; Debian's BoringSSL looks in /etc/ssl/cert.pem, which Debian
// does not ship.
constexpr const char* kDebianBundle = "/etc/ssl/certs/ca-certificates.crt";


size_t storeSize(SSL_CTX* ctx) {
  X509_STORE* store = SSL_CTX_get_cert_store(ctx);
  STACK_OF(X509_OBJECT)* objs = store ? X509_STORE_get0_objects(store) : nullptr;
  return objs ? sk_X509_OBJECT_num(objs) : 0;
}

// Called by BoringSSL with every session the server gives us: after a TLS 1.2 handshake, and
// for each TLS 1.3 NewSessionTicket (which arrives after the handshake, on a read).
int onNewSession(SSL* ssl, SSL_SESSION* session) {
  auto* impl = static_cast<ClientContext::Impl*>(
      SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), internal::clientContextIndex()));
  auto* key = static_cast<const std::string*>(SSL_get_ex_data(ssl, internal::sessionKeyIndex()));
  if (!impl || !key || key->empty()) return 0;  // 0: we did not take the reference
  impl->sessions.put(*key, bssl::UniquePtr<SSL_SESSION>(session));
  return 1;  // 1: we own the reference now
}

}  // namespace

ClientContext::ClientContext() : impl_(std::make_unique<Impl>()) {}
ClientContext::~ClientContext() = default;

base::Result<std::shared_ptr<const ClientContext>> ClientContext::create(
    const ClientContextOptions& opts) {
  clearErrors();
  auto checkVersion = [](TlsVersion v) {
    return v == TlsVersion::Tls1_2 || v == TlsVersion::Tls1_3;
  };
  if (!checkVersion(opts.min_version) || !checkVersion(opts.max_version)) {
    return failWith("upstream TLS versions must be 1.2 or 1.3 (RFC 8996 deprecates 1.0 and 1.1)");
  }
  if (opts.min_version == TlsVersion::Tls1_3 && opts.max_version == TlsVersion::Tls1_2) {
    return failWith("upstream TLS minimum version is above the maximum");
  }
  std::shared_ptr<ClientContext> out(new ClientContext());
  Impl& impl = *out->impl_;
  impl.verify = opts.verify;
  impl.sessions.setCapacity(opts.session_cache_size);
  impl.ctx.reset(SSL_CTX_new(TLS_method()));
  SSL_CTX* ctx = impl.ctx.get();
  if (!ctx) return takeError("cannot create TLS client context");

  if (auto r = internal::setProtocols(ctx, opts.min_version, opts.max_version, opts.tls12_ciphers, opts.curves); !r)
    return r.error();
  if (!opts.alpn.empty()) {
    auto wire = internal::encodeAlpn(opts.alpn);
    if (!wire) return wire.error();
    // Unlike almost every other BoringSSL function, SSL_CTX_set_alpn_protos returns 0 on success.
    if (SSL_CTX_set_alpn_protos(ctx, reinterpret_cast<const uint8_t*>(wire->data()),
                                wire->size()) != 0) {
      return takeError("cannot set ALPN");
    }
  }

  if (opts.verify) {
    if (!opts.ca_file.empty()) {
      if (SSL_CTX_load_verify_locations(ctx, opts.ca_file.c_str(), nullptr) != 1) {
        return takeError("cannot read CA file " + opts.ca_file);
      }
    } else {
      // Both: the default paths may name a hashed directory (looked up lazily, so not counted
      // below), and the Debian bundle is the one that is actually there.
      SSL_CTX_set_default_verify_paths(ctx);
      clearErrors();
      if (SSL_CTX_load_verify_locations(ctx, kDebianBundle, nullptr) != 1) clearErrors();
      if (storeSize(ctx) == 0 && access(X509_get_default_cert_dir(), R_OK) != 0) {
        return failWith(std::string("no system CA certificates found (tried ") + kDebianBundle +
                    ", " + X509_get_default_cert_file() + ", " + X509_get_default_cert_dir() +
                    "); configure a CA file");
      }
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  } else {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
  }

  if (!opts.certificate_file.empty() || !opts.key_file.empty()) {
    if (SSL_CTX_use_certificate_chain_file(ctx, opts.certificate_file.c_str()) != 1) {
      return takeError("cannot read client certificate " + opts.certificate_file);
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, opts.key_file.c_str(), SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1) {
      return takeError("cannot use client key " + opts.key_file);
    }
  }

  SSL_CTX_set_ex_data(ctx, internal::clientContextIndex(), &impl);
  if (opts.session_cache_size > 0) {
    // NO_INTERNAL: BoringSSL's own client cache does nothing useful for us (it is keyed by
    // nothing); the callback hands every new session to our per-host cache instead.
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL);
    SSL_CTX_sess_set_new_cb(ctx, &onNewSession);
  } else {
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
  }
  clearErrors();
  return std::shared_ptr<const ClientContext>(std::move(out));
}

bool ClientContext::verifies() const { return impl_->verify; }
size_t ClientContext::cachedSessions() const { return impl_->sessions.size(); }
void ClientContext::clearSessions() const { impl_->sessions.clear(); }
void* ClientContext::native() const { return impl_->ctx.get(); }

}  // namespace portcullis::tls
