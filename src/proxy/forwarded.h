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
#include "http/headers.h"
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
  // A WebSocket upgrade the route allows: Upgrade and Connection go upstream (as
  // "Upgrade: websocket" and "Connection: upgrade"); otherwise both end here like any
  // hop-by-hop field, so no other protocol (h2c above all) is ever negotiated through the proxy.
  bool websocket = false;
};

// An HTTP/1.1 GET without a body asking for a WebSocket (RFC 6455 §4.1): Upgrade lists
// "websocket" and Connection lists "upgrade".
bool isWebSocketUpgrade(const http::RequestHead& req);
// The upstream's 101 switches to WebSocket (its Upgrade lists "websocket").
bool isWebSocketAccept(const http::ResponseHead& resp);

// Values the proxy formats for the upstream's fields (X-Forwarded-Port, Forwarded); they must
// outlive the field list that points into them.
struct ForwardScratch {
  char port[8];
  char forwarded[96];  // for="[<45-byte IPv6>]";proto=https at most
};

// The fields to send upstream for `req`, into `out` (cleared first): Host, the client's
// end-to-end fields, then the proxy's own. The views point into `req`, `info` and `scratch`.
void upstreamRequestFields(const http::RequestHead& req, const ForwardInfo& info, ForwardScratch& scratch,
                           http::HeaderList& out);
// Appends the request line (origin-form, HTTP/1.1) and `fields`, without the body framing and
// the blank line: the caller adds them once it knows the framing (a buffered chunked body is
// sent with its Content-Length, which WSGI apps need: Django reads CONTENT_LENGTH, not chunked
// input).
void appendUpstreamRequestHead(base::Buffer& out, const http::RequestHead& req, const http::HeaderList& fields);
// Appends framing for a body of `framing` (Content-Length `length`, or chunked) and the blank
// line ending the head.
void finishUpstreamRequestHead(base::Buffer& out, http::Framing framing, uint64_t length);

// The response the client gets for the upstream's `up`, into `out` (cleared first): the
// end-to-end fields (hop-by-hop ones and those Connection lists dropped; Content-Length kept
// only where it describes a body not sent, HEAD and 304, RFC 9110 §8.6), and a non-empty `hsts`
// as Strict-Transport-Security unless the upstream sent its own (the app knows best, e.g. a
// Django SECURE_HSTS_SECONDS setting). The views point into `up` and `hsts`.
void downstreamResponse(const http::ResponseHead& up, std::string_view hsts, http::Response& out);

// True if `name` must not be forwarded in either direction (hop-by-hop, RFC 9110 §7.6.1).
bool isHopByHop(std::string_view name);

}  // namespace portcullis::proxy
