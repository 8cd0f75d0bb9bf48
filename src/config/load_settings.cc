// The top-level sections that apply to the whole server: workers, admin, timeouts, limits,
// access log and request ids.
#include <array>
#include <chrono>
#include <limits>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/load_internal.h"
#include "config/values.h"

namespace portcullis::config::internal {
namespace {

constexpr std::array<std::string_view, 7> kTimeoutKeys = {
    "client_header",     "client_body",    "client_idle", "upstream_connect",
    "upstream_response", "shutdown_grace", "tunnel_idle"};
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

}  // namespace

unsigned Loader::workers(const Value& v) const {
  std::string s = scalar(v, "an integer 1..256 or 'auto'");
  if (s == "auto") return 0;  // the model's "one per CPU"
  auto n = parseInteger(s, 1, 256);
  if (!n) fail(v, "expected an integer 1..256 or 'auto', got '" + s + "'");
  return static_cast<unsigned>(*n);
}

// `admin: {address: "127.0.0.1:9901"}`. The address is required: the admin listener exposes
// the upstream topology and a drain signal, so it listens only where the operator says (a
// loopback address in the shipped example), never on a default that could be public.
Admin Loader::parseAdmin(const Value& v) const {
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

void Loader::timeouts(const Value& v, Timeouts& t) const {
  for (const Entry& e : mapEntries(v, kTimeoutKeys)) {
    std::chrono::milliseconds d = duration(e.value);
    if (e.key == "client_header") t.client_header = d;
    if (e.key == "client_body") t.client_body = d;
    if (e.key == "client_idle") t.client_idle = d;
    if (e.key == "upstream_connect") t.upstream_connect = d;
    if (e.key == "upstream_response") {
      t.upstream_response = d;
      t.upstream_response_mark = markOf(where(e.value));
    }
    if (e.key == "shutdown_grace") t.shutdown_grace = d;
    if (e.key == "tunnel_idle") t.tunnel_idle = d;
  }
}

void Loader::limits(const Value& v, Limits& l) const {
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
AccessLog Loader::accessLog(const Value& v) const {
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
RequestId Loader::requestId(const Value& v) const {
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

}  // namespace portcullis::config::internal
