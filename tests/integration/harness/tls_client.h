#pragma once
// A TLS client (BoringSSL) over a blocking socket whose SO_RCVTIMEO/SO_SNDTIMEO are set to the
// time left before each call, so no read or write outlives its deadline. Certificate
// verification is off: the tests check the proxy's behaviour, not our self-signed chain.
#include <gtest/gtest.h>
#include <openssl/ssl.h>

#include <string>
#include <vector>

#include "harness/client_connection.h"

namespace portcullis::integration {

struct TlsOptions {
  std::string sni = "localhost";             // empty: no SNI
  std::vector<std::string> alpn = {"http/1.1"};  // empty: no ALPN extension
  uint16_t min_version = TLS1_2_VERSION;
  uint16_t max_version = TLS1_3_VERSION;
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

 protected:
  Io readSome(std::string* in, milliseconds timeout, std::string* error) override;
  Io writeAll(std::string_view data, milliseconds timeout, std::string* error, size_t* written) override;

 private:
  void setTimeouts(milliseconds recv, milliseconds send);

  int fd_ = -1;
  bssl::UniquePtr<SSL_CTX> ctx_;
  bssl::UniquePtr<SSL> ssl_;
};

// SHA-256 of the first certificate in PEM file `path`, in the form of peerCertificateSha256();
// "" if the file holds no readable certificate.
std::string certificateFileSha256(const std::string& path);

}  // namespace portcullis::integration
