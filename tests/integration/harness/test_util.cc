#include "harness/test_util.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

extern char** environ;

namespace portcullis::integration {
namespace {

// A peer closing while we write must fail the write, not kill the test process (BoringSSL's
// socket BIO uses write(2), which raises SIGPIPE). The proxy child gets SIG_DFL back in
// spawnProcess.
const bool kSigpipeIgnored = [] {
  signal(SIGPIPE, SIG_IGN);
  return true;
}();

}  // namespace

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = std::string(base && *base ? base : "/tmp") + "/portcullis-it-XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (mkdtemp(buf.data()) == nullptr) {
    ADD_FAILURE() << "mkdtemp(" << tmpl << "): " << std::strerror(errno);
    return;
  }
  path_ = buf.data();
}

TempDir::~TempDir() {
  if (path_.empty()) return;
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string TempDir::writeFile(const std::string& name, std::string_view content) const {
  std::string full = path_ + "/" + name;
  std::ofstream f(full, std::ios::binary | std::ios::trunc);
  f.write(content.data(), static_cast<std::streamsize>(content.size()));
  if (!f) ADD_FAILURE() << "cannot write " << full;
  return full;
}

std::string readFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return {};
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

uint64_t residentKiB(int pid) {
  std::istringstream in(readFile("/proc/" + std::to_string(pid) + "/status"));
  std::string line;
  for (int i = 0; i < 200 && std::getline(in, line); ++i) {
    if (line.rfind("VmRSS:", 0) == 0) return std::strtoull(line.c_str() + 6, nullptr, 10);  // "VmRSS:  1234 kB"
  }
  return 0;
}

std::string patternBody(size_t size, uint32_t seed) {
  std::string out(size, '\0');
  // xorshift32: cheap, deterministic, covers every byte value.
  uint32_t x = seed * 2654435761u + 1;
  for (size_t i = 0; i < size; ++i) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    out[i] = static_cast<char>(x & 0xff);
  }
  return out;
}

::testing::AssertionResult sameBytes(std::string_view expected, std::string_view actual) {
  size_t n = std::min(expected.size(), actual.size());
  size_t i = 0;
  while (i < n && expected[i] == actual[i]) ++i;
  if (i == n && expected.size() == actual.size()) return ::testing::AssertionSuccess();
  auto r = ::testing::AssertionFailure();
  r << "expected " << expected.size() << " bytes, got " << actual.size() << " bytes";
  if (i < n) r << "; first difference at offset " << i;
  else r << "; the shorter one is a prefix of the longer";
  return r;
}

uint16_t unusedPort() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  uint16_t port = 0;
  if (fd >= 0 && bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    socklen_t len = sizeof addr;
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) port = ntohs(addr.sin_port);
  }
  if (fd >= 0) close(fd);
  return port;
}

bool pollUntil(const std::function<bool()>& condition, milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    if (condition()) return true;
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(milliseconds(5));
  }
}

int spawnProcess(const std::vector<std::string>& argv, const std::string& stdout_path,
                 const std::string& stderr_path, std::string* error, const std::vector<std::string>& env) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  std::vector<char*> envp;
  for (char** e = environ; *e; ++e) {
    std::string_view entry(*e);
    bool replaced = false;
    for (const auto& kv : env) {
      std::string_view name = std::string_view(kv).substr(0, kv.find('=') + 1);
      if (entry.substr(0, name.size()) == name) replaced = true;
    }
    if (!replaced) envp.push_back(*e);
  }
  for (const auto& kv : env) envp.push_back(const_cast<char*>(kv.c_str()));
  envp.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, stdout_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_addopen(&actions, 2, stderr_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);

  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t all, none;
  sigfillset(&all);
  sigemptyset(&none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);

  pid_t pid = -1;
  int rc = posix_spawnp(&pid, args[0], &actions, &attr, args.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    *error = "posix_spawn(" + argv[0] + "): " + std::strerror(rc);
    return -1;
  }
  return pid;
}

::testing::AssertionResult runCommand(const std::vector<std::string>& argv, CommandResult* out,
                                      milliseconds timeout) {
  *out = CommandResult{};
  TempDir dir;
  std::string out_path = dir.path() + "/stdout";
  std::string err_path = dir.path() + "/stderr";
  std::string error;
  pid_t pid = spawnProcess(argv, out_path, err_path, &error);
  if (pid < 0) return ::testing::AssertionFailure() << error;

  int status = 0;
  bool exited = pollUntil([&] { return waitpid(pid, &status, WNOHANG) == pid; }, timeout);
  if (!exited) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
  }
  out->stdout_text = readFile(out_path);
  out->stderr_text = readFile(err_path);
  if (WIFEXITED(status)) out->exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) out->term_signal = WTERMSIG(status);
  if (!exited) {
    return ::testing::AssertionFailure() << argv[0] << " still running after " << timeout.count()
                                         << " ms; killed. stderr:\n" << out->stderr_text;
  }
  return ::testing::AssertionSuccess();
}

