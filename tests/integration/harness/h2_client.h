#pragma once
// HTTP/2 clients for the integration tests, all real and all outside this process:
// - curl --http2 (Debian's curl is built with nghttp2): single requests, ALPN, bodies;
// - nghttp and h2load (nghttp2-client): multiplexed streams and load;
// - tests/integration/apps/h2_peer.py (python3-h2's hyperframe and hpack): frame-level control
//   for malformed requests, the HTTP/2 attacks, clients that stop reading, GOAWAY timing.
// scripts/install-deps.sh installs them all; a test skips with the reason when one is missing.
//
// Every run has a deadline: a hung client is killed and the call fails with its stderr.
#include <gtest/gtest.h>
#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "harness/http_message.h"
#include "harness/test_util.h"

namespace portcullis::integration {

// HTTP/2 error codes (RFC 9113 §7) the tests name.
inline constexpr uint32_t kH2NoError = 0x0;
inline constexpr uint32_t kH2ProtocolError = 0x1;
inline constexpr uint32_t kH2InternalError = 0x2;
inline constexpr uint32_t kH2RefusedStream = 0x7;
inline constexpr uint32_t kH2Cancel = 0x8;
inline constexpr uint32_t kH2EnhanceYourCalm = 0xb;

// Empty when the tool can run here; otherwise why not (for GTEST_SKIP).
std::string curlHttp2UnavailableReason();
std::string nghttpUnavailableReason();  // nghttp and h2load
std::string h2PeerUnavailableReason();  // /usr/bin/python3 with hpack and hyperframe

// ---------------------------------------------------------------------------------------------
// curl

struct CurlRequest {
  std::string method;  // empty: curl's choice (GET, or POST with a body)
  std::string path = "/";
  std::string host = "localhost";  // resolved to 127.0.0.1 with --resolve
  std::vector<std::string> headers;  // "Name: value", passed as -H
  std::optional<std::string> body;   // sent with --data-binary @file (curl adds content-length)
  bool http2 = true;                 // --http2, else --http1.1
  std::vector<std::string> extra_args;
};

struct CurlResult {
  int exit_code = -1;
  std::string http_version;  // %{http_version}: "2", "1.1"
  int status = 0;
  std::string status_line;   // the first line of the head as curl printed it ("HTTP/2 200")
  HeaderList headers;        // as received, names unchanged (HTTP/2: lowercase on the wire)
  std::string body;
  std::string stderr_text;
};

// curl -sk against https://<host>:<port><path>. Succeeds if curl ran (exit code in the result).
::testing::AssertionResult runCurl(uint16_t port, const CurlRequest& req, CurlResult* out,
                                   milliseconds timeout = milliseconds(20000));

// ---------------------------------------------------------------------------------------------
// nghttp and h2load

struct H2loadResult {
  int exit_code = -1;
  uint64_t total = 0, started = 0, done = 0, succeeded = 0, failed = 0, errored = 0, timeout = 0;
  uint64_t status_2xx = 0, status_3xx = 0, status_4xx = 0, status_5xx = 0;
  std::string protocol;  // "Application protocol: h2"
  std::string output;    // stdout + stderr, for messages
};

// h2load -n <requests> -c <clients> -m <streams> https://127.0.0.1:<port><path>. Succeeds if
// h2load ran and its summary parsed.
// `extra`: more h2load options (e.g. {"-w", "16"}).
::testing::AssertionResult runH2load(uint16_t port, const std::string& path, int requests, int clients,
                                     int streams, H2loadResult* out, milliseconds timeout = milliseconds(30000),
                                     const std::vector<std::string>& extra = {});

// nghttp with `args` (e.g. {"-n", "-m", "50"}) against https://127.0.0.1:<port><path>.
::testing::AssertionResult runNghttp(uint16_t port, const std::string& path, const std::vector<std::string>& args,
                                     CommandResult* out, milliseconds timeout = milliseconds(20000));

// ---------------------------------------------------------------------------------------------
// h2_peer.py

// One stream as h2_peer.py saw it.
struct H2Stream {
  int status = 0;  // 0: no final response head
  HeaderList headers;
  bool ended = false;  // END_STREAM received
  int64_t end_ms = -1;
  uint64_t body_len = 0;
  std::optional<std::string> body;  // bodies up to 64 KiB
  std::optional<uint32_t> reset;    // RST_STREAM error code from the server
  int64_t reset_ms = -1;
};

// What one h2_peer.py run saw (see the event list in the script's docstring).
struct H2PeerResult {
  int exit_code = -1;
  std::string alpn;
  std::map<std::string, std::string> settings;  // the server's first SETTINGS
  std::map<int32_t, H2Stream> streams;
  std::optional<uint32_t> goaway_code;
  int32_t goaway_last_stream = -1;
  int64_t goaway_ms = -1;
  int64_t eof_ms = -1;  // -1: the connection was still open when the run ended
  bool timed_out = false;
  std::map<std::string, int64_t> marks;   // "mark <name> <t_ms>"
  std::map<std::string, int64_t> values;  // "value <name> <v>"
  std::vector<std::string> errors;
  std::string output;  // stdout + stderr, for messages

