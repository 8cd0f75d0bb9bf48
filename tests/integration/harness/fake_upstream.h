#pragma once
// A scripted HTTP/1.1 upstream on 127.0.0.1:<ephemeral> (after Envoy's FakeUpstream and VTest's
// `server s1 { rxreq; txresp }`). It accepts any number of connections, one thread each, parses
// requests with the harness's own parser (not src/http), records every request, and answers from
// a script. Some scripts misbehave on purpose: stall, close mid-body, close without answering.
//
// Every wait has a deadline and returns ::testing::AssertionResult, so a test reads
//   ASSERT_TRUE(upstream.waitForRequests(1));
// and a hang fails with a message instead of the suite timeout.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "harness/http_message.h"
#include "harness/test_util.h"

namespace portcullis::integration {

struct RecordedRequest {
  Request request;
  int connection_id = 0;  // 1-based, in accept order
  // When the first byte of this request reached the upstream (for a pipelined request: when the
  // one before it was taken off the buffer) and when its last byte did.
  Clock::time_point first_byte_at{};
  Clock::time_point completed_at{};
};

// What the upstream does with one request.
struct Reply {
  enum class Action {
    kRespond,               // send the response below
    kCloseWithoutResponse,  // close the connection without a byte
    kCloseMidBody,          // send the head and `close_after_body_bytes` of the body, then close
    kNeverRespond,          // keep the connection open and silent until the peer or test ends
    kRaw,                   // send `raw` verbatim (garbage, hand-made framing), then go on
  };
  enum class BodyFraming { kContentLength, kChunked, kCloseDelimited };

  Action action = Action::kRespond;
  int status = 200;
  std::string reason;  // empty: a standard phrase for `status`
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body = "ok";
  // kContentLength adds Content-Length (unless `headers` has one); kChunked sends `chunk_size`
  // chunks; kCloseDelimited sends no length and closes after the body.
  BodyFraming framing = BodyFraming::kContentLength;
  size_t chunk_size = 8192;
  milliseconds delay{0};  // before the first response byte
  // Between the head and the body, each sent with its own send(): an app server that writes
  // them separately (gunicorn does).
  milliseconds body_delay{0};
  size_t close_after_body_bytes = 0;
  std::string raw;
  bool close_connection = false;  // send "Connection: close" and close after the response

  // Misbehaving keep-alive: the response says nothing about closing, but the connection is
  // closed afterwards anyway, as a server with a short keep-alive timeout does.
  // Close if no byte arrives within this long after the response (0: never).
  milliseconds close_when_idle_after{0};
  // The next request bytes on this connection make the upstream close it without reading or
  // answering them (unread bytes make the kernel send RST). This is the race a keep-alive pool
  // loses: the server gave up on the connection just as the proxy reused it. Counted in
  // droppedRequests().
  bool close_on_next_request = false;
};

// Runs on the connection's thread for each complete request.
using Responder = std::function<Reply(const RecordedRequest&)>;

class FakeUpstream {
 public:
  // Binds 127.0.0.1:0 and starts accepting. `name` goes into an "X-Upstream-Name" response header
  // of the default reply, so a client can tell which upstream answered.
  explicit FakeUpstream(std::string name = "upstream");
  // Listens on `ip`:`port` (port 0: any) — e.g. several upstreams on 127.0.0.2, 127.0.0.3 with
  // one port, as the addresses of one DNS name.
  FakeUpstream(std::string name, const std::string& ip, uint16_t port);
  ~FakeUpstream();  // stops accepting, closes every connection, joins every thread
  FakeUpstream(const FakeUpstream&) = delete;
  FakeUpstream& operator=(const FakeUpstream&) = delete;

  uint16_t port() const { return port_; }
  const std::string& ip() const { return ip_; }
  std::string address() const { return ip_ + ":" + std::to_string(port_); }
  const std::string& name() const { return name_; }

  void setResponder(Responder responder);
  void setReply(const Reply& reply);  // the same reply to every request

