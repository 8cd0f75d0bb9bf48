// tlsload: a one-thread TLS handshake load generator for benchmarks/run.sh.
//
// Keeps C connections busy for D seconds. Each connection: TCP connect, TLS 1.3 handshake, one
// "GET PATH HTTP/1.1" with "Connection: close", read the response until the server closes, check
// it was a 200 with the whole body, close, start again. So every request costs one handshake.
//
//   full mode (default): no session is ever offered, every handshake is a full one
//                        (X25519 key exchange + ECDSA signature on the server).
//   -r (resume mode):    each connection slot offers the TLS 1.3 session ticket it received on
//                        its previous connection (PSK-DHE resumption, no certificate, no
//                        signature). SSL_session_reused() is checked on every handshake and the
//                        counts are printed, so a proxy that silently refuses tickets shows up
//                        as resumed=0 rather than as a fast number.
//
// Certificates are not verified (like wrk): the client's cost stays small and constant, so the
// number measures the server. Output: one line of JSON on stdout.
//
// Build: cc -O2 -o tlsload tlsload.c -lssl -lcrypto   (Debian: libssl-dev)
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum State { IDLE, CONNECTING, HANDSHAKE, WRITING, READING };

struct Slot {
  int fd;
  SSL *ssl;
  enum State state;
  SSL_SESSION *session;  // latest ticket for this slot (resume mode)
  char req_sent;
  size_t req_off;
  char buf[4096];        // response head (body bytes are only counted)
  size_t head_len;
  long status;
  long long content_length;
  long long body_read;
  int head_done;
  double deadline;
};

static struct {
  long connections, handshakes, resumed, full, ok, bad_status, short_body, errors, timeouts;
  long long bytes;
} stats;

static SSL_CTX *ctx;
static struct sockaddr_in addr;
static const char *host = "localhost";
static const char *path = "/";
static char request[512];
static size_t request_len;
static int resume;
static int epfd;
static int slot_index;  // ex_data index for the Slot pointer

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int new_session_cb(SSL *ssl, SSL_SESSION *sess) {
  struct Slot *s = SSL_get_ex_data(ssl, slot_index);
  if (!s) return 0;
  if (s->session) SSL_SESSION_free(s->session);
  s->session = sess;  // keep the reference OpenSSL hands us
  return 1;
}

static void slot_close(struct Slot *s) {
  if (s->ssl) {
    SSL_set_ex_data(s->ssl, slot_index, NULL);
    SSL_free(s->ssl);
    s->ssl = NULL;
  }
  if (s->fd >= 0) {
    close(s->fd);  // epoll forgets a closed fd by itself
    s->fd = -1;
  }
  s->state = IDLE;
}

static void slot_fail(struct Slot *s, int timeout) {
  if (timeout) stats.timeouts++; else stats.errors++;
  slot_close(s);
}

static void slot_start(struct Slot *s) {
  s->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (s->fd < 0) { stats.errors++; return; }
  int one = 1;
  setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  s->ssl = SSL_new(ctx);
  SSL_set_ex_data(s->ssl, slot_index, s);
  SSL_set_fd(s->ssl, s->fd);
  SSL_set_tlsext_host_name(s->ssl, host);
  SSL_set_connect_state(s->ssl);
  if (resume && s->session) SSL_set_session(s->ssl, s->session);
  s->req_off = 0;
  s->head_len = 0;
  s->status = 0;
  s->content_length = -1;
  s->body_read = 0;
  s->head_done = 0;
  s->deadline = now() + 5.0;
  s->state = CONNECTING;
  stats.connections++;
  struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLET, .data.ptr = s};
  epoll_ctl(epfd, EPOLL_CTL_ADD, s->fd, &ev);
  if (connect(s->fd, (struct sockaddr *)&addr, sizeof addr) != 0 && errno != EINPROGRESS) {
    slot_fail(s, 0);
  }
}

// Parses the response head once complete; returns 1 when done, 0 for more, -1 on error.
static int parse_head(struct Slot *s) {
  char *end = memmem(s->buf, s->head_len, "\r\n\r\n", 4);
  if (!end) return s->head_len >= sizeof s->buf ? -1 : 0;
  size_t hl = (size_t)(end - s->buf) + 4;
  if (s->head_len < 12 || memcmp(s->buf, "HTTP/1.", 7) != 0) return -1;
  s->status = strtol(s->buf + 9, NULL, 10);
  for (char *p = s->buf; p < end; ) {
    char *eol = memmem(p, (size_t)(end - p) + 2, "\r\n", 2);
    if (!eol) break;
    if ((size_t)(eol - p) > 15 && strncasecmp(p, "content-length:", 15) == 0) {
      s->content_length = strtoll(p + 15, NULL, 10);
    }
    p = eol + 2;
  }
  s->body_read = (long long)(s->head_len - hl);
  s->head_done = 1;
  return 1;
}

