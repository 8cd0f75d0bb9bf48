// YAML -> Config. The only file that sees yaml-cpp (scripts/check-layers.sh): everything past it
// works on the plain structs of model.h and the marks kept in them.
#include "config/load.h"

#include <fcntl.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <exception>
#include <filesystem>
#include <initializer_list>
#include <limits>
#include <regex>
#include <span>
#include <string_view>
#include <utility>
#include <vector>

#include "config/tls_values.h"
#include "config/validate.h"
#include "config/values.h"

namespace portcullis::config {
namespace {

namespace fs = std::filesystem;
using Keys = std::span<const std::string_view>;

constexpr std::array<std::string_view, 10> kTopKeys = {
    "workers", "temp_dir", "listeners", "upstreams", "routes", "timeouts", "limits",
    "access_log", "request_id", "admin"};
constexpr std::array<std::string_view, 5> kListenerKeys = {"name", "address", "tls",
                                                           "redirect_to_https", "hsts"};
constexpr std::array<std::string_view, 12> kTlsKeys = {
    "certificate",       "key",           "certificates",        "min_version",
    "ciphers",           "curves",        "handshake_timeout",   "session_tickets",
    "ticket_key_rotation", "ticket_lifetime", "ticket_key_file", "client_auth"};
constexpr std::array<std::string_view, 2> kCertificateKeys = {"certificate", "key"};
constexpr std::array<std::string_view, 4> kClientAuthKeys = {"mode", "ca", "subject_header",
                                                             "fingerprint_header"};
constexpr std::array<std::string_view, 4> kHstsKeys = {"enabled", "max_age", "include_subdomains",
                                                       "preload"};
constexpr std::array<std::string_view, 2> kRedirectKeys = {"port", "allowed_hosts"};
constexpr std::array<std::string_view, 14> kUpstreamKeys = {
    "servers", "max_idle",   "idle_timeout",       "policy",     "hash_key",
    "tls",     "health_check", "outlier",          "queue",      "when_all_unhealthy",
    "slow_start", "retries", "retry_budget",       "dns_refresh"};
constexpr std::array<std::string_view, 3> kServerKeys = {"address", "weight", "max_requests"};
constexpr std::array<std::string_view, 3> kUpstreamTlsKeys = {"sni", "verify", "ca"};
constexpr std::array<std::string_view, 9> kHealthCheckKeys = {
    "enabled", "method", "path", "host", "expected", "interval", "timeout", "rise", "fall"};
constexpr std::array<std::string_view, 3> kOutlierKeys = {"consecutive_failures",
                                                          "base_ejection", "max_ejection"};
constexpr std::array<std::string_view, 2> kQueueKeys = {"size", "timeout"};
constexpr std::array<std::string_view, 4> kRouteKeys = {"host", "path", "upstream", "buffering"};
constexpr std::array<std::string_view, 4> kBufferingKeys = {"request", "response", "memory",
                                                            "max_file"};
constexpr std::array<std::string_view, 6> kTimeoutKeys = {
    "client_header",    "client_body",       "client_idle",
    "upstream_connect", "upstream_response", "shutdown_grace"};
constexpr std::array<std::string_view, 1> kAdminKeys = {"address"};
constexpr std::array<std::string_view, 4> kLimitKeys = {"request_line", "header_bytes",
                                                        "header_count", "body"};
constexpr std::array<std::string_view, 2> kAccessLogKeys = {"path", "format"};
constexpr std::array<std::string_view, 2> kRequestIdKeys = {"header", "trust_client"};
// Headers the proxy itself frames or sets from what it saw (README: forwarded headers): an id
// under one of these names would be overwritten, stripped, or would break the request.
constexpr std::array<std::string_view, 16> kReservedHeaders = {
    "host",              "content-length",  "transfer-encoding", "connection",
    "upgrade",           "te",              "trailer",           "keep-alive",
    "proxy-connection",  "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host",
    "x-forwarded-port",  "forwarded",       "x-real-ip",         "via"};

using std::chrono::milliseconds;
constexpr std::chrono::hours kDay{24};
// Durations that may be 0 ("off"): slow_start, dns_refresh.
constexpr DurationRange kZeroAllowed{milliseconds(0), kMaxDuration};
// RFC 8446 §4.6.1: a ticket lifetime above 604800 s (7 days) MUST NOT be used.
constexpr DurationRange kTicketLifetime{milliseconds(1), 7 * kDay};
// Rotating more often than a minute buys nothing and makes most resumptions miss.
constexpr DurationRange kTicketRotation{std::chrono::minutes(1), kMaxDuration};
// 0 is RFC 6797 §6.1.1's "forget this host"; two years is hstspreload.org's recommendation and
// above anything a browser honours longer.
constexpr DurationRange kHstsMaxAge{milliseconds(0), 730 * kDay};
// hstspreload.org: max-age of at least 31536000 seconds to be accepted on the preload list.
constexpr std::chrono::seconds kPreloadMinAge{31'536'000};

constexpr std::string_view kDurationShape = "a duration such as 10s or 500ms";
constexpr std::string_view kSizeShape = "a size such as 8k, 32KiB or 100m";
// An unquoted [::1]:8001 is a YAML flow list, so yaml-cpp hands us a list or a syntax error.
constexpr std::string_view kQuoteIPv6 = " (quote IPv6 addresses: \"[::1]:8001\")";

// The first error ends the load. Helpers throw this instead of returning Result through every
// level: loading runs on the main thread at start and reload, never on the data path
// (DESIGN 4), and yaml-cpp throws anyway, so one catch in loadString turns both into an Error.
struct Failure {
  std::string message;
};

// A YAML value, with the key path that names it in messages ("listeners[0].address").
// yaml-cpp places a null value (`key:` with nothing after it) at the start of the *next* line,
// so errors about a null point at `fallback`, the key that introduced it.
struct Value {
  YAML::Node node;
  YAML::Mark fallback;
  std::string path;
};

struct Entry {
  std::string key;
  YAML::Mark key_mark;
  Value value;
};

std::string describe(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Scalar: return "'" + n.Scalar() + "'";
    case YAML::NodeType::Sequence: return "a list";
    case YAML::NodeType::Map: return "a map";
    default: return "nothing";
  }
}

std::string child(const std::string& path, const std::string& key) {
  return path.empty() ? key : path + "." + key;
}

class Loader {
 public:
  Loader(std::string file, fs::path base_dir)
      : file_(std::move(file)), base_dir_(std::move(base_dir)) {}

