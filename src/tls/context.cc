#include "tls/context.h"

#include <openssl/bio.h>
#include <openssl/bytestring.h>
#include <openssl/digest.h>
#include <openssl/ec_key.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string_view>
#include <unordered_map>

#include "tls/errors.h"
#include "tls/internal.h"

namespace portcullis::tls {
namespace {

// TLS 1.2 ECDHE-ECDSA suites (RFC 8422 §6, RFC 5289, RFC 7905): a TLS 1.2 client offering none
// of them cannot use an ECDSA certificate, whatever its signature_algorithms say.
constexpr uint16_t kEcdsaSuites[] = {0xC009, 0xC00A, 0xC023, 0xC024, 0xC02B, 0xC02C, 0xCCA9};

enum class KeyKind { Ecdsa, Rsa, Other };


// Same key type, other key: KEY_VALUES_MISMATCH; an RSA key for an ECDSA certificate (or the
// reverse): KEY_TYPE_MISMATCH. Both mean "this is not the certificate's key".
bool isKeyMismatch(uint32_t err) {
  return ERR_GET_LIB(err) == ERR_LIB_X509 && (ERR_GET_REASON(err) == X509_R_KEY_VALUES_MISMATCH ||
                                              ERR_GET_REASON(err) == X509_R_KEY_TYPE_MISMATCH);
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

std::string timeText(const ASN1_TIME* t) {
  bssl::UniquePtr<BIO> bio(BIO_new(BIO_s_mem()));
  const uint8_t* data = nullptr;
  size_t len = 0;
  if (!bio || !ASN1_TIME_print(bio.get(), t) || !BIO_mem_contents(bio.get(), &data, &len)) {
    clearErrors();
    return "?";
  }
  return std::string(reinterpret_cast<const char*>(data), len);
}

std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// Reads a ClientHello extension's u16 list (signature_algorithms: u16 length prefix;
// supported_versions: u8 length prefix). False when absent or malformed.
bool extensionList(const SSL_CLIENT_HELLO* hello, uint16_t type, bool u8_prefix,
                   std::vector<uint16_t>& out) {
  const uint8_t* data = nullptr;
  size_t len = 0;
  if (!SSL_early_callback_ctx_extension_get(hello, type, &data, &len)) return false;
  CBS ext, list;
  CBS_init(&ext, data, len);
  bool ok = u8_prefix ? CBS_get_u8_length_prefixed(&ext, &list)
                      : CBS_get_u16_length_prefixed(&ext, &list);
  if (!ok) return false;
  uint16_t v;
  while (CBS_get_u16(&list, &v)) out.push_back(v);
  return true;
}

}  // namespace

struct Context::Impl {
  struct Cert {
    bssl::UniquePtr<SSL_CTX> ctx;
    std::string file;
    std::vector<std::string> names;  // subjectAltName DNS (normalized) and IP entries
    KeyKind kind = KeyKind::Other;
    uint16_t ecdsa_scheme = 0;  // TLS 1.3 SignatureScheme matching the ECDSA key's curve
  };
  std::unordered_map<std::string, std::vector<size_t>> exact;     // name -> certs, config order
  std::unordered_map<std::string, std::vector<size_t>> wildcard;  // "example.com" for *.example.com
  std::vector<size_t> defaults;
  std::vector<std::string> alpn;  // server preference order
  std::shared_ptr<TicketKeyManager> tickets;
  std::vector<std::string> warnings;
  // Last, so it is destroyed first: the SSL_CTXs point at this Impl and at `tickets`.
  std::vector<Cert> certs;  // certs[0] is the default; its SSL_CTX starts every connection

  // Candidates for an SNI name (empty string: no SNI). Never empty.
  const std::vector<size_t>& candidatesFor(std::string_view host) const {
    if (!host.empty()) {
      std::string h = internal::normalizeHost(host);
      if (auto it = exact.find(h); it != exact.end()) return it->second;
      size_t dot = h.find('.');
      if (dot != std::string::npos && dot > 0) {
        if (auto it = wildcard.find(h.substr(dot + 1)); it != wildcard.end()) return it->second;
      }
    }
    return defaults;
  }

