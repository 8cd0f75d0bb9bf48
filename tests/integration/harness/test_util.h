#pragma once
// Small helpers shared by the integration harness: temp dirs, deterministic bodies, byte
// comparison that does not print megabytes, child processes with deadlines, the dev certificate.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace portcullis::integration {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// Default bound on a wait for something that should happen at once on loopback. Generous so an
// ASan build on a busy CI host does not flake; a hang still fails in seconds, not minutes.
inline constexpr milliseconds kWait{5000};

// A fresh directory under $TMPDIR (or /tmp), removed with everything in it on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  // Writes `content` to path()/name and returns the full path.
  std::string writeFile(const std::string& name, std::string_view content) const;

 private:
  std::string path_;
};

// `size` bytes of deterministic pseudo-random binary data (all byte values, CR and LF included,
// so a body that is parsed instead of relayed gets caught). Different seeds give different bytes.
std::string patternBody(size_t size, uint32_t seed);

// Compares two byte strings without dumping them: sizes, then the first differing offset.
::testing::AssertionResult sameBytes(std::string_view expected, std::string_view actual);

// A loopback port that was free a moment ago: bound to 127.0.0.1:0 and closed, so a connect to it
// is refused (nothing listens). Another process could take it in between; on loopback in a test
// sandbox that is vanishingly rare.
uint16_t unusedPort();

// Polls `condition` every few milliseconds until it holds or `timeout` passes.
bool pollUntil(const std::function<bool()>& condition, milliseconds timeout);

struct CommandResult {
  int exit_code = -1;   // when the child exited
  int term_signal = 0;  // when a signal killed it
  std::string stdout_text;
  std::string stderr_text;
};

// Starts argv[0] (a path) with stdin from /dev/null and stdout/stderr appended to the given
// files. Signal dispositions and the mask are reset in the child, so the proxy does not inherit
// this process's SIGPIPE=SIG_IGN and hide a missing one of its own. Returns -1 and sets *error
// on failure. `env` ("NAME=value") is added to this process's environment for the child; a
// name already set takes the new value.
int spawnProcess(const std::vector<std::string>& argv, const std::string& stdout_path,
                 const std::string& stderr_path, std::string* error,
                 const std::vector<std::string>& env = {});

// Resident set size of process `pid` in KiB (VmRSS in /proc/<pid>/status); 0 if unreadable.
uint64_t residentKiB(int pid);

// Reads a whole file; empty if missing.
std::string readFile(const std::string& path);

// Runs argv[0] (a path) with argv, stdin from /dev/null, output captured. Kills the child with
// SIGKILL if it outlives `timeout` and fails.
::testing::AssertionResult runCommand(const std::vector<std::string>& argv, CommandResult* out,
                                      milliseconds timeout = milliseconds(20000));

// The proxy binary: $PORTCULLIS_BIN. Empty if unset.
std::string proxyBinary();

struct CertFiles {
  std::string certificate;
  std::string key;
  std::string error;  // non-empty if generation failed
};

// A self-signed ECDSA P-256 certificate for localhost/127.0.0.1, generated once per test process
// (scripts/gen-dev-cert.sh if present, else the openssl CLI) and removed at exit.
const CertFiles& devCert();

// A fresh self-signed certificate and key like devCert()'s (new key, so a new fingerprint),
// written as dir/dev-cert.pem and dir/dev-key.pem by `scripts/gen-dev-cert.sh --force dir`
// (or the openssl CLI). For reload tests that swap certificates.
CertFiles generateCertificate(const std::string& dir);

// The throwaway PKI of scripts/gen-test-pki.sh (a test CA, an unrelated CA, server certificates
// for default.test, a.example.com (ECDSA and RSA), *.example.com and localhost, and client
// certificates), generated once per test process into a temp dir removed at exit.
struct TestPki {
  std::string dir;
  std::string error;  // non-empty if generation failed
  // dir/NAME.pem and dir/NAME-key.pem, e.g. pem("a-rsa"), key("a-rsa").
  std::string pem(const std::string& name) const { return dir + "/" + name + ".pem"; }
  std::string key(const std::string& name) const { return dir + "/" + name + "-key.pem"; }
};
const TestPki& testPki();

// Generates a fresh P-256 key into `path` (for "key does not match certificate").
::testing::AssertionResult generateKey(const std::string& path);

}  // namespace portcullis::integration
