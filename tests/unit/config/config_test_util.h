#pragma once
// Loading YAML text in config tests: as if from /etc/pc/test.yaml, with the error text or a
// gtest failure when it does not load.
#include <gtest/gtest.h>

#include <string>

#include "config/load.h"

namespace portcullis::config::test_util {

inline base::Result<Config> load(const std::string& yaml) { return loadString(yaml, "test.yaml", "/etc/pc"); }

inline Config mustLoad(const std::string& yaml) {
  auto c = load(yaml);
  if (!c) ADD_FAILURE() << c.error().message;
  return c ? std::move(c).value() : Config{};
}

inline std::string errorOf(const std::string& yaml) {
  auto c = load(yaml);
  return c ? "(loaded)" : c.error().message;
}

// A TLS listener on 127.0.0.1:8443 (certs/cert.pem), upstream `app` and a catch-all route to it.
inline constexpr const char* kTlsConfig = R"(
listeners:
  - name: https
    address: "127.0.0.1:8443"
    tls:
      certificate: certs/cert.pem
      key: certs/key.pem
upstreams:
  app:
    servers: [127.0.0.1:8001]
routes:
  - upstream: app
)";

}  // namespace portcullis::config::test_util
