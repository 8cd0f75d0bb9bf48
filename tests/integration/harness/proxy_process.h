#pragma once
// The real portcullis binary ($PORTCULLIS_BIN) as a child process on loopback.
//
// start() writes the YAML into a fresh temp dir, runs `portcullis -c <yaml> --ready-file <file>`
// and waits (with a deadline) for the ready file, which lists "<name> <host>:<port>" per
// listener; listeners use 127.0.0.1:0, so the ports come from that file. stop() sends SIGTERM
// and SIGKILLs after a deadline; the destructor does the same. stderr goes to a file and is
// printed when the current test has failed.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/types.h>

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "harness/test_util.h"

namespace portcullis::integration {

// A config, written out as YAML by toYaml(). Defaults: 2 workers, an "https" TLS listener with
// the dev certificate and an "http" listener redirecting to port 8443.
struct ProxyConfig {
  struct Upstream {
    std::string name;
    std::vector<std::string> servers;  // "127.0.0.1:PORT"
    std::string max_idle = "32";
    std::string idle_timeout = "1500ms";
    // More keys of this upstream, one YAML line each without indentation, e.g.
    // "policy: least_request" or "queue: {size: 1, timeout: 5s}". A server in `servers` may be
    // a flow map too: "{address: \"127.0.0.1:PORT\", weight: 3, max_requests: 1}".
    std::vector<std::string> extra{};
  };
  struct Route {
    // A constructor rather than an aggregate, so {host, path, upstream} needs no 4th value.
    Route(std::string h = "", std::string p = "/", std::string u = "", std::string b = "")
        : host(std::move(h)), path(std::move(p)), upstream(std::move(u)), buffering(std::move(b)) {}
    std::string host;  // empty: any host
    std::string path;
    std::string upstream;
    std::string buffering;  // YAML value of the route's `buffering:` ("off", "{...}"); empty: default
    // More keys of this route, each "key: value" as it goes inside the route's flow map, e.g.
    // "websocket: false" (a value with commas must be a flow collection or quoted).
    std::vector<std::string> extra{};
  };

  unsigned workers = 2;
  bool https_listener = true;
  std::optional<uint16_t> redirect_port = 8443;  // nullopt: no "http" listener
  std::string https_address = "127.0.0.1:0";  // written unquoted: quote an IPv6 one yourself
  std::string http_address = "127.0.0.1:0";
  // Extra keys of the "https" listener, one YAML line each without indentation, e.g.
  // "hsts: {max_age: 600s, include_subdomains: true}".
  std::vector<std::string> https_extra;
  // redirect_to_https.allowed_hosts of the "http" listener; empty: the key is left out.
  std::vector<std::string> redirect_allowed_hosts;
  std::vector<Upstream> upstreams;
  std::vector<Route> routes;
  // e.g. {"client_header", "1s"}. shutdown_grace is short so a test's teardown (SIGTERM) is
  // never held up by a connection the test left open.
  std::vector<std::pair<std::string, std::string>> timeouts = {{"shutdown_grace", "2s"}};
  std::vector<std::pair<std::string, std::string>> limits;    // e.g. {"body", "1m"}
  // Extra top-level keys, one YAML line each, e.g. "temp_dir: /tmp/x".
  std::vector<std::string> top_extra;
  std::string certificate;  // empty: devCert()
  std::string key;

  // One upstream `name` with `servers` and a catch-all route to it.
  static ProxyConfig singleUpstream(std::vector<std::string> servers, std::string name = "app");

  std::string toYaml() const;
};

class ProxyProcess {
 public:
  ProxyProcess();
  // Stops the proxy if running (SIGTERM, then SIGKILL); prints its stderr if the test failed.
  ~ProxyProcess();
  ProxyProcess(const ProxyProcess&) = delete;
  ProxyProcess& operator=(const ProxyProcess&) = delete;

  ::testing::AssertionResult start(const ProxyConfig& config, milliseconds timeout = milliseconds(10000));
  ::testing::AssertionResult startYaml(const std::string& yaml, milliseconds timeout = milliseconds(10000));
  // Runs the proxy through this command prefix, which must exec the binary in the same process
  // (e.g. {"unshare", "-m", "sh", "-c", "mount ... && exec \"$0\" \"$@\""}): the PID stays
  // the proxy's, so signals and the exit status still reach it.
  void setLauncher(std::vector<std::string> prefix) { launcher_ = std::move(prefix); }
  // Sets NAME=value in the proxy's environment (e.g. NOTIFY_SOCKET) from the next start on.
  void setEnv(const std::string& name, const std::string& value) { env_.push_back(name + "=" + value); }

  // Port of listener `name` from the ready file; 0 if there is none.
  uint16_t port(const std::string& name) const;
  uint16_t httpsPort() const { return port("https"); }
  uint16_t httpPort() const { return port("http"); }

  // SIGTERM; waits up to `timeout` for exit; SIGKILL if still running. Succeeds if the proxy
  // exited with status 0 on SIGTERM.
  ::testing::AssertionResult stop(milliseconds timeout = milliseconds(5000));
  bool running();

  // For tests of shutdown itself: send `sig` (to our child, by PID) and return at once.
  ::testing::AssertionResult sendSignal(int sig);
  // Waits up to `timeout` for the proxy to exit on its own (no signal, no kill; the destructor
  // still cleans up after a failure). Succeeds if it exited with status 0.
  ::testing::AssertionResult waitForExit(milliseconds timeout);
  pid_t pid() const { return pid_; }  // -1 when not running

  std::string stderrText() const;
  // Waits until the proxy's stderr contains `needle` at least `occurrences` times.
  ::testing::AssertionResult waitForStderr(const std::string& needle, milliseconds timeout = kWait,
                                           size_t occurrences = 1) const;

  // Replaces the config file (write to a temporary name, then rename, so a reload never reads
  // half a file). The running proxy sees it only on reload().
  ::testing::AssertionResult rewriteConfig(const ProxyConfig& config);
  ::testing::AssertionResult rewriteYaml(const std::string& yaml);
  // SIGHUP: the proxy re-reads its config file and certificates. Returns at once; the swap is
  // asynchronous, so a test polls for its effect (or for "reload failed" in stderrText()).
  ::testing::AssertionResult reload() { return sendSignal(SIGHUP); }
  const std::string& dir() const { return dir_.path(); }
  const std::string& configPath() const { return config_path_; }

 private:
  // Parses the ready file into ports_; false while it is absent or incomplete.
  bool readReadyFile();

  TempDir dir_;
  std::string config_path_;
  std::string ready_path_;
  std::string stderr_path_;
  std::vector<std::string> launcher_;
  std::vector<std::string> env_;  // "NAME=value"
  pid_t pid_ = -1;
  std::optional<int> exit_status_;  // waitpid status once reaped
  std::map<std::string, uint16_t> ports_;
  size_t expected_listeners_ = 0;
};

}  // namespace portcullis::integration
