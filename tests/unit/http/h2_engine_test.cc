// H2Engine against a real nghttp2 client session in memory: the test shuttles the bytes both
// ways. Floods and malformed frames the client library would never send are written raw.
#include "http/h2_engine.h"

#include <gtest/gtest.h>
#include <nghttp2/nghttp2.h>

#include <deque>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace portcullis::http {
namespace {

using Fields = std::vector<std::pair<std::string, std::string>>;

// --- The codec's side: records every event.
struct Recorder : H2Observer {
  struct Req {
    int32_t id = 0;
    std::string method, scheme, authority, path, protocol;
    Method kind = Method::Other;
    Fields headers;
    bool has_cl = false;
    uint64_t cl = 0;
    bool end = false;
  };
  std::vector<Req> requests;
  std::map<int32_t, std::string> body;
  std::map<int32_t, bool> ended;
  std::vector<std::pair<int32_t, uint32_t>> resets;
  std::vector<int32_t> closed, drained;
  int goaways = 0;
  std::function<void(int32_t)> on_request;  // e.g. answer at once

  void onRequest(int32_t id, const H2Request& r) override {
    Req q;
    q.id = id;
    q.method = r.method;
    q.kind = r.method_kind;
    q.scheme = r.scheme;
    q.authority = r.authority;
    q.path = r.path;
    q.protocol = r.protocol;
    for (const Header& h : r.headers) q.headers.emplace_back(h.name, h.value);
    q.has_cl = r.has_content_length;
    q.cl = r.content_length;
    q.end = r.end_stream;
    requests.push_back(q);
    if (on_request) on_request(id);
  }
  void onData(int32_t id, std::string_view d, bool end) override {
    body[id].append(d);
    if (end) ended[id] = true;
  }
  void onStreamReset(int32_t id, uint32_t code) override { resets.emplace_back(id, code); }
  void onStreamClosed(int32_t id) override { closed.push_back(id); }
  void onStreamDrained(int32_t id) override { drained.push_back(id); }
  void onGoaway(uint32_t, int32_t) override { ++goaways; }
};

// --- The browser's side: a real nghttp2 client session.
struct Client {
  struct Resp {
    std::vector<int> statuses;
    Fields headers;
    std::string body;
    bool closed = false;
    uint32_t close_code = 0;
    bool rst = false;
    uint32_t rst_code = 0;
  };
  nghttp2_session* s = nullptr;
  std::string to_server;
  std::map<int32_t, Resp> resp;
  std::map<int32_t, std::string> upload;
  std::deque<std::string> strings;  // header bytes kept until sent (NO_COPY keeps names as given)
  bool goaway = false;
  uint32_t goaway_code = 0;
  int32_t goaway_last = -1;

  explicit Client(uint32_t initial_window = 0, bool auto_window = true) {
    nghttp2_session_callbacks* cb;
    nghttp2_session_callbacks_new(&cb);
    nghttp2_session_callbacks_set_send_callback(
        cb, [](nghttp2_session*, const uint8_t* d, size_t n, int, void* u) -> ssize_t {
          static_cast<Client*>(u)->to_server.append(reinterpret_cast<const char*>(d), n);
          return static_cast<ssize_t>(n);
        });
    nghttp2_session_callbacks_set_on_header_callback(
        cb, [](nghttp2_session*, const nghttp2_frame* f, const uint8_t* name, size_t nl,
               const uint8_t* value, size_t vl, uint8_t, void* u) {
          auto& r = static_cast<Client*>(u)->resp[f->hd.stream_id];
          std::string n(reinterpret_cast<const char*>(name), nl);
          std::string v(reinterpret_cast<const char*>(value), vl);
          if (n == ":status") r.statuses.push_back(std::stoi(v));
          else r.headers.emplace_back(n, v);
          return 0;
        });
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(
        cb, [](nghttp2_session*, uint8_t, int32_t id, const uint8_t* d, size_t n, void* u) {
          static_cast<Client*>(u)->resp[id].body.append(reinterpret_cast<const char*>(d), n);
          return 0;
        });
    nghttp2_session_callbacks_set_on_frame_recv_callback(
        cb, [](nghttp2_session*, const nghttp2_frame* f, void* u) {
          auto* c = static_cast<Client*>(u);
          if (f->hd.type == NGHTTP2_RST_STREAM) {
            c->resp[f->hd.stream_id].rst = true;
            c->resp[f->hd.stream_id].rst_code = f->rst_stream.error_code;
          } else if (f->hd.type == NGHTTP2_GOAWAY) {
            c->goaway = true;
            c->goaway_code = f->goaway.error_code;
            c->goaway_last = f->goaway.last_stream_id;
          }
          return 0;
        });
    nghttp2_session_callbacks_set_on_stream_close_callback(
        cb, [](nghttp2_session*, int32_t id, uint32_t code, void* u) {
          auto& r = static_cast<Client*>(u)->resp[id];
          r.closed = true;
          r.close_code = code;
          return 0;
        });
    nghttp2_option* opt;
    nghttp2_option_new(&opt);
    if (!auto_window) nghttp2_option_set_no_auto_window_update(opt, 1);
    nghttp2_session_client_new2(&s, cb, this, opt);
    nghttp2_option_del(opt);
    nghttp2_session_callbacks_del(cb);
    std::vector<nghttp2_settings_entry> iv;
    if (initial_window) iv.push_back({NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, initial_window});
    nghttp2_submit_settings(s, NGHTTP2_FLAG_NONE, iv.data(), iv.size());
  }
  ~Client() { nghttp2_session_del(s); }

