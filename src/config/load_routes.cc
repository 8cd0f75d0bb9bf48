// Routes: which requests go to which upstream, and how their bodies are buffered.
#include <array>
#include <cctype>
#include <system_error>
#include <string>
#include <string_view>
#include <vector>

#include "config/load_internal.h"
#include "config/values.h"

namespace portcullis::config::internal {
namespace {

constexpr std::array<std::string_view, 7> kRouteKeys = {"host",      "path",   "upstream", "buffering",
                                                        "websocket", "static", "compress"};
constexpr std::array<std::string_view, 5> kStaticKeys = {"root", "fallback", "max_age",
                                                         "allow_symlinks_outside", "precompressed"};
constexpr std::array<std::string_view, 5> kCompressKeys = {"types", "min_size", "brotli_level",
                                                           "zstd_level", "gzip_level"};
constexpr std::array<std::string_view, 4> kBufferingKeys = {"request", "response", "memory",
                                                            "max_file"};

}  // namespace

Route Loader::route(const Value& v) const {
  Route r;
  r.mark = markOf(where(v));
  std::vector<Entry> entries = mapEntries(v, kRouteKeys);
  if (const Entry* host = find(entries, "host")) {
    r.host = check(host->value, parseHostPattern(scalar(host->value, "a host name")));
  }
  if (const Entry* path = find(entries, "path")) {
    r.path_prefix = check(path->value, parsePathPrefix(scalar(path->value, "a path")));
  }
  if (const Entry* st = find(entries, "static")) r.static_files = staticFiles(st->value);
  // A static route proxies only what it falls back on, so it names an upstream exactly then.
  const Entry* upstream = find(entries, "upstream");
  if (!r.static_files || r.static_files->fallback_upstream) {
    if (!upstream && r.static_files) {
      fail(find(entries, "static")->value,
           "fallback: upstream needs the route's `upstream:` (the cluster that answers files "
           "that are not there)");
    }
    upstream = &require(entries, v, "upstream");
  } else if (upstream) {
    failAt(upstream->key_mark, upstream->value.path +
                                   ": a static route proxies nothing unless its static map has "
                                   "`fallback: upstream`");
  }
  if (upstream) {
    r.upstream = scalar(upstream->value, "an upstream name");
    r.upstream_mark = markOf(where(upstream->value));  // validate() checks it names a cluster
  }
  if (const Entry* b = find(entries, "buffering")) r.buffering = buffering(b->value);
  if (const Entry* ws = find(entries, "websocket")) r.websocket = boolean(ws->value);
  if (const Entry* c = find(entries, "compress")) r.compress = compression(c->value);
  return r;
}

// `static: DIR` or `static: {root: DIR, ...}`.
StaticFiles Loader::staticFiles(const Value& v) const {
  StaticFiles s;
  s.mark = markOf(where(v));
  const Value* root = &v;
  std::vector<Entry> entries;
  if (!v.node.IsScalar()) {
    entries = mapEntries(v, kStaticKeys);
    root = &require(entries, v, "root").value;
  }
  s.root = resolve(scalar(*root, "a directory"));
  s.root_mark = markOf(where(*root));
  std::error_code ec;
  if (!fs::is_directory(s.root, ec)) fail(*root, "'" + s.root + "' is not a directory");
  for (const Entry& e : entries) {
    if (e.key == "fallback") s.fallback_upstream = choice(e.value, {"off", "upstream"}) == 1;
    if (e.key == "max_age") {
      // 0 is allowed (revalidate every time); a year is what browsers honour at most.
      s.max_age = std::chrono::duration_cast<std::chrono::seconds>(
          duration(e.value, DurationRange{milliseconds{0}, kDay * 365}));
    }
    if (e.key == "allow_symlinks_outside") s.allow_symlinks_outside = boolean(e.value);
    if (e.key == "precompressed") s.precompressed = boolean(e.value);
  }
  return s;
}

// `compress: on` (the defaults), `off`, or a map that starts from the defaults.
Compression Loader::compression(const Value& v) const {
  Compression c;
  c.mark = markOf(where(v));
  if (v.node.IsScalar()) {
    c.enabled = choice(v, {"on", "off", "true", "false"}) % 2 == 0;
    return c;
  }
  c.enabled = true;
  for (const Entry& e : mapEntries(v, kCompressKeys)) {
    if (e.key == "types") {
      c.types.clear();
      for (const Value& item : listItems(e.value)) {
        std::string t = scalar(item, "a content type such as text/html");
        for (char& ch : t) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        if (t.find('/') == std::string::npos || t.find(';') != std::string::npos ||
            t.find(' ') != std::string::npos) {
          fail(item, "'" + t + "' is not a content type (type/subtype, or type/* for all)");
        }
        c.types.push_back(std::move(t));
      }
      if (c.types.empty()) fail(e.value, "an empty list compresses nothing: use `compress: off`");
    }
    if (e.key == "min_size") c.min_size = size(e.value, 0);
    if (e.key == "brotli_level") c.brotli_level = static_cast<int>(integer(e.value, 0, 11));
    if (e.key == "zstd_level") c.zstd_level = static_cast<int>(integer(e.value, 1, 19));
    if (e.key == "gzip_level") c.gzip_level = static_cast<int>(integer(e.value, 1, 9));
  }
  return c;
}

// `on` (the defaults), `off` (stream both ways), or a map that starts from the defaults.
Buffering Loader::buffering(const Value& v) const {
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

}  // namespace portcullis::config::internal
