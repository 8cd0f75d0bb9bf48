#pragma once
// What the proxy layer may know of a downstream TLS connection, as plain values: the proxy logs
// and forwards these facts but never touches the TLS engine (h2o hands its loggers the same
// facts through connection callbacks). Filled once by the net layer when the handshake
// completes; version, cipher and group are BoringSSL's static names.
#include <string>
#include <string_view>
#include <vector>

namespace portcullis::base {

struct TlsInfo {
  std::string_view version;  // "TLSv1.3"; static storage
  std::string_view cipher;   // "TLS_AES_128_GCM_SHA256"; static storage
  std::string_view group;    // "X25519"; static storage; empty if none
  std::string alpn;          // negotiated protocol ("http/1.1"); empty if none
  std::string sni;           // server name the client asked for; empty if none
  bool resumed = false;      // session resumption (ticket or cache)
  // The names the certificate sent on this connection covers (subjectAltName DNS entries,
  // lowercase, wildcards as "*.example.com", and IP entries): an HTTP/2 client may reuse the
  // connection for any of them (RFC 9113 §9.1.1), and for no other. Filled for HTTP/2
  // connections only (ALPN "h2"): no other client coalesces.
  std::vector<std::string> certificate_names;
  // Client certificate (mTLS): set only when the client sent one, which the handshake verified.
  std::string client_subject;      // RFC 2253 one line
  std::string client_fingerprint;  // SHA-256 of the DER, 64 lower-case hex digits
};

}  // namespace portcullis::base
