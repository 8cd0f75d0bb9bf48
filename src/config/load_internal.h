#pragma once
// The YAML loader's own header: shared by src/config/load*.cc and nothing else. It includes
// yaml-cpp, which scripts/check-layers.sh keeps inside the loader; load.h is the public face.
//
// The Loader reads one topic per file (load.cc the top level, load_listeners.cc, load_tls.cc,
// load_upstreams.cc, load_routes.cc, load_settings.cc); load_node.cc holds the node-reading
// helpers they share, which turn every mistake into a "file:line:col: key.path: message" error.
#include <yaml-cpp/yaml.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.h"
#include "config/model.h"
#include "config/values.h"

namespace portcullis::config::internal {

namespace fs = std::filesystem;
using Keys = std::span<const std::string_view>;
using std::chrono::milliseconds;

constexpr std::chrono::hours kDay{24};
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

std::string describe(const YAML::Node& n);

class Loader {
 public:
  Loader(std::string file, fs::path base_dir)
      : file_(std::move(file)), base_dir_(std::move(base_dir)) {}

  Config load(const YAML::Node& root);  // load.cc

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

  // --- load_node.cc ---------------------------------------------------------------------------
  // The entries of a map (null counts as an empty map, so `timeouts:` with nothing under it is
  // fine), in file order. Rejects non-scalar keys, duplicate keys (yaml-cpp keeps both and
  // lookups see only the first, so the second would be silently ignored) and, when `allowed` is
  // not empty, any key not in it.
  std::vector<Entry> mapEntries(const Value& v, Keys allowed) const;
  static const Entry* find(const std::vector<Entry>& entries, std::string_view key);
  const Entry& require(const std::vector<Entry>& entries, const Value& map,
                       std::string_view key) const;
  // Null counts as an empty list (`routes:` with nothing under it).
  std::vector<Value> listItems(const Value& v) const;
  std::string scalar(const Value& v, std::string_view shape, std::string_view hint = {}) const;
  std::string name(const Value& v) const;
  std::chrono::milliseconds duration(const Value& v) const;
  uint64_t size(const Value& v, uint64_t min) const;
  uint64_t integer(const Value& v, uint64_t min, uint64_t max) const;
  uint32_t integer32(const Value& v, uint32_t min, uint32_t max) const;
  std::chrono::milliseconds duration(const Value& v, DurationRange range) const;
  bool boolean(const Value& v) const;
  // The index of the value among `options`, which the message lists.
  size_t choice(const Value& v, std::initializer_list<std::string_view> options) const;
  // A file the server opens later: resolved here, opened there, reported at `mark`.
  void filePath(const Value& v, std::string& path, Mark& mark) const;
  // Two durations of one map that must stay in order: `low` < `high` (kLess) or `low` <= `high`
  // (kAtMost). Only one of them may have been written (the other a model default), so the
  // error goes on a key the user wrote: on `blame` when both were, naming the other's value and
  // saying when that value is the default.
  enum Order { kLess, kAtMost };
  void ordered(const std::vector<Entry>& entries, const Value& map, Order order,
               std::string_view low_key, milliseconds low, std::string_view high_key,
               milliseconds high, std::string_view blame) const;
  // Relative to the config file, not to the working directory: the proxy is started from
  // anywhere (systemd uses /), and a config copied with its certs keeps working.
  std::string resolve(const std::string& path) const;
  // True for the scalar `off`; any other scalar is an error that shows `shape`. Maps and null
  // (an empty section: the defaults) are for the caller.
  bool offSwitch(const Value& v, std::string_view shape) const;

  // --- load_listeners.cc ----------------------------------------------------------------------
  Listener listener(const Value& v) const;
  RedirectToHttps redirectToHttps(const Value& v) const;
  Hsts hsts(const Value& v) const;
  std::vector<std::string> protocols(const Value& v) const;

  // --- load_tls.cc ----------------------------------------------------------------------------
  TlsFiles tlsFiles(const Value& v) const;
  CertificateFiles certificatePair(const Value& v, const std::vector<Entry>& entries) const;
  std::vector<std::string> curves(const Value& v) const;
  ClientAuth clientAuth(const Value& v) const;

  // --- load_upstreams.cc ----------------------------------------------------------------------
  Upstream upstream(const Entry& e) const;
  UpstreamServer server(const Value& item) const;
  UpstreamTls upstreamTls(const Value& v) const;
  HealthCheck healthCheck(const Value& v) const;
  std::vector<std::pair<int, int>> statuses(const Value& v) const;
  OutlierDetection outlier(const Value& v) const;

  // --- load_routes.cc -------------------------------------------------------------------------
  Route route(const Value& v) const;
  Buffering buffering(const Value& v) const;
  StaticFiles staticFiles(const Value& v) const;
  Compression compression(const Value& v) const;

  // --- load_settings.cc -----------------------------------------------------------------------
  unsigned workers(const Value& v) const;
  Admin parseAdmin(const Value& v) const;
  void timeouts(const Value& v, Timeouts& t) const;
  void limits(const Value& v, Limits& l) const;
  AccessLog accessLog(const Value& v) const;
  RequestId requestId(const Value& v) const;

  std::string file_;
  fs::path base_dir_;
};

}  // namespace portcullis::config::internal
