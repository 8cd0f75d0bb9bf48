// Upstream clusters: servers, balancing, TLS to the upstream, health checks, outlier detection.
#include <array>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/load_internal.h"
#include "config/values.h"

namespace portcullis::config::internal {
namespace {

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

// Durations that may be 0 ("off"): slow_start, dns_refresh.
constexpr DurationRange kZeroAllowed{milliseconds(0), kMaxDuration};

}  // namespace

Upstream Loader::upstream(const Entry& e) const {
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
      u.idle_timeout_mark = markOf(where(val));
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
UpstreamServer Loader::server(const Value& item) const {
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
UpstreamTls Loader::upstreamTls(const Value& v) const {
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

HealthCheck Loader::healthCheck(const Value& v) const {
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
std::vector<std::pair<int, int>> Loader::statuses(const Value& v) const {
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

OutlierDetection Loader::outlier(const Value& v) const {
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

}  // namespace portcullis::config::internal
