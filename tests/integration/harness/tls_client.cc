#include "harness/tls_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/bio.h>
#include <openssl/digest.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace portcullis::integration {
namespace {

// Drains BoringSSL's error queue into one line.
std::string sslErrors() {
  std::string out;
  for (int i = 0; i < 16; ++i) {
    uint32_t e = ERR_get_error();
    if (e == 0) break;
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    out += (out.empty() ? "" : "; ") + std::string(buf);
  }
  return out.empty() ? "(no SSL error queued)" : out;
}

// Lowercase hex SHA-256 of a certificate's DER encoding; "" on failure.
std::string sha256Hex(X509* cert) {
  if (cert == nullptr) return "";
  uint8_t md[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  if (X509_digest(cert, EVP_sha256(), md, &len) != 1) return "";
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < len; ++i) {
    out += kHex[md[i] >> 4];
    out += kHex[md[i] & 0xf];
  }
  return out;
}

timeval toTimeval(milliseconds ms) {
  // SO_RCVTIMEO of zero means "forever": never hand it zero.
  auto v = std::max(ms, milliseconds(1));
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(v.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((v.count() % 1000) * 1000);
  return tv;
}

}  // namespace

TlsClient::~TlsClient() { close(); }

void TlsClient::close() {
  ssl_.reset();  // no close_notify: SSL_shutdown could block on a peer that went away
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

void TlsClient::setTimeouts(milliseconds recv, milliseconds send) {
  timeval r = toTimeval(recv), s = toTimeval(send);
  setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &r, sizeof r);
  setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &s, sizeof s);
}

::testing::AssertionResult TlsClient::connect(uint16_t port, const TlsOptions& options, milliseconds timeout) {
  close();
  ERR_clear_error();
  fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) return ::testing::AssertionFailure() << "socket: " << std::strerror(errno);
  int one = 1;
  setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  setTimeouts(timeout, timeout);  // Linux applies SO_SNDTIMEO to connect(2) too
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    return ::testing::AssertionFailure() << "connect 127.0.0.1:" << port << ": " << std::strerror(errno);
  }

  ctx_.reset(SSL_CTX_new(TLS_method()));
  if (!ctx_) return ::testing::AssertionFailure() << "SSL_CTX_new: " << sslErrors();
  SSL_CTX_set_min_proto_version(ctx_.get(), options.min_version);
  SSL_CTX_set_max_proto_version(ctx_.get(), options.max_version);
  SSL_CTX_set_verify(ctx_.get(), SSL_VERIFY_NONE, nullptr);
  // Sessions reach us through the callback (the only way to get TLS 1.3 tickets, which arrive
  // after the handshake); BoringSSL keeps no client cache of its own.
  session_.reset();
  SSL_CTX_set_session_cache_mode(ctx_.get(), SSL_SESS_CACHE_CLIENT);
  SSL_CTX_sess_set_new_cb(ctx_.get(), &TlsClient::onNewSession);
  if (!options.tls12_ciphers.empty() &&
      SSL_CTX_set_strict_cipher_list(ctx_.get(), options.tls12_ciphers.c_str()) != 1) {
    return ::testing::AssertionFailure() << "bad cipher list \"" << options.tls12_ciphers << "\": " << sslErrors();
  }
  if (!options.signature_algorithms.empty() &&
      SSL_CTX_set_verify_algorithm_prefs(ctx_.get(), options.signature_algorithms.data(),
                                         options.signature_algorithms.size()) != 1) {
    return ::testing::AssertionFailure() << "bad signature algorithms: " << sslErrors();
  }
  if (!options.client_certificate.empty()) {
    if (SSL_CTX_use_certificate_chain_file(ctx_.get(), options.client_certificate.c_str()) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx_.get(), options.client_key.c_str(), SSL_FILETYPE_PEM) != 1) {
      return ::testing::AssertionFailure() << "client certificate " << options.client_certificate << " / "
                                           << options.client_key << ": " << sslErrors();
    }
  }
  ssl_.reset(SSL_new(ctx_.get()));
  if (!ssl_) return ::testing::AssertionFailure() << "SSL_new: " << sslErrors();
  SSL_set_app_data(ssl_.get(), this);  // for onNewSession
  if (options.session && SSL_set_session(ssl_.get(), options.session.get()) != 1) {
    return ::testing::AssertionFailure() << "SSL_set_session: " << sslErrors();
  }
  if (!options.alpn.empty()) {
    std::string wire;  // ALPN wire format: length-prefixed protocol names
    for (const auto& p : options.alpn) {
      wire += static_cast<char>(p.size());
      wire += p;
    }
    // Returns 0 on success (unlike most of the API).
    if (SSL_set_alpn_protos(ssl_.get(), reinterpret_cast<const uint8_t*>(wire.data()), wire.size()) != 0) {
      return ::testing::AssertionFailure() << "SSL_set_alpn_protos failed";
    }
  }
  if (!options.sni.empty()) SSL_set_tlsext_host_name(ssl_.get(), options.sni.c_str());
  SSL_set_fd(ssl_.get(), fd_);  // the socket BIO does not own fd_ (BIO_NOCLOSE); close() does

  int rc = SSL_connect(ssl_.get());
  if (rc != 1) {
    int err = SSL_get_error(ssl_.get(), rc);
    int saved_errno = errno;
    auto r = ::testing::AssertionFailure();
    r << "TLS handshake with 127.0.0.1:" << port << " failed: SSL_get_error=" << err;
    if (err == SSL_ERROR_SYSCALL || err == SSL_ERROR_WANT_READ) {
      r << " (errno " << saved_errno << ": " << std::strerror(saved_errno) << ")";
    }
    r << " " << sslErrors();
    return r;
  }
  return ::testing::AssertionSuccess();
}

