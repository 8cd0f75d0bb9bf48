// Listeners: address, TLS or redirect, HSTS, the HTTP versions offered by ALPN.
#include <algorithm>
#include <array>
#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "config/load_internal.h"
#include "config/values.h"

namespace portcullis::config::internal {
namespace {

constexpr std::array<std::string_view, 6> kListenerKeys = {"name", "address", "tls",
                                                           "redirect_to_https", "hsts", "protocols"};
constexpr std::array<std::string_view, 4> kHstsKeys = {"enabled", "max_age", "include_subdomains",
                                                       "preload"};
constexpr std::array<std::string_view, 2> kRedirectKeys = {"port", "allowed_hosts"};

// 0 is RFC 6797 §6.1.1's "forget this host"; two years is hstspreload.org's recommendation and
// above anything a browser honours longer.
constexpr DurationRange kHstsMaxAge{milliseconds(0), 730 * kDay};
// hstspreload.org: max-age of at least 31536000 seconds to be accepted on the preload list.
constexpr std::chrono::seconds kPreloadMinAge{31'536'000};

}  // namespace

Listener Loader::listener(const Value& v) const {
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
  if (const Entry* protocols = find(entries, "protocols")) {
    if (!tls) {
      // ALPN is a TLS extension (RFC 7301) and h2c (HTTP/2 over plain TCP) is not offered: a
      // plain listener only ever answers with a redirect.
      failAt(protocols->key_mark, v.path + ".protocols: HTTP/2 is offered over TLS only; a plain "
                                           "listener redirects (put 'protocols' on the listener "
                                           "with 'tls')");
    }
    l.protocols = this->protocols(protocols->value);
  }
  return l;
}

// ALPN ids in server preference order: the first one the client also offers wins (RFC 7301
// §3.2). A client offering none of them gets no ALPN answer and is served HTTP/1.1.
std::vector<std::string> Loader::protocols(const Value& v) const {
  std::vector<Value> items = listItems(v);
  // An empty list would offer nothing, which ALPN cannot express (every client would fall
  // back to HTTP/1.1 while the config reads as "no HTTP at all").
  if (items.empty()) fail(v, "must not be empty; leave it out for the default [h2, http/1.1]");
  std::vector<std::string> out;
  for (const Value& item : items) {
    choice(item, {"h2", "http/1.1"});  // anything else is an error naming both
    std::string name = item.node.Scalar();
    if (std::find(out.begin(), out.end(), name) != out.end()) {
      fail(item, "'" + name + "' is listed twice");
    }
    out.push_back(std::move(name));
  }
  return out;
}

RedirectToHttps Loader::redirectToHttps(const Value& v) const {
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

Hsts Loader::hsts(const Value& v) const {
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

}  // namespace portcullis::config::internal
