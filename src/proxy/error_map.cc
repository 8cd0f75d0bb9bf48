#include "proxy/error_map.h"

namespace portcullis::proxy {

int statusFor(ErrorKind e) {
  switch (e) {
    case ErrorKind::BadRequest: return 400;
    case ErrorKind::UriTooLong: return 414;
    case ErrorKind::HeaderTooLarge: return 431;
    case ErrorKind::BodyTooLarge: return 413;
    case ErrorKind::NotImplemented: return 501;
    case ErrorKind::VersionNotSupported: return 505;
    case ErrorKind::MethodNotAllowed: return 405;
    case ErrorKind::NoRouteHost: return 421;
    case ErrorKind::NoRoutePath: return 404;
    case ErrorKind::UpstreamConnect:
    case ErrorKind::UpstreamProtocol: return 502;
    case ErrorKind::UpstreamTimeout: return 504;
    case ErrorKind::NoHealthyHost:
    case ErrorKind::Overloaded: return 503;
    case ErrorKind::Internal: return 500;
  }
  return 500;
}

ErrorKind fromParseError(http::ParseError e) {
  switch (e) {
    case http::ParseError::UriTooLong: return ErrorKind::UriTooLong;
    case http::ParseError::HeaderTooLarge: return ErrorKind::HeaderTooLarge;
    case http::ParseError::NotImplemented: return ErrorKind::NotImplemented;
    case http::ParseError::VersionNotSupported: return ErrorKind::VersionNotSupported;
    case http::ParseError::None:
    case http::ParseError::BadRequest: return ErrorKind::BadRequest;
  }
  return ErrorKind::BadRequest;
}

}  // namespace portcullis::proxy
