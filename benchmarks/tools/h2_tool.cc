// h2_tool: the HTTP/2 idle-connection holder and probe of benchmarks/run.sh (scenario 13,
// h2_idle; the probe gates scenarios 11-13). Load (scenarios 11 and 12) is h2load's job.
//
//   h2_tool idle --url https://127.0.0.1:PORT/ [--connections 5000] [--hold-seconds 30]
//                [--inflight 200]
//       Opens the connections (at most --inflight opening at a time). Each: TCP connect, TLS 1.3
//       handshake offering only "h2" by ALPN, the client connection preface and SETTINGS, the
//       server's SETTINGS (acknowledged), the server's ACK of ours, and one GET of the URL's path
//       with its whole response (200, END_STREAM). Then prints {"event":"open",...} and holds
//       them, idle (no PING, no further frames; the server's frames are still read and
//       answered), until --hold-seconds pass or SIGTERM/SIGINT; then {"event":"done",...}. A
//       connection the server closes or sends GOAWAY on while idle counts as closed_while_idle.
//   h2_tool probe --url ...
//       One connection, the same exchange; exit 0 if it completed, 2 if the server does not
//       speak HTTP/2 (ALPN did not select h2, or the h2 exchange failed), 1 on other failures.
//
// The JSON lines and exit statuses are ws_tool's (tools/ws_tool.cc), so benchmarks/tools/
// bench.py's idle-memory measurement drives either tool the same way. Exit status 2 (and
// "handshake_failed" in the JSON) is what run.sh reports as "no HTTP/2 support".
// Certificates are not verified (as with wrk, tlsload, ws_tool and h2load): the client's cost
// stays small and the same for every proxy. Only loopback use is intended; every mode is
// bounded in time (30 s per connection to open, 30 s + 1 s per 50 connections in all).
//
// Build (run.sh does it): g++ -O2 -std=c++20 -o h2_tool h2_tool.cc -lnghttp2 -lssl -lcrypto
// nghttp2 does the framing and HPACK (Debian libnghttp2-dev, a Portcullis build dependency
// already); OpenSSL (libssl-dev) does TLS, as in the other load generators and h2load.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <nghttp2/nghttp2.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>
#include <string_view>
#include <vector>

