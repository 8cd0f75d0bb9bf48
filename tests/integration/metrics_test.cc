// The admin listener against the real binary: /healthz through a SIGTERM drain, /metrics checked
// by Prometheus's own tools (promtool and the python client's parser, from Debian; missing tools
// fail the test, since scripts/install-deps.sh installs them), and counters that move as
// requests are served.
#include <gtest/gtest.h>
#include <signal.h>

#include <map>

#include "harness/harness.h"
#include "harness/observability.h"

namespace portcullis::integration {
namespace {

using namespace std::chrono_literals;

using Samples = MetricSamples;

double at(const Samples& s, const std::string& key) { return sampleAt(s, key); }

class Metrics : public ::testing::Test {
 protected:
  ::testing::AssertionResult startProxy(unsigned workers = 2) {
    ProxyConfig config = ProxyConfig::singleUpstream({up_.address()});
    config.workers = workers;
    config.top_extra = {"admin: {address: \"127.0.0.1:0\"}"};
    config.timeouts = {{"shutdown_grace", "5s"}};
    auto r = proxy_.start(config);
    if (r && proxy_.port("admin") == 0) return ::testing::AssertionFailure() << "no admin line in the ready file";
    return r;
  }

  ::testing::AssertionResult adminGet(const std::string& target, Response* out, const std::string& method = "GET") {
    RawClient c;
    if (auto r = c.connect(proxy_.port("admin")); !r) return r;
    return c.roundTrip(method + " " + target + " HTTP/1.1\r\nHost: admin\r\n\r\n", out);
  }

  ::testing::AssertionResult scrape(Samples* out) { return scrapeMetrics(proxy_, out); }