  Config load(const YAML::Node& root) {
    Config config;
    config.source_file = file_;
    Value top{root, root.Mark(), ""};
    bool have_listeners = false;
    for (const Entry& e : mapEntries(top, kTopKeys)) {
      if (e.key == "workers") {
        config.workers = workers(e.value);
      } else if (e.key == "temp_dir") {
        std::string dir = scalar(e.value, "a directory path");
        // Absolute only: spill files are created by workers long after start, and a relative
        // path would then depend on the working directory, not on this file.
        if (dir.empty() || dir.front() != '/') {
          fail(e.value, "must be an absolute path, got '" + dir + "'");
        }
        config.temp_dir = dir;
        config.temp_dir_mark = markOf(where(e.value));
      } else if (e.key == "listeners") {
        have_listeners = true;
        std::vector<Value> items = listItems(e.value);
        if (items.empty()) fail(e.value, "at least one listener is required");
        for (const Value& item : items) config.listeners.push_back(listener(item));
      } else if (e.key == "upstreams") {
        for (const Entry& u : mapEntries(e.value, {})) config.upstreams.push_back(upstream(u));
      } else if (e.key == "routes") {
        for (const Value& item : listItems(e.value)) config.routes.push_back(route(item));
      } else if (e.key == "timeouts") {
        timeouts(e.value, config.timeouts);
      } else if (e.key == "limits") {
        limits(e.value, config.limits);
      } else if (e.key == "access_log") {
        config.access_log = accessLog(e.value);
      } else if (e.key == "request_id") {
        config.request_id = requestId(e.value);
      } else if (e.key == "admin") {
        config.admin = parseAdmin(e.value);
      }
    }
    if (!have_listeners) fail(top, "missing required key 'listeners' at top level");
    return config;
  }

 private:
  Mark markOf(const YAML::Mark& m) const {
    if (m.is_null()) return Mark{file_, 0, 0};
    return Mark{file_, m.line + 1, m.column + 1};  // yaml-cpp counts from 0
  }
  YAML::Mark where(const Value& v) const { return v.node.IsNull() ? v.fallback : v.node.Mark(); }

  [[noreturn]] void failAt(const YAML::Mark& at, const std::string& message) const {
    throw Failure{toString(markOf(at)) + ": " + message};
  }
  // "listeners[0].address: <message>", at the value.
  [[noreturn]] void fail(const Value& v, const std::string& message) const {
    failAt(where(v), (v.path.empty() ? "" : v.path + ": ") + message);
  }
  template <class T>
  T check(const Value& v, base::Result<T> r) const {
    if (!r) fail(v, r.error().message);
    return std::move(r).value();
  }

  // The entries of a map (null counts as an empty map, so `timeouts:` with nothing under it is
  // fine), in file order. Rejects non-scalar keys, duplicate keys (yaml-cpp keeps both and
  // lookups see only the first, so the second would be silently ignored) and, when `allowed` is
  // not empty, any key not in it.
  std::vector<Entry> mapEntries(const Value& v, Keys allowed) const {
    if (v.node.IsNull()) return {};
    if (!v.node.IsMap()) fail(v, "expected a map, got " + describe(v.node));
    std::vector<Entry> out;
    for (auto it = v.node.begin(); it != v.node.end(); ++it) {
      // Copies, not references: `it->` yields a temporary pair. A Node copy is a handle.
      YAML::Node key = it->first;
      YAML::Node value = it->second;
      std::string in = v.path.empty() ? "at top level" : "in " + v.path;
      if (!key.IsScalar()) {
        failAt(key.Mark(), "expected a plain key " + in + ", got " + describe(key));
      }
      std::string name = key.Scalar();
      for (const Entry& seen : out) {
        if (seen.key == name) {
          failAt(key.Mark(), "duplicate key '" + name + "' " + in + " (first at line " +
                                 std::to_string(seen.key_mark.line + 1) + ")");
        }
      }
      if (!allowed.empty() && std::find(allowed.begin(), allowed.end(), name) == allowed.end()) {
        failAt(key.Mark(),
               "unknown key '" + name + "' " + in + " (expected one of: " + joined(allowed) + ")");
      }
      out.push_back(Entry{name, key.Mark(), Value{value, key.Mark(), child(v.path, name)}});
    }
    return out;
  }

