#pragma once
// Header rewriting between the two legs (what Django/gunicorn need, DESIGN §6).
//
// Request, downstream -> upstream:
// - Hop-by-hop headers (RFC 9110 §7.6.1: Connection and every name it lists, Keep-Alive,
//   Proxy-Connection, TE, Trailer, Transfer-Encoding, Upgrade) end at the proxy; the body is
//   re-framed (Content-Length or chunked) by the proxy.
// - Client-sent X-Forwarded-For/-Proto/-Protocol/-Ssl/-Host/-Port, Forwarded and X-Real-IP are
//   removed, then set from what the proxy saw: Django trusts X-Forwarded-Proto through
//   SECURE_PROXY_SSL_HEADER and gunicorn trusts all three *-Proto/-Protocol/-Ssl spellings, so
//   a client must never be able to claim https itself. (Trusting an earlier hop's
//   X-Forwarded-For is a later, explicit option.)
// - Header names containing '_' are dropped: WSGI maps '-' and '_' both to '_' in environ, so
//   "Script_Name" or "X_Forwarded_Proto" could impersonate a trusted variable (gunicorn once read
//   SCRIPT_NAME from a header).
// - Expect is consumed by the proxy, which answers 100-continue itself.
// - Via: "1.1 portcullis" is added (RFC 9110 §7.6.3).
// - Host passes unchanged (Django's CSRF origin check compares Origin with scheme + Host).
#include <cstdint>
#include <string_view>

#include "base/buffer.h"
#include "http/message.h"

namespace portcullis::proxy {

struct ForwardInfo {
  std::string_view client_ip;
  bool https = true;
  uint16_t local_port = 0;
  std::string_view fallback_host;  // Host to send when an HTTP/1.0 client sent none
  // mTLS: names of the headers for the client certificate (always stripped from the client's
  // headers when non-empty), and the verified values to set (empty: not set).
  std::string_view client_subject_header;
  std::string_view client_fingerprint_header;
  std::string_view client_subject;
  std::string_view client_fingerprint;
  // Request id: the header name (a client-sent header of that name is always dropped) and the
  // value to send; empty name: request ids are off.
  std::string_view request_id_header;
  std::string_view request_id;
};

// Appends the request line and headers (through the blank line) to send upstream. With
// `finish` false, the body framing headers and the blank line are left out: the caller adds
// them once it knows the framing (a buffered chunked body is sent with its Content-Length,
// which WSGI apps need: Django reads CONTENT_LENGTH, not chunked input).
void appendUpstreamRequestHead(base::Buffer& out, const http::RequestHead& req,
                               const ForwardInfo& info, bool finish = true);
// Appends framing for a body of `framing` (Content-Length `length`, or chunked) and the blank
// line ending the head.
void finishUpstreamRequestHead(base::Buffer& out, http::Framing framing, uint64_t length);

// How the response body is framed towards the client.
enum class DownstreamFraming : uint8_t {
  None,           // no body (HEAD, 1xx, 204, 304): upstream's Content-Length kept for HEAD/304
  ContentLength,  // as the upstream sent it
  Chunked,        // upstream chunked or close-delimited, HTTP/1.1 client
  UntilClose,     // upstream chunked or close-delimited, HTTP/1.0 client: close ends the body
};

DownstreamFraming chooseDownstreamFraming(const http::ResponseHead& resp, int client_version_minor);

// Appends the status line and headers sent to the client. `close` adds "Connection: close";
// `keep_alive_10` adds "Connection: keep-alive" for an HTTP/1.0 client that asked for it;
// a non-empty `hsts` adds Strict-Transport-Security unless the upstream sent its own (the app
// knows best, e.g. a Django SECURE_HSTS_SECONDS setting).
void appendDownstreamResponseHead(base::Buffer& out, const http::ResponseHead& resp,
                                  DownstreamFraming framing, bool close, bool keep_alive_10,
                                  std::string_view hsts = {});

// False when the response carries a transfer coding other than chunked (e.g. "gzip, chunked"):
// the proxy re-frames bodies and would hand the client gzip bytes it never declared, so such a
// response is refused (502) rather than corrupted. Upstreams use Content-Encoding for that.
bool onlyChunkedTransferCoding(const http::ResponseHead& resp);

// True if `name` must not be forwarded in either direction (hop-by-hop, RFC 9110 §7.6.1).
bool isHopByHop(std::string_view name);

}  // namespace portcullis::proxy