std::string TlsClient::alpnSelected() const {
  if (!ssl_) return "";
  const uint8_t* data = nullptr;
  unsigned len = 0;
  SSL_get0_alpn_selected(ssl_.get(), &data, &len);
  return std::string(reinterpret_cast<const char*>(data), len);
}

std::string TlsClient::peerCertificateSha256() const {
  if (!ssl_) return "";
  // SSL_get_peer_certificate returns a new reference (the caller frees it).
  bssl::UniquePtr<X509> cert(SSL_get_peer_certificate(ssl_.get()));
  return sha256Hex(cert.get());
}

std::string certificateFileSha256(const std::string& path) {
  bssl::UniquePtr<BIO> bio(BIO_new_file(path.c_str(), "r"));
  if (!bio) {
    ERR_clear_error();
    return "";
  }
  bssl::UniquePtr<X509> cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  ERR_clear_error();
  return sha256Hex(cert.get());
}

int TlsClient::onNewSession(SSL* ssl, SSL_SESSION* session) {
  auto* self = static_cast<TlsClient*>(SSL_get_app_data(ssl));
  if (self == nullptr) return 0;  // 0: BoringSSL keeps ownership and frees it
  // TLS 1.3 servers may send several tickets; keep the newest. Returning 1 takes ownership.
  self->session_.reset(session, SSL_SESSION_free);
  return 1;
}

bool TlsClient::sessionReused() const { return ssl_ && SSL_session_reused(ssl_.get()) == 1; }

std::string TlsClient::peerCertificateSubject() const {
  if (!ssl_) return "";
  bssl::UniquePtr<X509> cert(SSL_get_peer_certificate(ssl_.get()));
  if (!cert) return "";
  bssl::UniquePtr<BIO> bio(BIO_new(BIO_s_mem()));
  if (!bio || X509_NAME_print_ex(bio.get(), X509_get_subject_name(cert.get()), 0, XN_FLAG_RFC2253) < 0) {
    ERR_clear_error();
    return "";
  }
  const uint8_t* data = nullptr;
  size_t len = 0;
  if (!BIO_mem_contents(bio.get(), &data, &len)) return "";
  return std::string(reinterpret_cast<const char*>(data), len);
}

