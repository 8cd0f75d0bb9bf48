// The access log's two line formats from synthetic RequestRecords: exact lines, escaping, a
// record with nothing filled, JSON validity checked by a real JSON parser, and no allocation
// per line once warm. The replacement operator new below serves this whole test binary; it
// only counts while g_counting is set, on this thread.
#include "proxy/access_log.h"
#include "../support/temp_dir.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <new>
#include <sstream>
#include <string>

#include "proxy/worker_context.h"

#include "../support/count_allocations.h"

namespace portcullis::proxy {
namespace {

namespace fs = std::filesystem;
using config::AccessLogFormat;

using testing_support::readAll;
using testing_support::TempDir;

// 2025-12-03T14:00:00.123456Z
constexpr int64_t kStart = 1'764'770'400'123'456;

struct Fixture {
  ListenerInfo listener;
  base::TlsInfo tls;
  RequestRecord rec;

  // A proxied request that went well, every field filled.
  Fixture() {
    listener.name = "https";
    listener.tls = true;
    tls.version = "TLSv1.3";
    tls.cipher = "TLS_AES_128_GCM_SHA256";
    tls.sni = "example.com";
    tls.resumed = true;
    rec.start_unix_us = kStart;
    rec.duration_us = 12'345;
    rec.upstream_connect_us = 250;
    rec.upstream_first_byte_us = 10'001;
    rec.listener = &listener;
    rec.client_ip = "192.0.2.7";
    rec.client_port = 50123;
    rec.protocol = "HTTP/1.1";
    rec.tls = &tls;
    rec.connection_id = 42;
    rec.method = "GET";
    rec.target = "/shop/cart?item=3&q=a%20b";
    rec.host = "example.com";
    rec.user_agent = "Mozilla/5.0 (X11; Linux x86_64)";
    rec.referer = "https://example.com/shop/";
    rec.request_id = "0f1e2d3c4b5a69788796a5b4c3d2e1f0";
    rec.status = 200;
    rec.bytes_in = 412;
    rec.bytes_out = 5120;
    rec.route = 1;
    rec.cluster = 0;
    rec.cluster_name = "app";
    rec.upstream_host = "10.0.0.5:8000";
    rec.host_index = 2;
    rec.attempts = 2;
    rec.retries = 1;
  }
};

std::string formatted(AccessLogFormat f, const RequestRecord& r) {
  TempDir dir;
  auto w = base::LogWriter::open(dir.file("unused.log"));
  if (!w) return "(cannot open: " + w.error().message + ")";
  AccessLog log(**w, f);
  return std::string(log.format(r));
}

TEST(AccessLogJson, FullRecordGivesTheDocumentedLine) {
  Fixture f;
  EXPECT_EQ(formatted(AccessLogFormat::Json, f.rec),
            R"({"time":"2025-12-03T14:00:00.123Z","listener":"https","connection_id":42,)"
            R"("client_ip":"192.0.2.7","client_port":50123,)"
            R"("request_id":"0f1e2d3c4b5a69788796a5b4c3d2e1f0","method":"GET",)"
            R"("path":"/shop/cart","query":"item=3&q=a%20b","protocol":"HTTP/1.1",)"
            R"j("host":"example.com","user_agent":"Mozilla/5.0 (X11; Linux x86_64)",)j"
            R"("referer":"https://example.com/shop/","status":200,"bytes_in":412,)"
            R"("bytes_out":5120,"duration_ms":12.345,"upstream_connect_ms":0.250,)"
            R"("upstream_first_byte_ms":10.001,"route":1,"cluster":"app",)"
            R"("upstream_host":"10.0.0.5:8000","attempts":2,"retries":1,"queued":false,)"
            R"("error":null,"tls_version":"TLSv1.3","tls_cipher":"TLS_AES_128_GCM_SHA256",)"
            R"("sni":"example.com","tls_resumed":true})"
            "\n");
}

// A connection that died mid-head: nothing but the defaults. Every key is still there.
TEST(AccessLogJson, EmptyRecordHasEveryKeyWithNulls) {
  RequestRecord r;
  EXPECT_EQ(formatted(AccessLogFormat::Json, r),
            R"({"time":"1970-01-01T00:00:00.000Z","listener":null,"connection_id":0,)"
            R"("client_ip":null,"client_port":0,"request_id":null,"method":null,"path":null,)"
            R"("query":null,"protocol":null,"host":null,"user_agent":null,"referer":null,)"
            R"("status":null,"bytes_in":0,"bytes_out":0,"duration_ms":0.000,)"
            R"("upstream_connect_ms":null,"upstream_first_byte_ms":null,"route":null,)"
            R"("cluster":null,"upstream_host":null,"attempts":0,"retries":0,"queued":false,)"
            R"("error":null,"tls_version":null,"tls_cipher":null,"sni":null,"tls_resumed":null})"
            "\n");
}

TEST(AccessLogJson, ErrorPlainListenerAndBareQuestionMark) {
  Fixture f;
  f.rec.tls = nullptr;
  f.rec.target = "/x?";
  f.rec.status = 499;
  f.rec.setError(ErrorKind::ClientClosed);
  f.rec.queued = true;
  std::string line = formatted(AccessLogFormat::Json, f.rec);
  EXPECT_NE(line.find(R"("path":"/x","query":"")"), std::string::npos) << line;
  EXPECT_NE(line.find(R"("queued":true,"error":"client_closed","tls_version":null,)"
                      R"("tls_cipher":null,"sni":null,"tls_resumed":null})"),
            std::string::npos)
      << line;
}

TEST(AccessLogJson, StringsAreEscaped) {
  Fixture f;
  // Quote, backslash, controls (tab, newline, ESC, DEL), valid UTF-8 (é, €, 😀) passed
  // through, and invalid bytes: a lone continuation byte, an overlong '/', a surrogate, a truncated
  // sequence at the end.
  f.rec.user_agent = std::string("a\"b\\c\td\ne\x1b" "f\x7f" "g ") +
                     "\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 " +
                     "\x80 \xc0\xaf \xed\xa0\x80 \xe2\x82";
  std::string line = formatted(AccessLogFormat::Json, f.rec);
  EXPECT_NE(line.find(R"("user_agent":"a\"b\\c\u0009d\u000ae\u001bf\u007fg )"
                      "\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 "
                      R"(\ufffd \ufffd\ufffd \ufffd\ufffd\ufffd \ufffd\ufffd")"),
            std::string::npos)
      << line;
  EXPECT_EQ(line.find('\n'), line.size() - 1) << "a raw newline splits the line";
}

TEST(AccessLogJson, TimeFollowsTheRecordAcrossSeconds) {
  TempDir dir;
  auto w = base::LogWriter::open(dir.file("unused.log"));
  ASSERT_TRUE(w);
  AccessLog log(**w, AccessLogFormat::Json);
  RequestRecord r;
  r.start_unix_us = kStart;
  EXPECT_EQ(log.format(r).substr(0, 35), R"({"time":"2025-12-03T14:00:00.123Z",)");
  r.start_unix_us = kStart + 900'000;  // same second + 0.9 s
  EXPECT_EQ(log.format(r).substr(0, 35), R"({"time":"2025-12-03T14:00:01.023Z",)");
  r.start_unix_us = kStart + 86'400'000'000 - 123'456;  // next day, .000
  EXPECT_EQ(log.format(r).substr(0, 35), R"({"time":"2025-12-04T14:00:00.000Z",)");
  r.start_unix_us = kStart;  // back again (a clock step)
  EXPECT_EQ(log.format(r).substr(0, 35), R"({"time":"2025-12-03T14:00:00.123Z",)");
}

// Every line, nasty ones included, parses as a JSON object with the same keys and types
// (python3's json module, a strict parser: no raw controls, no invalid UTF-8).
TEST(AccessLogJson, EveryLineParsesWithARealJsonParser) {
  if (std::system("python3 -c 'import json' >/dev/null 2>&1") != 0) GTEST_SKIP() << "no python3";
  TempDir dir;
  const std::string path = dir.file("access.log");
  {
    auto w = base::LogWriter::open(path);
    ASSERT_TRUE(w);
    AccessLog log(**w, AccessLogFormat::Json);
    Fixture f;
    log.onRequestDone(f.rec);
    log.onRequestDone(RequestRecord{});
    for (int b = 0; b < 256; ++b) {
      Fixture g;
      std::string s = "x";
      s.push_back(static_cast<char>(b));
      s += "\xff\xfe\"\\";
      g.rec.target = "/" + s + "?" + s;
      g.rec.user_agent = s;
      g.rec.referer = s;
      g.rec.method = s;
      g.rec.host = s;
      g.rec.tls = nullptr;
      log.onRequestDone(g.rec);
    }
    log.flush();
    ASSERT_TRUE((*w)->waitIdle(std::chrono::seconds(5)));
  }
  const std::string script = dir.file("check.py");
  std::ofstream(script) << R"(
import json, sys
keys = None
n = 0
for raw in open(sys.argv[1], 'rb'):
    obj = json.loads(raw.decode('utf-8'))
    assert isinstance(obj, dict)
    assert keys is None or list(obj) == keys, list(obj)
    keys = list(obj)
    for k in ('status', 'bytes_in', 'bytes_out', 'duration_ms', 'client_port', 'attempts'):
        assert obj[k] is None or isinstance(obj[k], (int, float)), k
    n += 1
assert n == 258, n
print('ok', n)
)";
  std::string cmd = "python3 " + script + " " + path + " 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  char out[4096] = {};
  size_t got = std::fread(out, 1, sizeof out - 1, p);
  int rc = ::pclose(p);
  EXPECT_EQ(rc, 0) << std::string(out, got);
  EXPECT_EQ(std::string(out, got), "ok 258\n");
}

TEST(AccessLogCombined, FullRecordIsNginxCombined) {
  Fixture f;
  EXPECT_EQ(formatted(AccessLogFormat::Combined, f.rec),
            "192.0.2.7 - - [03/Dec/2025:14:00:00 +0000] \"GET /shop/cart?item=3&q=a%20b HTTP/1.1\" "
            "200 5120 \"https://example.com/shop/\" \"Mozilla/5.0 (X11; Linux x86_64)\"\n");
}

TEST(AccessLogCombined, EmptyFieldsAreDashes) {
  RequestRecord r;
  r.client_ip = "2001:db8::1";
  r.status = 408;
  EXPECT_EQ(formatted(AccessLogFormat::Combined, r),
            "2001:db8::1 - - [01/Jan/1970:00:00:00 +0000] \"-\" 408 0 \"-\" \"-\"\n");
}

TEST(AccessLogCombined, QuotesBackslashesAndNonPrintableBytesAreHexEscaped) {
  Fixture f;
  f.rec.user_agent = "a\"b\\c\td\n\xc3\xa9";
  f.rec.target = "/p\"q";
  std::string line = formatted(AccessLogFormat::Combined, f.rec);
  EXPECT_NE(line.find("\"GET /p\\x22q HTTP/1.1\""), std::string::npos) << line;
  EXPECT_NE(line.find("\"a\\x22b\\x5Cc\\x09d\\x0A\\xC3\\xA9\"\n"), std::string::npos) << line;
}

TEST(AccessLog, LinesReachTheWriterOnFlush) {
  TempDir dir;
  const std::string path = dir.file("access.log");
  auto w = base::LogWriter::open(path);
  ASSERT_TRUE(w);
  AccessLog log(**w, AccessLogFormat::Combined);
  Fixture f;
  log.onRequestDone(f.rec);
  f.rec.status = 404;
  log.onRequestDone(f.rec);
  ASSERT_TRUE((*w)->waitIdle(std::chrono::seconds(5)));
  EXPECT_EQ(readAll(path), "") << "written before the flush: one write(2) per line";
  log.flush();
  ASSERT_TRUE((*w)->waitIdle(std::chrono::seconds(5)));
  std::string text = readAll(path);
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 2);
  EXPECT_NE(text.find("\" 404 5120 "), std::string::npos) << text;
}

TEST(AccessLog, NoAllocationPerLineOnceWarm) {
  TempDir dir;
  auto w = base::LogWriter::open(dir.file("access.log"));
  ASSERT_TRUE(w);
  for (AccessLogFormat format : {AccessLogFormat::Json, AccessLogFormat::Combined}) {
    AccessLog log(**w, format);
    Fixture f;
    log.onRequestDone(f.rec);  // warm: the line's capacity, the time cache
    g_allocations = 0;
    g_counting = true;
    // Fewer lines than fill the 64 KiB buffer: the hand-over's recycling is the writer's test.
    for (int i = 0; i < 40; ++i) {
      f.rec.start_unix_us = kStart + i * 700'000;  // a new second every other line
      f.rec.status = 200 + i;
      log.onRequestDone(f.rec);
    }
    g_counting = false;
    EXPECT_EQ(g_allocations, 0u);
  }
}

}  // namespace
}  // namespace portcullis::proxy
