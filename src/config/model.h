#pragma once
// The configuration as plain data. Built by load.cc from YAML, checked by validate.cc, then held
// as an immutable snapshot (shared_ptr<const Config>) by the server. Knows no sockets, no TLS:
// fields that later layers check against the outside world (certificate files, host names)
// keep the source position of their YAML node so those errors can still name file:line:col.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace portcullis::config {

struct Mark {
  std::string file;
  int line = 0;    // 1-based
  int column = 0;  // 1-based
};
// "file:line:col"
std::string toString(const Mark& m);

struct TlsFiles {
  std::string certificate;  // path as resolved (relative paths resolve against the config file's dir)
  std::string key;
  Mark certificate_mark;
  Mark key_mark;
};

struct RedirectToHttps {
  uint16_t https_port = 443;  // put in Location when it is not 443
};

struct Listener {
  std::string name;
  std::string host;  // literal IPv4/IPv6 address ("0.0.0.0", "::", "127.0.0.1"), no brackets
  uint16_t port = 0; // 0 = pick a free port (tests); see --ready-file
  Mark address_mark;
  std::optional<TlsFiles> tls;                 // exactly one of tls / redirect_to_https
  std::optional<RedirectToHttps> redirect_to_https;
  Mark mark;
};

struct UpstreamServer {
  std::string host;  // name or literal; resolved by the server at start
  uint16_t port = 0;
  Mark mark;
};

struct Upstream {
  std::string name;
  std::vector<UpstreamServer> servers;
  // Idle keep-alive connections kept per worker per server. Below the peak number of requests
  // in flight per worker, connections churn under load (64 clients vs 32 idle slots opened
  // ~7,000 upstream connections/s in a loopback test), so the default is generous; idle
  // ones are closed after idle_timeout anyway.
  uint32_t max_idle = 64;
  // Kept below the app server's own keep-alive (gunicorn 2 s, uvicorn 5 s) so the proxy closes
  // an idle connection before the upstream does and never sends on a connection being closed.
  std::chrono::milliseconds idle_timeout{1500};
  Mark mark;
};

struct Route {
  std::string host;         // "" = any host; "example.com" exact; "*.example.com" one or more labels
  std::string path_prefix = "/";
  std::string upstream;     // name of an Upstream
  Mark mark;
  Mark upstream_mark;
};

struct Timeouts {
  std::chrono::milliseconds client_header{10'000};   // whole request head must arrive within
  std::chrono::milliseconds client_body{30'000};     // max gap between body reads
  std::chrono::milliseconds client_idle{60'000};     // keep-alive wait for the next request
  std::chrono::milliseconds upstream_connect{5'000};
  // Wait for the response head, and max gap between body reads after it. Below gunicorn's
  // default --timeout (30 s) would answer 504 before gunicorn kills its worker; 60 s matches
  // nginx's proxy_read_timeout, and users with slow views raise it.
  std::chrono::milliseconds upstream_response{60'000};
  std::chrono::milliseconds shutdown_grace{10'000};  // drain on SIGTERM before closing the rest
};

struct Limits {
  uint64_t request_line = 8 * 1024;
  uint64_t header_bytes = 32 * 1024;
  uint64_t header_count = 100;
  uint64_t body = 100ull * 1024 * 1024;  // 413 above; 0 = unlimited
};

struct Config {
  std::string source_file;
  unsigned workers = 0;  // 0 = one per CPU
  std::vector<Listener> listeners;
  std::vector<Upstream> upstreams;
  std::vector<Route> routes;
  Timeouts timeouts;
  Limits limits;

  const Upstream* findUpstream(const std::string& name) const;
};

}  // namespace portcullis::config
