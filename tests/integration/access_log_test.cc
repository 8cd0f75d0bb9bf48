// The access log end to end: the real binary with `access_log:` to a file, requests over TLS,
// and the lines that appear (JSON parsed by python3's json module; combined matched against
// the shape GoAccess's COMBINED format expects); SIGUSR1 after a rename (logrotate); SIGTERM
// writes the last lines before exit 0; a reload that changes the log keeps the running one.
#include <gtest/gtest.h>
#include <signal.h>

#include <cstdio>
#include <map>
#include <regex>
#include <sstream>

#include "harness/harness.h"
#include "harness/observability.h"

namespace portcullis::integration {
namespace {

using namespace std::chrono_literals;

using Fields = JsonFields;

bool havePython() { return std::system("python3 -c 'import json' >/dev/null 2>&1") == 0; }

class AccessLog : public ::testing::Test {
 protected:
  ::testing::AssertionResult startProxy(const std::string& format) {
    ProxyConfig config = ProxyConfig::singleUpstream({up_.address()});
    config.workers = 2;
    config.top_extra = {"access_log: {path: " + log_ + ", format: " + format + "}"};
    return proxy_.start(config);
  }
  ::testing::AssertionResult get(const std::string& target, Response* resp,
                                 const std::string& extra = "") {
    TlsClient client;
    auto c = client.connect(proxy_.httpsPort());
    if (!c) return c;
    return client.roundTrip(getRequest(target, "localhost", extra), resp);
  }

