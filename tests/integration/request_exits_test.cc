// Every way a request can end leaves exactly one access-log line and one count: an answer, a
// client reset mid-body, an upstream reset, an upstream timeout, 413, 431, a full queue, a client
// too slow with its head, a redirect. The real binary, real TLS clients, the JSON log read back
// with python3's json module and /metrics with Prometheus's own parser.
#include <gtest/gtest.h>

#include <map>
#include <thread>

#include "harness/harness.h"
#include "harness/observability.h"

namespace portcullis::integration {
namespace {

using namespace std::chrono_literals;

// Upstream behaviour by path.
Reply byPath(const RecordedRequest& r) {
  Reply reply;
  const std::string& t = r.request.target;
  if (t == "/reset") {
    reply.action = Reply::Action::kCloseWithoutResponse;
  } else if (t == "/slow") {
    reply.action = Reply::Action::kNeverRespond;
  } else if (t == "/busy/hold") {
    reply.delay = 400ms;  // holds the busy host's only slot meanwhile (below upstream_response)
  }
  return reply;
}

TEST(RequestExits, EveryWayOutIsLoggedAndCountedOnce) {
  FakeUpstream app("app");
  app.setResponder(byPath);
  FakeUpstream busy("busy");
  busy.setResponder(byPath);
  TempDir dir;
  const std::string log = dir.path() + "/access.log";

  ProxyConfig config = ProxyConfig::singleUpstream({app.address()});
  config.upstreams[0].extra = {"retries: 0"};
  ProxyConfig::Upstream b;
  b.name = "busy";
  b.servers = {"{address: \"" + busy.address() + "\", max_requests: 1}"};
  config.upstreams.push_back(b);
  config.routes = {ProxyConfig::Route{"", "/busy/", "busy"}, ProxyConfig::Route{"", "/", "app"}};
  config.timeouts = {{"shutdown_grace", "2s"}, {"upstream_response", "500ms"}, {"client_header", "500ms"}};
  config.limits = {{"body", "1k"}, {"header_bytes", "4k"}};
  config.top_extra = {"access_log: {path: " + log + ", format: json}", "admin: {address: \"127.0.0.1:0\"}"};
  ProxyProcess proxy;
  ASSERT_TRUE(proxy.start(config));
  const uint16_t https = proxy.httpsPort();

  auto get = [&](const std::string& target, Response* resp) {
    TlsClient c;
    auto r = c.connect(https);
    if (!r) return r;
    return c.roundTrip(getRequest(target), resp);
  };

  Response resp;
  ASSERT_TRUE(get("/ok", &resp));
  EXPECT_EQ(resp.status, 200);
  ASSERT_TRUE(get("/reset", &resp));
  EXPECT_EQ(resp.status, 502);
  ASSERT_TRUE(get("/slow", &resp));
  EXPECT_EQ(resp.status, 504);
  {
    TlsClient c;
    ASSERT_TRUE(c.connect(https));
    ASSERT_TRUE(c.roundTrip("POST /big HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5000\r\n\r\n", &resp));
    EXPECT_EQ(resp.status, 413);
  }
  {
    TlsClient c;
    ASSERT_TRUE(c.connect(https));
    ASSERT_TRUE(c.roundTrip("GET /fat HTTP/1.1\r\nHost: localhost\r\nX-Fat: " + std::string(5000, 'f') + "\r\n\r\n", &resp));
    EXPECT_EQ(resp.status, 431);
  }
  {
    // Gone mid-body: the head is in, 100 of 1000 body bytes, then the client vanishes.
    TlsClient c;
    ASSERT_TRUE(c.connect(https));
    ASSERT_TRUE(c.send("POST /upload HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1000\r\n\r\n" + std::string(100, 'u')));
    std::vector<std::string> lines;
    ASSERT_TRUE(waitForLines(log, 5, &lines));  // the five above are in: the proxy is idle
    c.close();
  }
  {
    // The busy host has one slot and no queue: while /busy/hold runs, /busy/x gets 503.
    TlsClient holder;
    ASSERT_TRUE(holder.connect(https));
    ASSERT_TRUE(holder.send(getRequest("/busy/hold")));
    ASSERT_TRUE(busy.waitForRequests(1));
    ASSERT_TRUE(get("/busy/x", &resp));
    EXPECT_EQ(resp.status, 503);
    ASSERT_TRUE(holder.readResponse(&resp, 5000ms));
    EXPECT_EQ(resp.status, 200);
  }
  {
    // Half a head, then silence past client_header: closed without an answer, logged as 408.
    TlsClient c;
    ASSERT_TRUE(c.connect(https));
    ASSERT_TRUE(c.send("GET /never-finished HTTP/1.1\r\nHost: loc"));
    ASSERT_TRUE(c.waitForClose(3000ms));
  }
  {
    RawClient c;
    ASSERT_TRUE(c.connect(proxy.httpPort()));
    ASSERT_TRUE(c.roundTrip(getRequest("/to-https"), &resp));
    EXPECT_EQ(resp.status, 301);
  }

  // What each request must have left: status and error, once each.
  const std::multiset<std::pair<std::string, std::string>> expected = {
      {"200", "null"},                      // /ok
      {"502", "\"upstream_protocol\""},     // /reset
      {"504", "\"upstream_timeout\""},      // /slow
      {"413", "\"body_too_large\""},        // /big
      {"431", "\"header_too_large\""},      // /fat
      {"499", "\"client_closed\""},         // /upload
      {"200", "null"},                      // /busy/hold
      {"503", "\"overloaded\""},            // /busy/x
      {"408", "\"client_timeout\""},        // half a head
      {"301", "null"},                      // redirect
  };
  std::vector<std::string> lines;
  ASSERT_TRUE(waitForLines(log, expected.size(), &lines));
  // No line comes late or twice: everything has ended, and the workers flush once a second.
  std::this_thread::sleep_for(1500ms);
  std::vector<JsonFields> recs;
  ASSERT_TRUE(parseJsonLines(log, &recs));
  std::multiset<std::pair<std::string, std::string>> got;
  for (auto& f : recs) got.insert({f["status"], f["error"]});
  EXPECT_EQ(got, expected);

  // The same requests, counted: by status class and by error.
  MetricSamples m;
  ASSERT_TRUE(scrapeMetrics(proxy, &m));
  double total = 0;
  for (const auto& [key, value] : m)
    if (key.rfind("portcullis_requests_total|", 0) == 0) total += value;
  EXPECT_EQ(total, double(expected.size()));
  std::map<std::string, double> errors;
  for (const auto& [key, value] : m) {
    if (key.rfind("portcullis_request_errors_total|", 0) != 0 || value == 0) continue;  // series start at 0
    size_t at = key.find("error=");
    errors[key.substr(at + 6, key.find_first_of(",|", at) - at - 6)] += value;
  }
  EXPECT_EQ(errors, (std::map<std::string, double>{{"body_too_large", 1}, {"client_closed", 1},
                                                   {"client_timeout", 1}, {"header_too_large", 1},
                                                   {"overloaded", 1}, {"upstream_protocol", 1},
                                                   {"upstream_timeout", 1}}));
}

}  // namespace
}  // namespace portcullis::integration
