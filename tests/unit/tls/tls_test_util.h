#pragma once
// Helpers shared by the tls unit tests: development certificates made by
// scripts/gen-dev-cert.sh in a temporary directory, and an in-memory "wire" between two engines.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>

#include "base/buffer.h"
#include "tls/engine.h"

namespace portcullis::tls::testing {

// A temporary directory holding dev-cert.pem and dev-key.pem, removed on destruction.
class TempCert {
 public:
  TempCert() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "pc-tls-XXXXXX").string();
    if (!mkdtemp(tmpl.data())) {
      ADD_FAILURE() << "mkdtemp failed";
      return;
    }
    dir_ = tmpl;
    std::string cmd = std::string("'") + PORTCULLIS_SOURCE_DIR + "/scripts/gen-dev-cert.sh' '" +
                      dir_.string() + "' >/dev/null";
    int rc = std::system(cmd.c_str());
    EXPECT_EQ(rc, 0) << cmd;
  }
  ~TempCert() {
    std::error_code ec;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
  }
  TempCert(const TempCert&) = delete;
  TempCert& operator=(const TempCert&) = delete;

  std::string cert() const { return (dir_ / "dev-cert.pem").string(); }
  std::string key() const { return (dir_ / "dev-key.pem").string(); }
  // Writes `content` to a file in this directory and returns its path.
  std::string write(const std::string& name, const std::string& content) const {
    std::filesystem::path p = dir_ / name;
    std::ofstream(p, std::ios::binary) << content;
    return p.string();
  }
  const std::filesystem::path& dir() const { return dir_; }

 private:
  std::filesystem::path dir_;
};

// One side of an in-memory connection: its engine, the plaintext it has received so far, and
// the first error it reported (empty while healthy).
struct Peer {
  Engine engine;
  base::Buffer received;
  std::string error;

  std::string text() const { return std::string(received.view()); }
};

// Drains `from` and feeds the bytes to `to`, then lets `to` read its plaintext, exactly as a
// TlsStream would after a socket read. Returns the number of ciphertext bytes moved.
inline size_t transfer(Peer& from, Peer& to) {
  base::Buffer wire;
  size_t n = from.engine.drainCiphertext(wire);
  if (n == 0 || !to.error.empty()) return n;  // a failed peer's socket would be closed
  if (auto r = to.engine.feedCiphertext(wire.view()); !r) {
    to.error = r.error().message;
    return n;
  }
  if (auto r = to.engine.readPlaintext(to.received); !r) to.error = r.error().message;
  return n;
}

// Moves bytes both ways until neither engine has anything left to send.
inline void pump(Peer& a, Peer& b) {
  for (int round = 0; round < 1000; ++round) {
    if (transfer(a, b) + transfer(b, a) == 0) return;
  }
  ADD_FAILURE() << "engines still talking after 1000 rounds";
}

}  // namespace portcullis::tls::testing