std::string proxyBinary() {
  const char* bin = std::getenv("PORTCULLIS_BIN");
  return bin ? bin : "";
}

namespace {

class CertHolder {
 public:
  CertHolder() {
    files_.certificate = dir_.path() + "/dev-cert.pem";
    files_.key = dir_.path() + "/dev-key.pem";
    std::string script = std::string(PORTCULLIS_SOURCE_DIR) + "/scripts/gen-dev-cert.sh";
    std::vector<std::string> argv;
    if (access(script.c_str(), R_OK) == 0) {
      // The proxy refuses route hosts no certificate covers, so the shared test certificate
      // also names the hosts the tests route on.
      argv = {"/bin/bash", script, "--name", "example.com", "--name", "*.example.com",
              "--name", "example.org", "--name", "*.example.org", "--name", "*.test", dir_.path()};
    } else {
      argv = {"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
              "-nodes", "-keyout", files_.key, "-out", files_.certificate, "-days", "30",
              "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"};
    }
    CommandResult r;
    auto ok = runCommand(argv, &r);
    if (!ok) {
      files_.error = ok.message();
    } else if (r.exit_code != 0) {
      files_.error = argv[1] + " exited " + std::to_string(r.exit_code) + ": " + r.stderr_text;
    } else if (access(files_.certificate.c_str(), R_OK) != 0 || access(files_.key.c_str(), R_OK) != 0) {
      files_.error = "certificate generation wrote no dev-cert.pem/dev-key.pem in " + dir_.path();
    }
  }
  const CertFiles& files() const { return files_; }

 private:
  TempDir dir_;
  CertFiles files_;
};

}  // namespace

const CertFiles& devCert() {
  static const CertHolder holder;  // thread-safe lazy init; directory removed at exit
  return holder.files();
}

CertFiles generateCertificate(const std::string& dir) {
  CertFiles files;
  files.certificate = dir + "/dev-cert.pem";
  files.key = dir + "/dev-key.pem";
  std::string script = std::string(PORTCULLIS_SOURCE_DIR) + "/scripts/gen-dev-cert.sh";
  std::vector<std::string> argv;
  if (access(script.c_str(), R_OK) == 0) {
    argv = {"/bin/bash", script, "--force", dir};
  } else {
    argv = {"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
            "-nodes", "-keyout", files.key, "-out", files.certificate, "-days", "30",
            "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"};
  }
  CommandResult r;
  auto ok = runCommand(argv, &r);
  if (!ok) {
    files.error = ok.message();
  } else if (r.exit_code != 0) {
    files.error = argv[1] + " exited " + std::to_string(r.exit_code) + ": " + r.stderr_text;
  } else if (access(files.certificate.c_str(), R_OK) != 0 || access(files.key.c_str(), R_OK) != 0) {
    files.error = "certificate generation wrote no dev-cert.pem/dev-key.pem in " + dir;
  }
  return files;
}

namespace {

class PkiHolder {
 public:
  PkiHolder() {
    pki_.dir = dir_.path() + "/pki";
    std::string script = std::string(PORTCULLIS_SOURCE_DIR) + "/scripts/gen-test-pki.sh";
    CommandResult r;
    // RSA key generation makes this slower than the dev certificate.
    auto ok = runCommand({"/bin/bash", script, pki_.dir}, &r, milliseconds(60000));
    if (!ok) {
      pki_.error = ok.message();
    } else if (r.exit_code != 0) {
      pki_.error = script + " exited " + std::to_string(r.exit_code) + ": " + r.stderr_text;
    } else if (access(pki_.pem("ca").c_str(), R_OK) != 0) {
      pki_.error = script + " wrote no ca.pem in " + pki_.dir;
    }
  }
  const TestPki& pki() const { return pki_; }

 private:
  TempDir dir_;
  TestPki pki_;
};

}  // namespace

const TestPki& testPki() {
  static const PkiHolder holder;  // thread-safe lazy init; directory removed at exit
  return holder.pki();
}

::testing::AssertionResult generateKey(const std::string& path) {
  CommandResult r;
  auto ok = runCommand({"openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
                        "-out", path},
                       &r);
  if (!ok) return ok;
  if (r.exit_code != 0) return ::testing::AssertionFailure() << "openssl genpkey: " << r.stderr_text;
  return ::testing::AssertionSuccess();
}

}  // namespace portcullis::integration