static void finish(struct Slot *s) {
  // A clean end: mark the connection shut down, or SSL_free() would treat it as broken and mark
  // its session (our ticket) as not resumable.
  SSL_set_shutdown(s->ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
  if (s->status == 200 && (s->content_length < 0 || s->body_read == s->content_length)) stats.ok++;
  else if (s->status != 200) stats.bad_status++;
  else stats.short_body++;
  slot_close(s);
}

static void drive(struct Slot *s) {
  for (;;) {
    switch (s->state) {
      case IDLE: return;
      case CONNECTING: {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err == EINPROGRESS) return;
        if (err != 0) { slot_fail(s, 0); return; }
        s->state = HANDSHAKE;
        break;
      }
      case HANDSHAKE: {
        int r = SSL_do_handshake(s->ssl);
        if (r == 1) {
          stats.handshakes++;
          if (SSL_session_reused(s->ssl)) stats.resumed++; else stats.full++;
          s->state = WRITING;
          break;
        }
        int e = SSL_get_error(s->ssl, r);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return;
        ERR_clear_error();
        slot_fail(s, 0);
        return;
      }
      case WRITING: {
        int r = SSL_write(s->ssl, request + s->req_off, (int)(request_len - s->req_off));
        if (r > 0) {
          s->req_off += (size_t)r;
          if (s->req_off == request_len) s->state = READING;
          break;
        }
        int e = SSL_get_error(s->ssl, r);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return;
        ERR_clear_error();
        slot_fail(s, 0);
        return;
      }
      case READING: {
        char tmp[16384];
        char *dst = s->head_done ? tmp : s->buf + s->head_len;
        int cap = s->head_done ? (int)sizeof tmp : (int)(sizeof s->buf - s->head_len);
        int r = SSL_read(s->ssl, dst, cap);
        if (r > 0) {
          stats.bytes += r;
          if (s->head_done) {
            s->body_read += r;
          } else {
            s->head_len += (size_t)r;
            int p = parse_head(s);
            if (p < 0) { slot_fail(s, 0); return; }
          }
          break;
        }
        int e = SSL_get_error(s->ssl, r);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return;
        ERR_clear_error();
        // EOF (close_notify or a plain FIN after the body): the response is over.
        if (s->head_done) finish(s); else slot_fail(s, 0);
        return;
      }
    }
  }
}

int main(int argc, char **argv) {
  const char *ip = "127.0.0.1";
  int port = 443, conc = 16;
  double seconds = 10;
  int opt;
  while ((opt = getopt(argc, argv, "a:p:c:d:rH:P:")) != -1) {
    switch (opt) {
      case 'a': ip = optarg; break;
      case 'p': port = atoi(optarg); break;
      case 'c': conc = atoi(optarg); break;
      case 'd': seconds = atof(optarg); break;
      case 'r': resume = 1; break;
      case 'H': host = optarg; break;
      case 'P': path = optarg; break;
      default:
        fprintf(stderr, "usage: tlsload [-a IP] -p PORT [-c CONNS] [-d SECONDS] [-r] [-H HOST] [-P PATH]\n");
        return 64;
    }
  }
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_port = htons((uint16_t)port);
  inet_pton(AF_INET, ip, &addr.sin_addr);
  request_len = (size_t)snprintf(request, sizeof request,
                                 "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: tlsload\r\n"
                                 "Connection: close\r\n\r\n", path, host);

  ctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
  slot_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
  if (resume) {
    // TLS 1.3 tickets arrive after the handshake; the new-session callback is the way to get
    // them (the session cache must be in client mode for it to be called).
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(ctx, new_session_cb);
  } else {
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
  }

  epfd = epoll_create1(EPOLL_CLOEXEC);
  struct Slot *slots = calloc((size_t)conc, sizeof *slots);
  for (int i = 0; i < conc; i++) { slots[i].fd = -1; slots[i].state = IDLE; }

  double start = now(), end = start + seconds, last_sweep = start;
  struct epoll_event evs[256];
  for (;;) {
    double t = now();
    if (t >= end) break;
    for (int i = 0; i < conc; i++) {
      if (slots[i].state == IDLE) { slot_start(&slots[i]); drive(&slots[i]); }
    }
    int n = epoll_wait(epfd, evs, 256, 10);
    for (int i = 0; i < n; i++) drive((struct Slot *)evs[i].data.ptr);
    if (t - last_sweep > 0.5) {
      last_sweep = t;
      for (int i = 0; i < conc; i++)
        if (slots[i].state != IDLE && slots[i].deadline < t) slot_fail(&slots[i], 1);
    }
  }
  double elapsed = now() - start;
  printf("{\"mode\":\"%s\",\"seconds\":%.3f,\"connections\":%ld,\"handshakes\":%ld,\"full\":%ld,"
         "\"resumed\":%ld,\"ok\":%ld,\"bad_status\":%ld,\"short_body\":%ld,\"errors\":%ld,"
         "\"timeouts\":%ld,\"bytes\":%lld,\"ok_per_sec\":%.1f,\"resumed_per_sec\":%.1f}\n",
         resume ? "resume" : "full", elapsed, stats.connections, stats.handshakes, stats.full,
         stats.resumed, stats.ok, stats.bad_status, stats.short_body, stats.errors,
         stats.timeouts, stats.bytes, stats.ok / elapsed, stats.resumed / elapsed);
  return 0;
}