namespace {

double now() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

volatile sig_atomic_t g_stop = 0;
void onSignal(int) { g_stop = 1; }

void raiseNofile() {
  rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

struct Url {
  std::string host = "127.0.0.1";
  int port = 443;
  std::string path = "/";
};

bool parseUrl(const std::string& s, Url& u) {
  if (s.rfind("https://", 0) != 0) return false;
  std::string rest = s.substr(8);
  size_t slash = rest.find('/');
  std::string hostport = rest.substr(0, slash);
  u.path = slash == std::string::npos ? "/" : rest.substr(slash);
  size_t colon = hostport.rfind(':');
  if (colon != std::string::npos) {
    u.port = atoi(hostport.c_str() + colon + 1);
    hostport.resize(colon);
  }
  u.host = hostport;
  return u.port > 0;
}

enum class St { Connecting, Tls, H2, Done };

struct Client;

struct CConn {
  Client* cl = nullptr;
  int idx = 0;
  int fd = -1;
  SSL* ssl = nullptr;
  nghttp2_session* h2 = nullptr;
  St st = St::Connecting;
  std::string out;
  size_t outOff = 0;
  double started = 0;
  int32_t streamId = -1;
  int status = 0;
  size_t bodyBytes = 0;
  bool serverSettings = false;  // the server's SETTINGS arrived (nghttp2 acknowledges it)
  bool settingsAcked = false;   // the server acknowledged ours
  bool responseDone = false;    // our stream closed with END_STREAM, no error
  uint32_t streamError = 0;     // our stream was closed with this error code (RST_STREAM...)
  bool streamReset = false;
  bool established = false;     // all three: the connection counts as open
};

struct Stats {
  long established = 0, handshakeFailed = 0, connectErrors = 0, tlsErrors = 0, timeouts = 0;
  long closedByPeer = 0, goaway = 0;
  int failStatus = 0;
  std::string failDetail;
};

enum class Mode { Idle, Probe };

struct Client {
  Mode mode = Mode::Idle;
  Url url;
  std::string authority = "localhost";
  int connections = 5000;
  int inflight = 200;
  double hold = 30, openTimeout = 30;

  SSL_CTX* ctx = nullptr;
  nghttp2_session_callbacks* cbs = nullptr;
  int ep = -1;
  std::vector<CConn> conns;
  sockaddr_in addr{};
  Stats s;
  int started = 0, pending = 0;

  void fail(CConn& c, long Stats::*counter) {
    if (c.st == St::Done) return;
    bool wasOpening = !c.established;
    if (counter) ++(s.*counter);
    if (c.h2) nghttp2_session_del(c.h2);
    c.h2 = nullptr;
    if (c.ssl) SSL_free(c.ssl);
    c.ssl = nullptr;
    if (c.fd >= 0) close(c.fd);
    c.fd = -1;
    c.st = St::Done;
    std::string().swap(c.out);
    if (wasOpening) --pending;
  }

  // Before the connection is established, a failure of the h2 exchange means the server does
  // not (correctly) speak HTTP/2: "handshake failed", exit status 2. After it, a close is a
  // close while idle.
  void h2Failed(CConn& c, int status, std::string detail) {
    if (c.established) {
      fail(c, &Stats::closedByPeer);
      return;
    }
    if (s.failDetail.empty() || !s.failStatus) {
      s.failStatus = status;
      s.failDetail = std::move(detail);
    }
    fail(c, &Stats::handshakeFailed);
  }

  void startConn(int i) {
    CConn& c = conns[i];
    c.cl = this;
    c.idx = i;
    c.started = now();
    ++started;
    ++pending;
    c.fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c.fd < 0) {
      s.failDetail = std::string("socket: ") + strerror(errno);
      fail(c, &Stats::connectErrors);
      return;
    }
    int one = 1;
    setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(c.fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 && errno != EINPROGRESS) {
      s.failDetail = std::string("connect: ") + strerror(errno);
      fail(c, &Stats::connectErrors);
      return;
    }
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    ev.data.u32 = uint32_t(i);
    epoll_ctl(ep, EPOLL_CTL_ADD, c.fd, &ev);
  }

  // ------------------------------------------------------------------ nghttp2 callbacks

  static ssize_t onSend(nghttp2_session*, const uint8_t* data, size_t len, int, void* ud) {
    static_cast<CConn*>(ud)->out.append(reinterpret_cast<const char*>(data), len);
    return ssize_t(len);
  }

  static int onHeader(nghttp2_session*, const nghttp2_frame* f, const uint8_t* name, size_t namelen,
                      const uint8_t* value, size_t valuelen, uint8_t, void* ud) {
    auto* c = static_cast<CConn*>(ud);
    if (f->hd.type == NGHTTP2_HEADERS && f->hd.stream_id == c->streamId &&
        std::string_view(reinterpret_cast<const char*>(name), namelen) == ":status")
      c->status = atoi(std::string(reinterpret_cast<const char*>(value), valuelen).c_str());
    return 0;
  }

  static int onData(nghttp2_session*, uint8_t, int32_t stream, const uint8_t*, size_t len, void* ud) {
    auto* c = static_cast<CConn*>(ud);
    if (stream == c->streamId) c->bodyBytes += len;
    return 0;
  }

  static int onFrame(nghttp2_session*, const nghttp2_frame* f, void* ud) {
    auto* c = static_cast<CConn*>(ud);
    if (f->hd.type == NGHTTP2_SETTINGS) {
      if (f->hd.flags & NGHTTP2_FLAG_ACK) c->settingsAcked = true;
      else c->serverSettings = true;
    } else if (f->hd.type == NGHTTP2_GOAWAY) {
      ++c->cl->s.goaway;
    }
    return 0;
  }

  static int onClose(nghttp2_session*, int32_t stream, uint32_t err, void* ud) {
    auto* c = static_cast<CConn*>(ud);
    if (stream != c->streamId) return 0;
    // Only noted here: the session must not be freed inside its own callback (drive() acts).
    if (err != NGHTTP2_NO_ERROR) c->streamReset = true, c->streamError = err;
    else c->responseDone = true;
    return 0;
  }

  // ------------------------------------------------------------------------------- I/O

  // 1 all written, 0 some left (EPOLLOUT resumes), -1 failed.
  int flush(CConn& c) {
    while (c.outOff < c.out.size()) {
      int r = SSL_write(c.ssl, c.out.data() + c.outOff, int(c.out.size() - c.outOff));
      if (r > 0) {
        c.outOff += size_t(r);
        continue;
      }
      int e = SSL_get_error(c.ssl, r);
      if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return 0;
      return -1;
    }
    c.out.clear();
    c.outOff = 0;
    return 1;
  }

  void startH2(CConn& c) {
    const unsigned char* alpn = nullptr;
    unsigned alpnLen = 0;
    SSL_get0_alpn_selected(c.ssl, &alpn, &alpnLen);
    std::string_view proto(reinterpret_cast<const char*>(alpn), alpn ? alpnLen : 0);
    if (proto != "h2") {
      h2Failed(c, 0, "the server did not select h2 by ALPN (selected: " +
                         (proto.empty() ? std::string("none") : std::string(proto)) + ")");
      return;
    }
    nghttp2_session_client_new(&c.h2, cbs, &c);
    // What a browser-like client announces: no server push, at most 100 streams.
    nghttp2_settings_entry iv[] = {{NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
                                   {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 100}};
    nghttp2_submit_settings(c.h2, NGHTTP2_FLAG_NONE, iv, 2);
    auto nv = [](const char* n, const std::string& v) {
      return nghttp2_nv{(uint8_t*)n, (uint8_t*)v.data(), strlen(n), v.size(), NGHTTP2_NV_FLAG_NONE};
    };
    static const std::string get = "GET", https = "https", ua = "h2_tool";
    nghttp2_nv hdrs[] = {nv(":method", get), nv(":scheme", https), nv(":authority", authority),
                         nv(":path", url.path), nv("user-agent", ua)};
    c.streamId = nghttp2_submit_request(c.h2, nullptr, hdrs, 5, nullptr, &c);
    c.st = St::H2;
  }

  void checkEstablished(CConn& c) {
    if (c.established || !c.responseDone || !c.serverSettings || !c.settingsAcked) return;
    if (c.status != 200) {
      h2Failed(c, c.status, "GET " + url.path + " over h2 answered " + std::to_string(c.status));
      return;
    }
    c.established = true;
    ++s.established;
    --pending;
  }

  void drive(CConn& c) {
    if (c.st == St::Connecting) {
      int err = 0;
      socklen_t len = sizeof err;
      getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err != 0) {
        s.failDetail = std::string("connect: ") + strerror(err);
        fail(c, &Stats::connectErrors);
        return;
      }
      c.ssl = SSL_new(ctx);
      SSL_set_fd(c.ssl, c.fd);
      SSL_set_tlsext_host_name(c.ssl, authority.c_str());
      SSL_set_connect_state(c.ssl);
      c.st = St::Tls;
    }
    if (c.st == St::Tls) {
      int r = SSL_do_handshake(c.ssl);
      if (r != 1) {
        int e = SSL_get_error(c.ssl, r);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return;
        char eb[160];
        ERR_error_string_n(ERR_get_error(), eb, sizeof eb);
        s.failDetail = std::string("TLS: ") + eb;
        fail(c, &Stats::tlsErrors);
        return;
      }
      startH2(c);
      if (c.st != St::H2) return;
    }
    if (c.st != St::H2) return;
    // Read everything available (edge-triggered), feed nghttp2, then send what it has to say.
    bool alive = true;
    uint8_t buf[16384];
    for (;;) {
      int r = SSL_read(c.ssl, buf, sizeof buf);
      if (r > 0) {
        ssize_t n = nghttp2_session_mem_recv(c.h2, buf, size_t(r));
        if (n < 0) {
          h2Failed(c, c.status, std::string("h2: ") + nghttp2_strerror(int(n)));
          return;
        }
        continue;
      }
      int e = SSL_get_error(c.ssl, r);
      if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) break;
      alive = false;
      break;
    }
    if (nghttp2_session_send(c.h2) != 0 || flush(c) < 0) alive = false;
    if (c.streamReset && !c.established) {
      h2Failed(c, c.status, std::string("the request stream was closed with ") +
                                nghttp2_http2_strerror(c.streamError) + ", status " + std::to_string(c.status));
      return;
    }
    checkEstablished(c);
    if (c.st != St::H2) return;
    if (!alive || (!nghttp2_session_want_read(c.h2) && !nghttp2_session_want_write(c.h2))) {
      // The server closed (or sent GOAWAY and finished): before the exchange completed that is
      // a failed h2 exchange; after it, a connection closed while idle.
      std::string why = !alive ? "the server closed the connection" : "the server sent GOAWAY";
      h2Failed(c, c.status, why + " before the h2 exchange completed (status " + std::to_string(c.status) +
                                ", settings " + (c.serverSettings ? "received" : "not received") +
                                ", ours " + (c.settingsAcked ? "acked" : "not acked") + ")");
    }
  }

