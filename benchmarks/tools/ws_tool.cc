// ws_tool: the WebSocket side of benchmarks/run.sh (scenarios 9 and 10): an echo upstream, a
// round-trip load generator, an idle-connection holder and a one-connection probe.
//
//   ws_tool echo-server --port P
//       Plain TCP on 127.0.0.1:P, one thread, epoll. Answers an RFC 6455 upgrade with 101 and
//       then echoes every data frame back unmasked (ping -> pong, close -> close). Anything that
//       is not a WebSocket upgrade gets "426 Upgrade Required" and is closed, so a proxy that
//       forwards the request without its Upgrade header shows up as a failed handshake, not as
//       a hang.
//   ws_tool load --url wss://127.0.0.1:PORT/echo [--connections 64] [--seconds 5] [--size 32]
//       Opens the connections (TLS 1.3 + upgrade), and once all are open, each one sends a
//       masked binary message, waits for its echo, checks it and sends the next. The timed
//       window starts when every connection is open (handshakes are not in it). One JSON line.
//   ws_tool idle --url ... [--connections 5000] [--hold-seconds 30] [--inflight 200]
//       Opens the connections (at most --inflight handshakes at a time), does one echo round
//       trip on each (so the proxy's tunnel has carried data, as the idle TLS scenario sends one
//       request per connection), prints {"event":"open",...} and holds them, idle, until
//       --hold-seconds pass or SIGTERM/SIGINT; then {"event":"done",...}.
//   ws_tool probe --url ...
//       One connection, one round trip; exit 0 if the echo came back, 2 if the upgrade failed.
//
// Exit status 2 (and "handshake_failed" in the JSON) means the server answered the upgrade with
// something other than a valid 101: run.sh then reports the proxy as having no WebSocket support.
// ws:// URLs use plain TCP (the "direct" ceiling run against the echo server itself).
// Certificates are not verified (as with wrk and tlsload): the client's cost stays small and the
// same for every proxy. Only loopback use is intended; every mode is bounded in time.
//
// Build (run.sh does it): g++ -O2 -std=c++20 -o ws_tool ws_tool.cc -lssl -lcrypto
// OpenSSL (Debian libssl-dev), as tools/tlsload.c: the load generators use the same TLS library
// as wrk, independent of the BoringSSL that Portcullis links.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
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

