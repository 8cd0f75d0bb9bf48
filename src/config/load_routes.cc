// Routes: which requests go to which upstream, and how their bodies are buffered.
#include <array>
#include <string>
#include <string_view>
#include <vector>

#include "config/load_internal.h"
#include "config/values.h"

namespace portcullis::config::internal {
namespace {

constexpr std::array<std::string_view, 5> kRouteKeys = {"host", "path", "upstream", "buffering", "websocket"};
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
  const Value& upstream = require(entries, v, "upstream").value;
  r.upstream = scalar(upstream, "an upstream name");
  r.upstream_mark = markOf(where(upstream));  // validate() checks it names a cluster
  if (const Entry* b = find(entries, "buffering")) r.buffering = buffering(b->value);
  if (const Entry* ws = find(entries, "websocket")) r.websocket = boolean(ws->value);
  return r;
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
