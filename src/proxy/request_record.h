#pragma once
// What happened to one request, filled along its phases and handed exactly once to the
// worker's observers (access log, metrics) when the request ends, whatever the way out:
// a complete response, a local reply, an upstream failure, a timeout or a client reset
// (Pingora's logging() in finish(); nginx's log phase). Strings are owned by the record and
// keep their capacity between requests of a connection, so filling one costs no heap churn once
// warm.
#include <cstdint>
#include <string>
#include <string_view>

#include "base/tls_info.h"
#include "config/model.h"
#include "http/message.h"
#include "proxy/error_map.h"

namespace portcullis::proxy {

struct ListenerInfo;

struct RequestRecord {
  // Clocks. `start_unix_us` is the wall clock (the log's timestamp); the durations come from the
  // monotonic clock, in microseconds from the request's first byte. -1: that phase never ran.
  int64_t start_unix_us = 0;
  uint64_t duration_us = 0;             // to the last response byte handed to the socket, or the end
  int64_t upstream_connect_us = -1;     // upstream connection ready (connected or taken from the pool)
  int64_t upstream_first_byte_us = -1;  // first response byte from the upstream (last attempt)

  // Connection.
  const ListenerInfo* listener = nullptr;  // never null once handed to an observer
  std::string_view client_ip;              // valid during the observer call
  uint16_t client_port = 0;
  std::string_view protocol;               // "HTTP/1.1", "HTTP/1.0" (static storage)
  const base::TlsInfo* tls = nullptr;      // null on plain listeners (or before the handshake)
  uint64_t connection_id = 0;              // per worker, for grouping a connection's requests

  // Request. Empty when the head never completed (a timeout or reset mid-head, a 400/414/431).
  std::string method;      // as sent: "GET"
  std::string target;      // path and query as sent ("/a?b=1")
  std::string host;        // Host header
  std::string user_agent;
  std::string referer;
  std::string request_id;  // X-Request-Id sent upstream; empty if none (local replies get one too)

  // Response. `status` is what the client was sent; when it was sent nothing (it went away
  // first) it is 499 with error ClientClosed, as nginx logs it.
  int status = 0;
  uint64_t bytes_in = 0;   // request head + body bytes read from the client (plaintext, framing included)
  uint64_t bytes_out = 0;  // response head + body bytes handed to the client (plaintext, framing included)

  // Routing and upstream. -1 / empty when the request never got that far.
  int route = -1;                   // index into config routes
  int cluster = -1;                 // index into config upstreams
  std::string_view cluster_name;    // valid during the observer call
  std::string_view upstream_host;   // "host:port" of the last host tried; valid during the call
  int host_index = -1;              // index of that host in its cluster
  uint32_t attempts = 0;            // upstream attempts (connects + reuses), retries included
  uint32_t retries = 0;             // attempts on another host after a failure
  bool queued = false;              // waited in the cluster's queue (every host at max_requests)
  bool queue_timeout = false;       // ... and gave up waiting (503)

  bool tunnel = false;              // the upstream answered 101: a WebSocket tunnel (logged at its end)
  bool static_file = false;         // answered from a static route's root, not by an upstream

  bool has_error = false;
  ErrorKind error = ErrorKind::Internal;  // meaningful only when has_error

  void setError(ErrorKind e) { has_error = true; error = e; }
};

struct ConnectionFacts;

// Starts `r` for a new request on the connection `c`: every field back to "not yet", the
// strings keeping their capacity.
void resetRecord(RequestRecord& r, const ConnectionFacts& c);
// Notes the head's counts, and with `text` copies what the log prints out of it (its views die
// with the input bytes): method, target, host, user agent, referer. Without an observer that
// reads them (the access log) they would be copied for nothing on every request.
void noteRequestHead(RequestRecord& r, const http::RequestHead& req, bool text);
// Sets the request id (ids on): the client's when trusted and usable, else a new one. Only for
// a request that is forwarded (the upstream gets it) or logged.
void noteRequestId(RequestRecord& r, const http::RequestHead& req, const config::RequestId& ids);
// 128 random bits as 32 lower-case hex digits (per-thread generator; no syscall once seeded).
void makeRequestId(std::string& out);
// Monotonic clock in nanoseconds (the durations' base).
uint64_t steadyNowNs();

// Told about every request once, on the worker thread that served it. Must not block (the
// access log buffers and writes off the loop) and must not keep pointers into the record.
class RequestObserver {
 public:
  virtual void onRequestDone(const RequestRecord& r) = 0;
  // The record's text (method, target, host, user agent, referer, request id) is read.
  virtual bool readsText() const { return false; }
  // A request became a tunnel (its record comes when the tunnel ends), and bytes it moved.
  virtual void onTunnelOpened(const RequestRecord& r) { (void)r; }
  virtual void onTunnelBytes(const RequestRecord& r, uint64_t to_upstream, uint64_t to_client) {
    (void)r, (void)to_upstream, (void)to_client;
  }

 protected:
  ~RequestObserver() = default;
};

}  // namespace portcullis::proxy