  void checkTimeouts(double t) {
    for (auto& c : conns)
      if (c.st != St::Done && !c.established && c.started > 0 && t - c.started > openTimeout) {
        s.failDetail = "the h2 exchange did not complete within the open timeout";
        fail(c, &Stats::timeouts);
      }
  }

  void loop(double until, bool stopWhenOpened) {
    std::vector<epoll_event> evs(512);
    double lastCheck = now();
    for (;;) {
      while (started < connections && pending < inflight) startConn(started);
      double t = now();
      if (g_stop || t >= until) return;
      if (stopWhenOpened && started == connections && pending == 0) return;
      if (s.handshakeFailed) return;  // no HTTP/2 here: do not try 5,000 times
      int ms = int(std::min(100.0, (until - t) * 1000) + 1);
      int n = epoll_wait(ep, evs.data(), int(evs.size()), ms);
      for (int i = 0; i < n; ++i) {
        CConn& c = conns[evs[i].data.u32];
        if (c.st != St::Done) drive(c);
      }
      t = now();
      if (t - lastCheck > 0.2) {
        checkTimeouts(t);
        lastCheck = t;
      }
    }
  }

  void closeAll() {
    for (auto& c : conns)
      if (c.st != St::Done) {
        if (c.h2) nghttp2_session_del(c.h2);
        if (c.ssl) SSL_free(c.ssl);
        if (c.fd >= 0) close(c.fd);
        c.h2 = nullptr, c.ssl = nullptr, c.fd = -1, c.st = St::Done;
      }
  }

