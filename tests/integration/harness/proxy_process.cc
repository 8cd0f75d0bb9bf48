#include "harness/proxy_process.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <sstream>

namespace portcullis::integration {

ProxyConfig ProxyConfig::singleUpstream(std::vector<std::string> servers, std::string name) {
  ProxyConfig c;
  c.upstreams.push_back(Upstream{name, std::move(servers)});
  c.routes.push_back(Route{"", "/", name});
  return c;
}

std::string ProxyConfig::toYaml() const {
  const CertFiles& dev = devCert();
  const std::string& cert = certificate.empty() ? dev.certificate : certificate;
  const std::string& k = key.empty() ? dev.key : key;
  std::ostringstream y;
  y << "workers: " << workers << "\n";
  y << "listeners:\n";
  if (https_listener) {
    y << "  - name: https\n"
      << "    address: " << https_address << "\n"
      << "    tls: { certificate: \"" << cert << "\", key: \"" << k << "\" }\n";
    for (const auto& line : https_extra) y << "    " << line << "\n";
  }
  if (redirect_port) {
    y << "  - name: http\n"
      << "    address: " << http_address << "\n"
      << "    redirect_to_https: { port: " << *redirect_port;
    if (!redirect_allowed_hosts.empty()) {
      y << ", allowed_hosts: [";
      for (size_t i = 0; i < redirect_allowed_hosts.size(); ++i) {
        y << (i ? ", " : "") << "\"" << redirect_allowed_hosts[i] << "\"";
      }
      y << "]";
    }
    y << " }\n";
  }
  if (!upstreams.empty()) {
    y << "upstreams:\n";
    for (const auto& u : upstreams) {
      y << "  " << u.name << ":\n    servers: [";
      for (size_t i = 0; i < u.servers.size(); ++i) y << (i ? ", " : "") << u.servers[i];
      y << "]\n    max_idle: " << u.max_idle << "\n    idle_timeout: " << u.idle_timeout << "\n";
      for (const auto& line : u.extra) y << "    " << line << "\n";
    }
  }
  if (!routes.empty()) {
    y << "routes:\n";
    for (const auto& r : routes) {
      y << "  - { ";
      if (!r.host.empty()) y << "host: \"" << r.host << "\", ";
      y << "path: \"" << r.path << "\"";
      if (!r.upstream.empty()) y << ", upstream: " << r.upstream;  // a static route may have none
      if (!r.buffering.empty()) y << ", buffering: " << r.buffering;
      for (const auto& kv : r.extra) y << ", " << kv;
      y << " }\n";
    }
  }
  auto map = [&](const char* key_name, const std::vector<std::pair<std::string, std::string>>& kv) {
    if (kv.empty()) return;
    y << key_name << ": { ";
    for (size_t i = 0; i < kv.size(); ++i) y << (i ? ", " : "") << kv[i].first << ": " << kv[i].second;
    y << " }\n";
  };
  map("timeouts", timeouts);
  map("limits", limits);
  for (const auto& line : top_extra) y << line << "\n";
  return y.str();
}

ProxyProcess::ProxyProcess() {
  config_path_ = dir_.path() + "/portcullis.yaml";
  ready_path_ = dir_.path() + "/ready";
  stderr_path_ = dir_.path() + "/stderr.log";
}

ProxyProcess::~ProxyProcess() {
  if (pid_ > 0) {
    auto stopped = stop();
    // A proxy that does not stop cleanly on SIGTERM is a bug worth a failure of its own.
    EXPECT_TRUE(stopped) << "while tearing down";
  }
  if (::testing::Test::HasFailure()) {
    std::string err = stderrText();
    std::fprintf(stderr, "----- portcullis stderr (%s) -----\n%s----- end of portcullis stderr -----\n",
                 config_path_.c_str(), err.c_str());
  }
}

std::string ProxyProcess::stderrText() const { return readFile(stderr_path_); }

namespace {

// "status 2" or "signal 9", for messages about how the proxy ended.
std::string describeExit(int st) {
  return WIFEXITED(st) ? "status " + std::to_string(WEXITSTATUS(st)) : "signal " + std::to_string(WTERMSIG(st));
}

size_t countOccurrences(const std::string& haystack, const std::string& needle) {
  if (needle.empty()) return 0;
  size_t n = 0;
  for (size_t pos = haystack.find(needle); pos != std::string::npos; pos = haystack.find(needle, pos + needle.size())) {
    ++n;
  }
  return n;
}

}  // namespace

::testing::AssertionResult ProxyProcess::waitForStderr(const std::string& needle, milliseconds timeout,
                                                       size_t occurrences) const {
  if (pollUntil([&] { return countOccurrences(stderrText(), needle) >= occurrences; }, timeout)) {
    return ::testing::AssertionSuccess();
  }
  std::string text = stderrText();
  return ::testing::AssertionFailure() << "stderr has \"" << needle << "\" " << countOccurrences(text, needle)
                                       << " time(s), wanted " << occurrences << ", after " << timeout.count()
                                       << " ms; stderr:\n" << text;
}

::testing::AssertionResult ProxyProcess::rewriteConfig(const ProxyConfig& config) {
  return rewriteYaml(config.toYaml());
}

::testing::AssertionResult ProxyProcess::rewriteYaml(const std::string& yaml) {
  std::string tmp = dir_.writeFile("portcullis.yaml.new", yaml);
  if (std::rename(tmp.c_str(), config_path_.c_str()) != 0) {
    return ::testing::AssertionFailure() << "rename " << tmp << " -> " << config_path_ << " failed";
  }
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult ProxyProcess::start(const ProxyConfig& config, milliseconds timeout) {
  const CertFiles& dev = devCert();
  if (!dev.error.empty()) return ::testing::AssertionFailure() << "dev certificate: " << dev.error;
  expected_listeners_ = (config.https_listener ? 1 : 0) + (config.redirect_port ? 1 : 0);
  return startYaml(config.toYaml(), timeout);
}

::testing::AssertionResult ProxyProcess::startYaml(const std::string& yaml, milliseconds timeout) {
  if (pid_ > 0) return ::testing::AssertionFailure() << "proxy already running";
  std::string bin = proxyBinary();
  if (bin.empty()) return ::testing::AssertionFailure() << "PORTCULLIS_BIN is not set";
  dir_.writeFile("portcullis.yaml", yaml);
  unlink(ready_path_.c_str());
  ports_.clear();
  exit_status_.reset();

  std::vector<std::string> argv = launcher_;
  for (const std::string& a : {bin, std::string("-c"), config_path_, std::string("--ready-file"), ready_path_})
    argv.push_back(a);
  if (const char* level = std::getenv("PORTCULLIS_IT_LOG_LEVEL")) {
    argv.push_back("--log-level");
    argv.push_back(level);
  }
  std::string error;
  pid_ = spawnProcess(argv, dir_.path() + "/stdout.log", stderr_path_, &error, env_);
  if (pid_ < 0) return ::testing::AssertionFailure() << error;

  // Poll for the ready file (the proxy renames it into place once every listener is bound), and
  // for an early exit, which is a failure with the proxy's own message.
  bool ready = pollUntil([&] { return readReadyFile() || !running(); }, timeout);
  if (ready && readReadyFile()) return ::testing::AssertionSuccess();
  auto r = ::testing::AssertionFailure();
  if (!running()) {
    int st = exit_status_.value_or(0);
    r << "portcullis exited before it was ready ("
      << describeExit(st)
      << ")";
    pid_ = -1;
  } else {
    r << "no complete ready file after " << timeout.count() << " ms; ready file:\n" << readFile(ready_path_);
  }
  r << "\nconfig:\n" << yaml << "stderr:\n" << stderrText();
  return r;
}

bool ProxyProcess::readReadyFile() {
  std::string text = readFile(ready_path_);
  if (text.empty()) return false;
  std::map<std::string, uint16_t> ports;
  std::istringstream in(text);
  std::string line;
  for (int i = 0; i < 64 && std::getline(in, line); ++i) {
    std::istringstream fields(line);
    std::string name, address;
    if (!(fields >> name >> address)) continue;
    size_t colon = address.rfind(':');
    if (colon == std::string::npos) return false;
    int port = std::atoi(address.c_str() + colon + 1);
    if (port <= 0 || port > 65535) return false;
    ports[name] = static_cast<uint16_t>(port);
  }
  if (ports.empty() || ports.size() < expected_listeners_) return false;
  ports_ = std::move(ports);
  return true;
}

uint16_t ProxyProcess::port(const std::string& name) const {
  auto it = ports_.find(name);
  return it == ports_.end() ? 0 : it->second;
}

bool ProxyProcess::running() {
  if (pid_ <= 0) return false;
  if (exit_status_) return false;
  int status = 0;
  if (waitpid(pid_, &status, WNOHANG) == pid_) {
    exit_status_ = status;
    return false;
  }
  return true;
}

::testing::AssertionResult ProxyProcess::sendSignal(int sig) {
  if (!running()) return ::testing::AssertionFailure() << "portcullis is not running";
  if (kill(pid_, sig) != 0) {
    return ::testing::AssertionFailure() << "kill(" << pid_ << ", " << sig << ") failed";
  }
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult ProxyProcess::waitForExit(milliseconds timeout) {
  if (pid_ <= 0) return ::testing::AssertionFailure() << "portcullis was not started";
  if (!pollUntil([&] { return !running(); }, timeout)) {
    return ::testing::AssertionFailure() << "portcullis still running after " << timeout.count() << " ms";
  }
  pid_ = -1;
  int st = exit_status_.value_or(0);
  if (WIFEXITED(st) && WEXITSTATUS(st) == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "portcullis exited with "
                                       << describeExit(st);
}

::testing::AssertionResult ProxyProcess::stop(milliseconds timeout) {
  if (pid_ <= 0) return ::testing::AssertionSuccess();
  const pid_t pid = pid_;
  bool killed = false;
  if (running()) {
    kill(pid, SIGTERM);
    if (!pollUntil([&] { return !running(); }, timeout)) {
      kill(pid, SIGKILL);  // only our own child, by PID
      int status = 0;
      waitpid(pid, &status, 0);
      exit_status_ = status;
      killed = true;
    }
  }
  pid_ = -1;
  int st = exit_status_.value_or(0);
  if (killed) {
    return ::testing::AssertionFailure() << "portcullis did not exit within " << timeout.count()
                                         << " ms of SIGTERM; killed";
  }
  if (WIFEXITED(st) && WEXITSTATUS(st) == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "portcullis exited with "
                                       << describeExit(st);
}

}  // namespace portcullis::integration