  static const Entry* find(const std::vector<Entry>& entries, std::string_view key) {
    for (const Entry& e : entries) {
      if (e.key == key) return &e;
    }
    return nullptr;
  }
  const Entry& require(const std::vector<Entry>& entries, const Value& map,
                       std::string_view key) const {
    const Entry* e = find(entries, key);
    if (!e) fail(map, "missing required key '" + std::string(key) + "'");
    return *e;
  }

  // Null counts as an empty list (`routes:` with nothing under it).
  std::vector<Value> listItems(const Value& v) const {
    if (v.node.IsNull()) return {};
    if (!v.node.IsSequence()) fail(v, "expected a list, got " + describe(v.node));
    std::vector<Value> out;
    size_t i = 0;
    for (YAML::Node item : v.node) {
      out.push_back(Value{item, v.node.Mark(), v.path + "[" + std::to_string(i++) + "]"});
    }
    return out;
  }

  std::string scalar(const Value& v, std::string_view shape, std::string_view hint = {}) const {
    if (!v.node.IsScalar()) {
      std::string got = describe(v.node);
      fail(v, "expected " + std::string(shape) + ", got " + got +
                  (v.node.IsSequence() ? std::string(hint) : ""));
    }
    return v.node.Scalar();
  }

  std::string name(const Value& v) const {
    std::string s = scalar(v, "a name");
    if (!isValidName(s)) {
      fail(v, "'" + s + "' is not a valid name (use letters, digits, '_', '.' and '-')");
    }
    return s;
  }

  std::chrono::milliseconds duration(const Value& v) const {
    return check(v, parseDuration(scalar(v, kDurationShape)));
  }
  uint64_t size(const Value& v, uint64_t min) const {
    uint64_t n = check(v, parseSize(scalar(v, kSizeShape)));
    if (n < min) {
      fail(v, "must be at least " + std::to_string(min) + " bytes, got '" + v.node.Scalar() + "'");
    }
    return n;
  }
  uint64_t integer(const Value& v, uint64_t min, uint64_t max) const {
    return check(v, parseInteger(scalar(v, "an integer"), min, max));
  }
  uint32_t integer32(const Value& v, uint32_t min, uint32_t max) const {
    return static_cast<uint32_t>(integer(v, min, max));
  }
  std::chrono::milliseconds duration(const Value& v, DurationRange range) const {
    return check(v, parseDuration(scalar(v, kDurationShape), range));
  }
  bool boolean(const Value& v) const { return check(v, parseBool(scalar(v, "true or false"))); }

  // The index of the value among `options`, which the message lists.
  size_t choice(const Value& v, std::initializer_list<std::string_view> options) const {
    std::string all = joined(Keys(options.begin(), options.size()));
    std::string s = scalar(v, "one of " + all);
    for (size_t i = 0; i < options.size(); ++i) {
      if (options.begin()[i] == s) return i;
    }
    fail(v, "expected one of " + all + "; got '" + s + "'");
  }

  // A file the server opens later: resolved here, opened there, reported at `mark`.
  void filePath(const Value& v, std::string& path, Mark& mark) const {
    std::string s = scalar(v, "a file path");
    if (s.empty()) fail(v, "must not be empty");
    path = resolve(s);
    mark = markOf(where(v));
  }

  // Two durations of one map that must stay in order: `low` < `high` (kLess) or `low` <= `high`
  // (kAtMost). Only one of them may have been written (the other a model default), so the
  // error goes on a key the user wrote: on `blame` when both were, naming the other's value and
  // saying when that value is the default.
  enum Order { kLess, kAtMost };
  void ordered(const std::vector<Entry>& entries, const Value& map, Order order,
               std::string_view low_key, milliseconds low, std::string_view high_key,
               milliseconds high, std::string_view blame) const {
    if (order == kLess ? low < high : low <= high) return;
    const Entry* lo = find(entries, low_key);
    const Entry* hi = find(entries, high_key);
    if (!lo && !hi) fail(map, "the defaults of " + std::string(low_key) + " and " +
                                  std::string(high_key) + " conflict");  // a model bug
    bool on_low = lo && (blame == low_key || !hi);
    const Entry& at = on_low ? *lo : *hi;
    const Entry* other = on_low ? hi : lo;
    std::string relation = on_low ? (order == kLess ? "shorter than " : "at most ")
                                  : (order == kLess ? "longer than " : "at least ");
    fail(at.value, "must be " + relation + std::string(on_low ? high_key : low_key) + " (" +
                       formatDuration(on_low ? high : low) + (other ? "" : ", the default") +
                       "), got '" + at.value.node.Scalar() + "'");
  }

  // Relative to the config file, not to the working directory: the proxy is started from
  // anywhere (systemd uses /), and a config copied with its certs keeps working.
  std::string resolve(const std::string& path) const {
    fs::path p(path);
    if (p.is_absolute() || base_dir_.empty()) return p.string();
    return (base_dir_ / p).lexically_normal().string();
  }