  // Would the client behind `hello` accept an ECDSA certificate whose TLS 1.3 scheme is
  // `scheme`? TLS 1.3 requires signature_algorithms with exactly that scheme (RFC 8446
  // §4.2.3: ECDSA schemes name the curve); TLS 1.2 takes any ECDSA hash (RFC 5246 §7.4.1.4.1,
  // defaulting to SHA-1 when the extension is absent) but also needs an ECDHE-ECDSA suite.
  static bool acceptsEcdsa(const SSL_CLIENT_HELLO* hello, uint16_t scheme) {
    std::vector<uint16_t> versions;
    bool tls13 = extensionList(hello, TLSEXT_TYPE_supported_versions, true, versions) &&
                 std::find(versions.begin(), versions.end(), TLS1_3_VERSION) != versions.end();
    std::vector<uint16_t> sigalgs;
    bool have_sigalgs = extensionList(hello, TLSEXT_TYPE_signature_algorithms, false, sigalgs);
    auto has = [&](uint16_t s) { return std::find(sigalgs.begin(), sigalgs.end(), s) != sigalgs.end(); };
    if (tls13) return has(scheme);
    bool sig_ok = !have_sigalgs || has(0x0403) || has(0x0503) || has(0x0603) || has(0x0203);
    if (!sig_ok) return false;
    CBS suites;
    CBS_init(&suites, hello->cipher_suites, hello->cipher_suites_len);
    uint16_t suite;
    while (CBS_get_u16(&suites, &suite)) {
      if (std::find(std::begin(kEcdsaSuites), std::end(kEcdsaSuites), suite) !=
          std::end(kEcdsaSuites)) {
        return true;
      }
    }
    return false;
  }

  // ECDSA when the client takes it (smaller, faster handshakes), else RSA, else the first.
  size_t pick(const std::vector<size_t>& cands, const SSL_CLIENT_HELLO* hello) const {
    if (cands.size() == 1) return cands[0];
    for (size_t i : cands) {
      if (certs[i].kind == KeyKind::Ecdsa && acceptsEcdsa(hello, certs[i].ecdsa_scheme)) return i;
    }
    for (size_t i : cands) {
      if (certs[i].kind == KeyKind::Rsa) return i;
    }
    return cands[0];
  }
};

namespace {

Context::Impl* implOf(const SSL* ssl) {
  return static_cast<Context::Impl*>(
      SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), internal::contextIndex()));
}

}  // namespace

const std::vector<std::string>* internal::chosenCertificateNames(const SSL* ssl) {
  const Context::Impl* impl = implOf(ssl);
  if (!impl) return nullptr;
  const SSL_CTX* chosen = SSL_get_SSL_CTX(ssl);
  for (const auto& c : impl->certs)
    if (c.ctx.get() == chosen) return &c.names;
  return nullptr;
}

