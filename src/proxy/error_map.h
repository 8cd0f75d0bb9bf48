#pragma once
// What went wrong on the proxy path, and the one place that decides what the client sees.
#include <cstdint>

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
};

int statusFor(ErrorKind e);
ErrorKind fromParseError(http::ParseError e);

}  // namespace portcullis::proxy
