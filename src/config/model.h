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

struct CertificateFiles {
  std::string certificate;  // path as resolved (relative paths resolve against the config file's dir)
  std::string key;
  Mark certificate_mark;
  Mark key_mark;
};

enum class ClientAuthMode { Off, Optional, Required };

struct ClientAuth {
  ClientAuthMode mode = ClientAuthMode::Off;
  std::string ca;  // PEM bundle of accepted CAs
  Mark ca_mark;
  // Headers that carry the verified client certificate to upstreams; always stripped from
  // client input (even when empty here, the proxy strips the names configured).
  std::string subject_header = "X-Client-Cert-Subject";
  std::string fingerprint_header = "X-Client-Cert-Sha256";
  Mark mark;
};

struct TlsFiles {
  // One or more certificate/key pairs. The first is the default for clients without a
  // matching SNI name; names come from each certificate's SANs. YAML accepts either
  // `certificate:` + `key:` (one pair) or `certificates: [{certificate, key}, ...]`.
  std::vector<CertificateFiles> certificates;
  std::string min_version = "1.2";  // "1.2" or "1.3"
  // TLS 1.2 cipher list (OpenSSL syntax); TLS 1.3 suites are not configurable in BoringSSL.
  std::string ciphers =
      "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
      "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";
  std::vector<std::string> curves = {"X25519", "P-256", "P-384"};
  std::chrono::milliseconds handshake_timeout{10'000};
  bool session_tickets = true;
  std::chrono::milliseconds ticket_key_rotation{3'600'000};  // new encryption key this often
  std::chrono::milliseconds ticket_lifetime{43'200'000};     // old keys decrypt this long (12 h)
  // Fleet mode: ticket keys derived (HKDF) from this secret file and the time epoch, so every
  // instance sharing the file computes the same keys. Empty = random keys (single host).
  std::string ticket_key_file;
  Mark ticket_key_file_mark;
  ClientAuth client_auth;
  Mark mark;
  Mark ciphers_mark;
  Mark curves_mark;
};

struct Hsts {
  bool enabled = false;
  std::chrono::seconds max_age{31'536'000};  // 1 year
  bool include_subdomains = false;
  bool preload = false;
};

struct RedirectToHttps {
  uint16_t https_port = 443;  // put in Location when it is not 443
  // When non-empty, only these hosts (exact or "*.example.com") are redirected; a request for
  // any other Host gets 421 rather than a redirect to an arbitrary name.
  std::vector<std::string> allowed_hosts;
};

struct Listener {
  std::string name;
  std::string host;  // literal IPv4/IPv6 address ("0.0.0.0", "::", "127.0.0.1"), no brackets
  uint16_t port = 0; // 0 = pick a free port (tests); see --ready-file
  Mark address_mark;
  std::optional<TlsFiles> tls;                 // exactly one of tls / redirect_to_https
  std::optional<RedirectToHttps> redirect_to_https;
  Hsts hsts;                                   // TLS listeners only
  // `protocols:`, TLS listeners only: the HTTP versions offered by ALPN, as ALPN ids ("h2",
  // "http/1.1"), in server preference order, no duplicates, never empty. A plain (redirect)
  // listener keeps the default and never reads it.
  std::vector<std::string> protocols = {"h2", "http/1.1"};
  Mark mark;
};

struct UpstreamServer {
  std::string host;  // name or literal; resolved by the server at start
  uint16_t port = 0;
  uint32_t weight = 1;        // 1..1000
  uint32_t max_requests = 0;  // concurrent requests cap (e.g. gunicorn workers); 0 = none
  Mark mark;
};

enum class BalancePolicy { RoundRobin, LeastRequest, Random, Hash };
enum class HashKeyKind { ClientIp, Header, Cookie };

struct UpstreamTls {
  bool enabled = false;
  std::string sni;          // default: the server's host name
  bool verify = true;
  std::string ca;           // PEM bundle; empty = system store
  Mark ca_mark;
  Mark mark;
};

struct HealthCheck {
  bool enabled = false;
  std::string method = "GET";
  std::string path = "/";
  std::string host;  // Host header; default: the server's host:port
  // Expected statuses as inclusive ranges, e.g. [[200, 399]].
  // (count, value) rather than {{200, 399}}: GCC 12 at -O2 flags the initializer_list copy as
  // maybe-uninitialized (a false positive) under -Werror.
  std::vector<std::pair<int, int>> expected = std::vector<std::pair<int, int>>(1, std::pair<int, int>(200, 399));
  std::chrono::milliseconds interval{5'000};
  std::chrono::milliseconds timeout{2'000};
  uint32_t rise = 2;
  uint32_t fall = 3;
  Mark mark;
};

struct OutlierDetection {
  uint32_t consecutive_failures = 5;  // connect failures or 5xx in a row; 0 = off
  std::chrono::milliseconds base_ejection{30'000};
  std::chrono::milliseconds max_ejection{300'000};
};

struct Queue {
  uint32_t size = 0;  // requests waiting when every server is at max_requests; 0 = no queue (503)
  std::chrono::milliseconds timeout{10'000};
};

// The most `retries` a config may ask for: a request then tries at most kMaxRetries + 1 hosts,
// which bounds the per-request set of tried hosts (upstream::Exclusions).
inline constexpr uint32_t kMaxRetries = 10;

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
  BalancePolicy policy = BalancePolicy::RoundRobin;
  HashKeyKind hash_key = HashKeyKind::ClientIp;
  std::string hash_key_name;  // header or cookie name for HashKeyKind::Header/Cookie
  UpstreamTls tls;
  HealthCheck health_check;
  OutlierDetection outlier;
  Queue queue;
  bool panic_when_all_unhealthy = false;  // false: 503 when no server is healthy
  std::chrono::milliseconds slow_start{0};  // ramp a returning server's weight over this time
  uint32_t retries = 1;                     // extra attempts on another server
  double retry_budget = 0.2;                // retries at most this share of in-flight requests
  std::chrono::milliseconds dns_refresh{0}; // re-resolve names this often; 0 = only at start
  Mark mark;
  Mark idle_timeout_mark;  // where `idle_timeout:` was written (line 0: not written, the default)
};

struct Buffering {
  bool request = true;   // read the whole request body before taking an upstream connection
  bool response = true;  // read the upstream response as fast as it comes
  uint64_t memory = 64 * 1024;            // per request and direction, then a temporary file
  // Response spill limit (requests are bounded by limits.body). 0 = never spill to disk: past
  // `memory` the response streams with backpressure, holding the upstream connection.
  uint64_t max_file = 1024ull * 1024 * 1024;
};

// `static:` on a route: files under `root` answer the route's requests instead of an upstream
// (Django's STATIC_ROOT / MEDIA_ROOT). The request path minus the route's prefix names the file.
struct StaticFiles {
  std::string root;  // absolute (a relative one is resolved against the config file's directory)
  Mark root_mark;
  // `fallback: upstream`: a file that is not there goes to the route's upstream (whitenoise
  // users expect Django to answer it); `fallback: off` (default): 404.
  bool fallback_upstream = false;
  // Cache-Control max-age for names without a content hash. Hashed names (Django's
  // ManifestStaticFilesStorage: app.3f2a9c1b7d4e.css) always get a year and `immutable`.
  std::chrono::seconds max_age{3600};
  // Symlinks may point outside root (a deploy that links shared/static into a release dir).
  // Off: a file whose real path leaves root is 403.
  bool allow_symlinks_outside = false;
  // Serve `name.br` / `name.zst` / `name.gz` next to `name` when the client accepts them.
  bool precompressed = true;
  Mark mark;
};

// `compress:` on a route: proxied responses are compressed on the fly. Off by default (BREACH:
// a response that reflects a secret and attacker input leaks the secret through its size).
struct Compression {
  bool enabled = false;
  // Content types (without parameters, lower case) that are compressed; a trailing "/*" matches
  // a whole top-level type.
  std::vector<std::string> types = {
      "text/html", "text/css", "text/plain", "text/javascript", "text/xml", "text/csv",
      "application/javascript", "application/json", "application/xml", "application/rss+xml",
      "application/atom+xml", "application/manifest+json", "image/svg+xml"};
  uint64_t min_size = 1024;  // a response known to be smaller is sent as it is
  // Levels: brotli 0..11, zstd 1..19, gzip 1..9. Chosen for on-the-fly compression, not for
  // precompressed files: brotli 4 and zstd 3 beat gzip 6 in both size and CPU.
  int brotli_level = 4;
  int zstd_level = 3;
  int gzip_level = 6;
  Mark mark;
};

struct Route {
  std::string host;         // "" = any host; "example.com" exact; "*.example.com" one or more labels
  std::string path_prefix = "/";
  std::string upstream;     // name of an Upstream; empty for a static route without fallback
  std::optional<StaticFiles> static_files;
  Compression compress;
  Buffering buffering;      // `buffering: off` streams both ways (SSE, long polling)
  // WebSocket upgrades are forwarded and become tunnels on a 101; false: the upgrade headers
  // are dropped and the request goes upstream as a plain one.
  bool websocket = true;
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
  // A tunnel (WebSocket) with no byte either way for this long is closed. Long, as nginx's
  // advice for WebSockets: apps ping (Channels, socket.io) well inside it.
  std::chrono::milliseconds tunnel_idle{3'600'000};
  Mark upstream_response_mark;  // where `upstream_response:` was written (line 0: the default)
};

struct Limits {
  uint64_t request_line = 8 * 1024;
  uint64_t header_bytes = 32 * 1024;
  uint64_t header_count = 100;
  uint64_t body = 100ull * 1024 * 1024;  // 413 above; 0 = unlimited
};

// `access_log:`. Off unless configured.
enum class AccessLogFormat { Json, Combined };
struct AccessLog {
  bool enabled = false;
  std::string path;  // file (appended to; SIGUSR1 reopens it), or "stdout"
  AccessLogFormat format = AccessLogFormat::Json;
  Mark mark;
};

// `request_id:`. An id per request, sent upstream (Django's logging can print it) and logged.
struct RequestId {
  bool enabled = true;
  std::string header = "X-Request-Id";
  // true: a client-sent id (printable, at most 200 bytes) is kept, for a trusted front (an L7
  // balancer that sets one); false: a client-sent header of that name is replaced.
  bool trust_client = false;
  Mark mark;
};

// `admin:`. The admin listener (/metrics, /healthz, cluster view); off unless configured.
struct Admin {
  bool enabled = false;
  std::string host = "127.0.0.1";  // literal address; loopback unless the operator says otherwise
  uint16_t port = 0;               // 0 = pick a free port (tests; see --ready-file)
  Mark mark;
};

struct Config {
  std::string source_file;
  unsigned workers = 0;  // 0 = one per CPU
  std::string temp_dir = "/tmp";  // buffering spill files (unlinked at creation)
  Mark temp_dir_mark;             // for "cannot create a file in temp_dir" at start
  // `user:` / `group:`: names only; the server resolves them (an unknown name is an error at
  // the key's mark) and drops to them once every root-only resource is open. Empty: keep the
  // identity the process was started with; group empty: the user's primary group.
  std::string user;
  std::string group;
  Mark user_mark;
  Mark group_mark;
  std::vector<Listener> listeners;
  std::vector<Upstream> upstreams;
  std::vector<Route> routes;
  Timeouts timeouts;
  Limits limits;
  AccessLog access_log;
  RequestId request_id;
  Admin admin;

  const Upstream* findUpstream(const std::string& name) const;
};

}  // namespace portcullis::config