  size_t acceptedConnections() const { return accepted_.load(); }
  size_t requestCount() const;
  std::vector<RecordedRequest> requests() const;
  // Bytes that did not parse as a request (a proxy bug), one message per connection.
  std::vector<std::string> protocolErrors() const;

  ::testing::AssertionResult waitForRequests(size_t n, milliseconds timeout = kWait) const;
  // Waits for request `index` (0-based) and copies it out.
  ::testing::AssertionResult waitForRequest(size_t index, RecordedRequest* out,
                                            milliseconds timeout = kWait) const;
  ::testing::AssertionResult waitForConnections(size_t n, milliseconds timeout = kWait) const;
  // Waits until `n` connections have been closed (by either side).
  ::testing::AssertionResult waitForClosedConnections(size_t n, milliseconds timeout = kWait) const;

  // Default reply: 200, body "ok", X-Upstream-Name.
  Reply defaultReply() const;

  // Response body bytes handed to the kernel so far (send() returned them), over all responses.
  // With one large response in flight this is how far the upstream got: it stops growing when
  // the proxy stops reading.
  uint64_t responseBodyBytesSent() const { return body_bytes_sent_.load(); }

  // Connections closed by `close_on_next_request` on the arrival of request bytes.
  size_t droppedRequests() const { return dropped_.load(); }

  // Requests being worked on: complete, and not yet answered (counted from the request's last
  // byte to the response's first byte, or to the close for a request never answered). The
  // count drops before the first response byte is sent, so a proxy that forwards the next
  // request only after it has seen the response can never be counted twice. maxConcurrentRequests()
  // is the peak since construction: what a gunicorn with that many workers would have needed.
  size_t concurrentRequests() const { return working_.load(); }
  size_t maxConcurrentRequests() const { return max_working_.load(); }

  // Responses whose every byte was handed to the kernel (kRespond and kRaw), and the time the
  // last of them was done. A big response counts only once the proxy has taken all of it.
  size_t responsesSent() const { return responses_sent_.load(); }
  ::testing::AssertionResult waitForResponsesSent(size_t n, milliseconds timeout = kWait) const;

  // While held, a connection that has a complete request head buffered stops reading (the body
  // stays in the kernel, so the proxy's writes back up) until releaseRequestBodies(). Each
  // request is held at most once; the destructor releases everything.
  void holdRequestBodies();
  void releaseRequestBodies();
  // Waits until `n` requests have been held with their head read and their body unread.
  ::testing::AssertionResult waitForHeldRequests(size_t n, milliseconds timeout = kWait) const;

 private:
  void acceptLoop();
  void serveConnection(int fd, int id);
  // false if the connection must close. Sends `reply` for `req`.
  bool sendReply(int fd, const Request& req, const Reply& reply);
  // `head_bytes`: how much of `data` is response head; the rest counts as body sent.
  bool sendAll(int fd, std::string_view data, size_t head_bytes = SIZE_MAX);
  // Blocks while request bodies are held (until released or stopping); true if it held.
  bool waitWhileHeld();
  bool sleepUnlessStopped(milliseconds d);
  void record(RecordedRequest r);
  void noteResponseSent();

  const std::string name_;
  int listen_fd_ = -1;
  int wake_fd_ = -1;  // eventfd; readable once stopping, so every poll() wakes at once
  std::string ip_ = "127.0.0.1";
  uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<size_t> accepted_{0};
  std::atomic<size_t> closed_{0};
  std::atomic<uint64_t> body_bytes_sent_{0};
  std::atomic<size_t> dropped_{0};
  std::atomic<size_t> held_{0};
  std::atomic<size_t> working_{0};
  std::atomic<size_t> max_working_{0};
  std::atomic<size_t> responses_sent_{0};
  bool hold_bodies_ = false;  // guarded by mu_

  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  Responder responder_;
  std::vector<RecordedRequest> requests_;
  std::vector<std::string> protocol_errors_;
  std::vector<std::thread> connection_threads_;
  std::vector<int> connection_fds_;
  std::thread accept_thread_;
};

}  // namespace portcullis::integration