  nghttp2_nv nv(const std::string& n, const std::string& v) {
    strings.push_back(n);
    const std::string& ns = strings.back();
    strings.push_back(v);
    const std::string& vs = strings.back();
    return {reinterpret_cast<uint8_t*>(const_cast<char*>(ns.data())),
            reinterpret_cast<uint8_t*>(const_cast<char*>(vs.data())), ns.size(), vs.size(),
            NGHTTP2_NV_FLAG_NO_COPY_NAME | NGHTTP2_NV_FLAG_NO_COPY_VALUE};
  }
  // A request with exactly these fields, in this order; a body when `body` is not null.
  int32_t request(const Fields& fields, const std::string* body = nullptr) {
    std::vector<nghttp2_nv> nva;
    for (auto& [n, v] : fields) nva.push_back(nv(n, v));
    nghttp2_data_provider prd;
    prd.source.ptr = this;
    prd.read_callback = [](nghttp2_session*, int32_t id, uint8_t* buf, size_t len,
                           uint32_t* flags, nghttp2_data_source* src, void*) -> ssize_t {
      std::string& b = static_cast<Client*>(src->ptr)->upload[id];
      size_t n = std::min(len, b.size());
      memcpy(buf, b.data(), n);
      b.erase(0, n);
      if (b.empty()) *flags |= NGHTTP2_DATA_FLAG_EOF;
      return static_cast<ssize_t>(n);
    };
    int32_t id = nghttp2_submit_request(s, nullptr, nva.data(), nva.size(), body ? &prd : nullptr,
                                        nullptr);
    if (body) upload[id] = *body;
    return id;
  }
  int32_t get(const std::string& path = "/", Fields extra = {}) {
    Fields f = {{":method", "GET"}, {":scheme", "https"}, {":authority", "example.com"},
                {":path", path}};
    for (auto& e : extra) f.push_back(e);
    return request(f);
  }
};

Fields baseGet() {
  return {{":method", "GET"}, {":scheme", "https"}, {":authority", "example.com"}, {":path", "/"}};
}

// --- Raw frames, for what no client library sends.
std::string frame(uint8_t type, uint8_t flags, int32_t stream, std::string_view payload) {
  std::string f;
  size_t n = payload.size();
  f += char(n >> 16);
  f += char(n >> 8);
  f += char(n);
  f += char(type);
  f += char(flags);
  f += char(stream >> 24);
  f += char(stream >> 16);
  f += char(stream >> 8);
  f += char(stream);
  f.append(payload);
  return f;
}
std::string hpack(const Fields& fields) {
  nghttp2_hd_deflater* d;
  nghttp2_hd_deflate_new(&d, 0);  // no dynamic table: every block decodes on its own
  std::vector<nghttp2_nv> nva;
  for (auto& [n, v] : fields)
    nva.push_back({reinterpret_cast<uint8_t*>(const_cast<char*>(n.data())),
                   reinterpret_cast<uint8_t*>(const_cast<char*>(v.data())), n.size(), v.size(),
                   NGHTTP2_NV_FLAG_NONE});
  std::string out(nghttp2_hd_deflate_bound(d, nva.data(), nva.size()), '\0');
  ssize_t n = nghttp2_hd_deflate_hd(d, reinterpret_cast<uint8_t*>(out.data()), out.size(),
                                    nva.data(), nva.size());
  nghttp2_hd_deflate_del(d);
  out.resize(static_cast<size_t>(n));
  return out;
}
std::string headersFrame(int32_t id, const Fields& f, uint8_t flags) {
  return frame(NGHTTP2_HEADERS, flags, id, hpack(f));
}

std::string preface() {
  return std::string(NGHTTP2_CLIENT_MAGIC, NGHTTP2_CLIENT_MAGIC_LEN) +
         frame(NGHTTP2_SETTINGS, 0, 0, "");
}
struct Frame {
  uint8_t type, flags;
  int32_t stream;
  std::string payload;
};
std::vector<Frame> parseFrames(std::string_view b) {
  std::vector<Frame> out;
  while (b.size() >= 9) {
    auto u = [&](size_t i) { return static_cast<uint8_t>(b[i]); };
    size_t n = (size_t(u(0)) << 16) | (size_t(u(1)) << 8) | u(2);
    if (b.size() < 9 + n) break;
    int32_t id = int32_t(((u(5) & 0x7f) << 24) | (u(6) << 16) | (u(7) << 8) | u(8));
    out.push_back({u(3), u(4), id, std::string(b.substr(9, n))});
    b.remove_prefix(9 + n);
  }
  return out;
}
uint32_t be32(std::string_view p) {
  return (uint32_t(uint8_t(p[0])) << 24) | (uint32_t(uint8_t(p[1])) << 16) |
         (uint32_t(uint8_t(p[2])) << 8) | uint8_t(p[3]);
}
// The GOAWAY error code in `out`, or -1 if there is none.
int64_t goawayCode(std::string_view out) {
  for (const Frame& f : parseFrames(out))
    if (f.type == NGHTTP2_GOAWAY) return be32(std::string_view(f.payload).substr(4));
  return -1;
}

// --- An engine and a client wired together.
struct Pair {
  Recorder rec;
  H2Engine eng;
  Client cli;
  uint64_t now = 0;
  std::string last_error;