std::vector<std::string> TlsClient::peerCertificateDnsNames() const {
  std::vector<std::string> out;
  if (!ssl_) return out;
  bssl::UniquePtr<X509> cert(SSL_get_peer_certificate(ssl_.get()));
  if (!cert) return out;
  bssl::UniquePtr<GENERAL_NAMES> names(static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert.get(), NID_subject_alt_name, nullptr, nullptr)));
  if (!names) return out;
  for (size_t i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* gn = sk_GENERAL_NAME_value(names.get(), i);
    if (gn->type != GEN_DNS) continue;
    const ASN1_STRING* s = gn->d.dNSName;
    out.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                     static_cast<size_t>(ASN1_STRING_length(s)));
  }
  return out;
}

int TlsClient::peerKeyType() const {
  if (!ssl_) return EVP_PKEY_NONE;
  bssl::UniquePtr<X509> cert(SSL_get_peer_certificate(ssl_.get()));
  if (!cert) return EVP_PKEY_NONE;
  bssl::UniquePtr<EVP_PKEY> key(X509_get_pubkey(cert.get()));
  return key ? EVP_PKEY_id(key.get()) : EVP_PKEY_NONE;
}

uint16_t TlsClient::protocolVersion() const { return ssl_ ? SSL_version(ssl_.get()) : 0; }

ClientConnection::Io TlsClient::readSome(std::string* in, milliseconds timeout, std::string* error) {
  if (!ssl_) {
    *error = "not connected";
    return Io::kError;
  }
  setTimeouts(timeout, timeout);
  char buf[65536];
  errno = 0;
  int n = SSL_read(ssl_.get(), buf, sizeof buf);
  if (n > 0) {
    in->append(buf, static_cast<size_t>(n));
    return Io::kData;
  }
  int err = SSL_get_error(ssl_.get(), n);
  int saved_errno = errno;
  switch (err) {
    case SSL_ERROR_ZERO_RETURN:
      return Io::kEof;  // close_notify
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE:
      ERR_clear_error();
      return Io::kTimeout;  // SO_RCVTIMEO fired (the socket BIO reports EAGAIN as "retry")
    case SSL_ERROR_SYSCALL:
      ERR_clear_error();
      if (saved_errno == EAGAIN || saved_errno == EWOULDBLOCK || saved_errno == EINTR) return Io::kTimeout;
      // TCP FIN without close_notify, or a reset: the proxy closed the connection. Many servers
      // skip close_notify, and for these tests a close is a close.
      if (saved_errno == 0 || saved_errno == ECONNRESET || saved_errno == EPIPE) return Io::kEof;
      *error = std::string("SSL_read: ") + std::strerror(saved_errno);
      return Io::kError;
    default:
      *error = "SSL_read: SSL_get_error=" + std::to_string(err) + " " + sslErrors();
      return Io::kError;
  }
}

ClientConnection::Io TlsClient::writeAll(std::string_view data, milliseconds timeout, std::string* error,
                                         size_t* written) {
  *written = 0;
  if (!ssl_) {
    *error = "not connected";
    return Io::kError;
  }
  const auto deadline = Clock::now() + timeout;
  // Without SSL_MODE_ENABLE_PARTIAL_WRITE, SSL_write writes all or nothing; after a timeout
  // (WANT_WRITE) it must be retried with the same buffer, which this loop does. Large writes go
  // in 1 MiB pieces so a retry never re-offers a huge buffer.
  while (!data.empty()) {
    auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return Io::kTimeout;
    setTimeouts(left, left);
    int piece = static_cast<int>(std::min<size_t>(data.size(), 1 << 20));
    errno = 0;
    int n = SSL_write(ssl_.get(), data.data(), piece);
    if (n > 0) {
      data.remove_prefix(static_cast<size_t>(n));
      *written += static_cast<size_t>(n);
      continue;
    }
    int err = SSL_get_error(ssl_.get(), n);
    int saved_errno = errno;
    if (err == SSL_ERROR_WANT_WRITE || err == SSL_ERROR_WANT_READ ||
        (err == SSL_ERROR_SYSCALL && (saved_errno == EAGAIN || saved_errno == EINTR))) {
      ERR_clear_error();
      continue;
    }
    *error = "SSL_write: SSL_get_error=" + std::to_string(err) + " errno=" + std::strerror(saved_errno) +
             " " + sslErrors();
    return Io::kError;
  }
  return Io::kData;
}

}  // namespace portcullis::integration
