#pragma once
// An ordered list of header fields as views, and the operations the pipeline applies to one
// (drop hop-by-hop fields, add the proxy's own). The strings live elsewhere (the codec's input,
// the exchange's scratch, constants); the list only orders them, and is reused request after
// request so its vector keeps its capacity: no allocation per request once warm.
#include <cstddef>
#include <string_view>
#include <vector>

#include "http/message.h"

namespace portcullis::http {

class HeaderList {
 public:
  void clear() { fields_.clear(); }
  void add(std::string_view name, std::string_view value) { fields_.push_back(Header{name, value}); }
  // Every field of `from`, in order, for which keep(field) holds.
  template <class Keep>
  void addIf(const std::vector<Header>& from, Keep keep) {
    for (const Header& h : from)
      if (keep(h)) fields_.push_back(h);
  }
  // The first field named `name` (case-insensitive), or null.
  const Header* find(std::string_view name) const {
    for (const Header& h : fields_)
      if (iequals(h.name, name)) return &h;
    return nullptr;
  }

  auto begin() const { return fields_.begin(); }
  auto end() const { return fields_.end(); }
  // Mutable: a response filter (compression) rewrites a value to a view of its own.
  auto begin() { return fields_.begin(); }
  auto end() { return fields_.end(); }

 private:
  std::vector<Header> fields_;
};

// How long a response body is, in terms every protocol can frame: HTTP/1 turns Known into
// Content-Length and Unknown into chunked (or close for HTTP/1.0); HTTP/2 ends it with END_STREAM.
enum class BodySize : uint8_t { None, Known, Unknown };

// A response as the pipeline hands it to a downstream codec: meaning, no framing. The fields are
// end-to-end ones only (no Connection, Transfer-Encoding or other hop-by-hop field, and no
// Content-Length unless it describes a body not sent: HEAD, 304); the codec adds its framing and
// connection management.
struct Response {
  int status = 0;
  std::string_view reason;  // the upstream's phrase (HTTP/1 only); empty: the standard one
  HeaderList headers;
  BodySize body = BodySize::None;
  uint64_t length = 0;      // BodySize::Known
  bool local = false;       // a reply of the proxy's own (4xx/5xx, redirects)
  // A 101 switching to WebSocket: the connection becomes a tunnel after this head (h1 writes
  // Upgrade and Connection: upgrade, which are not among the end-to-end fields).
  bool websocket = false;
  void clear() {
    status = 0;
    reason = {};
    headers.clear();
    body = BodySize::None;
    length = 0;
    local = false;
    websocket = false;
  }
};

}  // namespace portcullis::http