namespace {

// Runs once per ClientHello, before the resumption decision, on the default SSL_CTX. Switching
// the SSL_CTX swaps only the certificate settings (BoringSSL copies the CERT, which also holds
// the session ID context); everything else (versions, ciphers, curves, verify mode, session
// cache and ticket handling) stays with the initial SSL_CTX or is read per callback from the
// new one. Every SSL_CTX of a Context is configured identically apart from the certificate, so
// either way the connection sees the same settings.
ssl_select_cert_result_t selectCertificate(const SSL_CLIENT_HELLO* hello) {
  SSL* ssl = hello->ssl;
  Context::Impl* impl = implOf(ssl);
  if (!impl || impl->certs.size() == 1) return ssl_select_cert_success;
  const char* sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  size_t pick = impl->pick(impl->candidatesFor(sni ? sni : ""), hello);
  SSL_CTX* chosen = impl->certs[pick].ctx.get();
  if (chosen != SSL_get_SSL_CTX(ssl) && SSL_set_SSL_CTX(ssl, chosen) != chosen) {
    return ssl_select_cert_error;
  }
  return ssl_select_cert_success;
}

// RFC 7301 §3.2: pick a protocol from the client's list, in the server's preference order.
// When nothing matches (say the client offers only "h2") the RFC lets the server answer with a
// no_application_protocol alert; we instead agree on nothing (NOACK) and carry on as HTTP/1.1,
// like a server without ALPN: a client that really speaks only h2 then fails at its connection
// preface, which the HTTP/1 parser answers with 400, and a lenient client works.
int selectAlpn(SSL* ssl, const uint8_t** out, uint8_t* out_len, const uint8_t* in,
               unsigned in_len, void*) {
  Context::Impl* impl = implOf(ssl);
  if (!impl) return SSL_TLSEXT_ERR_NOACK;
  for (const std::string& want : impl->alpn) {
    // `in` is the client's list in wire format: a sequence of <u8 length><bytes>.
    unsigned i = 0;
    while (i < in_len) {
      unsigned len = in[i];
      if (len == 0 || len > in_len - i - 1) break;  // malformed; BoringSSL checks this already
      std::string_view proto(reinterpret_cast<const char*>(in + i + 1), len);
      if (proto == want) {
        *out = in + i + 1;  // must point into `in` (or static storage); `in` outlives the call
        *out_len = static_cast<uint8_t>(len);
        return SSL_TLSEXT_ERR_OK;
      }
      i += 1 + len;
    }
  }
  return SSL_TLSEXT_ERR_NOACK;
}

// Everything but the certificate: identical on every SSL_CTX of a Context (see
// selectCertificate for why that matters).
base::Result<void> configureCommon(SSL_CTX* ctx, const ServerOptions& opts, Context::Impl* impl) {
  // RFC 8996 deprecates TLS 1.0 and 1.1; RFC 9325 §4.1 says to support 1.2 and prefer 1.3.
  TlsVersion min = opts.min_version == TlsVersion::Tls1_3 ? TlsVersion::Tls1_3 : TlsVersion::Tls1_2;
  if (auto r = internal::setProtocols(ctx, min, TlsVersion::Tls1_3, opts.tls12_ciphers, opts.curves); !r) return r;
  SSL_CTX_set_alpn_select_cb(ctx, &selectAlpn, nullptr);
  SSL_CTX_set_select_certificate_cb(ctx, &selectCertificate);
  SSL_CTX_set_ex_data(ctx, internal::contextIndex(), impl);

  // Resumption by stateless tickets only (RFC 5077 for 1.2, RFC 8446 §4.6.1 for 1.3). The
  // stateful session-ID cache is off: it is one mutex shared by every worker thread and holds
  // up to 20480 sessions of memory, and every client we care about supports tickets.
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  if (impl->tickets) {
    SSL_CTX_set_ex_data(ctx, internal::ticketIndex(), impl->tickets.get());
    SSL_CTX_set_tlsext_ticket_key_cb(ctx, &internal::ticketKeyCallback);
    // A session (and its ticket_lifetime_hint, RFC 8446 §4.6.1) lives as long as the oldest
    // key that can still decrypt its ticket; BoringSSL's defaults (2 h for 1.2, 7 days for 1.3)
    // would otherwise cut it short or outlive the key.
    auto lifetime = static_cast<uint32_t>(impl->tickets->lifetime().count());
    SSL_CTX_set_timeout(ctx, lifetime);
    SSL_CTX_set_session_psk_dhe_timeout(ctx, lifetime);
  } else {
    SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
  }

  if (opts.client_auth != ClientAuthMode::None) {
    const std::string& ca = opts.client_ca_file;
    if (SSL_CTX_load_verify_locations(ctx, ca.c_str(), nullptr) != 1) {
      return base::makeError(readFailure("client CA file", ca, "certificate"));
    }
    // The CertificateRequest names the acceptable CAs (RFC 8446 §4.2.4), which lets a client
    // holding several certificates pick the right one. SSL_CTX takes ownership of the list.
    STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(ca.c_str());
    if (!names) return base::makeError(readFailure("client CA file", ca, "certificate"));
    SSL_CTX_set_client_CA_list(ctx, names);
    int mode = SSL_VERIFY_PEER;
    if (opts.client_auth == ClientAuthMode::Required) mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
    SSL_CTX_set_verify(ctx, mode, nullptr);
  }
  // Nothing to set for buffers: BoringSSL frees its record buffers when they are empty (there
  // is no SSL_MODE_RELEASE_BUFFERS), and SSL_MODE_ENABLE_PARTIAL_WRITE is pointless because the
  // engine's BIO (an append to a growable buffer) accepts every write whole.
  return {};
}

// Loads one pair into a fresh SSL_CTX and checks it (key match, validity period).
base::Result<Context::Impl::Cert> loadPair(const CertificatePair& pair, const ServerOptions& opts,
                                          int64_t now, std::vector<std::string>& warnings) {
  const std::string& cert = pair.certificate_file;
  const std::string& key = pair.key_file;
  if (cert.empty()) return failWith("no certificate file configured");
  if (key.empty()) return failWith("no key file configured");

  Context::Impl::Cert out;
  out.file = cert;
  out.ctx.reset(SSL_CTX_new(TLS_method()));
  SSL_CTX* ctx = out.ctx.get();
  if (!ctx) return takeError("cannot create TLS context");

  // Leaf first, then intermediates, all served as the chain. Fails on a missing or unreadable
  // file, a file with no PEM certificate in it, or a PEM block that does not decode.
  if (SSL_CTX_use_certificate_chain_file(ctx, cert.c_str()) != 1) {
    return base::makeError(readFailure("certificate", cert, "certificate"));
  }
  // BoringSSL already compares the key with the leaf certificate here; the mismatch surfaces
  // as X509_R_KEY_VALUES_MISMATCH, which deserves a message an operator can act on.
  if (SSL_CTX_use_PrivateKey_file(ctx, key.c_str(), SSL_FILETYPE_PEM) != 1) {
    if (isKeyMismatch(peekFirstError())) {
      return failWith("key " + key + " does not match certificate " + cert);
    }
    return base::makeError(readFailure("key", key, "private key"));
  }
  if (SSL_CTX_check_private_key(ctx) != 1) {
    return failWith("key " + key + " does not match certificate " + cert);
  }

  X509* leaf = SSL_CTX_get0_certificate(ctx);
  time_t t = static_cast<time_t>(now);
  const ASN1_TIME* not_after = X509_get0_notAfter(leaf);
  if (X509_cmp_time(not_after, &t) <= 0) {  // -1: notAfter <= now; 0: unparsable
    return failWith("certificate " + cert + " expired on " + timeText(not_after));
  }
  if (X509_cmp_time(X509_get0_notBefore(leaf), &t) > 0) {
    warnings.push_back("certificate " + cert + " is not valid before " +
                       timeText(X509_get0_notBefore(leaf)));
  }
  bssl::UniquePtr<ASN1_TIME> now_asn1(ASN1_TIME_set(nullptr, t));
  int days = 0;
  int secs = 0;
  if (now_asn1 && ASN1_TIME_diff(&days, &secs, now_asn1.get(), not_after) &&
      days < opts.expiry_warning_days) {
    warnings.push_back("certificate " + cert + " expires in " + std::to_string(days) +
                       " days (" + timeText(not_after) + ")");
  }
  clearErrors();

  out.names = internal::subjectAltNames(leaf);
  EVP_PKEY* pkey = SSL_CTX_get0_privatekey(ctx);
  if (EVP_PKEY_id(pkey) == EVP_PKEY_RSA) {
    out.kind = KeyKind::Rsa;
  } else if (EVP_PKEY_id(pkey) == EVP_PKEY_EC) {
    out.kind = KeyKind::Ecdsa;
    const EC_GROUP* group = EC_KEY_get0_group(EVP_PKEY_get0_EC_KEY(pkey));
    switch (group ? EC_GROUP_get_curve_name(group) : 0) {
      case NID_X9_62_prime256v1: out.ecdsa_scheme = SSL_SIGN_ECDSA_SECP256R1_SHA256; break;
      case NID_secp384r1: out.ecdsa_scheme = SSL_SIGN_ECDSA_SECP384R1_SHA384; break;
      case NID_secp521r1: out.ecdsa_scheme = SSL_SIGN_ECDSA_SECP521R1_SHA512; break;
      default: break;
    }
  }

  // The session ID context ties a ticket to this certificate and client-auth policy: BoringSSL
  // refuses to resume a session whose context differs (RFC 8446 §4.6.1 lets the server
  // decline). So a ticket issued for a.example.com does not resume on b.example.com served by
  // another certificate, and a session whose client certificate was verified against an old CA
  // bundle does not survive a reload that changed the bundle. Deterministic (no randomness) so
  // that fleet-mode instances with the same certificate resume each other's tickets.
  bssl::ScopedEVP_MD_CTX md;
  uint8_t digest[EVP_MAX_MD_SIZE];
  unsigned digest_len = 0;
  uint8_t* der = nullptr;
  int der_len = i2d_X509(leaf, &der);
  std::string ca = opts.client_auth == ClientAuthMode::None ? "" : readFile(opts.client_ca_file);
  uint8_t mode = static_cast<uint8_t>(opts.client_auth);
  bool ok = der_len > 0 && EVP_DigestInit_ex(md.get(), EVP_sha256(), nullptr) &&
            EVP_DigestUpdate(md.get(), der, static_cast<size_t>(der_len)) &&
            EVP_DigestUpdate(md.get(), &mode, 1) &&
            EVP_DigestUpdate(md.get(), ca.data(), ca.size()) &&
            EVP_DigestFinal_ex(md.get(), digest, &digest_len) &&
            SSL_CTX_set_session_id_context(ctx, digest,
                                           std::min<unsigned>(digest_len, SSL_MAX_SID_CTX_LENGTH));
  OPENSSL_free(der);
  if (!ok) return takeError("cannot set session ID context for " + cert);
  return out;
}

// Name tables and the warnings that only make sense across pairs.
void buildNameIndex(Context::Impl& impl) {
  auto& certs = impl.certs;
  for (size_t i = 0; i < certs.size(); ++i) {
    if (certs[i].names.empty() && i > 0) {
      impl.warnings.push_back("certificate " + certs[i].file +
                              " has no DNS names in subjectAltName and is not the first: it is "
                              "never served");
    }
    for (const std::string& name : certs[i].names) {
      std::vector<size_t>* list = nullptr;
      if (name.size() > 2 && name.compare(0, 2, "*.") == 0) {
        list = &impl.wildcard[name.substr(2)];
      } else if (name.find('*') != std::string::npos) {
        impl.warnings.push_back("certificate " + certs[i].file + ": ignoring partial wildcard " +
                                name);
        continue;
      } else {
        list = &impl.exact[name];
      }
      if (std::find(list->begin(), list->end(), i) != list->end()) continue;
      for (size_t j : *list) {
        if (certs[j].kind == certs[i].kind) {
          impl.warnings.push_back("certificate " + certs[i].file + ": " + name +
                                  " is already served by " + certs[j].file +
                                  " with the same key type");
          break;
        }
      }
      list->push_back(i);
    }
  }
  // The default: the first pair, plus its twin of another key type for the same names.
  impl.defaults.push_back(0);
  for (size_t i = 1; i < certs.size(); ++i) {
    if (certs[i].kind != certs[0].kind && certs[i].names == certs[0].names) {
      impl.defaults.push_back(i);
      break;
    }
  }
}

}  // namespace

