#pragma once
// Helpers shared by the tls unit tests: development certificates made by
// scripts/gen-dev-cert.sh, a test PKI made by scripts/gen-test-pki.sh (both in temporary
// directories), and an in-memory "wire" between two engines.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>

#include <memory>

#include "base/buffer.h"
#include "tls/client_context.h"
#include "tls/context.h"
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

// scripts/gen-test-pki.sh's output (see that script for the names), made once per test binary
// and removed at exit: RSA key generation makes it the slowest fixture.
class TestPki {
 public:
  static const TestPki& get() {
    static TestPki pki;
    return pki;
  }
  // Path of "<name>.pem", e.g. cert("a-rsa"); key("a-rsa") is "<name>-key.pem".
  std::string cert(const std::string& name) const { return (dir_ / (name + ".pem")).string(); }
  std::string key(const std::string& name) const { return (dir_ / (name + "-key.pem")).string(); }
  CertificatePair pair(const std::string& name) const { return {cert(name), key(name)}; }
  const std::filesystem::path& dir() const { return dir_; }

  TestPki(const TestPki&) = delete;
  TestPki& operator=(const TestPki&) = delete;
  ~TestPki() {
    std::error_code ec;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
  }

 private:
  TestPki() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "pc-pki-XXXXXX").string();
    if (!mkdtemp(tmpl.data())) {
      ADD_FAILURE() << "mkdtemp failed";
      return;
    }
    dir_ = tmpl;
    std::string cmd = std::string("'") + PORTCULLIS_SOURCE_DIR + "/scripts/gen-test-pki.sh' '" +
                      dir_.string() + "' >/dev/null";
    EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
  }
  std::filesystem::path dir_;
};

// Unwraps a Result in a test, failing (and returning a default) when it is an error.
template <class T>
T must(base::Result<T> r) {
  if (!r.ok()) {
    ADD_FAILURE() << r.error().message;
    return T{};
  }
  return std::move(r).value();
}

// A server context from PKI pairs (first = default) with optional extra settings.
inline std::shared_ptr<const Context> serverContext(std::vector<CertificatePair> pairs,
                                                    ServerOptions opts = {}) {
  opts.certificates = std::move(pairs);
  return must(Context::forServer(opts));
}

// A client and a server engine after pumping bytes until both went quiet.
struct Connection {
  Peer client;
  Peer server;
  bool ok() const {
    return client.error.empty() && server.error.empty() && client.engine.handshakeDone() &&
           server.engine.handshakeDone();
  }
};

inline Connection connect(base::Result<Engine> client, const std::shared_ptr<const Context>& ctx) {
  auto server = Engine::forServer(ctx);
  if (!client.ok() || !server.ok()) {
    ADD_FAILURE() << (client.ok() ? server.error().message : client.error().message);
    std::abort();  // nothing sensible to return; a test setup bug
  }
  Connection c{Peer{std::move(*client), {}, {}}, Peer{std::move(*server), {}, {}}};
  pump(c.client, c.server);
  return c;
}

// A throwaway client (no verification) offering `sni`.
inline Connection connect(const std::shared_ptr<const Context>& ctx, ClientOptions opts) {
  return connect(Engine::forClient(opts), ctx);
}

// A client from a ClientContext (verification and session cache as configured there).
inline Connection connect(const std::shared_ptr<const Context>& ctx,
                          const std::shared_ptr<const ClientContext>& client, std::string host) {
  return connect(Engine::forClient(client, host), ctx);
}

// The CN part of an RFC 2253 subject ("CN=a-rsa" -> "a-rsa"); the whole line otherwise.
inline std::string commonName(const std::string& subject) {
  if (subject.rfind("CN=", 0) != 0) return subject;
  return subject.substr(3, subject.find(',') == std::string::npos ? std::string::npos
                                                                  : subject.find(',') - 3);
}

}  // namespace portcullis::tls::testing
