#pragma once
// A plain TCP client on loopback (for the redirect listener, and for byte-exact requests where
// TLS would only get in the way). Non-blocking socket; every read and write waits with poll()
// under a deadline.
#include <gtest/gtest.h>

#include <string>

#include "harness/client_connection.h"

namespace portcullis::integration {

class RawClient : public ClientConnection {
 public:
  RawClient() = default;
  ~RawClient() override;
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;

  ::testing::AssertionResult connect(uint16_t port, milliseconds timeout = kWait);
  // Half-close: the peer reads EOF, we can still read.
  void shutdownWrite();
  void close();

 protected:
  Io readSome(std::string* in, milliseconds timeout, std::string* error) override;
  Io writeAll(std::string_view data, milliseconds timeout, std::string* error, size_t* written) override;

 private:
  int fd_ = -1;
};

}  // namespace portcullis::integration