// 5,000 connections need more descriptors than a default soft limit of 1024.
void raiseNofile() {
  rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

void setNodelay(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

bool ieq(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (tolower((unsigned char)a[i]) != tolower((unsigned char)b[i])) return false;
  return true;
}

bool icontains(std::string_view hay, std::string_view needle) {
  if (needle.size() > hay.size()) return false;
  for (size_t i = 0; i + needle.size() <= hay.size(); ++i)
    if (ieq(hay.substr(i, needle.size()), needle)) return true;
  return false;
}

std::string trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return std::string(s);
}

// The value of header NAME in an HTTP head (request or response), or "" when absent.
std::string header(std::string_view head, std::string_view name) {
  size_t pos = head.find("\r\n");
  while (pos != std::string_view::npos && pos + 2 < head.size()) {
    size_t start = pos + 2;
    size_t end = head.find("\r\n", start);
    if (end == std::string_view::npos) end = head.size();
    std::string_view line = head.substr(start, end - start);
    size_t colon = line.find(':');
    if (colon != std::string_view::npos && ieq(trim(line.substr(0, colon)), name))
      return trim(line.substr(colon + 1));
    pos = end;
  }
  return "";
}

std::string acceptFor(const std::string& key) {
  static const char kGuid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  std::string s = key + kGuid;
  unsigned char sha[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(s.data()), s.size(), sha);
  unsigned char b64[64];
  int n = EVP_EncodeBlock(b64, sha, SHA_DIGEST_LENGTH);
  return std::string(reinterpret_cast<char*>(b64), n);
}

// ------------------------------------------------------------------------------- frames

struct Frame {
  uint8_t b0 = 0;          // FIN + opcode, as received
  bool masked = false;
  uint8_t key[4] = {};
  size_t headerLen = 0;
  uint64_t len = 0;
  uint8_t opcode() const { return b0 & 0x0f; }
};

// Bytes of one complete frame at p, 0 if incomplete, SIZE_MAX on a length no benchmark sends.
size_t parseFrame(const unsigned char* p, size_t n, Frame& f) {
  if (n < 2) return 0;
  f.b0 = p[0];
  f.masked = p[1] & 0x80;
  uint64_t len = p[1] & 0x7f;
  size_t h = 2;
  if (len == 126) {
    if (n < 4) return 0;
    len = (uint64_t(p[2]) << 8) | p[3];
    h = 4;
  } else if (len == 127) {
    if (n < 10) return 0;
    len = 0;
    for (int i = 0; i < 8; ++i) len = (len << 8) | p[2 + i];
    h = 10;
  }
  if (len > (16u << 20)) return SIZE_MAX;
  if (f.masked) {
    if (n < h + 4) return 0;
    memcpy(f.key, p + h, 4);
    h += 4;
  }
  f.headerLen = h;
  f.len = len;
  if (n < h + len) return 0;
  return h + len;
}

// Clients must mask (RFC 6455 5.3); servers must not.
void appendFrame(std::string& out, uint8_t b0, const unsigned char* data, size_t len,
                 const uint8_t* maskKey) {
  unsigned char h[14];
  size_t hl = 0;
  h[hl++] = b0;
  uint8_t m = maskKey ? 0x80 : 0;
  if (len < 126) {
    h[hl++] = m | uint8_t(len);
  } else if (len < 65536) {
    h[hl++] = m | 126;
    h[hl++] = uint8_t(len >> 8);
    h[hl++] = uint8_t(len);
  } else {
    h[hl++] = m | 127;
    for (int i = 7; i >= 0; --i) h[hl++] = uint8_t(uint64_t(len) >> (8 * i));
  }
  if (maskKey) {
    memcpy(h + hl, maskKey, 4);
    hl += 4;
  }
  out.append(reinterpret_cast<char*>(h), hl);
  size_t at = out.size();
  out.append(reinterpret_cast<const char*>(data), len);
  if (maskKey)
    for (size_t i = 0; i < len; ++i) out[at + i] ^= maskKey[i & 3];
}

// --------------------------------------------------------------------------- echo server

struct SConn {
  int fd = -1;
  bool upgraded = false;
  bool closeAfterFlush = false;
  std::string in, out;
};

void serverClose(int ep, SConn* c) {
  epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, nullptr);
  close(c->fd);
  delete c;
}

// Writes what is pending; false if the connection is gone.
bool serverFlush(int ep, SConn* c) {
  size_t off = 0;
  while (off < c->out.size()) {
    ssize_t n = write(c->fd, c->out.data() + off, c->out.size() - off);
    if (n > 0) {
      off += size_t(n);
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      break;  // EPOLLOUT (edge-triggered) resumes it
    } else {
      serverClose(ep, c);
      return false;
    }
  }
  c->out.erase(0, off);
  if (c->out.empty() && c->closeAfterFlush) {
    serverClose(ep, c);
    return false;
  }
  return true;
}

// Handles whatever complete input there is; false if the connection is gone.
bool serverProcess(int ep, SConn* c) {
  if (!c->upgraded) {
    size_t end = c->in.find("\r\n\r\n");
    if (end == std::string::npos) {
      if (c->in.size() > 16384) {
        serverClose(ep, c);
        return false;
      }
      return true;
    }
    std::string_view head(c->in.data(), end + 2);
    std::string key = header(head, "Sec-WebSocket-Key");
    if (!icontains(header(head, "Upgrade"), "websocket") || key.empty() ||
        head.substr(0, 4) != "GET ") {
      static const char kBody[] = "not a WebSocket upgrade\n";
      c->out = "HTTP/1.1 426 Upgrade Required\r\nUpgrade: websocket\r\nConnection: close\r\n"
               "Content-Type: text/plain\r\nContent-Length: " +
               std::to_string(sizeof kBody - 1) + "\r\n\r\n" + kBody;
      c->closeAfterFlush = true;
      c->in.clear();
      return serverFlush(ep, c);
    }
    c->out += "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
              "Sec-WebSocket-Accept: " + acceptFor(key) + "\r\n\r\n";
    c->in.erase(0, end + 4);
    c->upgraded = true;
  }
  size_t off = 0;
  auto* p = reinterpret_cast<unsigned char*>(c->in.data());
  while (off < c->in.size()) {
    Frame f;
    size_t n = parseFrame(p + off, c->in.size() - off, f);
    if (n == 0) break;
    if (n == SIZE_MAX) {
      serverClose(ep, c);
      return false;
    }
    unsigned char* payload = p + off + f.headerLen;
    if (f.masked)
      for (uint64_t i = 0; i < f.len; ++i) payload[i] ^= f.key[i & 3];
    switch (f.opcode()) {
      case 0x0: case 0x1: case 0x2:
        appendFrame(c->out, f.b0, payload, f.len, nullptr);
        break;
      case 0x8:  // close: answer with the same status, then close once written
        appendFrame(c->out, 0x88, payload, std::min<uint64_t>(f.len, 125), nullptr);
        c->closeAfterFlush = true;
        break;
      case 0x9:
        appendFrame(c->out, 0x8a, payload, f.len, nullptr);
        break;
      default:
        break;
    }
    off += n;
    if (c->closeAfterFlush) break;
  }
  c->in.erase(0, off);
  return serverFlush(ep, c);
}