  unsigned workers(const Value& v) const {
    std::string s = scalar(v, "an integer 1..256 or 'auto'");
    if (s == "auto") return 0;  // the model's "one per CPU"
    auto n = parseInteger(s, 1, 256);
    if (!n) fail(v, "expected an integer 1..256 or 'auto', got '" + s + "'");
    return static_cast<unsigned>(*n);
  }

  // `admin: {address: "127.0.0.1:9901"}`. The address is required: the admin listener exposes
  // the upstream topology and a drain signal, so it listens only where the operator says (a
  // loopback address in the shipped example), never on a default that could be public.
  Admin parseAdmin(const Value& v) const {
    Admin a;
    a.mark = markOf(where(v));
    std::vector<Entry> entries = mapEntries(v, kAdminKeys);
    const Value& address = require(entries, v, "address").value;
    HostPort hp = check(address, parseListenAddress(scalar(address, "an address such as 127.0.0.1:9901", kQuoteIPv6)));
    a.enabled = true;
    a.host = std::move(hp.host);
    a.port = hp.port;
    return a;
  }

  Listener listener(const Value& v) const {
    Listener l;
    l.mark = markOf(where(v));
    std::vector<Entry> entries = mapEntries(v, kListenerKeys);
    l.name = name(require(entries, v, "name").value);

    const Value& address = require(entries, v, "address").value;
    std::string text = scalar(address, "an address such as 0.0.0.0:443", kQuoteIPv6);
    HostPort hp = check(address, parseListenAddress(text));
    l.host = std::move(hp.host);
    l.port = hp.port;
    l.address_mark = markOf(where(address));

    const Entry* tls = find(entries, "tls");
    const Entry* redirect = find(entries, "redirect_to_https");
    if (tls && redirect) {
      failAt(redirect->key_mark, v.path + ": has both 'tls' and 'redirect_to_https'; a listener "
                                          "either serves HTTPS or redirects to it");
    }
    if (!tls && !redirect) {
      fail(v, "needs 'tls' (to serve HTTPS) or 'redirect_to_https' (to redirect plain HTTP)");
    }
    if (tls) l.tls = tlsFiles(tls->value);
    if (redirect) l.redirect_to_https = redirectToHttps(redirect->value);
    if (const Entry* hsts = find(entries, "hsts")) {
      if (!tls) {
        // RFC 6797 §8.1: a browser ignores Strict-Transport-Security received over plain HTTP.
        failAt(hsts->key_mark, v.path + ".hsts: hsts is only sent over HTTPS; put it on the "
                                        "listener with 'tls'");
      }
      l.hsts = this->hsts(hsts->value);
    }
    return l;
  }

  RedirectToHttps redirectToHttps(const Value& v) const {
    RedirectToHttps r;
    for (const Entry& e : mapEntries(v, kRedirectKeys)) {
      if (e.key == "port") r.https_port = static_cast<uint16_t>(integer(e.value, 1, 65535));
      if (e.key != "allowed_hosts") continue;
      std::vector<Value> items = listItems(e.value);
      // An empty list would read as "redirect nothing" but means "redirect every host".
      if (items.empty()) fail(e.value, "must not be empty; leave it out to redirect every host");
      for (const Value& item : items) {
        std::string host = check(item, parseHostPattern(scalar(item, "a host name")));
        if (std::find(r.allowed_hosts.begin(), r.allowed_hosts.end(), host) !=
            r.allowed_hosts.end()) {
          fail(item, "'" + host + "' is listed twice");
        }
        r.allowed_hosts.push_back(std::move(host));
      }
    }
    return r;
  }

  Hsts hsts(const Value& v) const {
    Hsts h;
    h.enabled = true;  // `hsts:` alone sends the defaults; `enabled: false` keeps the settings
    std::vector<Entry> entries = mapEntries(v, kHstsKeys);
    for (const Entry& e : entries) {
      if (e.key == "enabled") h.enabled = boolean(e.value);
      if (e.key == "include_subdomains") h.include_subdomains = boolean(e.value);
      if (e.key == "preload") h.preload = boolean(e.value);
      if (e.key == "max_age") {
        milliseconds d = duration(e.value, kHstsMaxAge);
        if (d.count() % 1000 != 0) {
          fail(e.value, "must be whole seconds (max-age is sent in seconds), got '" +
                            e.value.node.Scalar() + "'");
        }
        h.max_age = std::chrono::duration_cast<std::chrono::seconds>(d);
      }
    }
    if (const Entry* preload = find(entries, "preload"); preload && h.preload) {
      // hstspreload.org refuses a host without both, and a preloaded policy outlives any
      // later change to this file, so say so now rather than after the submission.
      if (!h.include_subdomains) {
        fail(preload->value, "preload requires include_subdomains: true (hstspreload.org)");
      }
      if (h.max_age < kPreloadMinAge) {
        fail(preload->value, "preload requires max_age of at least 365d (hstspreload.org); it is " +
                                 formatDuration(h.max_age));
      }
    }
    return h;
  }

