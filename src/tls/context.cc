#include "tls/context.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <cstring>
#include <string_view>

#include "tls/errors.h"

namespace portcullis::tls {
namespace {

// TLS 1.2 suites: forward secret (ECDHE) and AEAD (AES-GCM, ChaCha20-Poly1305) only, as in
// Mozilla's "intermediate" profile; no CBC (Lucky13-style padding oracles), no RSA key exchange
// (no forward secrecy, ROBOT). The server does not impose its order (no
// SSL_OP_CIPHER_SERVER_PREFERENCE): every suite here is strong, and a client without AES
// hardware (older phones) knows best that it wants ChaCha20. TLS 1.3 suites are fixed in
// BoringSSL (AES-128-GCM, AES-256-GCM, ChaCha20) and not configurable, which is what we want.
constexpr const char* kTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

// X25519 first: fastest and what every current client sends a key share for, which avoids a
// HelloRetryRequest round trip in TLS 1.3. P-256/P-384 for clients restricted to NIST curves.
constexpr const char* kCurves = "X25519:P-256:P-384";

constexpr std::string_view kHttp11 = "http/1.1";

// RFC 7301 §3.2: pick a protocol from the client's list. We speak only HTTP/1.1 so far.
// When the client offers ALPN without http/1.1 (say only "h2") the RFC lets the server answer
// with a no_application_protocol alert; we instead agree on nothing (NOACK) and carry on as
// HTTP/1.1, like a server without ALPN: a client that really speaks only h2 then fails at its
// connection preface, which the HTTP/1 parser answers with 400, and a lenient client works.
int selectAlpn(SSL*, const uint8_t** out, uint8_t* out_len, const uint8_t* in, unsigned in_len,
               void*) {
  // `in` is the client's list in wire format: a sequence of <u8 length><bytes>.
  unsigned i = 0;
  while (i < in_len) {
    unsigned len = in[i];
    if (len == 0 || len > in_len - i - 1) break;  // malformed; BoringSSL checks this already
    std::string_view proto(reinterpret_cast<const char*>(in + i + 1), len);
    if (proto == kHttp11) {
      *out = in + i + 1;  // must point into `in` (or static storage); `in` outlives the call
      *out_len = static_cast<uint8_t>(len);
      return SSL_TLSEXT_ERR_OK;
    }
    i += 1 + len;
  }
  return SSL_TLSEXT_ERR_NOACK;
}

bool isKeyMismatch(uint32_t err) {
  return ERR_GET_LIB(err) == ERR_LIB_X509 && ERR_GET_REASON(err) == X509_R_KEY_VALUES_MISMATCH;
}

// "PEM routines: NO_START_LINE" is accurate but cryptic; say what it means for this file.
std::string readFailure(std::string_view kind, const std::string& file, std::string_view wanted) {
  uint32_t first = peekFirstError();
  bool no_pem = ERR_GET_LIB(first) == ERR_LIB_PEM && ERR_GET_REASON(first) == PEM_R_NO_START_LINE;
  std::string text = takeErrorText();
  std::string message = "cannot read " + std::string(kind) + " " + file + ": ";
  if (no_pem) message += "no PEM " + std::string(wanted) + " in file (" + text + ")";
  else message += text;
  return message;
}

base::Error fail(std::string message) {
  clearErrors();
  return base::makeError(std::move(message));
}

}  // namespace

base::Result<std::shared_ptr<const Context>> Context::forServer(const ServerOptions& opts) {
  clearErrors();  // Anything already queued on this thread is not ours to report.
  const std::string& cert = opts.certificate_file;
  const std::string& key = opts.key_file;
  if (cert.empty()) return fail("no certificate file configured");
  if (key.empty()) return fail("no key file configured");

  bssl::UniquePtr<SSL_CTX> ctx(SSL_CTX_new(TLS_method()));
  if (!ctx) return takeError("cannot create TLS context");

  // Leaf first, then intermediates, all served as the chain. Fails on a missing or unreadable
  // file, a file with no PEM certificate in it, or a PEM block that does not decode.
  if (SSL_CTX_use_certificate_chain_file(ctx.get(), cert.c_str()) != 1) {
    return base::makeError(readFailure("certificate", cert, "certificate"));
  }
  // BoringSSL already compares the key with the leaf certificate here; the mismatch surfaces
  // as X509_R_KEY_VALUES_MISMATCH, which deserves a message an operator can act on.
  if (SSL_CTX_use_PrivateKey_file(ctx.get(), key.c_str(), SSL_FILETYPE_PEM) != 1) {
    if (isKeyMismatch(peekFirstError())) {
      return fail("key " + key + " does not match certificate " + cert);
    }
    return base::makeError(readFailure("key", key, "private key"));
  }
  if (SSL_CTX_check_private_key(ctx.get()) != 1) {
    return fail("key " + key + " does not match certificate " + cert);
  }

  // RFC 8996 deprecates TLS 1.0 and 1.1; RFC 9325 §4.1 says to support 1.2 and prefer 1.3.
  if (SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION) != 1 ||
      SSL_CTX_set_max_proto_version(ctx.get(), TLS1_3_VERSION) != 1) {
    return takeError("cannot set TLS versions");
  }
  // Strict: an unknown name is an error rather than silently skipped.
  if (SSL_CTX_set_strict_cipher_list(ctx.get(), kTls12Ciphers) != 1) {
    return takeError("cannot set TLS 1.2 cipher list");
  }
  if (SSL_CTX_set1_curves_list(ctx.get(), kCurves) != 1) {
    return takeError("cannot set key exchange groups");
  }
  SSL_CTX_set_alpn_select_cb(ctx.get(), &selectAlpn, nullptr);

  // Resumption by stateless tickets only (RFC 5077 for 1.2, RFC 8446 §4.6.1 for 1.3), which
  // BoringSSL enables by default with a random key per SSL_CTX (so tickets die with a reload;
  // fine for now, a shared rotating key comes later). The stateful session-ID cache is off: it
  // is one mutex shared by every worker thread and holds up to 20480 sessions of memory, and
  // every client we care about supports tickets.
  SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_OFF);

  // Nothing to set for buffers: BoringSSL frees its record buffers when they are empty (there
  // is no SSL_MODE_RELEASE_BUFFERS), and SSL_MODE_ENABLE_PARTIAL_WRITE is pointless because a
  // memory BIO accepts every write whole.

  clearErrors();
  std::shared_ptr<Context> out(new Context());
  out->ctx_ = ctx.release();
  return std::shared_ptr<const Context>(std::move(out));
}

Context::~Context() { SSL_CTX_free(static_cast<SSL_CTX*>(ctx_)); }

}  // namespace portcullis::tls
