#pragma once
// Internal to src/tls/: helpers that need BoringSSL types. Never include this outside tls/
// (the public headers stay free of BoringSSL so net/ and server/ do not see it).
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "tls/context.h"

namespace portcullis::tls::internal {

// TLS_method() wire version for a TlsVersion.
uint16_t toWire(TlsVersion v);

// Protocol versions [min, max], the TLS 1.2 cipher list and the key-exchange groups, shared by
// server and client contexts. Empty `tls12_ciphers`/`curves` take the defaults (ECDHE + AEAD
// only; X25519, P-256, P-384). Strict: an unknown cipher or curve name is an error.
base::Result<void> setProtocols(SSL_CTX* ctx, TlsVersion min, TlsVersion max, const std::string& tls12_ciphers,
                                const std::string& curves);

// "h2,http/1.1" or {"h2","http/1.1"} -> "\x02h2\x08http/1.1" (RFC 7301 §3.1). Empty names and
// names over 255 bytes are invalid (nullopt-like: returns an error).
base::Result<std::string> encodeAlpn(std::string_view comma_list);
base::Result<std::string> encodeAlpn(const std::vector<std::string>& names);

// The DNS names (lower-cased, as written: "*.example.com" stays a wildcard) and IP addresses
// (textual) of `cert`'s subjectAltName. Empty when it has none.
std::vector<std::string> subjectAltNames(X509* cert);
// RFC 2253 one-line subject ("CN=client one,O=Portcullis Tests,C=DE"); empty on failure.
std::string subjectLine(X509* cert);
// Lower-case hex SHA-256 of the DER encoding (64 characters); empty on failure.
std::string sha256Fingerprint(X509* cert);

// Lower-cases `host` and drops one trailing dot ("A.Example.COM." -> "a.example.com").
std::string normalizeHost(std::string_view host);
// True for a literal IPv4/IPv6 address (which SNI must not carry, RFC 6066 §3).
bool isIpLiteral(std::string_view host);

// Server side: the subjectAltNames of the certificate the handshake on `ssl` chose (see
// Context), or null when `ssl` is not a server connection of a Context.
const std::vector<std::string>* chosenCertificateNames(const SSL* ssl);

// Ex-data slots, allocated once per process.
int contextIndex();       // SSL_CTX -> Context::Impl* (server)
int ticketIndex();        // SSL_CTX -> TicketKeyManager* (server)
int clientContextIndex(); // SSL_CTX -> ClientContext::Impl* (client)
int sessionKeyIndex();    // SSL -> const std::string* (client: the session cache key)

// The SSL_CTX_set_tlsext_ticket_key_cb callback, reading the manager from ticketIndex().
int ticketKeyCallback(SSL* ssl, uint8_t* key_name, uint8_t* iv, EVP_CIPHER_CTX* ctx,
                      HMAC_CTX* hmac_ctx, int encrypt);

}  // namespace portcullis::tls::internal