  TlsFiles tlsFiles(const Value& v) const {
    TlsFiles t;
    t.mark = markOf(where(v));
    std::vector<Entry> entries = mapEntries(v, kTlsKeys);
    const Entry* list = find(entries, "certificates");
    const Entry* single = find(entries, "certificate");
    if (!single) single = find(entries, "key");
    if (list && single) {
      failAt(list->key_mark, v.path + ": has both '" + single->key +
                                 "' and 'certificates'; use one pair or the list");
    }
    if (list) {
      std::vector<Value> items = listItems(list->value);
      if (items.empty()) fail(list->value, "at least one certificate is required");
      for (const Value& item : items) {
        std::vector<Entry> pair = mapEntries(item, kCertificateKeys);
        CertificateFiles c = certificatePair(item, pair);
        for (size_t i = 0; i < t.certificates.size(); ++i) {
          if (t.certificates[i].certificate == c.certificate) {
            fail(find(pair, "certificate")->value,
                 "same file as " + list->value.path + "[" + std::to_string(i) + "]");
          }
        }
        t.certificates.push_back(std::move(c));
      }
    } else {
      if (!find(entries, "certificate")) {
        fail(v, "missing required key 'certificate' (or a 'certificates' list)");
      }
      t.certificates.push_back(certificatePair(v, entries));
    }

    for (const Entry& e : entries) {
      const Value& val = e.value;
      if (e.key == "min_version") {
        t.min_version = check(val, parseTlsVersion(scalar(val, "a TLS version such as \"1.2\"")));
      } else if (e.key == "ciphers") {
        t.ciphers = check(val, parseCipherList(scalar(val, "a ':'-separated cipher list")));
        t.ciphers_mark = markOf(where(val));
      } else if (e.key == "curves") {
        t.curves = curves(val);
        t.curves_mark = markOf(where(val));
      } else if (e.key == "handshake_timeout") {
        t.handshake_timeout = duration(val);
      } else if (e.key == "session_tickets") {
        t.session_tickets = boolean(val);
      } else if (e.key == "ticket_key_rotation") {
        t.ticket_key_rotation = duration(val, kTicketRotation);
      } else if (e.key == "ticket_lifetime") {
        t.ticket_lifetime = duration(val, kTicketLifetime);
      } else if (e.key == "ticket_key_file") {
        filePath(val, t.ticket_key_file, t.ticket_key_file_mark);
      } else if (e.key == "client_auth") {
        t.client_auth = clientAuth(val);
      }
    }
    // A key is used for new tickets for one rotation period and decrypts for the lifetime; a
    // lifetime shorter than that would refuse tickets its own current key issued.
    ordered(entries, v, kAtMost, "ticket_key_rotation", t.ticket_key_rotation, "ticket_lifetime",
            t.ticket_lifetime, "ticket_lifetime");
    return t;
  }

  CertificateFiles certificatePair(const Value& v, const std::vector<Entry>& entries) const {
    CertificateFiles c;
    filePath(require(entries, v, "certificate").value, c.certificate, c.certificate_mark);
    filePath(require(entries, v, "key").value, c.key, c.key_mark);
    return c;
  }

  std::vector<std::string> curves(const Value& v) const {
    std::vector<Value> items = listItems(v);
    if (items.empty()) fail(v, "at least one curve is required");
    std::vector<std::string> out;
    for (const Value& item : items) {
      std::string written = scalar(item, "a curve name");
      std::string curve = check(item, parseCurve(written));
      if (std::find(out.begin(), out.end(), curve) != out.end()) {
        fail(item, "'" + written + "' is " + (written == curve ? "" : curve + ", ") +
                       "already listed");
      }
      out.push_back(std::move(curve));
    }
    return out;
  }

  ClientAuth clientAuth(const Value& v) const {
    ClientAuth a;
    a.mark = markOf(where(v));
    std::vector<Entry> entries = mapEntries(v, kClientAuthKeys);
    // No default mode: `client_auth:` with a CA but no mode must not quietly mean "off".
    constexpr std::array<ClientAuthMode, 3> kModes = {ClientAuthMode::Off, ClientAuthMode::Optional,
                                                      ClientAuthMode::Required};
    a.mode = kModes[choice(require(entries, v, "mode").value, {"off", "optional", "required"})];
    for (const Entry& e : entries) {
      if (e.key == "ca") filePath(e.value, a.ca, a.ca_mark);
      if (e.key == "subject_header") {
        a.subject_header = check(e.value, parseToken(scalar(e.value, "a header name"), "header name"));
      }
      if (e.key == "fingerprint_header") {
        a.fingerprint_header =
            check(e.value, parseToken(scalar(e.value, "a header name"), "header name"));
      }
    }
    // `mode: off` keeps a configured CA, so switching it back on is a one-word edit.
    if (a.mode != ClientAuthMode::Off && a.ca.empty()) {
      fail(v, "missing required key 'ca' (the CA bundle client certificates must chain to)");
    }
    if (equalsIgnoreCase(a.subject_header, a.fingerprint_header)) {
      const Entry* e = find(entries, "fingerprint_header");
      if (!e) e = find(entries, "subject_header");
      fail(e->value, "subject_header and fingerprint_header must be different headers");
    }
    return a;
  }

