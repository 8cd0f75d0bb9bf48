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
    case ErrorKind::ClientTimeout: return 408;
    case ErrorKind::ClientClosed: return 499;
  }
  return 500;
}

std::string_view errorName(ErrorKind e) {
  switch (e) {
    case ErrorKind::BadRequest: return "bad_request";
    case ErrorKind::UriTooLong: return "uri_too_long";
    case ErrorKind::HeaderTooLarge: return "header_too_large";
    case ErrorKind::BodyTooLarge: return "body_too_large";
    case ErrorKind::NotImplemented: return "not_implemented";
    case ErrorKind::VersionNotSupported: return "version_not_supported";
    case ErrorKind::MethodNotAllowed: return "method_not_allowed";
    case ErrorKind::NoRouteHost: return "no_route_host";
    case ErrorKind::NoRoutePath: return "no_route_path";
    case ErrorKind::UpstreamConnect: return "upstream_connect";
    case ErrorKind::UpstreamProtocol: return "upstream_protocol";
    case ErrorKind::UpstreamTimeout: return "upstream_timeout";
    case ErrorKind::NoHealthyHost: return "no_healthy_host";
    case ErrorKind::Overloaded: return "overloaded";
    case ErrorKind::Internal: return "internal";
    case ErrorKind::ClientTimeout: return "client_timeout";
    case ErrorKind::ClientClosed: return "client_closed";
  }
  return "internal";
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
