#pragma once
// The plain-HTTP listener's answer: a redirect to the same resource over HTTPS.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/buffer.h"
#include "http/message.h"

namespace portcullis::proxy {

// 301 for GET/HEAD, 308 otherwise: 301 lets clients turn a POST into a GET (RFC 9110 §15.4.2),
// 308 keeps method and body (RFC 9110 §15.4.9).
int redirectStatus(http::Method m);

// "https://" + host + (":" + https_port unless 443) + path + ("?" + query if one was sent).
// `host` is the validated Host header; its own port (the plain-HTTP one) is dropped. IPv6
// literals keep their brackets.
std::string buildHttpsLocation(std::string_view host_header, uint16_t https_port,
                               std::string_view path, std::string_view query, bool has_query);

// The plain-HTTP listener's whole answer, for appendHttpsRedirect. The caller has checked the
// request (Host present and allowed) and parsed the Host header: `host` has no port, IPv6
// literals keep their brackets (http::parseAuthority(...)->host).
struct HttpsRedirect {
  int status = 301;                 // redirectStatus(method)
  std::string_view host;
  uint16_t https_port = 443;        // put in Location unless 443
  std::string_view path;            // empty is sent as "/"
  std::string_view query;
  bool has_query = false;           // "?" + query, even when the query is empty
  std::string_view hsts;            // Strict-Transport-Security value; empty: no header
  bool close = false;               // "Connection: close" (the connection closes after)
  bool http10_keep_alive = false;   // an HTTP/1.0 client kept alive: "Connection: keep-alive"
  bool head = false;                // HEAD: no body
};

// Writes the redirect (status line, Date, Content-Type, Location, HSTS, Content-Length,
// Connection, the "301 Moved Permanently\n" body) into `out` in one pass: one reserve, no
// std::string. The bytes are those of buildHttpsLocation + the serializer's appends that the
// session used before; callgrind: 1,270 instructions per redirect for that pair (a 31-byte
// Location), ~250 for this. Returns the bytes written.
size_t appendHttpsRedirect(base::Buffer& out, const HttpsRedirect& r);

// True when `host` (no port, any case) matches one of `patterns` ("example.com" exact,
// "*.example.com" any name below it), or when `patterns` is empty (no allow-list).
bool hostAllowed(std::string_view host, const std::vector<std::string>& patterns);
// True if `host` is a name under `dot_suffix` (".example.com"), one label or more, any case:
// what a "*.example.com" pattern matches, in routes and in the redirect allow-list.
bool matchesWildcard(std::string_view host, std::string_view dot_suffix);

// "max-age=N[; includeSubDomains][; preload]" (RFC 6797 §6.1).
std::string hstsValue(uint64_t max_age_seconds, bool include_subdomains, bool preload);

// True for paths under /.well-known/acme-challenge/ (RFC 8555 §8.3: the HTTP-01 challenge must
// be answered on port 80, so it is never redirected).
bool isAcmeChallenge(std::string_view path);

}  // namespace portcullis::proxy