int echoServer(int port) {
  raiseNofile();
  int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(uint16_t(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(lfd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(lfd, 4096) != 0) {
    fprintf(stderr, "ws_tool echo-server: cannot listen on 127.0.0.1:%d: %s\n", port, strerror(errno));
    return 1;
  }
  int ep = epoll_create1(EPOLL_CLOEXEC);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.ptr = nullptr;  // nullptr marks the listener
  epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
  std::vector<epoll_event> evs(512);
  static unsigned char buf[65536];
  while (!g_stop) {
    int n = epoll_wait(ep, evs.data(), int(evs.size()), 500);
    for (int i = 0; i < n; ++i) {
      if (evs[i].data.ptr == nullptr) {
        for (;;) {
          int fd = accept4(lfd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
          if (fd < 0) break;
          setNodelay(fd);
          auto* c = new SConn;
          c->fd = fd;
          epoll_event cev{};
          cev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
          cev.data.ptr = c;
          epoll_ctl(ep, EPOLL_CTL_ADD, fd, &cev);
        }
        continue;
      }
      auto* c = static_cast<SConn*>(evs[i].data.ptr);
      if ((evs[i].events & EPOLLOUT) && !c->out.empty() && !serverFlush(ep, c)) continue;
      if (!(evs[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))) continue;
      bool eof = false;
      // A short read means the socket was drained: with edge triggering, later data raises a new
      // event, so the read that would only return EAGAIN is skipped. Not when the peer has
      // already shut down: that read is the one that sees the end of the stream.
      bool hup = evs[i].events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR);
      for (;;) {
        ssize_t r = read(c->fd, buf, sizeof buf);
        if (r > 0) {
          c->in.append(reinterpret_cast<char*>(buf), size_t(r));
          if (size_t(r) < sizeof buf && !hup) break;
        } else if (r < 0 && errno == EINTR) {
          continue;
        } else if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
          break;
        } else {
          eof = true;
          break;
        }
      }
      if (!c->in.empty() && !serverProcess(ep, c)) continue;
      if (eof) serverClose(ep, c);
    }
  }
  close(lfd);
  return 0;
}

// -------------------------------------------------------------------------------- clients

struct Url {
  bool tls = true;
  std::string host = "127.0.0.1";
  int port = 443;
  std::string path = "/";
};

bool parseUrl(const std::string& s, Url& u) {
  std::string rest;
  if (s.rfind("wss://", 0) == 0) {
    u.tls = true, u.port = 443, rest = s.substr(6);
  } else if (s.rfind("ws://", 0) == 0) {
    u.tls = false, u.port = 80, rest = s.substr(5);
  } else {
    return false;
  }
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

enum class St { Connecting, Tls, UpgradeWrite, UpgradeRead, Open, Done };

struct CConn {
  int idx = 0;
  int fd = -1;
  SSL* ssl = nullptr;
  St st = St::Connecting;
  std::string in, out;
  size_t outOff = 0;
  std::string expectAccept;
  double started = 0;    // connect() time, for the open timeout
  double sentAt = 0;     // when the message in flight was sent
  bool awaitingEcho = false;
  bool established = false;  // upgraded and (idle, probe) first echo received
};

struct Stats {
  long opened = 0, established = 0, handshakeFailed = 0, connectErrors = 0, tlsErrors = 0;
  long timeouts = 0, closedByPeer = 0, badEcho = 0, roundTrips = 0;
  int failStatus = 0;
  std::string failDetail;
};

enum class Mode { Load, Idle, Probe };

struct Client {
  Mode mode;
  Url url;
  std::string hostHeader = "localhost";
  int connections = 64;
  int inflight = 200;
  size_t size = 32;
  double seconds = 5, hold = 30, openTimeout = 30;

  SSL_CTX* ctx = nullptr;
  int ep = -1;
  std::vector<CConn> conns;
  std::string message;
  sockaddr_in addr{};
  Stats s;
  int started = 0, pending = 0;  // connect()s issued; connections still opening
  bool running = false;          // load: the timed window is open
  double tEnd = 0;
  std::vector<uint32_t> latUs;

  void fail(CConn& c, long Stats::*counter) {
    if (c.st == St::Done) return;
    bool wasOpening = !c.established;
    if (counter) ++(s.*counter);
    if (c.ssl) SSL_free(c.ssl);
    c.ssl = nullptr;
    if (c.fd >= 0) close(c.fd);
    c.fd = -1;
    c.st = St::Done;
    c.in.clear();
    c.in.shrink_to_fit();
    if (wasOpening) --pending;
  }

  void startConn(int i) {
    CConn& c = conns[i];
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
    setNodelay(c.fd);
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

  void prepareUpgrade(CConn& c) {
    unsigned char raw[16];
    RAND_bytes(raw, sizeof raw);
    unsigned char b64[32];
    int n = EVP_EncodeBlock(b64, raw, sizeof raw);
    std::string key(reinterpret_cast<char*>(b64), n);
    c.expectAccept = acceptFor(key);
    c.out = "GET " + url.path + " HTTP/1.1\r\nHost: " + hostHeader +
            "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + key +
            "\r\nSec-WebSocket-Version: 13\r\nUser-Agent: ws_tool\r\n\r\n";
    c.outOff = 0;
    c.st = St::UpgradeWrite;
  }

  // >0 bytes, 0 would block, -1 closed or failed.
  ssize_t ioRead(CConn& c, void* buf, size_t n) {
    if (!c.ssl) {
      for (;;) {
        ssize_t r = read(c.fd, buf, n);
        if (r > 0) return r;
        if (r < 0 && errno == EINTR) continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return 0;
        return -1;
      }
    }
    int r = SSL_read(c.ssl, buf, int(n));
    if (r > 0) return r;
    int e = SSL_get_error(c.ssl, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return 0;
    return -1;
  }

  ssize_t ioWrite(CConn& c, const void* buf, size_t n) {
    if (!c.ssl) {
      for (;;) {
        ssize_t r = write(c.fd, buf, n);
        if (r > 0) return r;
        if (r < 0 && errno == EINTR) continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return 0;
        return -1;
      }
    }
    int r = SSL_write(c.ssl, buf, int(n));
    if (r > 0) return r;
    int e = SSL_get_error(c.ssl, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return 0;
    return -1;
  }

  // 1 all written, 0 some left (EPOLLOUT resumes), -1 failed.
  int flush(CConn& c) {
    while (c.outOff < c.out.size()) {
      ssize_t n = ioWrite(c, c.out.data() + c.outOff, c.out.size() - c.outOff);
      if (n < 0) return -1;
      if (n == 0) return 0;
      c.outOff += size_t(n);
    }
    c.out.clear();
    c.outOff = 0;
    return 1;
  }

  // Reads everything available into c.in; false when the peer closed or the read failed.
  bool readAll(CConn& c) {
    char buf[16384];
    for (;;) {
      ssize_t n = ioRead(c, buf, sizeof buf);
      if (n < 0) return false;
      if (n == 0) return true;
      c.in.append(buf, size_t(n));
    }
  }

  void sendMessage(CConn& c) {
    uint8_t key[4];
    uint32_t r = uint32_t(c.idx * 2654435761u) ^ uint32_t(s.roundTrips);
    memcpy(key, &r, 4);
    appendFrame(c.out, 0x82, reinterpret_cast<const unsigned char*>(message.data()), message.size(), key);
    c.awaitingEcho = true;
    c.sentAt = now();
    if (flush(c) < 0) fail(c, &Stats::closedByPeer);
  }

  void onEcho(CConn& c) {
    double t = now();
    c.awaitingEcho = false;
    if (!c.established) {
      c.established = true;
      ++s.established;
      --pending;
      if (mode == Mode::Load && running) sendMessage(c);
      return;
    }
    if (mode == Mode::Load && running && t <= tEnd) {
      ++s.roundTrips;
      latUs.push_back(uint32_t((t - c.sentAt) * 1e6));
      sendMessage(c);
    }
  }

  void handshakeFailed(CConn& c, int status, std::string detail) {
    if (s.failDetail.empty() || !s.failStatus) {
      s.failStatus = status;
      s.failDetail = std::move(detail);
    }
    fail(c, &Stats::handshakeFailed);
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
      if (url.tls) {
        c.ssl = SSL_new(ctx);
        SSL_set_fd(c.ssl, c.fd);
        SSL_set_tlsext_host_name(c.ssl, hostHeader.c_str());
        SSL_set_connect_state(c.ssl);
        c.st = St::Tls;
      } else {
        prepareUpgrade(c);
      }
    }
    for (;;) {
      switch (c.st) {
        case St::Tls: {
          int r = SSL_do_handshake(c.ssl);
          if (r == 1) {
            prepareUpgrade(c);
            continue;
          }
          int e = SSL_get_error(c.ssl, r);
          if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return;
          char eb[160];
          ERR_error_string_n(ERR_get_error(), eb, sizeof eb);
          s.failDetail = std::string("TLS: ") + eb;
          fail(c, &Stats::tlsErrors);
          return;
        }
        case St::UpgradeWrite: {
          int r = flush(c);
          if (r < 0) {
            handshakeFailed(c, 0, "connection closed while sending the upgrade request");
            return;
          }
          if (r == 0) return;
          c.st = St::UpgradeRead;
          continue;
        }
        case St::UpgradeRead: {
          bool alive = readAll(c);
          size_t end = c.in.find("\r\n\r\n");
          if (end == std::string::npos) {
            if (!alive) handshakeFailed(c, 0, "connection closed before a response to the upgrade");
            else if (c.in.size() > 65536) handshakeFailed(c, 0, "response head over 64 KiB");
            return;
          }
          std::string_view head(c.in.data(), end + 2);
          std::string first(head.substr(0, head.find("\r\n")));
          int status = 0;
          if (first.size() > 12 && first.rfind("HTTP/1.", 0) == 0) status = atoi(first.c_str() + 9);
          if (status != 101) {
            handshakeFailed(c, status, "upgrade answered with: " + first);
            return;
          }
          if (header(head, "Sec-WebSocket-Accept") != c.expectAccept) {
            handshakeFailed(c, status, "101 without the right Sec-WebSocket-Accept");
            return;
          }
          c.in.erase(0, end + 4);
          c.st = St::Open;
          ++s.opened;
          // Load: upgraded is enough (the window opens when all are). Idle and probe: one echo
          // round trip proves the tunnel carries data before the connection counts as open.
          if (mode == Mode::Load) {
            c.established = true;
            ++s.established;
            --pending;
            if (running) sendMessage(c);
          } else {
            sendMessage(c);
          }
          if (c.st != St::Open) return;
          if (!alive) {
            fail(c, &Stats::closedByPeer);
            return;
          }
          processFrames(c);
          return;
        }
        case St::Open: {
          if (c.outOff < c.out.size() && flush(c) < 0) {
            fail(c, &Stats::closedByPeer);
            return;
          }
          bool alive = readAll(c);
          processFrames(c);
          if (!alive && c.st == St::Open) fail(c, &Stats::closedByPeer);
          return;
        }
        default:
          return;
      }
    }
  }

  void processFrames(CConn& c) {
    size_t off = 0;
    auto* p = reinterpret_cast<const unsigned char*>(c.in.data());
    while (c.st == St::Open && off < c.in.size()) {
      Frame f;
      size_t n = parseFrame(p + off, c.in.size() - off, f);
      if (n == 0) break;
      if (n == SIZE_MAX || f.masked) {
        ++s.badEcho;
        fail(c, nullptr);
        return;
      }
      uint8_t op = f.opcode();
      if (op == 0x8) {
        fail(c, &Stats::closedByPeer);
        return;
      }
      if (op == 0x1 || op == 0x2) {
        if (!c.awaitingEcho || f.len != message.size() ||
            memcmp(p + off + f.headerLen, message.data(), message.size()) != 0) {
          ++s.badEcho;
        } else {
          off += n;
          onEcho(c);
          // onEcho may append to c.out but never to c.in: p stays valid.
          continue;
        }
      }
      off += n;
    }
    if (c.st == St::Open) c.in.erase(0, off);
  }

  void checkTimeouts(double t) {
    for (auto& c : conns)
      if (c.st != St::Done && !c.established && c.started > 0 && t - c.started > openTimeout) {
        s.failDetail = "no upgrade (or first echo) within the open timeout";
        fail(c, &Stats::timeouts);
      }
  }

  int loop(double until, bool stopWhenOpened) {
    std::vector<epoll_event> evs(512);
    double lastCheck = now();
    for (;;) {
      while (started < connections && pending < inflight) startConn(started);
      double t = now();
      if (g_stop || t >= until) return 0;
      if (stopWhenOpened && started == connections && pending == 0) return 0;
      if (mode == Mode::Idle && s.handshakeFailed) return 0;
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
        if (c.ssl) SSL_free(c.ssl);
        if (c.fd >= 0) close(c.fd);
        c.ssl = nullptr, c.fd = -1, c.st = St::Done;
      }
  }

  std::string failJson() {
    std::string d;
    for (char ch : s.failDetail) {
      if (ch == '"' || ch == '\\') d += '\\';
      if ((unsigned char)ch >= 0x20) d += ch;
    }
    char b[512];
    snprintf(b, sizeof b,
             "\"handshake_failed\":%ld,\"status\":%d,\"connect_errors\":%ld,\"tls_errors\":%ld,"
             "\"timeouts\":%ld,\"closed_by_peer\":%ld,\"bad_echo\":%ld,\"detail\":\"%s\"",
             s.handshakeFailed, s.failStatus, s.connectErrors, s.tlsErrors, s.timeouts,
             s.closedByPeer, s.badEcho, d.substr(0, 300).c_str());
    return b;
  }

  int run() {
    raiseNofile();
    signal(SIGPIPE, SIG_IGN);
    addr.sin_family = AF_INET;
    addr.sin_port = htons(uint16_t(url.port));
    if (inet_pton(AF_INET, url.host.c_str(), &addr.sin_addr) != 1) {
      fprintf(stderr, "ws_tool: the URL's host must be an IPv4 address (loopback), got %s\n", url.host.c_str());
      return 64;
    }
    if (url.tls) {
      ctx = SSL_CTX_new(TLS_client_method());
      // TLS 1.3 only, as every other client of the benchmark.
      SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
      SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
      SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                                SSL_MODE_RELEASE_BUFFERS);
    }
    ep = epoll_create1(EPOLL_CLOEXEC);
    conns.resize(size_t(connections));
    message.resize(size);
    for (size_t i = 0; i < size; ++i) message[i] = char('a' + i % 26);
    if (mode == Mode::Load) latUs.reserve(1 << 20);

    double t0 = now();
    if (mode == Mode::Probe) {
      loop(t0 + openTimeout, true);
      bool ok = s.established == 1;
      printf("{\"mode\":\"probe\",\"ok\":%s,%s}\n", ok ? "true" : "false", failJson().c_str());
      closeAll();
      return ok ? 0 : s.handshakeFailed ? 2 : 1;
    }
    // Opening is bounded: the open timeout per connection, plus time for the queue at a rate of
    // at least 50 handshakes/s (a loaded 2-core machine does a few hundred). Whatever is still
    // opening then is dropped, so the set of connections held afterwards is fixed.
    loop(t0 + openTimeout + 30 + connections / 50.0, true);
    for (auto& c : conns)
      if (c.st != St::Done && !c.established) {
        s.failDetail = "still opening when the opening phase ended";
        fail(c, &Stats::timeouts);
      }
    double opened = now() - t0;
    if (s.established == 0 || (mode == Mode::Idle && s.handshakeFailed)) {
      printf("{\"mode\":\"%s\",\"event\":\"failed\",\"connections\":%d,\"open\":%ld,%s}\n",
             mode == Mode::Load ? "load" : "idle", connections, s.established, failJson().c_str());
      closeAll();
      return s.handshakeFailed ? 2 : 1;
    }
    if (mode == Mode::Idle) {
      printf("{\"mode\":\"idle\",\"event\":\"open\",\"connections\":%d,\"open\":%ld,"
             "\"open_seconds\":%.2f,%s}\n",
             connections, s.established, opened, failJson().c_str());
      fflush(stdout);
      long before = s.closedByPeer;
      loop(now() + hold, false);
      long stillOpen = 0;
      for (auto& c : conns) stillOpen += c.st == St::Open;
      printf("{\"mode\":\"idle\",\"event\":\"done\",\"still_open\":%ld,\"closed_while_idle\":%ld}\n",
             stillOpen, s.closedByPeer - before);
      closeAll();
      return 0;
    }
    // Load: every open connection starts its first round trip at the same moment.
    running = true;
    double start = now();
    tEnd = start + seconds;
    for (auto& c : conns)
      if (c.st == St::Open && !c.awaitingEcho) sendMessage(c);
    loop(tEnd, false);
    double elapsed = std::min(now(), tEnd) - start;
    std::sort(latUs.begin(), latUs.end());
    auto pct = [&](double q) -> uint32_t {
      return latUs.empty() ? 0 : latUs[std::min(latUs.size() - 1, size_t(q * latUs.size()))];
    };
    long active = 0;
    for (auto& c : conns) active += c.st == St::Open;
    printf("{\"mode\":\"load\",\"connections\":%d,\"open\":%ld,\"open_at_end\":%ld,\"message_bytes\":%zu,"
           "\"round_trips\":%ld,\"seconds\":%.3f,\"rtps\":%.1f,\"p50_us\":%u,\"p99_us\":%u,%s}\n",
           connections, s.established, active, size, s.roundTrips, elapsed,
           elapsed > 0 ? s.roundTrips / elapsed : 0.0, pct(0.5), pct(0.99), failJson().c_str());
    closeAll();
    return 0;
  }
};

int usage() {
  fprintf(stderr,
          "usage: ws_tool echo-server --port P\n"
          "       ws_tool load  --url wss://127.0.0.1:PORT/echo [--connections 64] [--seconds 5] [--size 32]\n"
          "       ws_tool idle  --url ... [--connections 5000] [--hold-seconds 30] [--inflight 200]\n"
          "       ws_tool probe --url ...\n"
          "  common: [--host localhost] (SNI and Host header) [--open-timeout 30]\n");
  return 64;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return usage();
  std::string mode = argv[1];
  int port = 0;
  Client c;
  std::string url;
  c.connections = -1;
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    auto val = [&]() -> const char* {
      if (i + 1 >= argc) {
        fprintf(stderr, "ws_tool: %s needs a value\n", a.c_str());
        exit(64);
      }
      return argv[++i];
    };
    if (a == "--port") port = atoi(val());
    else if (a == "--url") url = val();
    else if (a == "--connections") c.connections = atoi(val());
    else if (a == "--seconds") c.seconds = atof(val());
    else if (a == "--hold-seconds") c.hold = atof(val());
    else if (a == "--inflight") c.inflight = atoi(val());
    else if (a == "--size") c.size = size_t(atol(val()));
    else if (a == "--host") c.hostHeader = val();
    else if (a == "--open-timeout") c.openTimeout = atof(val());
    else return usage();
  }
  struct sigaction sa{};
  sa.sa_handler = onSignal;
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  if (mode == "echo-server") {
    if (port <= 0) return usage();
    signal(SIGPIPE, SIG_IGN);
    return echoServer(port);
  }
  if (mode == "load") c.mode = Mode::Load;
  else if (mode == "idle") c.mode = Mode::Idle;
  else if (mode == "probe") c.mode = Mode::Probe;
  else return usage();
  if (!parseUrl(url, c.url)) {
    fprintf(stderr, "ws_tool: --url must be ws://IP:PORT/path or wss://IP:PORT/path\n");
    return 64;
  }
  if (c.connections < 0) c.connections = c.mode == Mode::Load ? 64 : c.mode == Mode::Idle ? 5000 : 1;
  if (c.mode == Mode::Probe) c.connections = 1, c.openTimeout = std::min(c.openTimeout, 5.0);
  // 64 connections open in well under a second; one that takes 10 s will not be measured anyway.
  if (c.mode == Mode::Load) c.openTimeout = std::min(c.openTimeout, 10.0);
  if (c.mode == Mode::Load) c.inflight = c.connections;
  if (c.connections < 1 || c.size < 1 || c.size > 65536 || c.seconds <= 0 || c.seconds > 600 ||
      c.hold < 0 || c.hold > 3600) {
    fprintf(stderr, "ws_tool: out-of-range option\n");
    return 64;
  }
  return c.run();
}