  Upstream upstream(const Entry& e) const {
    Upstream u;
    u.mark = markOf(e.key_mark);
    if (!isValidName(e.key)) {
      failAt(e.key_mark, "upstreams: '" + e.key +
                             "' is not a valid name (use letters, digits, '_', '.' and '-')");
    }
    u.name = e.key;
    std::vector<Entry> entries = mapEntries(e.value, kUpstreamKeys);
    for (const Entry& f : entries) {
      const Value& val = f.value;
      if (f.key == "servers") {
        std::vector<Value> items = listItems(val);
        if (items.empty()) fail(val, "at least one server is required");
        for (const Value& item : items) u.servers.push_back(server(item));
      } else if (f.key == "max_idle") {
        u.max_idle = integer32(val, 0, 100'000);
      } else if (f.key == "idle_timeout") {
        u.idle_timeout = duration(val);
      } else if (f.key == "policy") {
        constexpr std::array<BalancePolicy, 4> kPolicies = {
            BalancePolicy::RoundRobin, BalancePolicy::LeastRequest, BalancePolicy::Random,
            BalancePolicy::Hash};
        u.policy = kPolicies[choice(val, {"round_robin", "least_request", "random", "hash"})];
      } else if (f.key == "hash_key") {
        HashKey key = check(val, parseHashKey(scalar(val, "client_ip, header:NAME or cookie:NAME")));
        u.hash_key = key.kind;
        u.hash_key_name = std::move(key.name);
      } else if (f.key == "tls") {
        u.tls = upstreamTls(val);
      } else if (f.key == "health_check") {
        u.health_check = healthCheck(val);
      } else if (f.key == "outlier") {
        u.outlier = outlier(val);
      } else if (f.key == "queue") {
        for (const Entry& q : mapEntries(val, kQueueKeys)) {
          if (q.key == "size") u.queue.size = integer32(q.value, 0, 1'000'000);
          if (q.key == "timeout") u.queue.timeout = duration(q.value);
        }
      } else if (f.key == "when_all_unhealthy") {
        u.panic_when_all_unhealthy = choice(val, {"fail", "panic"}) == 1;
      } else if (f.key == "slow_start") {
        u.slow_start = duration(val, kZeroAllowed);
      } else if (f.key == "retries") {
        u.retries = integer32(val, 0, kMaxRetries);
      } else if (f.key == "retry_budget") {
        u.retry_budget = check(val, parseRatio(scalar(val, "a number from 0 to 1")));
      } else if (f.key == "dns_refresh") {
        u.dns_refresh = duration(val, kZeroAllowed);
      }
    }
    require(entries, e.value, "servers");
    // Only the hash policy reads a key; elsewhere it would be silently ignored. (Policy hash
    // without a key uses the model default, the client IP.)
    if (const Entry* key = find(entries, "hash_key"); key && u.policy != BalancePolicy::Hash) {
      const Entry* policy = find(entries, "policy");
      fail(key->value, "only used with policy: hash (policy here is " +
                           (policy ? policy->value.node.Scalar() : "round_robin, the default") +
                           ")");
    }
    return u;
  }

  // "host:port", or a map with `address` and the per-server settings.
  UpstreamServer server(const Value& item) const {
    UpstreamServer s;
    const Value* address = &item;
    std::vector<Entry> entries;
    if (item.node.IsMap()) {
      entries = mapEntries(item, kServerKeys);
      address = &require(entries, item, "address").value;
    }
    HostPort hp = check(*address, parseHostPort(scalar(*address, "host:port", kQuoteIPv6)));
    s.host = std::move(hp.host);
    s.port = hp.port;
    s.mark = markOf(where(*address));
    for (const Entry& e : entries) {
      if (e.key == "weight") s.weight = integer32(e.value, 1, 1000);
      if (e.key == "max_requests") s.max_requests = integer32(e.value, 0, 100'000);
    }
    return s;
  }

  // `tls: true` / `tls: false`, or a map (which turns it on).
  UpstreamTls upstreamTls(const Value& v) const {
    UpstreamTls t;
    t.mark = markOf(where(v));
    if (v.node.IsScalar()) {
      t.enabled = check(v, parseBool(v.node.Scalar()));
      return t;
    }
    t.enabled = true;
    for (const Entry& e : mapEntries(v, kUpstreamTlsKeys)) {
      if (e.key == "sni") t.sni = check(e.value, parseServerName(scalar(e.value, "a host name")));
      if (e.key == "verify") t.verify = boolean(e.value);
      if (e.key == "ca") filePath(e.value, t.ca, t.ca_mark);
    }
    return t;
  }

  HealthCheck healthCheck(const Value& v) const {
    HealthCheck h;
    h.enabled = true;  // present turns it on; `enabled: false` keeps the settings for later
    h.mark = markOf(where(v));
    std::vector<Entry> entries = mapEntries(v, kHealthCheckKeys);
    for (const Entry& e : entries) {
      const Value& val = e.value;
      if (e.key == "enabled") h.enabled = boolean(val);
      if (e.key == "method") h.method = check(val, parseToken(scalar(val, "a method"), "method"));
      if (e.key == "path") h.path = check(val, parseRequestPath(scalar(val, "a path")));
      if (e.key == "host") h.host = check(val, parseHostHeader(scalar(val, "a host name")));
      if (e.key == "expected") h.expected = statuses(val);
      if (e.key == "interval") h.interval = duration(val);
      if (e.key == "timeout") h.timeout = duration(val);
      if (e.key == "rise") h.rise = integer32(val, 1, 100);
      if (e.key == "fall") h.fall = integer32(val, 1, 100);
    }
    // Probes never overlap: one that may still be waiting when the next is due is a mistake.
    ordered(entries, v, kLess, "timeout", h.timeout, "interval", h.interval, "timeout");
    return h;
  }

  // A list of statuses and "a-b" ranges; a single scalar counts as a list of one.
  std::vector<std::pair<int, int>> statuses(const Value& v) const {
    std::vector<Value> items;
    if (v.node.IsScalar()) {
      items.push_back(v);
    } else {
      items = listItems(v);
    }
    if (items.empty()) fail(v, "at least one status is required");
    std::vector<std::pair<int, int>> out;
    for (const Value& item : items) {
      out.push_back(check(item, parseStatusRange(scalar(item, "a status or range"))));
    }
    return out;
  }

  OutlierDetection outlier(const Value& v) const {
    OutlierDetection o;
    std::vector<Entry> entries = mapEntries(v, kOutlierKeys);
    for (const Entry& e : entries) {
      if (e.key == "consecutive_failures") o.consecutive_failures = integer32(e.value, 0, 1000);
      if (e.key == "base_ejection") o.base_ejection = duration(e.value);
      if (e.key == "max_ejection") o.max_ejection = duration(e.value);
    }
    // Ejection time grows from base to max with each ejection; the other way round is a typo.
    ordered(entries, v, kAtMost, "base_ejection", o.base_ejection, "max_ejection", o.max_ejection,
            "max_ejection");
    return o;
  }

  Route route(const Value& v) const {
    Route r;
    r.mark = markOf(where(v));
    std::vector<Entry> entries = mapEntries(v, kRouteKeys);
    if (const Entry* host = find(entries, "host")) {
      r.host = check(host->value, parseHostPattern(scalar(host->value, "a host name")));
    }
    if (const Entry* path = find(entries, "path")) {
      r.path_prefix = check(path->value, parsePathPrefix(scalar(path->value, "a path")));
    }
    const Value& upstream = require(entries, v, "upstream").value;
    r.upstream = scalar(upstream, "an upstream name");
    r.upstream_mark = markOf(where(upstream));  // validate() checks it names a cluster
    if (const Entry* b = find(entries, "buffering")) r.buffering = buffering(b->value);
    return r;
  }

  // `on` (the defaults), `off` (stream both ways), or a map that starts from the defaults.
  Buffering buffering(const Value& v) const {
    Buffering b;
    if (v.node.IsScalar()) {
      if (choice(v, {"on", "off", "true", "false"}) % 2 == 1) b.request = b.response = false;
      return b;
    }
    for (const Entry& e : mapEntries(v, kBufferingKeys)) {
      if (e.key == "request") b.request = boolean(e.value);
      if (e.key == "response") b.response = boolean(e.value);
      // Below 1 KiB nearly every body would go to a file.
      if (e.key == "memory") b.memory = size(e.value, 1024);
      if (e.key == "max_file") b.max_file = size(e.value, 0);
    }
    return b;
  }

  void timeouts(const Value& v, Timeouts& t) const {
    for (const Entry& e : mapEntries(v, kTimeoutKeys)) {
      std::chrono::milliseconds d = duration(e.value);
      if (e.key == "client_header") t.client_header = d;
      if (e.key == "client_body") t.client_body = d;
      if (e.key == "client_idle") t.client_idle = d;
      if (e.key == "upstream_connect") t.upstream_connect = d;
      if (e.key == "upstream_response") t.upstream_response = d;
      if (e.key == "shutdown_grace") t.shutdown_grace = d;
    }
  }

  void limits(const Value& v, Limits& l) const {
    for (const Entry& e : mapEntries(v, kLimitKeys)) {
      // Minimums: "GET / HTTP/1.1" plus a modest URI needs 64 bytes; Host plus a few ordinary
      // headers need about 1 KiB. Below that every real request would be refused.
      if (e.key == "request_line") l.request_line = size(e.value, 64);
      if (e.key == "header_bytes") l.header_bytes = size(e.value, 1024);
      if (e.key == "header_count") {
        l.header_count = integer(e.value, 1, std::numeric_limits<uint64_t>::max());
      }
      if (e.key == "body") l.body = size(e.value, 0);
    }
  }

  // `off`, or a map with `path` (a file, or "stdout") and `format`.
  AccessLog accessLog(const Value& v) const {
    AccessLog a;
    a.mark = markOf(where(v));
    if (offSwitch(v, "a map with 'path' and 'format', or off")) return a;
    std::vector<Entry> entries = mapEntries(v, kAccessLogKeys);
    const Value& path = require(entries, v, "path").value;
    std::string s = scalar(path, "a file path or stdout");
    if (s.empty()) fail(path, "must not be empty (a file path, or stdout)");
    // Relative like the certificates: the proxy may be started from any directory.
    a.path = s == "stdout" ? s : resolve(s);
    if (const Entry* f = find(entries, "format")) {
      constexpr std::array<AccessLogFormat, 2> kFormats = {AccessLogFormat::Json,
                                                           AccessLogFormat::Combined};
      a.format = kFormats[choice(f->value, {"json", "combined"})];
    }
    a.enabled = true;
    return a;
  }

  // `off`, or a map (empty: the defaults) with `header` and `trust_client`.
  RequestId requestId(const Value& v) const {
    RequestId r;
    r.mark = markOf(where(v));
    if (offSwitch(v, "a map with 'header' and 'trust_client', or off")) {
      r.enabled = false;
      return r;
    }
    for (const Entry& e : mapEntries(v, kRequestIdKeys)) {
      if (e.key == "trust_client") r.trust_client = boolean(e.value);
      if (e.key != "header") continue;
      std::string name =
          check(e.value, parseToken(scalar(e.value, "a header name"), "header name"));
      // The proxy drops client headers with '_' (WSGI maps '_' and '-' alike), so a trusted
      // client id under such a name would never arrive.
      if (name.find('_') != std::string::npos) {
        fail(e.value,
             "'" + name + "' contains '_', and the proxy drops client headers with '_' (use '-')");
      }
      for (std::string_view reserved : kReservedHeaders) {
        if (equalsIgnoreCase(name, reserved)) {
          fail(e.value, "'" + name + "' is a header the proxy sets or frames itself; pick another");
        }
      }
      r.header = std::move(name);
    }
    return r;
  }

  // True for the scalar `off`; any other scalar is an error that shows `shape`. Maps and null
  // (an empty section: the defaults) are for the caller.
  bool offSwitch(const Value& v, std::string_view shape) const {
    if (!v.node.IsScalar()) return false;
    if (v.node.Scalar() == "off") return true;
    fail(v, "expected " + std::string(shape) + ", got '" + v.node.Scalar() + "'");
  }

  std::string file_;
  fs::path base_dir_;
};

// "file:line:col" for a yaml-cpp mark, "file" when it has none.
std::string position(const std::string& name, const YAML::Mark& m) {
  if (m.is_null()) return name;
  return toString(Mark{name, m.line + 1, m.column + 1});
}

// The text of 0-based line `line`, to explain a syntax error.
std::string lineAt(const std::string& text, int line) {
  size_t start = 0;
  for (int i = 0; i < line; ++i) {
    start = text.find('\n', start);
    if (start == std::string::npos) return {};
    ++start;
  }
  size_t end = text.find('\n', start);
  return text.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

std::string syntaxError(const std::string& yaml, const std::string& name,
                        const YAML::Exception& e) {
  std::string message = position(name, e.mark) + ": YAML syntax error: " + e.msg;
  // An unquoted [::1]:8001 opens a flow list and yaml-cpp's complaint says nothing about why.
  static const std::regex kBareIPv6(R"((^|[\s:-])\[[0-9A-Fa-f:.]*\]:[0-9])");
  if (!e.mark.is_null() && std::regex_search(lineAt(yaml, e.mark.line), kBareIPv6)) {
    message += std::string(kQuoteIPv6);
  }
  return message;
}

}  // namespace

base::Result<Config> loadString(const std::string& yaml, const std::string& name,
                                const std::string& base_dir) {
  auto error = [](std::string message) { return base::makeError(std::move(message)); };
  try {
    std::vector<YAML::Node> docs;
    try {
      docs = YAML::LoadAll(yaml);
    } catch (const YAML::Exception& e) {
      return error(syntaxError(yaml, name, e));
    }
    // An empty file or one with only comments: refuse it rather than run with no listeners.
    if (docs.empty() || docs[0].IsNull()) {
      return error(name +
                   ":1:1: the configuration is empty (expected a map with at least 'listeners')");
    }
    if (docs.size() > 1) {
      return error(position(name, docs[1].Mark()) +
                   ": a second YAML document starts here; the configuration must be one document");
    }
    const YAML::Node& root = docs[0];
    if (!root.IsMap()) {
      return error(position(name, root.Mark()) +
                   ": expected a map at top level (with at least 'listeners'), got " +
                   describe(root));
    }
    Config config = Loader(name, base_dir).load(root);
    if (auto valid = validate(config); !valid) return valid.error();
    return config;
  } catch (const Failure& f) {
    return error(f.message);
  } catch (const YAML::Exception& e) {
    // Not expected (the loader checks types before converting), but yaml-cpp may throw from any
    // accessor; keep its position rather than let it escape.
    return error(position(name, e.mark) + ": " + e.msg);
  } catch (const std::exception& e) {
    return error(name + ": " + e.what());
  } catch (...) {
    return error(name + ": unexpected error while loading the configuration");
  }
}

base::Result<Config> loadFile(const std::string& path) {
  // open/read rather than ifstream: the error must say why (strerror), and ifstream hides errno.
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return base::makeError(path + ": cannot read: " + std::strerror(errno));
  std::string text;
  char buf[16 * 1024];
  while (true) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;  // EISDIR for a directory
      ::close(fd);
      return base::makeError(path + ": cannot read: " + std::strerror(err));
    }
    text.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);

  // Absolute, so certificate paths stay right if the process later changes directory and read
  // clearly in logs.
  std::error_code ec;
  fs::path dir = fs::absolute(fs::path(path), ec).parent_path();
  if (ec) dir = fs::path(path).parent_path();
  return loadString(text, path, dir.lexically_normal().string());
}

}  // namespace portcullis::config
