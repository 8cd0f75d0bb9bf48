#pragma once
// The plain-HTTP listener's answer: a redirect to the same resource over HTTPS.
#include <cstdint>
#include <string>
#include <string_view>

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

// True for paths under /.well-known/acme-challenge/ (RFC 8555 §8.3: the HTTP-01 challenge must
// be answered on port 80, so it is never redirected).
bool isAcmeChallenge(std::string_view path);

}  // namespace portcullis::proxy