Context::Context() : impl_(std::make_unique<Impl>()) {}
Context::~Context() = default;

base::Result<std::shared_ptr<const Context>> Context::forServer(const ServerOptions& opts) {
  clearErrors();  // Anything already queued on this thread is not ours to report.
  std::vector<CertificatePair> pairs;
  if (!opts.certificate_file.empty() || !opts.key_file.empty() || opts.certificates.empty()) {
    pairs.push_back({opts.certificate_file, opts.key_file});
  }
  pairs.insert(pairs.end(), opts.certificates.begin(), opts.certificates.end());

  if (opts.min_version != TlsVersion::Tls1_2 && opts.min_version != TlsVersion::Tls1_3) {
    return failWith("minimum TLS version must be 1.2 or 1.3 (RFC 8996 deprecates 1.0 and 1.1)");
  }
  if (opts.alpn.empty()) return failWith("ALPN list is empty");
  if (auto wire = internal::encodeAlpn(opts.alpn); !wire) return wire.error();
  if (opts.client_auth != ClientAuthMode::None && opts.client_ca_file.empty()) {
    return failWith("client certificates requested but no client CA file configured");
  }

  std::shared_ptr<Context> out(new Context());
  Impl& impl = *out->impl_;
  impl.alpn = opts.alpn;
  if (opts.session_tickets) {
    if (opts.ticket_keys) {
      impl.tickets = opts.ticket_keys;
    } else {
      auto keys = TicketKeyManager::createRandom();
      if (!keys) return keys.error();
      impl.tickets = std::move(*keys);
    }
  }

  int64_t now = opts.clock ? opts.clock() : systemUnixTime();
  for (const CertificatePair& pair : pairs) {
    auto cert = loadPair(pair, opts, now, impl.warnings);
    if (!cert) return cert.error();
    if (auto r = configureCommon(cert->ctx.get(), opts, &impl); !r) return r.error();
    impl.certs.push_back(std::move(*cert));
  }
  buildNameIndex(impl);
  clearErrors();
  return std::shared_ptr<const Context>(std::move(out));
}

bool Context::covers(std::string_view host) const {
  std::string h = internal::normalizeHost(host);
  if (h.empty()) return false;
  if (impl_->exact.count(h)) return true;
  size_t dot = h.find('.');
  return dot != std::string::npos && dot > 0 && impl_->wildcard.count(h.substr(dot + 1)) > 0;
}

std::vector<std::string> Context::certificateNames() const {
  std::vector<std::string> out;
  for (const auto& c : impl_->certs)
    for (const auto& n : c.names)
      if (std::find(out.begin(), out.end(), n) == out.end()) out.push_back(n);
  return out;
}

const std::vector<std::string>& Context::warnings() const { return impl_->warnings; }

const std::shared_ptr<TicketKeyManager>& Context::ticketKeys() const { return impl_->tickets; }

void* Context::native() const { return impl_->certs.front().ctx.get(); }

}  // namespace portcullis::tls