  explicit Pair(const H2Settings& s = {}, uint32_t client_window = 0, bool client_auto = true)
      : eng(make(s, rec)), cli(client_window, client_auto) {}
  static H2Engine make(const H2Settings& s, Recorder& r) {
    auto e = H2Engine::forServer(s, r);
    EXPECT_TRUE(e.ok());
    return std::move(e.value());
  }
  // Moves bytes both ways until neither side has anything to say. False: the engine failed.
  bool pump() {
    for (int i = 0; i < 10000; ++i) {
      bool moved = false;
      base::Buffer out;
      if (eng.output(out) > 0) {
        moved = true;
        nghttp2_session_mem_recv(cli.s, reinterpret_cast<const uint8_t*>(out.data()), out.size());
      }
      nghttp2_session_send(cli.s);
      if (!cli.to_server.empty()) {
        moved = true;
        std::string b;
        b.swap(cli.to_server);
        auto r = eng.feed(b, now);
        if (!r.ok()) {
          last_error = r.error().message;
          base::Buffer last;
          eng.output(last);
          nghttp2_session_mem_recv(cli.s, reinterpret_cast<const uint8_t*>(last.data()),
                                   last.size());
          return false;
        }
      }
      if (!moved) return true;
    }
    return true;
  }
};

HeaderList fieldsOf(std::initializer_list<std::pair<std::string_view, std::string_view>> l) {
  HeaderList h;
  for (auto& [n, v] : l) h.add(n, v);
  return h;
}

std::string findHeader(const Fields& f, const std::string& name) {
  for (auto& [n, v] : f)
    if (n == name) return v;
  return "<none>";
}

TEST(H2Engine, SettingsAndConnectionWindowGoFirst) {
  Recorder rec;
  H2Settings s;
  auto e = H2Engine::forServer(s, rec);
  ASSERT_TRUE(e.ok());
  base::Buffer out;
  e->output(out);
  auto frames = parseFrames(out.view());
  ASSERT_GE(frames.size(), 2u);
  EXPECT_EQ(frames[0].type, NGHTTP2_SETTINGS);
  bool saw_window = false;
  for (auto& f : frames)
    if (f.type == NGHTTP2_WINDOW_UPDATE && f.stream == 0) {
      saw_window = true;
      EXPECT_EQ(be32(f.payload), s.connection_window_size - 65535);
    }
  EXPECT_TRUE(saw_window);
}

TEST(H2Engine, GetRoundTrip) {
  Pair p;
  int32_t id = p.cli.get("/x?y=1", {{"accept", "text/html"}});
  ASSERT_TRUE(p.pump());
  ASSERT_EQ(p.rec.requests.size(), 1u);
  const auto& r = p.rec.requests[0];
  EXPECT_EQ(r.id, id);
  EXPECT_EQ(r.method, "GET");
  EXPECT_EQ(r.kind, Method::Get);
  EXPECT_EQ(r.scheme, "https");
  EXPECT_EQ(r.authority, "example.com");
  EXPECT_EQ(r.path, "/x?y=1");
  EXPECT_TRUE(r.end);
  EXPECT_EQ(findHeader(r.headers, "accept"), "text/html");
  EXPECT_EQ(p.eng.openStreams(), 1u);

  // Names lowercased, hop-by-hop fields dropped.
  HeaderList h = fieldsOf({{"Content-Type", "text/plain"}, {"Connection", "close"},
                           {"Transfer-Encoding", "chunked"}, {"X-App", "1"}});
  ASSERT_TRUE(p.eng.submitResponse(id, 200, h, false).ok());
  ASSERT_TRUE(p.eng.submitData(id, "hello", true).ok());
  ASSERT_TRUE(p.pump());
  auto& resp = p.cli.resp[id];
  EXPECT_EQ(resp.statuses, std::vector<int>{200});
  EXPECT_EQ(findHeader(resp.headers, "content-type"), "text/plain");
  EXPECT_EQ(findHeader(resp.headers, "x-app"), "1");
  EXPECT_EQ(findHeader(resp.headers, "connection"), "<none>");
  EXPECT_EQ(findHeader(resp.headers, "transfer-encoding"), "<none>");
  EXPECT_EQ(resp.body, "hello");
  EXPECT_TRUE(resp.closed);
  EXPECT_EQ(resp.close_code, 0u);
  EXPECT_EQ(p.rec.closed, std::vector<int32_t>{id});
  EXPECT_TRUE(p.rec.resets.empty());
  EXPECT_EQ(p.eng.openStreams(), 0u);
}

TEST(H2Engine, ReleasingIdleMemoryKeepsTheConnectionWorking) {
  Pair p;
  int32_t a = p.cli.get("/a", {{"x-big", std::string(3000, 'v')}});
  ASSERT_TRUE(p.pump());
  p.eng.releaseIdleMemory();  // a stream is open: nothing may go
  ASSERT_TRUE(p.eng.submitResponse(a, 200, {}, false).ok());
  ASSERT_TRUE(p.eng.submitData(a, "one", true).ok());
  ASSERT_TRUE(p.pump());
  EXPECT_EQ(p.cli.resp[a].body, "one");
  p.eng.releaseIdleMemory();
  int32_t b = p.cli.get("/b", {{"x-big", std::string(3000, 'w')}});  // HPACK state survives
  ASSERT_TRUE(p.pump());
  ASSERT_EQ(p.rec.requests.size(), 2u);
  EXPECT_EQ(findHeader(p.rec.requests[1].headers, "x-big"), std::string(3000, 'w'));
  ASSERT_TRUE(p.eng.submitResponse(b, 200, {}, false).ok());
  ASSERT_TRUE(p.eng.submitData(b, "two", true).ok());
  ASSERT_TRUE(p.pump());
  EXPECT_EQ(p.cli.resp[b].body, "two");
}

TEST(H2Engine, NeutralResponseWithKnownLengthAndInformational) {
  Pair p;
  int32_t id = p.cli.get();
  ASSERT_TRUE(p.pump());
  ASSERT_TRUE(p.eng.submitResponse(id, 103, fieldsOf({{"link", "</a.css>"}}), false).ok());
  EXPECT_FALSE(p.eng.submitResponse(id, 101, {}, false).ok());
  Response r;
  r.status = 200;
  r.headers.add("x-a", "b");
  r.body = BodySize::Known;
  r.length = 3;
  ASSERT_TRUE(p.eng.submitResponse(id, r).ok());
  ASSERT_TRUE(p.eng.submitData(id, "abc", true).ok());
  ASSERT_TRUE(p.pump());
  auto& resp = p.cli.resp[id];
  EXPECT_EQ(resp.statuses, (std::vector<int>{103, 200}));
  EXPECT_EQ(findHeader(resp.headers, "content-length"), "3");
  EXPECT_EQ(resp.body, "abc");
  EXPECT_TRUE(resp.closed);
}

TEST(H2Engine, PostBodyWindowOpensOnlyOnConsume) {
  H2Settings s;
  s.initial_window_size = 64 * 1024;
  Pair p(s);
  std::string body(300 * 1024, 'b');
  for (size_t i = 0; i < body.size(); ++i) body[i] = char('a' + i % 26);
  int32_t id = p.cli.request({{":method", "POST"}, {":scheme", "https"},
                              {":authority", "example.com"}, {":path", "/up"},
                              {"content-length", std::to_string(body.size())}},
                             &body);
  ASSERT_TRUE(p.pump());
  ASSERT_EQ(p.rec.requests.size(), 1u);
  EXPECT_TRUE(p.rec.requests[0].has_cl);
  EXPECT_EQ(p.rec.requests[0].cl, body.size());
  EXPECT_FALSE(p.rec.requests[0].end);
  // The client stops at the stream window: nothing was consumed yet.
  EXPECT_EQ(p.rec.body[id].size(), s.initial_window_size);
  ASSERT_TRUE(p.pump());
  EXPECT_EQ(p.rec.body[id].size(), s.initial_window_size);
  for (int round = 0; round < 100 && !p.rec.ended[id]; ++round) {
    size_t before = p.rec.body[id].size();
    p.eng.consume(id, before);  // more than delivered since the last call: clamped
    ASSERT_TRUE(p.pump());
    EXPECT_GT(p.rec.body[id].size(), before);
  }
  EXPECT_TRUE(p.rec.ended[id]);
  EXPECT_EQ(p.rec.body[id], body);
}

TEST(H2Engine, ResponseLargerThanClientWindowIsPaced) {
  // The client's stream window is 16 KiB and it opens it only when the test says so.
  Pair p({}, 16384, false);
  int32_t id = p.cli.get();
  ASSERT_TRUE(p.pump());
  std::string big(100 * 1000, 'z');
  ASSERT_TRUE(p.eng.submitResponse(id, 200, {}, false).ok());
  ASSERT_TRUE(p.eng.submitData(id, big, false).ok());
  EXPECT_EQ(p.eng.queuedBytes(id), big.size());
  ASSERT_TRUE(p.pump());
  EXPECT_EQ(p.cli.resp[id].body.size(), 16384u);
  EXPECT_EQ(p.eng.queuedBytes(id), big.size() - 16384);
  EXPECT_TRUE(p.rec.drained.empty());
  while (p.cli.resp[id].body.size() < big.size()) {
    size_t got = p.cli.resp[id].body.size();
    nghttp2_session_consume(p.cli.s, id, 16384);
    ASSERT_TRUE(p.pump());
    ASSERT_GT(p.cli.resp[id].body.size(), got);
  }
  EXPECT_EQ(p.eng.queuedBytes(id), 0u);
  EXPECT_EQ(p.rec.drained, std::vector<int32_t>{id});
  EXPECT_FALSE(p.cli.resp[id].closed);
  ASSERT_TRUE(p.eng.submitData(id, "", true).ok());
  ASSERT_TRUE(p.pump());
  EXPECT_TRUE(p.cli.resp[id].closed);
  EXPECT_EQ(p.cli.resp[id].body, big);
  EXPECT_EQ(p.rec.closed, std::vector<int32_t>{id});
}

TEST(H2Engine, CookiesJoinedAndHostStandsInForAuthority) {
  Pair p;
  p.cli.request({{":method", "GET"}, {":scheme", "https"}, {":path", "/"}, {"host", "h.example"},
                 {"cookie", "a=1"}, {"x", "y"}, {"cookie", "b=2"}});
  ASSERT_TRUE(p.pump());
  ASSERT_EQ(p.rec.requests.size(), 1u);
  const auto& r = p.rec.requests[0];
  EXPECT_EQ(r.authority, "h.example");
  EXPECT_EQ(r.headers, (Fields{{"cookie", "a=1; b=2"}, {"x", "y"}}));
}

TEST(H2Engine, TeTrailersAccepted) {
  Pair p;
  p.cli.get("/", {{"te", "trailers"}});
  ASSERT_TRUE(p.pump());
  EXPECT_EQ(p.rec.requests.size(), 1u);
}

// Every malformed request is a stream error: RST_STREAM PROTOCOL_ERROR, the codec never hears
// of it, and the connection carries on.
TEST(H2Engine, MalformedRequestsAreStreamErrors) {
  struct Case {
    const char* what;
    Fields fields;
  };
  Fields g = baseGet();
  std::vector<Case> cases = {
      {"no :method", {{":scheme", "https"}, {":authority", "a"}, {":path", "/"}}},
      {"no :scheme", {{":method", "GET"}, {":authority", "a"}, {":path", "/"}}},
      {"no :path", {{":method", "GET"}, {":scheme", "https"}, {":authority", "a"}}},
      {"empty :path", {{":method", "GET"}, {":scheme", "https"}, {":authority", "a"}, {":path", ""}}},
      {"two :path", {{":method", "GET"}, {":scheme", "https"}, {":authority", "a"}, {":path", "/"}, {":path", "/b"}}},
      {"two :method", {{":method", "GET"}, {":method", "GET"}, {":scheme", "https"}, {":authority", "a"}, {":path", "/"}}},
      {"unknown pseudo", {{":method", "GET"}, {":scheme", "https"}, {":authority", "a"}, {":path", "/"}, {":foo", "x"}}},
      {"pseudo after regular", {{":method", "GET"}, {":scheme", "https"}, {"x", "y"}, {":authority", "a"}, {":path", "/"}}},
      {"uppercase name", {{":method", "GET"}, {":scheme", "https"}, {":authority", "a"}, {":path", "/"}, {"X-Up", "1"}}},
      {"connection", {{":method", "GET"}, {":scheme", "https"}, {":authority", "a"}, {":path", "/"}, {"connection", "close"}}},
      {"keep-alive", {{":method", "GET"}, {":scheme", "https"}, {":authority", "a"}, {":path", "/"}, {"keep-alive", "1"}}},
      {"proxy-connection", {{":method", "GET"}, {":scheme", "https"}, {":authority", "a"}, {":path", "/"}, {"proxy-connection", "x"}}},
      {"transfer-encoding", {{":method", "GET"}, {":scheme", "https"}, {":authority", "a"}, {":path", "/"}, {"transfer-encoding", "chunked"}}},
      {"upgrade", {{":method", "GET"}, {":scheme", "https"}, {":authority", "a"}, {":path", "/"}, {"upgrade", "websocket"}}},
      {"te gzip", {{":method", "GET"}, {":scheme", "https"}, {":authority", "a"}, {":path", "/"}, {"te", "gzip"}}},
      {"no authority nor host", {{":method", "GET"}, {":scheme", "https"}, {":path", "/"}}},
      {"host differs from :authority", {{":method", "GET"}, {":scheme", "https"}, {":authority", "a"}, {":path", "/"}, {"host", "b"}}},
      {"control char in value", {{":method", "GET"}, {":scheme", "https"}, {":authority", "a"}, {":path", "/"}, {"x", "a\x01" "b"}}},
      {"bad name char", {{":method", "GET"}, {":scheme", "https"}, {":authority", "a"}, {":path", "/"}, {"x y", "1"}}},
      {"bad content-length", {{":method", "GET"}, {":scheme", "https"}, {":authority", "a"}, {":path", "/"}, {"content-length", "1x"}}},
      {"two content-length", {{":method", "GET"}, {":scheme", "https"}, {":authority", "a"}, {":path", "/"}, {"content-length", "0"}, {"content-length", "0"}}},
      {":protocol not enabled", {{":method", "CONNECT"}, {":protocol", "websocket"}, {":scheme", "https"}, {":authority", "a"}, {":path", "/"}}},
      {"CONNECT with :path", {{":method", "CONNECT"}, {":authority", "a:443"}, {":path", "/"}}},
      {"relative :path", {{":method", "GET"}, {":scheme", "https"}, {":authority", "a"}, {":path", "x"}}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    Pair p;
    int32_t bad = p.cli.request(c.fields);
    ASSERT_TRUE(p.pump()) << p.last_error;
    EXPECT_TRUE(p.rec.requests.empty());
    EXPECT_TRUE(p.cli.resp[bad].rst);
    EXPECT_EQ(p.cli.resp[bad].rst_code, uint32_t{NGHTTP2_PROTOCOL_ERROR});
    EXPECT_TRUE(p.rec.closed.empty());
    int32_t good = p.cli.get();
    ASSERT_TRUE(p.pump());
    ASSERT_EQ(p.rec.requests.size(), 1u);
    EXPECT_EQ(p.rec.requests[0].id, good);
    EXPECT_EQ(p.eng.openStreams(), 1u);
  }
}

TEST(H2Engine, ExtendedConnectReportedWhenEnabled) {
  H2Settings s;
  s.enable_connect_protocol = true;
  Pair p(s);
  ASSERT_TRUE(p.pump());  // the client must have our SETTINGS before it may use :protocol
  std::string tunnel_bytes = "hi";
  p.cli.request({{":method", "CONNECT"}, {":protocol", "websocket"}, {":scheme", "https"},
                 {":authority", "a"}, {":path", "/chat"}, {"sec-websocket-version", "13"}},
                &tunnel_bytes);
  ASSERT_TRUE(p.pump());
  ASSERT_EQ(p.rec.requests.size(), 1u);
  EXPECT_EQ(p.rec.requests[0].kind, Method::Connect);
  EXPECT_EQ(p.rec.requests[0].protocol, "websocket");
  EXPECT_EQ(p.rec.requests[0].path, "/chat");
  EXPECT_FALSE(p.rec.requests[0].end);
}

TEST(H2Engine, HeaderListOverLimitAnswered431) {
  H2Settings s;
  s.max_header_list_size = 1024;
  Pair p(s);
  int32_t id = p.cli.get("/", {{"x-big", std::string(2000, 'v')}});
  ASSERT_TRUE(p.pump());
  EXPECT_TRUE(p.rec.requests.empty());
  EXPECT_EQ(p.cli.resp[id].statuses, std::vector<int>{431});
  EXPECT_TRUE(p.cli.resp[id].closed);
}

TEST(H2Engine, ContentLengthMismatchResetsTheStream) {
  for (size_t sent : {5u, 15u}) {
    SCOPED_TRACE(sent);
    Pair p;
    std::string body(sent, 'x');
    int32_t id = p.cli.request({{":method", "POST"}, {":scheme", "https"}, {":authority", "a"},
                                {":path", "/"}, {"content-length", "10"}},
                               &body);
    ASSERT_TRUE(p.pump());
    ASSERT_EQ(p.rec.requests.size(), 1u);
    EXPECT_EQ(p.cli.resp[id].rst_code, uint32_t{NGHTTP2_PROTOCOL_ERROR});
    ASSERT_EQ(p.rec.resets.size(), 1u);
    EXPECT_EQ(p.rec.resets[0], std::make_pair(id, uint32_t{NGHTTP2_PROTOCOL_ERROR}));
    EXPECT_EQ(p.rec.closed, std::vector<int32_t>{id});
    EXPECT_FALSE(p.rec.ended[id]);
    EXPECT_EQ(p.eng.openStreams(), 0u);
  }
}

TEST(H2Engine, ClientResetReported) {
  Pair p;
  int32_t id = p.cli.get();
  ASSERT_TRUE(p.pump());
  nghttp2_submit_rst_stream(p.cli.s, NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL);
  ASSERT_TRUE(p.pump());
  ASSERT_EQ(p.rec.resets.size(), 1u);
  EXPECT_EQ(p.rec.resets[0], std::make_pair(id, uint32_t{NGHTTP2_CANCEL}));
  EXPECT_EQ(p.rec.closed, std::vector<int32_t>{id});
  EXPECT_FALSE(p.eng.submitResponse(id, 200, {}, true).ok());
}

TEST(H2Engine, ClientResetWithNoErrorIsStillAReset) {
  Pair p;
  int32_t id = p.cli.get();
  ASSERT_TRUE(p.pump());
  ASSERT_TRUE(p.eng.submitResponse(id, 200, {}, false).ok());
  ASSERT_TRUE(p.pump());
  nghttp2_submit_rst_stream(p.cli.s, NGHTTP2_FLAG_NONE, id, NGHTTP2_NO_ERROR);
  ASSERT_TRUE(p.pump());
  EXPECT_EQ(p.rec.resets, (std::vector<std::pair<int32_t, uint32_t>>{{id, 0}}));
  EXPECT_EQ(p.rec.closed, std::vector<int32_t>{id});
}

TEST(H2Engine, NoBodyBytesAfterTheCodecReset) {
  Pair p;
  std::string body(1000, 'x');
  Recorder& rec = p.rec;
  H2Engine& eng = p.eng;
  int32_t id = p.cli.request({{":method", "POST"}, {":scheme", "https"}, {":authority", "a"},
                              {":path", "/"}}, &body);
  // Reset while the head is being reported: the body in the same read must not follow.
  rec.on_request = [&](int32_t s) { eng.resetStream(s, H2Error::RefusedStream); };
  ASSERT_TRUE(p.pump());
  EXPECT_EQ(rec.body[id], "");
  EXPECT_FALSE(rec.ended[id]);
  EXPECT_EQ(p.cli.resp[id].rst_code, uint32_t{NGHTTP2_REFUSED_STREAM});
  EXPECT_EQ(rec.closed, std::vector<int32_t>{id});
}

TEST(H2Engine, ResetAfterResponseStopsAnUnreadBody) {
  // A 413 while the client is still uploading: the whole response first, then RST_STREAM
  // NO_ERROR (RFC 9113 §8.1), and no more body for the codec.
  H2Settings s;
  s.initial_window_size = 16 * 1024;
  Pair p(s);
  std::string body(200 * 1024, 'u');
  int32_t id = p.cli.request({{":method", "POST"}, {":scheme", "https"}, {":authority", "a"},
                              {":path", "/up"}}, &body);
  ASSERT_TRUE(p.pump());
  ASSERT_EQ(p.rec.requests.size(), 1u);
  size_t seen = p.rec.body[id].size();
  EXPECT_GT(seen, 0u);
  p.eng.resetAfterResponse(id);  // before the response: waits for its END_STREAM
  ASSERT_TRUE(p.eng.submitResponse(id, 413, fieldsOf({{"content-type", "text/plain"}}), false).ok());
  ASSERT_TRUE(p.eng.submitData(id, "too large", true).ok());
  ASSERT_TRUE(p.pump());
  auto& resp = p.cli.resp[id];
  EXPECT_EQ(resp.statuses, std::vector<int>{413});
  EXPECT_EQ(resp.body, "too large");
  EXPECT_TRUE(resp.rst);
  EXPECT_EQ(resp.rst_code, uint32_t{NGHTTP2_NO_ERROR});
  EXPECT_EQ(p.rec.body[id].size(), seen);  // nothing delivered after the reset
  EXPECT_TRUE(p.rec.resets.empty());       // ours, not the client's
  EXPECT_EQ(p.rec.closed, std::vector<int32_t>{id});
}

TEST(H2Engine, ResetAfterResponseNotNeededOnceTheBodyEnded) {
  Pair p;
  std::string body = "short";
  int32_t id = p.cli.request({{":method", "POST"}, {":scheme", "https"}, {":authority", "a"},
                              {":path", "/up"}}, &body);
  ASSERT_TRUE(p.pump());
  ASSERT_TRUE(p.eng.submitResponse(id, 200, {}, false).ok());
  ASSERT_TRUE(p.eng.submitData(id, "ok", true).ok());
  p.eng.resetAfterResponse(id);
  ASSERT_TRUE(p.pump());
  EXPECT_EQ(p.cli.resp[id].body, "ok");
  EXPECT_FALSE(p.cli.resp[id].rst);
  EXPECT_EQ(p.cli.resp[id].close_code, 0u);
}

TEST(H2Engine, DrainedCallbackMaySubmitMore) {
  // The codec refills from onStreamDrained; that output() call sends the refill too.
  struct Refill : Recorder {
    H2Engine* eng = nullptr;
    int left = 3;
    void onStreamDrained(int32_t id) override {
      Recorder::onStreamDrained(id);
      if (left-- > 0) {
        ASSERT_TRUE(eng->submitData(id, "more", left == 0).ok());
      }
    }
  };
  Refill rec;
  auto e = H2Engine::forServer({}, rec);
  ASSERT_TRUE(e.ok());
  rec.eng = &e.value();
  Client cli;
  auto shuttle = [&] {
    for (int i = 0; i < 20; ++i) {
      base::Buffer out;
      if (e->output(out)) nghttp2_session_mem_recv(cli.s, reinterpret_cast<const uint8_t*>(out.data()), out.size());
      nghttp2_session_send(cli.s);
      std::string b;
      b.swap(cli.to_server);
      ASSERT_TRUE(e->feed(b, 0).ok());
    }
  };
  int32_t id = cli.get();
  shuttle();
  ASSERT_TRUE(e->submitResponse(id, 200, {}, false).ok());
  ASSERT_TRUE(e->submitData(id, "first", false).ok());
  base::Buffer out;
  e->output(out);
  nghttp2_session_mem_recv(cli.s, reinterpret_cast<const uint8_t*>(out.data()), out.size());
  EXPECT_EQ(cli.resp[id].body, "firstmoremoremore");
  EXPECT_TRUE(cli.resp[id].closed);
}

TEST(H2Engine, CodecResetIsNotReportedBackAndGivesTheWindowBack) {
  H2Settings s;
  s.connection_window_size = 65535;
  s.initial_window_size = 65535;
  Pair p(s);
  std::string body(60000, 'q');
  int32_t id = p.cli.request({{":method", "POST"}, {":scheme", "https"}, {":authority", "a"},
                              {":path", "/"}}, &body);
  ASSERT_TRUE(p.pump());
  EXPECT_EQ(p.rec.body[id].size(), body.size());
  p.eng.resetStream(id, H2Error::Cancel);  // never consumed a byte
  ASSERT_TRUE(p.pump());
  EXPECT_EQ(p.cli.resp[id].rst_code, uint32_t{NGHTTP2_CANCEL});
  EXPECT_TRUE(p.rec.resets.empty());
  EXPECT_EQ(p.rec.closed, std::vector<int32_t>{id});
  // The connection window is whole again: another 60000 bytes fit.
  int32_t id2 = p.cli.request({{":method", "POST"}, {":scheme", "https"}, {":authority", "a"},
                               {":path", "/"}}, &body);
  ASSERT_TRUE(p.pump());
  EXPECT_EQ(p.rec.body[id2].size(), body.size());
}

TEST(H2Engine, GoawayCarriesTheLastStreamId) {
  Pair p;
  p.cli.get();
  int32_t second = p.cli.get();
  ASSERT_TRUE(p.pump());
  p.eng.shutdownNotice();
  ASSERT_TRUE(p.pump());
  EXPECT_TRUE(p.cli.goaway);
  EXPECT_EQ(p.cli.goaway_last, (1u << 31) - 1);
  p.eng.goaway();
  ASSERT_TRUE(p.pump());
  EXPECT_EQ(p.cli.goaway_code, 0u);
  EXPECT_EQ(p.cli.goaway_last, second);
  // Streams in flight still complete.
  ASSERT_TRUE(p.eng.submitResponse(second, 204, {}, true).ok());
  ASSERT_TRUE(p.pump());
  EXPECT_EQ(p.cli.resp[second].statuses, std::vector<int>{204});
}

TEST(H2Engine, ClientGoawayReported) {
  Pair p;
  ASSERT_TRUE(p.pump());
  nghttp2_submit_goaway(p.cli.s, NGHTTP2_FLAG_NONE, 0, NGHTTP2_NO_ERROR, nullptr, 0);
  ASSERT_TRUE(p.pump());
  EXPECT_EQ(p.rec.goaways, 1);
}

TEST(H2Engine, StreamsBeyondMaxConcurrentRefused) {
  H2Settings s;
  s.max_concurrent_streams = 2;
  Pair p(s);
  // Sent before the client has our SETTINGS: it still believes in 100 streams.
  p.cli.get();
  p.cli.get();
  int32_t third = p.cli.get();
  nghttp2_session_send(p.cli.s);
  std::string b;
  b.swap(p.cli.to_server);
  ASSERT_TRUE(p.eng.feed(b, 0).ok());
  ASSERT_TRUE(p.pump());
  EXPECT_EQ(p.rec.requests.size(), 2u);
  EXPECT_EQ(p.cli.resp[third].rst_code, uint32_t{NGHTTP2_REFUSED_STREAM});
}

TEST(H2Engine, StreamsBeyondAcknowledgedMaxConcurrentEndTheConnection) {
  // Once the client has acknowledged our limit, nghttp2 treats going over it as a connection
  // error (RFC 9113 §5.1.2 allows either).
  H2Settings s;
  s.max_concurrent_streams = 2;
  Recorder rec;
  H2Engine eng = Pair::make(s, rec);
  std::string in = preface() + frame(NGHTTP2_SETTINGS, NGHTTP2_FLAG_ACK, 0, "");
  for (int32_t id = 1; id <= 5; id += 2)
    in += headersFrame(id, baseGet(), NGHTTP2_FLAG_END_HEADERS | NGHTTP2_FLAG_END_STREAM);
  EXPECT_FALSE(eng.feed(in, 0).ok());
  base::Buffer out;
  eng.output(out);
  EXPECT_EQ(goawayCode(out.view()), NGHTTP2_PROTOCOL_ERROR);
  EXPECT_EQ(rec.requests.size(), 2u);
}

TEST(H2Engine, GarbagePrefaceIsAConnectionError) {
  Recorder rec;
  auto e = H2Engine::forServer({}, rec);
  ASSERT_TRUE(e.ok());
  base::Buffer out;
  e->output(out);
  auto r = e->feed("GET / HTTP/1.1\r\nHost: a\r\n\r\n", 0);
  ASSERT_FALSE(r.ok());
  out.clear();
  e->output(out);
  EXPECT_EQ(goawayCode(out.view()), NGHTTP2_PROTOCOL_ERROR);
  EXPECT_FALSE(e->wantsRead());
  EXPECT_FALSE(e->feed(preface(), 0).ok());  // stays failed
}

// --- Floods. Each ends in GOAWAY ENHANCE_YOUR_CALM with little output.
// RFC 9113 §5.1 and §5.1.1, which nghttp2 1.52 leaves to the application: a frame on a
// stream that is over is an error, unless it may have crossed a RST_STREAM of ours.
struct Raw {
  Recorder rec;
  H2Engine eng;
  Raw() : eng(Pair::make(H2Settings{}, rec)) {
    base::Buffer out;
    eng.output(out);
  }
  // Feeds `in`; the GOAWAY code in what came out (-1: none), and whether feed failed.
  int64_t feed(const std::string& in) {
    auto r = eng.feed(in, 0);
    failed = !r.ok();
    base::Buffer out;
    eng.output(out);
    return goawayCode(out.view());
  }
  bool failed = false;
};
const uint8_t kEndAll = NGHTTP2_FLAG_END_HEADERS | NGHTTP2_FLAG_END_STREAM;

TEST(H2EngineClosedStreams, DataAfterTheClientsOwnResetIsStreamClosed) {
  Raw r;
  std::string in = preface() + headersFrame(1, baseGet(), NGHTTP2_FLAG_END_HEADERS) +
                   frame(NGHTTP2_RST_STREAM, 0, 1, std::string("\0\0\0\x08", 4));
  EXPECT_EQ(r.feed(in), -1);
  EXPECT_EQ(r.feed(frame(NGHTTP2_DATA, 0, 1, "late")), NGHTTP2_STREAM_CLOSED);
  EXPECT_TRUE(r.failed);
}

TEST(H2EngineClosedStreams, DataAfterAResetInTheSameReadIsStreamClosed) {
  // The frames before the DATA must be processed before it is judged, whatever the reads.
  for (size_t piece : {size_t{1}, size_t{7}, size_t{4096}}) {
    Raw r;
    std::string in = preface() + headersFrame(1, baseGet(), NGHTTP2_FLAG_END_HEADERS) +
                     frame(NGHTTP2_RST_STREAM, 0, 1, std::string("\0\0\0\x08", 4)) +
                     frame(NGHTTP2_DATA, 0, 1, "late");
    int64_t code = -1;
    for (size_t i = 0; i < in.size() && !r.failed; i += piece) code = r.feed(in.substr(i, piece));
    EXPECT_EQ(code, NGHTTP2_STREAM_CLOSED) << "piece " << piece;
  }
}

TEST(H2EngineClosedStreams, PriorityOnItselfIsAProtocolError) {
  Raw r;
  EXPECT_EQ(r.feed(preface() + headersFrame(1, baseGet(), NGHTTP2_FLAG_END_HEADERS)), -1);
  EXPECT_EQ(r.feed(frame(NGHTTP2_PRIORITY, 0, 1, std::string("\0\0\0\x01\x10", 5))), NGHTTP2_PROTOCOL_ERROR);
}

TEST(H2EngineClosedStreams, PriorityOnAnotherStreamIsIgnored) {
  Raw r;
  EXPECT_EQ(r.feed(preface() + frame(NGHTTP2_PRIORITY, 0, 3, std::string("\0\0\0\x01\x10", 5)) +
                   headersFrame(1, baseGet(), kEndAll)), -1);
  EXPECT_FALSE(r.failed);
  EXPECT_EQ(r.rec.requests.size(), 1u);
}

TEST(H2EngineClosedStreams, HeadersOnAFinishedStreamIsAProtocolError) {
  Raw r;
  EXPECT_EQ(r.feed(preface() + headersFrame(1, baseGet(), kEndAll)), -1);
  ASSERT_TRUE(r.eng.submitResponse(1, 204, {}, true).ok());
  base::Buffer out;
  r.eng.output(out);  // the stream is closed both ways now
  EXPECT_EQ(r.feed(headersFrame(1, baseGet(), kEndAll)), NGHTTP2_PROTOCOL_ERROR);
}

TEST(H2EngineClosedStreams, AStreamIdBelowTheLastIsAProtocolError) {
  Raw r;
  EXPECT_EQ(r.feed(preface() + headersFrame(5, baseGet(), kEndAll)), -1);
  EXPECT_EQ(r.feed(headersFrame(3, baseGet(), kEndAll)), NGHTTP2_PROTOCOL_ERROR);
  EXPECT_EQ(r.rec.requests.size(), 1u);
}

TEST(H2EngineClosedStreams, FramesCrossingOurResetAreIgnored) {
  Raw r;
  EXPECT_EQ(r.feed(preface() + headersFrame(1, baseGet(), NGHTTP2_FLAG_END_HEADERS)), -1);
  r.eng.resetStream(1, H2Error::Cancel);
  base::Buffer out;
  r.eng.output(out);
  // The client sent these before it saw our RST_STREAM.
  EXPECT_EQ(r.feed(frame(NGHTTP2_DATA, 0, 1, "body") + frame(NGHTTP2_DATA, NGHTTP2_FLAG_END_STREAM, 1, "")), -1);
  EXPECT_FALSE(r.failed);
  EXPECT_EQ(r.feed(headersFrame(3, baseGet(), kEndAll)), -1);
  EXPECT_EQ(r.rec.requests.size(), 2u);
}

TEST(H2EngineClosedStreams, PriorityOnStreamZeroIsAProtocolError) {
  Raw r;
  EXPECT_EQ(r.feed(preface() + frame(NGHTTP2_PRIORITY, 0, 0, std::string("\0\0\0\x01\x10", 5))),
            NGHTTP2_PROTOCOL_ERROR);
}

struct Flood {
  Recorder rec;
  H2Engine eng;
  explicit Flood(const H2Settings& s) : eng(Pair::make(s, rec)) {
    base::Buffer out;
    eng.output(out);
  }
  // Feeds `bytes` in pieces of `piece`; returns the output after the failure ("" if none).
  std::string run(const std::string& bytes, size_t piece = 4096) {
    std::string all_out;
    for (size_t i = 0; i < bytes.size(); i += piece) {
      auto r = eng.feed(std::string_view(bytes).substr(i, piece), 0);
      base::Buffer out;
      eng.output(out);
      all_out.append(out.view());
      if (!r.ok()) {
        failed = true;
        return all_out;
      }
    }
    return all_out;
  }
  // Feeds `in` as run() does; the engine must end the connection with ENHANCE_YOUR_CALM.
  std::string expectCalm(const std::string& in, size_t piece = 4096) {
    std::string out = run(in, piece);
    EXPECT_TRUE(failed);
    EXPECT_EQ(goawayCode(out), NGHTTP2_ENHANCE_YOUR_CALM);
    EXPECT_FALSE(eng.wantsRead());
    return out;
  }
  bool failed = false;
};

TEST(H2EngineFlood, RapidReset) {
  H2Settings s;
  s.max_resets_per_window = 50;
  Flood f(s);
  std::string in = preface();
  std::string rst = std::string("\0\0\0\x08", 4);
  for (int32_t id = 1; id < 2 * 200; id += 2) {
    in += headersFrame(id, baseGet(), NGHTTP2_FLAG_END_HEADERS | NGHTTP2_FLAG_END_STREAM);
    in += frame(NGHTTP2_RST_STREAM, 0, id, rst);
  }
  std::string out = f.expectCalm(in);
  EXPECT_LE(f.rec.requests.size(), 60u);
  EXPECT_LT(out.size(), 64u * 1024);
}

TEST(H2EngineFlood, ServerProvokedResets) {
  // Malformed requests the engine resets count like the client's own resets.
  H2Settings s;
  s.max_resets_per_window = 50;
  Flood f(s);
  std::string in = preface();
  for (int32_t id = 1; id < 2 * 200; id += 2)
    in += headersFrame(id, {{":method", "GET"}, {":path", "/"}},
                       NGHTTP2_FLAG_END_HEADERS | NGHTTP2_FLAG_END_STREAM);
  f.expectCalm(in);
}

TEST(H2EngineFlood, ResetWindowRollsOver) {
  // The same resets spread over time are fine.
  H2Settings s;
  s.max_resets_per_window = 50;
  s.flood_window_ms = 1000;
  Flood f(s);
  ASSERT_TRUE(f.eng.feed(preface(), 0).ok());
  int32_t id = 1;
  std::string rst = std::string("\0\0\0\x08", 4);
  for (uint64_t sec = 0; sec < 10; ++sec) {
    std::string in;
    for (int i = 0; i < 40; ++i, id += 2) {
      in += headersFrame(id, baseGet(), NGHTTP2_FLAG_END_HEADERS | NGHTTP2_FLAG_END_STREAM);
      in += frame(NGHTTP2_RST_STREAM, 0, id, rst);
    }
    ASSERT_TRUE(f.eng.feed(in, sec * 1000).ok()) << sec;
    base::Buffer out;
    f.eng.output(out);
  }
}

TEST(H2EngineFlood, Continuation) {
  Flood f(H2Settings{});
  std::string block = hpack(baseGet());
  std::string in = preface() + frame(NGHTTP2_HEADERS, 0, 1, block.substr(0, 1));
  for (int i = 0; i < 100; ++i) in += frame(NGHTTP2_CONTINUATION, 0, 1, std::string(100, '\x40'));
  f.expectCalm(in);
  EXPECT_TRUE(f.rec.requests.empty());
}

TEST(H2EngineFlood, Ping) {
  H2Settings s;
  s.max_pings_per_window = 100;
  Flood f(s);
  std::string in = preface();
  for (int i = 0; i < 300; ++i) in += frame(NGHTTP2_PING, 0, 0, std::string(8, 'p'));
  // A few PINGs per feed: their ACKs do go out, so only our counter can stop them.
  std::string out = f.expectCalm(in, 170);
  EXPECT_LT(out.size(), 120u * 17 + 1024);  // at most max_pings ACKs went out
}

TEST(H2EngineFlood, PingAcksNotRead) {
  // nghttp2's max_outbound_ack: ACKs pile up within one feed.
  H2Settings s;
  s.max_pings_per_window = 100000;
  s.max_outbound_ack = 50;
  Flood f(s);
  std::string in = preface();
  for (int i = 0; i < 200; ++i) in += frame(NGHTTP2_PING, 0, 0, std::string(8, 'p'));
  f.expectCalm(in, in.size());
}

TEST(H2EngineFlood, Settings) {
  H2Settings s;
  s.max_settings_per_window = 20;
  Flood f(s);
  std::string in = preface();
  for (int i = 0; i < 100; ++i) in += frame(NGHTTP2_SETTINGS, 0, 0, "");
  f.expectCalm(in, 90);
}

TEST(H2EngineFlood, SettingsEntries) {
  H2Settings s;
  s.max_settings_entries = 8;
  Flood f(s);
  std::string entries;
  for (int i = 0; i < 20; ++i) entries += std::string("\0\x04\0\0\xff\xff", 6);
  f.expectCalm(preface() + frame(NGHTTP2_SETTINGS, 0, 0, entries));
}

// The preface and a POST's head on stream 1, its body to follow.
std::string postOpening() {
  return preface() + headersFrame(1, {{":method", "POST"}, {":scheme", "https"},
                                      {":authority", "a"}, {":path", "/"}},
                                  NGHTTP2_FLAG_END_HEADERS);
}

TEST(H2EngineFlood, EmptyData) {
  H2Settings s;
  s.max_empty_frames = 10;
  Flood f(s);
  std::string in = postOpening();
  for (int i = 0; i < 1000; ++i) in += frame(NGHTTP2_DATA, 0, 1, "");
  f.expectCalm(in);
  EXPECT_EQ(f.rec.requests.size(), 1u);
}

TEST(H2EngineFlood, EmptyDataBetweenRealDataIsFine) {
  H2Settings s;
  s.max_empty_frames = 10;
  Flood f(s);
  std::string in = postOpening();
  for (int i = 0; i < 100; ++i) {
    in += frame(NGHTTP2_DATA, 0, 1, "");
    in += frame(NGHTTP2_DATA, 0, 1, "x");
  }
  f.run(in);
  EXPECT_FALSE(f.failed);
}

TEST(H2EngineFlood, WindowUpdate) {
  H2Settings s;
  s.max_window_updates_slack = 100;
  Flood f(s);
  std::string in = preface();
  for (int i = 0; i < 500; ++i) in += frame(NGHTTP2_WINDOW_UPDATE, 0, 0, std::string("\0\0\0\x01", 4));
  f.expectCalm(in);
}

TEST(H2EngineFlood, Priority) {
  H2Settings s;
  s.max_priority_per_window = 100;
  Flood f(s);
  std::string in = preface();
  for (int32_t id = 1; id < 1000; id += 2)
    in += frame(NGHTTP2_PRIORITY, 0, id, std::string("\0\0\0\0\x10", 5));
  f.expectCalm(in);
}

}  // namespace
}  // namespace portcullis::http