  TempDir dir_;
  const std::string log_ = dir_.path() + "/access.log";
  FakeUpstream up_{"up"};
  ProxyProcess proxy_;
};

TEST_F(AccessLog, JsonLineCarriesTheRequestAndItsTls) {
  if (!havePython()) GTEST_SKIP() << "no python3";
  ASSERT_TRUE(startProxy("json"));
  Response resp;
  ASSERT_TRUE(get("/hello/w%C3%B6rld?x=1&y=\"q\"", &resp,
                  "User-Agent: pc-test/1.0 \"quoted\"\r\nReferer: https://localhost/from\r\n"));
  ASSERT_EQ(resp.status, 200);
  RecordedRequest seen;
  ASSERT_TRUE(up_.waitForRequest(0, &seen));

  std::vector<std::string> lines;
  ASSERT_TRUE(waitForLines(log_, 1, &lines));
  std::vector<Fields> recs;
  ASSERT_TRUE(parseJsonLines(log_, &recs));
  ASSERT_EQ(recs.size(), 1u);
  Fields& f = recs[0];
  EXPECT_EQ(f["listener"], "\"https\"");
  EXPECT_EQ(f["client_ip"], "\"127.0.0.1\"");
  EXPECT_NE(f["client_port"], "0");
  EXPECT_EQ(f["method"], "\"GET\"");
  EXPECT_EQ(f["path"], "\"/hello/w%C3%B6rld\"");
  EXPECT_EQ(f["query"], "\"x=1&y=\\\"q\\\"\"");
  EXPECT_EQ(f["protocol"], "\"HTTP/1.1\"");
  EXPECT_EQ(f["host"], "\"localhost\"");
  EXPECT_EQ(f["status"], "200");
  EXPECT_NE(f["bytes_out"], "0");
  EXPECT_NE(f["bytes_in"], "0");
  EXPECT_NE(f["duration_ms"], "null");
  EXPECT_NE(f["upstream_connect_ms"], "null");
  EXPECT_NE(f["upstream_first_byte_ms"], "null");
  EXPECT_EQ(f["route"], "0");
  EXPECT_EQ(f["cluster"], "\"app\"");
  EXPECT_EQ(f["upstream_host"], "\"" + up_.address() + "\"");
  EXPECT_EQ(f["attempts"], "1");
  EXPECT_EQ(f["error"], "null");
  EXPECT_NE(f["tls_version"], "null");
  EXPECT_NE(f["tls_cipher"], "null");
  EXPECT_EQ(f["sni"], "\"localhost\"");
  EXPECT_EQ(f["tls_resumed"], "false");
  EXPECT_EQ(f["user_agent"], "\"pc-test/1.0 \\\"quoted\\\"\"");
  EXPECT_EQ(f["referer"], "\"https://localhost/from\"");
  // The id sent upstream is the one logged.
  auto sent = seen.request.headers.get("X-Request-Id");
  ASSERT_TRUE(sent.has_value()) << seen.request.headers.toString();
  EXPECT_EQ(f["request_id"], "\"" + *sent + "\"");
}

TEST_F(AccessLog, RequestIdGoesUpstreamWithoutAnAccessLog) {
  // With no log, a record's text is not copied; the id the upstream needs still is made, and
  // a fresh one per request.
  ASSERT_TRUE(proxy_.start(ProxyConfig::singleUpstream({up_.address()})));
  Response resp;
  ASSERT_TRUE(get("/a", &resp));
  ASSERT_TRUE(get("/b", &resp));
  RecordedRequest first, second;
  ASSERT_TRUE(up_.waitForRequest(0, &first));
  ASSERT_TRUE(up_.waitForRequest(1, &second));
  auto a = first.request.headers.get("X-Request-Id");
  auto b = second.request.headers.get("X-Request-Id");
  ASSERT_TRUE(a.has_value()) << first.request.headers.toString();
  ASSERT_TRUE(b.has_value());
  EXPECT_TRUE(std::regex_match(*a, std::regex("[0-9a-f]{32}"))) << *a;
  EXPECT_NE(*a, *b);
}

TEST_F(AccessLog, LocalRepliesAreLoggedWithTheirError) {
  if (!havePython()) GTEST_SKIP() << "no python3";
  ProxyConfig config = ProxyConfig::singleUpstream({up_.address()});
  config.routes = {ProxyConfig::Route("", "/app/", "app")};
  config.top_extra = {"access_log: {path: " + log_ + ", format: json}"};
  ASSERT_TRUE(proxy_.start(config));
  Response resp;
  ASSERT_TRUE(get("/app/ok", &resp));
  ASSERT_EQ(resp.status, 200);
  // No route's path matches: 404 written by the proxy, no upstream involved.
  ASSERT_TRUE(get("/elsewhere", &resp));
  ASSERT_EQ(resp.status, 404);

  std::vector<std::string> lines;
  ASSERT_TRUE(waitForLines(log_, 2, &lines));
  std::vector<Fields> recs;
  ASSERT_TRUE(parseJsonLines(log_, &recs));
  bool found = false;
  for (Fields& f : recs) {
    if (f["status"] != "404") continue;
    found = true;
    EXPECT_EQ(f["error"], "\"no_route_path\"");
    EXPECT_EQ(f["path"], "\"/elsewhere\"");
    EXPECT_EQ(f["cluster"], "null");
    EXPECT_EQ(f["upstream_host"], "null");
    EXPECT_EQ(f["upstream_connect_ms"], "null");
    EXPECT_EQ(f["attempts"], "0");
    EXPECT_NE(f["request_id"], "null") << "local replies get an id too";
  }
  EXPECT_TRUE(found) << readFile(log_);
}

// GoAccess's COMBINED: %h %^[%d:%t %^] "%r" %s %b "%R" "%u".
TEST_F(AccessLog, CombinedLineHasTheShapeGoAccessReads) {
  ASSERT_TRUE(startProxy("combined"));
  Response resp;
  ASSERT_TRUE(get("/page?a=b", &resp, "User-Agent: curl/8.0\r\n"));
  ASSERT_EQ(resp.status, 200);
  std::vector<std::string> lines;
  ASSERT_TRUE(waitForLines(log_, 1, &lines));
  ASSERT_EQ(lines.size(), 1u);
  static const std::regex kCombined(
      R"(^(\S+) - - \[(\d{2})/([A-Z][a-z]{2})/(\d{4}):(\d{2}):(\d{2}):(\d{2}) ([+-]\d{4})\] )"
      R"re("([A-Z]+) (\S+) (HTTP/1\.[01])" (\d{3}) (\d+) "([^"]*)" "([^"]*)"$)re");
  std::smatch m;
  ASSERT_TRUE(std::regex_match(lines[0], m, kCombined)) << lines[0];
  EXPECT_EQ(m[1], "127.0.0.1");
  EXPECT_EQ(m[8], "+0000");
  EXPECT_EQ(m[9], "GET");
  EXPECT_EQ(m[10], "/page?a=b");
  EXPECT_EQ(m[12], "200");
  EXPECT_NE(m[13], "0");
  EXPECT_EQ(m[14], "-");
  EXPECT_EQ(m[15], "curl/8.0");
}

// logrotate: rename the file, then SIGUSR1; lines after it go to a new file at the path.
TEST_F(AccessLog, Sigusr1AfterRenameWritesToANewFile) {
  ASSERT_TRUE(startProxy("combined"));
  Response resp;
  ASSERT_TRUE(get("/before", &resp));
  std::vector<std::string> lines;
  ASSERT_TRUE(waitForLines(log_, 1, &lines));
  ASSERT_EQ(std::rename(log_.c_str(), (log_ + ".1").c_str()), 0);
  ASSERT_TRUE(proxy_.sendSignal(SIGUSR1));
  ASSERT_TRUE(proxy_.waitForStderr("reopening access log"));
  ASSERT_TRUE(get("/after", &resp));
  ASSERT_TRUE(waitForLines(log_, 1, &lines));
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find("GET /after "), std::string::npos) << lines[0];
  std::vector<std::string> old = linesOf(readFile(log_ + ".1"));
  ASSERT_EQ(old.size(), 1u);
  EXPECT_NE(old[0].find("GET /before "), std::string::npos) << old[0];
  EXPECT_TRUE(proxy_.running()) << "SIGUSR1 killed the proxy";
}

// The lines of the last requests are in the file when the process has exited 0, without
// waiting for the periodic flush.
TEST_F(AccessLog, SigtermWritesTheLastLinesBeforeExit) {
  ASSERT_TRUE(startProxy("combined"));
  TlsClient client;
  ASSERT_TRUE(client.connect(proxy_.httpsPort()));
  constexpr int kRequests = 20;
  for (int i = 0; i < kRequests; ++i) {
    Response resp;
    ASSERT_TRUE(client.roundTrip(getRequest("/r" + std::to_string(i)), &resp));
    ASSERT_EQ(resp.status, 200);
  }
  client.close();
  ASSERT_TRUE(proxy_.stop());
  std::vector<std::string> lines = linesOf(readFile(log_));
  ASSERT_EQ(lines.size(), static_cast<size_t>(kRequests)) << readFile(log_);
  EXPECT_NE(lines.back().find("GET /r" + std::to_string(kRequests - 1) + " "), std::string::npos);
}

TEST_F(AccessLog, ReloadThatChangesTheLogKeepsTheRunningOne) {
  ASSERT_TRUE(startProxy("combined"));
  ProxyConfig next = ProxyConfig::singleUpstream({up_.address()});
  next.top_extra = {"access_log: {path: " + dir_.path() + "/other.log, format: json}"};
  ASSERT_TRUE(proxy_.rewriteConfig(next));
  ASSERT_TRUE(proxy_.reload());
  ASSERT_TRUE(proxy_.waitForStderr("needs a restart"));
  Response resp;
  ASSERT_TRUE(get("/after-reload", &resp));
  ASSERT_EQ(resp.status, 200);
  std::vector<std::string> lines;
  ASSERT_TRUE(waitForLines(log_, 1, &lines));
  EXPECT_NE(lines[0].find("GET /after-reload "), std::string::npos) << lines[0];
  EXPECT_EQ(readFile(dir_.path() + "/other.log"), "");
}

TEST_F(AccessLog, FullDiskDropsLinesCountsThemAndKeepsServing) {
  // /dev/full takes the open and fails every write with ENOSPC, as a full disk does.
  ProxyConfig config = ProxyConfig::singleUpstream({up_.address()});
  config.top_extra = {"access_log: {path: /dev/full, format: json}", "admin: {address: \"127.0.0.1:0\"}"};
  ASSERT_TRUE(proxy_.start(config));
  for (int i = 0; i < 3; ++i) {
    Response resp;
    ASSERT_TRUE(get("/" + std::to_string(i), &resp));
    EXPECT_EQ(resp.status, 200);
  }
  MetricSamples m;
  ASSERT_TRUE(pollUntil([&] { return scrapeMetrics(proxy_, &m) &&
                                     sampleAt(m, "portcullis_access_log_dropped_lines_total|") >= 3; },
                        5000ms))
      << "dropped: " << sampleAt(m, "portcullis_access_log_dropped_lines_total|");
  EXPECT_GE(sampleAt(m, "portcullis_access_log_write_errors_total|"), 1);
}

TEST_F(AccessLog, UnopenablePathStopsTheStartWithExitOne) {
  ProxyConfig config = ProxyConfig::singleUpstream({up_.address()});
  config.top_extra = {"access_log: {path: " + dir_.path() + "/missing-dir/access.log}"};
  EXPECT_FALSE(proxy_.start(config, 3000ms));
  EXPECT_NE(proxy_.stderrText().find("access_log: " + dir_.path() +
                                     "/missing-dir/access.log: cannot open"),
            std::string::npos)
      << proxy_.stderrText();
}

}  // namespace
}  // namespace portcullis::integration
