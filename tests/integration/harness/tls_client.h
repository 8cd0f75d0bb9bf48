#pragma once
// A TLS client (BoringSSL) over a blocking socket whose SO_RCVTIMEO/SO_SNDTIMEO are set to the
// time left before each call, so no read or write outlives its deadline. Certificate
// verification is off: the tests check the proxy's behaviour, not our self-signed chain.
#include <gtest/gtest.h>
#include <openssl/ssl.h>

#include <memory>
#include <string>
#include <vector>

#include "harness/client_connection.h"

namespace portcullis::integration {

struct TlsOptions {
  std::string sni = "localhost";             // empty: no SNI
  std::vector<std::string> alpn = {"http/1.1"};  // empty: no ALPN extension
  uint16_t min_version = TLS1_2_VERSION;
  uint16_t max_version = TLS1_3_VERSION;
  // TLS 1.2 cipher suites offered (OpenSSL syntax, e.g. "ECDHE-RSA-AES128-GCM-SHA256"); empty:
  // BoringSSL's default list. TLS 1.3 suites are not configurable in BoringSSL.
  std::string tls12_ciphers;
  // signature_algorithms offered (SSL_SIGN_* code points, e.g. SSL_SIGN_RSA_PSS_RSAE_SHA256); this
  // is what makes a server with an ECDSA and an RSA certificate pick one. Empty: the default.
  std::vector<uint16_t> signature_algorithms;
  // A client certificate (PEM chain) and its key, for mutual TLS; empty: none.
  std::string client_certificate;
  std::string client_key;
  // A session to offer for resumption (from an earlier TlsClient::session()); null: none.
  std::shared_ptr<SSL_SESSION> session;
};

class TlsClient : public ClientConnection {
 public:
  TlsClient() = default;
  ~TlsClient() override;
  TlsClient(const TlsClient&) = delete;
  TlsClient& operator=(const TlsClient&) = delete;

  // Connects to 127.0.0.1:port and completes the handshake.
  ::testing::AssertionResult connect(uint16_t port, const TlsOptions& options = {},
                                     milliseconds timeout = kWait);
  void close();

  std::string alpnSelected() const;   // "" if none
  uint16_t protocolVersion() const;   // TLS1_2_VERSION, TLS1_3_VERSION
  // SHA-256 of the DER certificate the proxy presented in this connection's handshake, as 64
  // lowercase hex digits; "" if not connected.
  std::string peerCertificateSha256() const;
  // The presented certificate's subject (RFC 2253 form, "CN=a,O=b") and its DNS SANs; empty if
  // not connected.
  std::string peerCertificateSubject() const;
  std::vector<std::string> peerCertificateDnsNames() const;
  // EVP_PKEY_EC or EVP_PKEY_RSA: the type of the presented certificate's key; EVP_PKEY_NONE if
  // not connected.
  int peerKeyType() const;
  // Whether this connection's handshake resumed the offered session (SSL_session_reused).
  bool sessionReused() const;
  // The newest resumable session the server gave this connection (a TLS 1.3 ticket arrives after
  // the handshake, so read a response first); null if none yet. Survives close(); connect()
  // clears it.
  std::shared_ptr<SSL_SESSION> session() const { return session_; }

 protected:
  Io readSome(std::string* in, milliseconds timeout, std::string* error) override;
  Io writeAll(std::string_view data, milliseconds timeout, std::string* error, size_t* written) override;

 private:
  void setTimeouts(milliseconds recv, milliseconds send);
  // SSL_CTX new-session callback: keeps the session in the TlsClient that owns `ssl`.
  static int onNewSession(SSL* ssl, SSL_SESSION* session);

  int fd_ = -1;
  bssl::UniquePtr<SSL_CTX> ctx_;
  bssl::UniquePtr<SSL> ssl_;
  std::shared_ptr<SSL_SESSION> session_;
};

// SHA-256 of the first certificate in PEM file `path`, in the form of peerCertificateSha256();
// "" if the file holds no readable certificate.
std::string certificateFileSha256(const std::string& path);

}  // namespace portcullis::integration