  std::string failJson() {
    std::string d;
    for (char ch : s.failDetail) {
      if (ch == '"' || ch == '\\') d += '\\';
      if ((unsigned char)ch >= 0x20) d += ch;
    }
    char b[640];
    snprintf(b, sizeof b,
             "\"handshake_failed\":%ld,\"status\":%d,\"connect_errors\":%ld,\"tls_errors\":%ld,"
             "\"timeouts\":%ld,\"closed_by_peer\":%ld,\"goaway\":%ld,\"detail\":\"%s\"",
             s.handshakeFailed, s.failStatus, s.connectErrors, s.tlsErrors, s.timeouts,
             s.closedByPeer, s.goaway, d.substr(0, 300).c_str());
    return b;
  }

  int run() {
    raiseNofile();
    signal(SIGPIPE, SIG_IGN);
    addr.sin_family = AF_INET;
    addr.sin_port = htons(uint16_t(url.port));
    if (inet_pton(AF_INET, url.host.c_str(), &addr.sin_addr) != 1) {
      fprintf(stderr, "h2_tool: the URL's host must be an IPv4 address (loopback), got %s\n", url.host.c_str());
      return 64;
    }
    ctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);  // as every other client here
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                              SSL_MODE_RELEASE_BUFFERS);
    static const unsigned char kAlpn[] = {2, 'h', '2'};  // h2 only: no HTTP/1.1 fallback
    SSL_CTX_set_alpn_protos(ctx, kAlpn, sizeof kAlpn);
    nghttp2_session_callbacks_new(&cbs);
    nghttp2_session_callbacks_set_send_callback(cbs, onSend);
    nghttp2_session_callbacks_set_on_header_callback(cbs, onHeader);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, onData);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, onFrame);
    nghttp2_session_callbacks_set_on_stream_close_callback(cbs, onClose);
    ep = epoll_create1(EPOLL_CLOEXEC);
    conns.resize(size_t(connections));

    double t0 = now();
    if (mode == Mode::Probe) {
      loop(t0 + openTimeout, true);
      bool ok = s.established == 1;
      printf("{\"mode\":\"probe\",\"ok\":%s,\"body_bytes\":%zu,%s}\n", ok ? "true" : "false",
             conns[0].bodyBytes, failJson().c_str());
      closeAll();
      return ok ? 0 : s.handshakeFailed ? 2 : 1;
    }
    // Opening is bounded as in ws_tool: the open timeout per connection, plus 30 s and 1 s per
    // 50 connections; whatever is still opening then is dropped.
    loop(t0 + openTimeout + 30 + connections / 50.0, true);
    for (auto& c : conns)
      if (c.st != St::Done && !c.established) {
        s.failDetail = "still opening when the opening phase ended";
        fail(c, &Stats::timeouts);
      }
    double opened = now() - t0;
    if (s.established == 0 || s.handshakeFailed) {
      printf("{\"mode\":\"idle\",\"event\":\"failed\",\"connections\":%d,\"open\":%ld,%s}\n",
             connections, s.established, failJson().c_str());
      closeAll();
      return s.handshakeFailed ? 2 : 1;
    }
    printf("{\"mode\":\"idle\",\"event\":\"open\",\"connections\":%d,\"open\":%ld,"
           "\"open_seconds\":%.2f,%s}\n",
           connections, s.established, opened, failJson().c_str());
    fflush(stdout);
    long before = s.closedByPeer;
    loop(now() + hold, false);
    long stillOpen = 0;
    for (auto& c : conns) stillOpen += c.st == St::H2;
    printf("{\"mode\":\"idle\",\"event\":\"done\",\"still_open\":%ld,\"closed_while_idle\":%ld,\"goaway\":%ld}\n",
           stillOpen, s.closedByPeer - before, s.goaway);
    closeAll();
    return 0;
  }
};