  const H2Stream& stream(int32_t id) const;  // an empty H2Stream if the id never appeared
  // The script ran to its end without a failure of its own.
  ::testing::AssertionResult ok() const;
};

// One request for the "requests" scenario, as the JSON object h2_peer.py reads.
struct H2Req {
  std::string method = "GET";
  std::string path = "/";
  std::string authority;  // empty: the run's --authority
  std::vector<std::pair<std::string, std::string>> headers;
  // The whole header block instead of method/path/authority/headers (pseudo fields included),
  // for heads no valid client would send.
  std::vector<std::pair<std::string, std::string>> fields;
  std::optional<std::string> body;
  bool content_length = true;            // false: no content-length with the body
  std::optional<uint64_t> content_length_value;  // sent as given, whatever the body
  size_t big_header = 0;                 // an x-big field of that many bytes
  bool after_prev = false;               // sent once every earlier stream has ended
  int after_ms = 0;                      // wait (reading) before sending
  std::vector<std::pair<std::string, std::string>> trailers;  // a trailer block after the body
  std::optional<int> rst_after_ms;       // RST_STREAM CANCEL this long after sending

  std::string toJson() const;
};

struct H2PeerOptions {
  std::string scenario = "requests";  // requests | flood | noread
  std::string authority = "localhost";
  std::vector<H2Req> requests;
  bool until_eof = false;
  std::optional<int> goaway_after_ms;  // requests: the client sends GOAWAY(NO_ERROR) then
  std::string kind;  // flood
  int count = 0;     // flood: frames or streams
  int batch = 50;
  std::string mode;  // noread: zero_window | no_read
  std::string path = "/";
  int stall_ms = 0;
  milliseconds timeout{10000};  // bound on the whole scenario (the run gets 5 s more)
};

class H2Peer {
 public:
  H2Peer() = default;
  ~H2Peer();  // kills a run still going
  H2Peer(const H2Peer&) = delete;
  H2Peer& operator=(const H2Peer&) = delete;

  // Runs a scenario to its end.
  static ::testing::AssertionResult run(uint16_t port, const H2PeerOptions& options, H2PeerResult* out);

  // Starts a scenario in the background (for a test that acts while it runs) ...
  ::testing::AssertionResult start(uint16_t port, const H2PeerOptions& options);
  // ... and waits for it to end (options.timeout + 5 s at most, then SIGKILL).
  ::testing::AssertionResult wait(H2PeerResult* out);
  // Events printed so far by a run in progress.
  std::string outputSoFar() const;

 private:
  TempDir dir_;
  pid_t pid_ = -1;
  Clock::time_point deadline_{};
};

// Parses h2_peer.py's output into *out.
void parseH2PeerOutput(const std::string& text, H2PeerResult* out);

// ---------------------------------------------------------------------------------------------
// h2_ws_peer.py: WebSocket over HTTP/2 (RFC 8441), step by step (see the script's docstring for
// the steps and the events).

// One WebSocket message as h2_ws_peer.py sent or received it.
struct H2WsMessage {
  std::string opcode;  // text, binary, close, ping, pong
  uint64_t length = 0;
  std::string sha256;  // hex, of the payload
  std::string data;    // the payload, when received and at most 256 bytes (else empty)
};

struct H2WsPeerOptions {
  std::string authority = "localhost";
  std::string sni = "localhost";   // empty: no SNI
  std::vector<std::string> steps;  // e.g. "ws a /echo", "text a hello", "recv a", "end a"
  milliseconds timeout{10000};     // bound on the whole run (it is killed 5 s after)
};

struct H2WsPeerResult {
  H2PeerResult h2;  // the HTTP/2 events (streams by id, GOAWAY, eof, timeout, errors)
  std::map<std::string, int32_t> sids;  // step name -> stream id
  std::map<std::string, std::vector<H2WsMessage>> sent, received;  // by step name
  int steps_done = 0;   // steps that finished
  std::string output;   // stdout + stderr, for messages

  // The stream a step opened (an empty H2Stream if it never did).
  const H2Stream& stream(const std::string& name) const;
  const std::vector<H2WsMessage>& got(const std::string& name) const;
  // The script ran every step: exit 0, no error, ALPN h2, no timeout.
  ::testing::AssertionResult ok() const;
};

void parseH2WsPeerOutput(const std::string& text, H2WsPeerResult* out);

class H2WsPeer {
 public:
  H2WsPeer() = default;
  ~H2WsPeer();  // kills a run still going
  H2WsPeer(const H2WsPeer&) = delete;
  H2WsPeer& operator=(const H2WsPeer&) = delete;

  static ::testing::AssertionResult run(uint16_t port, const H2WsPeerOptions& options, H2WsPeerResult* out);
  ::testing::AssertionResult start(uint16_t port, const H2WsPeerOptions& options);
  ::testing::AssertionResult wait(H2WsPeerResult* out);
  std::string outputSoFar() const;
  // Waits until the output so far has line-start `prefix` (e.g. "mark rst_a ").
  bool waitForOutput(const std::string& prefix, milliseconds timeout) const;
  const std::string& dir() const { return dir_.path(); }

 private:
  TempDir dir_;
  pid_t pid_ = -1;
  Clock::time_point deadline_{};
};

}  // namespace portcullis::integration
