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
#include <limits>
#include <regex>
#include <span>
#include <string_view>
#include <utility>
#include <vector>

#include "config/validate.h"
#include "config/values.h"

namespace portcullis::config {
namespace {

namespace fs = std::filesystem;
using Keys = std::span<const std::string_view>;

constexpr std::array<std::string_view, 6> kTopKeys = {"workers",  "listeners", "upstreams",
                                                      "routes",   "timeouts",  "limits"};
constexpr std::array<std::string_view, 4> kListenerKeys = {"name", "address", "tls",
                                                           "redirect_to_https"};
constexpr std::array<std::string_view, 2> kTlsKeys = {"certificate", "key"};
constexpr std::array<std::string_view, 1> kRedirectKeys = {"port"};
constexpr std::array<std::string_view, 3> kUpstreamKeys = {"servers", "max_idle", "idle_timeout"};
constexpr std::array<std::string_view, 3> kRouteKeys = {"host", "path", "upstream"};
constexpr std::array<std::string_view, 6> kTimeoutKeys = {
    "client_header",    "client_body",       "client_idle",
    "upstream_connect", "upstream_response", "shutdown_grace"};
constexpr std::array<std::string_view, 4> kLimitKeys = {"request_line", "header_bytes",
                                                        "header_count", "body"};

constexpr std::string_view kDurationShape = "a duration such as 10s or 500ms";
constexpr std::string_view kSizeShape = "a size such as 8k, 32KiB or 100m";
// An unquoted [::1]:8001 is a YAML flow list, so yaml-cpp hands us a list or a syntax error.
constexpr std::string_view kQuoteIPv6 = " (quote IPv6 addresses: \"[::1]:8001\")";

// The first error ends the load. Helpers throw this instead of returning Result through every
// level: loading runs on the control thread at start and reload, never on the data path
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

std::string joined(Keys keys) {
  std::string out;
  for (std::string_view k : keys) out += (out.empty() ? "" : ", ") + std::string(k);
  return out;
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
    if (redirect) {
      RedirectToHttps r;
      for (const Entry& e : mapEntries(redirect->value, kRedirectKeys)) {
        r.https_port = static_cast<uint16_t>(integer(e.value, 1, 65535));
      }
      l.redirect_to_https = r;
    }
    return l;
  }

  TlsFiles tlsFiles(const Value& v) const {
    TlsFiles t;
    std::vector<Entry> entries = mapEntries(v, kTlsKeys);
    auto file = [&](std::string_view key, std::string& path, Mark& mark) {
      const Value& f = require(entries, v, key).value;
      std::string s = scalar(f, "a file path");
      if (s.empty()) fail(f, "must not be empty");
      path = resolve(s);
      mark = markOf(where(f));
    };
    CertificateFiles c;
    file("certificate", c.certificate, c.certificate_mark);
    file("key", c.key, c.key_mark);
    t.certificates.push_back(std::move(c));
    return t;
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
      if (f.key == "servers") {
        std::vector<Value> items = listItems(f.value);
        if (items.empty()) fail(f.value, "at least one server is required");
        for (const Value& item : items) {
          HostPort hp = check(item, parseHostPort(scalar(item, "host:port", kQuoteIPv6)));
          UpstreamServer server;
          server.host = std::move(hp.host);
          server.port = hp.port;
          server.mark = markOf(where(item));
          u.servers.push_back(std::move(server));
        }
      } else if (f.key == "max_idle") {
        u.max_idle = static_cast<uint32_t>(integer(f.value, 0, 100'000));
      } else if (f.key == "idle_timeout") {
        u.idle_timeout = duration(f.value);
      }
    }
    require(entries, e.value, "servers");
    return u;
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
    return r;
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
