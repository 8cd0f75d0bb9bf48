#include "tls/internal.h"

#include "tls/errors.h"

#include <arpa/inet.h>
#include <openssl/bio.h>
#include <openssl/cipher.h>
#include <openssl/digest.h>
#include <openssl/hmac.h>
#include <openssl/mem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cctype>
#include <cstring>

#include "tls/ticket_keys.h"

namespace portcullis::tls::internal {

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
}  // namespace

uint16_t toWire(TlsVersion v) {
  switch (v) {
    case TlsVersion::Tls1_0: return TLS1_VERSION;
    case TlsVersion::Tls1_1: return TLS1_1_VERSION;
    case TlsVersion::Tls1_2: return TLS1_2_VERSION;
    case TlsVersion::Tls1_3: return TLS1_3_VERSION;
  }
  return TLS1_3_VERSION;
}

base::Result<void> setProtocols(SSL_CTX* ctx, TlsVersion min, TlsVersion max, const std::string& tls12_ciphers,
                                const std::string& curves) {
  if (SSL_CTX_set_min_proto_version(ctx, toWire(min)) != 1 || SSL_CTX_set_max_proto_version(ctx, toWire(max)) != 1) {
    return takeError("cannot set TLS versions");
  }
  std::string ciphers = tls12_ciphers.empty() ? kTls12Ciphers : tls12_ciphers;
  if (SSL_CTX_set_strict_cipher_list(ctx, ciphers.c_str()) != 1) {
    return takeError("cannot set TLS 1.2 cipher list '" + ciphers + "'");
  }
  std::string groups = curves.empty() ? kCurves : curves;
  if (SSL_CTX_set1_curves_list(ctx, groups.c_str()) != 1) {
    return takeError("cannot set key exchange groups '" + groups + "'");
  }
  return {};
}

base::Result<std::string> encodeAlpn(const std::vector<std::string>& names) {
  std::string wire;
  for (const std::string& name : names) {
    if (name.empty() || name.size() > 255) {
      return base::makeError("invalid ALPN protocol name '" + name + "'");
    }
    wire.push_back(static_cast<char>(name.size()));
    wire.append(name);
  }
  return wire;
}

base::Result<std::string> encodeAlpn(std::string_view list) {
  const std::string original(list);
  std::vector<std::string> names;
  while (!list.empty()) {
    size_t comma = list.find(',');
    names.emplace_back(list.substr(0, comma));
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
    if (list.empty()) names.emplace_back();  // trailing comma: an empty name, refused below
  }
  auto wire = encodeAlpn(names);
  if (!wire) return base::makeError("invalid ALPN list '" + original + "'");
  return wire;
}

std::vector<std::string> subjectAltNames(X509* cert) {
  std::vector<std::string> out;
  auto* names = static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (!names) return out;
  for (size_t i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* gn = sk_GENERAL_NAME_value(names, i);
    if (gn->type == GEN_DNS) {
      const ASN1_STRING* s = gn->d.dNSName;
      out.push_back(normalizeHost(std::string_view(
          reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
          static_cast<size_t>(ASN1_STRING_length(s)))));
    } else if (gn->type == GEN_IPADD) {
      const ASN1_STRING* s = gn->d.iPAddress;
      char text[INET6_ADDRSTRLEN] = {};
      int len = ASN1_STRING_length(s);
      int family = len == 4 ? AF_INET : len == 16 ? AF_INET6 : 0;
      if (family && inet_ntop(family, ASN1_STRING_get0_data(s), text, sizeof text)) {
        out.emplace_back(text);
      }
    }
  }
  GENERAL_NAMES_free(names);
  return out;
}

std::string subjectLine(X509* cert) {
  bssl::UniquePtr<BIO> bio(BIO_new(BIO_s_mem()));
  if (!bio || X509_NAME_print_ex(bio.get(), X509_get_subject_name(cert), 0, XN_FLAG_RFC2253) < 0) {
    ERR_clear_error();
    return {};
  }
  const uint8_t* data = nullptr;
  size_t len = 0;
  if (!BIO_mem_contents(bio.get(), &data, &len)) return {};
  return std::string(reinterpret_cast<const char*>(data), len);
}

std::string sha256Fingerprint(X509* cert) {
  uint8_t* der = nullptr;
  int len = i2d_X509(cert, &der);
  if (len <= 0) {
    ERR_clear_error();
    return {};
  }
  uint8_t md[32];
  SHA256(der, static_cast<size_t>(len), md);
  OPENSSL_free(der);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(64);
  for (uint8_t b : md) {
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 15]);
  }
  return out;
}

std::string normalizeHost(std::string_view host) {
  if (!host.empty() && host.back() == '.') host.remove_suffix(1);
  std::string out(host);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool isIpLiteral(std::string_view host) {
  std::string s(host);
  if (s.size() > 2 && s.front() == '[' && s.back() == ']') s = s.substr(1, s.size() - 2);
  unsigned char buf[16];
  return inet_pton(AF_INET, s.c_str(), buf) == 1 || inet_pton(AF_INET6, s.c_str(), buf) == 1;
}

int contextIndex() {
  static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}
int ticketIndex() {
  static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}
int clientContextIndex() {
  static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}
int sessionKeyIndex() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

// Called once per ticket issued (encrypt = 1) and once per ticket offered (encrypt = 0), on the
// worker thread doing the handshake. Every SSL_CTX of a Context carries the same manager, so
// it does not matter whether BoringSSL asks the initial or the SNI-selected one.
int ticketKeyCallback(SSL* ssl, uint8_t* key_name, uint8_t* iv, EVP_CIPHER_CTX* ctx,
                      HMAC_CTX* hmac_ctx, int encrypt) {
  auto* manager =
      static_cast<const TicketKeyManager*>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), ticketIndex()));
  if (!manager) return encrypt ? -1 : 0;
  std::shared_ptr<const TicketKeySet> set = manager->keys();
  const EVP_CIPHER* cipher = EVP_aes_256_cbc();
  if (encrypt) {
    const TicketKey& k = set->keys.front();
    std::memcpy(key_name, k.name.data(), k.name.size());
    RAND_bytes(iv, EVP_CIPHER_iv_length(cipher));
    if (!EVP_EncryptInit_ex(ctx, cipher, nullptr, k.aes.data(), iv) ||
        !HMAC_Init_ex(hmac_ctx, k.hmac.data(), k.hmac.size(), EVP_sha256(), nullptr)) {
      return -1;
    }
    return 1;
  }
  for (size_t i = 0; i < set->keys.size(); ++i) {
    const TicketKey& k = set->keys[i];
    if (std::memcmp(key_name, k.name.data(), k.name.size()) != 0) continue;
    if (!HMAC_Init_ex(hmac_ctx, k.hmac.data(), k.hmac.size(), EVP_sha256(), nullptr) ||
        !EVP_DecryptInit_ex(ctx, cipher, nullptr, k.aes.data(), iv)) {
      return -1;
    }
    // 2 = "renew": the client gets a ticket under the current key, so its next resumption
    // does not depend on a key that is about to expire.
    return i == 0 ? 1 : 2;
  }
  return 0;  // unknown or expired key: a full handshake, not an error
}

}  // namespace portcullis::tls::internal
