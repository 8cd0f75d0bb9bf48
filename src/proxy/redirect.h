#pragma once
// The plain-HTTP listener's answer: a redirect to the same resource over HTTPS.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

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

// buildHttpsLocation into `out`, reusing its capacity (the exchange keeps one Location string
// per connection: no allocation per redirect once warm), for a `host` already parsed: no port,
// IPv6 literals in brackets (http::parseAuthority(...)->host; the router parsed it already, so
// this does not again).
void assignHttpsLocation(std::string& out, std::string_view host, uint16_t https_port,
                         std::string_view path, std::string_view query, bool has_query);

// True when `host` (no port, any case) matches one of `patterns` ("example.com" exact,
// "*.example.com" any name below it), or when `patterns` is empty (no allow-list).
bool hostAllowed(std::string_view host, const std::vector<std::string>& patterns);
// RFC 6125 §6.4.3 as browsers apply it: `host` is one of `names` (a certificate's
// subjectAltNames, lowercase), or a "*.example.com" entry covers it with exactly one label.
bool certificateCovers(const std::vector<std::string>& names, std::string_view host);
// True if `host` is a name under `dot_suffix` (".example.com"), one label or more, any case:
// what a "*.example.com" pattern matches, in routes and in the redirect allow-list.
bool matchesWildcard(std::string_view host, std::string_view dot_suffix);

// "max-age=N[; includeSubDomains][; preload]" (RFC 6797 §6.1).
std::string hstsValue(uint64_t max_age_seconds, bool include_subdomains, bool preload);

// True for paths under /.well-known/acme-challenge/ (RFC 8555 §8.3: the HTTP-01 challenge must
// be answered on port 80, so it is never redirected).
bool isAcmeChallenge(std::string_view path);

}  // namespace portcullis::proxy
