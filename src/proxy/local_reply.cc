#include "proxy/local_reply.h"

#include <charconv>

#include "http/date.h"
#include "http/serializer.h"

namespace portcullis::proxy {

std::string_view localReply(int status, std::string_view location, std::string_view hsts, bool head,
                            LocalReplyScratch& scratch, http::Response& out) {
  out.clear();
  out.status = status;
  out.local = true;
  out.headers.add("Date", http::httpDateNow());
  out.headers.add("Content-Type", "text/plain; charset=utf-8");
  if (!location.empty()) out.headers.add("Location", location);
  if (!hsts.empty()) out.headers.add("Strict-Transport-Security", hsts);
  // Overloaded: when to come back (RFC 9110 §10.2.3).
  if (status == 503) out.headers.add("Retry-After", "1");
  std::string_view body = http::statusBody(status);
  if (!head) {
    out.body = http::BodySize::Known;
    out.length = body.size();
    return body;
  }
  char* end = std::to_chars(scratch.length, scratch.length + sizeof scratch.length, body.size()).ptr;
  out.headers.add("Content-Length", {scratch.length, static_cast<size_t>(end - scratch.length)});
  return {};
}

}  // namespace portcullis::proxy
