#pragma once
// What went wrong on the proxy path, and the one place that decides what the client sees.
#include <cstdint>
#include <string_view>

#include "http/parser.h"

namespace portcullis::proxy {

enum class ErrorKind : uint8_t {
  BadRequest,         // 400
  UriTooLong,         // 414
  HeaderTooLarge,     // 431
  BodyTooLarge,       // 413
  NotImplemented,     // 501
  VersionNotSupported,// 505
  MethodNotAllowed,   // 405 (CONNECT: this is not a forward proxy)
  NoRouteHost,        // 421
  NoRoutePath,        // 404
  UpstreamConnect,    // 502: every host refused or timed out
  UpstreamProtocol,   // 502: unparsable or truncated response
  UpstreamTimeout,    // 504
  NoHealthyHost,      // 503: every host failed its health checks or is ejected
  Overloaded,         // 503 + Retry-After: every host at max_requests, queue full or timed out
  Internal,           // 500
  // Never answered: recorded for the access log and metrics only.
  ClientTimeout,      // 408: the client was too slow sending its head or body
  ClientClosed,       // 499 (nginx's code): the client went away before the response was complete
};

int statusFor(ErrorKind e);
// Stable snake_case name for logs and metric labels ("upstream_timeout").
std::string_view errorName(ErrorKind e);
ErrorKind fromParseError(http::ParseError e);

}  // namespace portcullis::proxy
