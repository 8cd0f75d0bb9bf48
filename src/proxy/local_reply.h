#pragma once
// A reply of the proxy's own (a redirect, 4xx, 5xx) as a response like any other: the exchange
// builds it here and hands it to its codec through the same call as an upstream's response, so
// HTTP/1 writes both with one serializer and HTTP/2 will encode both with one encoder.
#include <string_view>

#include "http/headers.h"

namespace portcullis::proxy {

// Where values formatted for a reply live; it must outlive the reply's fields.
struct LocalReplyScratch {
  char length[8];
};

// Fills `out` (cleared first) with Date, Content-Type, [Location], [Strict-Transport-Security],
// [Retry-After: 1 on 503] and a text body "<status> <reason>\n", which it returns. For a HEAD
// request the body is empty and its Content-Length a field, as for an upstream's answer to HEAD.
std::string_view localReply(int status, std::string_view location, std::string_view hsts, bool head,
                            LocalReplyScratch& scratch, http::Response& out);

}  // namespace portcullis::proxy