  FakeUpstream up_{"up"};
  ProxyProcess proxy_;
};

TEST_F(Metrics, HealthzIsOkWhileServingAndUnavailableOnceDraining) {
  up_.setResponder([this](const RecordedRequest& r) {
    Reply reply = up_.defaultReply();
    if (r.request.target == "/slow") reply.delay = 1500ms;
    return reply;
  });
  ASSERT_TRUE(startProxy(1));
  Response health;
  ASSERT_TRUE(adminGet("/healthz", &health));
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(health.body, "ok\n");

  // A request in flight keeps the process (and its admin listener) up through the drain.
  TlsClient busy;
  ASSERT_TRUE(busy.connect(proxy_.httpsPort()));
  ASSERT_TRUE(busy.send(getRequest("/slow")));
  ASSERT_TRUE(up_.waitForRequests(1));
  ASSERT_TRUE(proxy_.sendSignal(SIGTERM));
  Response draining;
  EXPECT_TRUE(pollUntil([&] { return adminGet("/healthz", &draining) && draining.status == 503; }, 1000ms))
      << "last /healthz: " << draining.status << " " << draining.body;
  Response resp;
  ASSERT_TRUE(busy.readResponse(&resp));
  EXPECT_EQ(resp.status, 200);
  busy.close();
  EXPECT_TRUE(proxy_.waitForExit(kWait));
}

TEST_F(Metrics, OnlyGetAndKnownPaths) {
  ASSERT_TRUE(startProxy(1));
  Response r;
  ASSERT_TRUE(adminGet("/metrics", &r, "POST"));
  EXPECT_EQ(r.status, 405);
  ASSERT_TRUE(adminGet("/nope", &r));
  EXPECT_EQ(r.status, 404);
  ASSERT_TRUE(adminGet("/clusters", &r));
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("\"name\":\"app\""), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("\"address\":\"" + up_.address() + "\""), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("\"healthy\":true"), std::string::npos) << r.body;
}

TEST_F(Metrics, PassesPromtoolAndCountersMoveAsRequestsAreServed) {
  ASSERT_TRUE(startProxy());
  Samples before;
  ASSERT_TRUE(scrape(&before));
  const std::string ok = "portcullis_requests_total|cluster=app,code=2xx,listener=https,route=*/";
  const std::string redirected = "portcullis_requests_total|cluster=,code=3xx,listener=http,route=";
  const std::string accepted = "portcullis_connections_accepted_total|listener=https,protocol=http/1.1";
  const std::string full = "portcullis_tls_handshakes_total|result=full,side=server";
  const std::string bytes_in = "portcullis_request_bytes_total|listener=https";
  const std::string bytes_out = "portcullis_response_bytes_total|listener=https";
  const std::string duration = "portcullis_request_duration_seconds_count|cluster=app,listener=https,route=*/";
  const std::string host = "portcullis_upstream_host_requests_total|cluster=app,host=" + up_.address();
  EXPECT_EQ(at(before, ok), 0);
  EXPECT_EQ(at(before, "portcullis_build_info|version=0.1.0"), 1);
  EXPECT_EQ(at(before, "portcullis_config_generation|"), 1);
  EXPECT_EQ(at(before, "portcullis_upstream_host_healthy|cluster=app,host=" + up_.address()), 1);

  TlsClient client;
  ASSERT_TRUE(client.connect(proxy_.httpsPort()));
  for (int i = 0; i < 3; ++i) {
    Response resp;
    ASSERT_TRUE(client.roundTrip(getRequest("/n" + std::to_string(i)), &resp));
    ASSERT_EQ(resp.status, 200);
  }
  RawClient plain;
  ASSERT_TRUE(plain.connect(proxy_.httpPort()));
  Response redirect;
  ASSERT_TRUE(plain.roundTrip("GET /x HTTP/1.1\r\nHost: localhost\r\n\r\n", &redirect));
  ASSERT_EQ(redirect.status, 301);

  // A record is counted after its response went out, maybe by the other worker: poll rather
  // than race it.
  Samples after;
  EXPECT_TRUE(pollUntil(
      [&] {
        return scrape(&after) && at(after, ok) - at(before, ok) >= 3 &&
               at(after, redirected) - at(before, redirected) >= 1 && at(after, host) - at(before, host) >= 3;
      },
      kWait));
  EXPECT_EQ(at(after, ok) - at(before, ok), 3);
  EXPECT_EQ(at(after, redirected) - at(before, redirected), 1);
  EXPECT_EQ(at(after, duration) - at(before, duration), 3);
  EXPECT_EQ(at(after, host) - at(before, host), 3);
  EXPECT_GE(at(after, accepted) - at(before, accepted), 1);
  EXPECT_GE(at(after, full) - at(before, full), 1);
  EXPECT_GT(at(after, bytes_in) - at(before, bytes_in), 3 * 20);
  EXPECT_GT(at(after, bytes_out) - at(before, bytes_out), 3 * 20);
  EXPECT_GE(at(after, "portcullis_connections_active|listener=https,protocol=http/1.1"), 1);

  client.close();
  plain.close();
  // Both connections end: active goes back to 0, closed catches up with accepted.
  EXPECT_TRUE(pollUntil(
      [&] {
        return scrape(&after) && at(after, "portcullis_connections_active|listener=https,protocol=http/1.1") == 0 &&
               at(after, "portcullis_connections_active|listener=http,protocol=http/1.1") == 0;
      },
      kWait));
}

TEST_F(Metrics, RetriesAreCountedOnTheHostThatTookThem) {
  FakeUpstream bad{"bad"};
  Reply hangup;
  hangup.action = Reply::Action::kCloseWithoutResponse;  // reads the request, sends nothing
  bad.setReply(hangup);
  ProxyConfig config = ProxyConfig::singleUpstream({bad.address(), up_.address()});
  config.workers = 1;
  config.top_extra = {"admin: {address: \"127.0.0.1:0\"}"};
  ASSERT_TRUE(proxy_.start(config));
  TlsClient client;
  ASSERT_TRUE(client.connect(proxy_.httpsPort()));
  for (int i = 0; i < 2; ++i) {  // round robin: one of the two starts on the bad host
    Response resp;
    ASSERT_TRUE(client.roundTrip(getRequest("/r" + std::to_string(i)), &resp));
    ASSERT_EQ(resp.status, 200);
  }
  const std::string good_retries = "portcullis_upstream_host_retries_total|cluster=app,host=" + up_.address();
  const std::string bad_retries = "portcullis_upstream_host_retries_total|cluster=app,host=" + bad.address();
  Samples after;
  EXPECT_TRUE(pollUntil([&] { return scrape(&after) && at(after, good_retries) >= 1; }, kWait));
  EXPECT_EQ(at(after, good_retries), 1);
  EXPECT_EQ(at(after, bad_retries), 0);
}

TEST_F(Metrics, AReloadCountsAndKeepsCounters) {
  ASSERT_TRUE(startProxy(1));
  TlsClient client;
  ASSERT_TRUE(client.connect(proxy_.httpsPort()));
  Response resp;
  ASSERT_TRUE(client.roundTrip(getRequest("/"), &resp));
  const std::string ok = "portcullis_requests_total|cluster=app,code=2xx,listener=https,route=*/";
  Samples s;
  ASSERT_TRUE(pollUntil([&] { return scrape(&s) && at(s, ok) == 1; }, kWait));

  ASSERT_TRUE(proxy_.reload());
  ASSERT_TRUE(pollUntil([&] { return scrape(&s) && at(s, "portcullis_reloads_total|result=ok") == 1; }, kWait));
  EXPECT_EQ(at(s, "portcullis_config_generation|"), 2);
  EXPECT_EQ(at(s, ok), 1) << "a reload reset a counter";

  ASSERT_TRUE(proxy_.rewriteYaml("listeners: [oops\n"));
  ASSERT_TRUE(proxy_.reload());
  ASSERT_TRUE(pollUntil([&] { return scrape(&s) && at(s, "portcullis_reloads_total|result=failed") == 1; }, kWait));
  EXPECT_EQ(at(s, "portcullis_config_generation|"), 2);
}

}  // namespace
}  // namespace portcullis::integration