int usage() {
  fprintf(stderr,
          "usage: h2_tool idle  --url https://127.0.0.1:PORT/ [--connections 5000] [--hold-seconds 30] [--inflight 200]\n"
          "       h2_tool probe --url ...\n"
          "  common: [--host localhost] (SNI and :authority) [--open-timeout 30]\n");
  return 64;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return usage();
  std::string mode = argv[1];
  Client c;
  std::string url;
  c.connections = -1;
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    auto val = [&]() -> const char* {
      if (i + 1 >= argc) {
        fprintf(stderr, "h2_tool: %s needs a value\n", a.c_str());
        exit(64);
      }
      return argv[++i];
    };
    if (a == "--url") url = val();
    else if (a == "--connections") c.connections = atoi(val());
    else if (a == "--hold-seconds") c.hold = atof(val());
    else if (a == "--inflight") c.inflight = atoi(val());
    else if (a == "--host") c.authority = val();
    else if (a == "--open-timeout") c.openTimeout = atof(val());
    else return usage();
  }
  struct sigaction sa{};
  sa.sa_handler = onSignal;
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  if (mode == "idle") c.mode = Mode::Idle;
  else if (mode == "probe") c.mode = Mode::Probe;
  else return usage();
  if (!parseUrl(url, c.url)) {
    fprintf(stderr, "h2_tool: --url must be https://IP:PORT/path\n");
    return 64;
  }
  if (c.connections < 0) c.connections = c.mode == Mode::Idle ? 5000 : 1;
  if (c.mode == Mode::Probe) c.connections = 1, c.openTimeout = std::min(c.openTimeout, 5.0);
  if (c.connections < 1 || c.connections > 100000 || c.inflight < 1 || c.hold < 0 || c.hold > 3600 ||
      c.openTimeout <= 0 || c.openTimeout > 120) {
    fprintf(stderr, "h2_tool: out-of-range option\n");
    return 64;
  }
  return c.run();
}
