// The exposition writer (escaping, histograms) and the admin endpoints' routing.
#include "admin/exposition.h"

#include <gtest/gtest.h>

#include "admin/admin_server.h"
#include "admin/cluster_view.h"

namespace portcullis::admin {
namespace {

using base::stats::Kind;
using base::stats::Registry;

TEST(Exposition, EscapesLabelValues) {
  EXPECT_EQ(escapeLabelValue("plain"), "plain");
  EXPECT_EQ(escapeLabelValue("a\\b"), "a\\\\b");
  EXPECT_EQ(escapeLabelValue("say \"hi\""), "say \\\"hi\\\"");
  EXPECT_EQ(escapeLabelValue("two\nlines"), "two\\nlines");
  Exposition e;
  e.family("x_total", "counter", "Help with \\ and\nnewline.");
  e.sample("x_total", {{"route", "ex\"am\\ple\n"}}, uint64_t{3});
  EXPECT_EQ(e.text(),
            "# HELP x_total Help with \\\\ and\\nnewline.\n"
            "# TYPE x_total counter\n"
            "x_total{route=\"ex\\\"am\\\\ple\\n\"} 3\n");
}

TEST(Exposition, FormatsValues) {
  EXPECT_EQ(formatValue(0.005), "0.005");
  EXPECT_EQ(formatValue(1), "1");
  EXPECT_EQ(formatValue(2.5), "2.5");
  EXPECT_EQ(formatValue(1.0 / 0.0), "+Inf");
}

TEST(Exposition, CounterFamilyFromTheRegistry) {
  Registry r;
  auto* shard = r.addShard();
  uint32_t f = r.family("portcullis_requests_total", "Requests.", Kind::Counter, {"listener", "code"});
  shard->add(r.slot(f, {"https", "2xx"}), 7);
  r.slot(f, {"https", "5xx"});
  Exposition e;
  e.add(r.snapshot());
  EXPECT_EQ(e.text(),
            "# HELP portcullis_requests_total Requests.\n"
            "# TYPE portcullis_requests_total counter\n"
            "portcullis_requests_total{listener=\"https\",code=\"2xx\"} 7\n"
            "portcullis_requests_total{listener=\"https\",code=\"5xx\"} 0\n");
}

TEST(Exposition, HistogramIsCumulativeWithSumAndCountInSeconds) {
  Registry r;
  auto* shard = r.addShard();
  uint32_t f = r.family("d_seconds", "Duration.", Kind::Histogram, {"l"}, {5'000, 100'000}, 1'000'000);
  uint32_t s = r.slot(f, {"a"});
  for (uint64_t us : {1'000, 4'000, 50'000, 2'000'000}) shard->observe(s, r.bounds(f), us);
  Exposition e;
  e.add(r.snapshot());
  EXPECT_EQ(e.text(),
            "# HELP d_seconds Duration.\n"
            "# TYPE d_seconds histogram\n"
            "d_seconds_bucket{l=\"a\",le=\"0.005\"} 2\n"
            "d_seconds_bucket{l=\"a\",le=\"0.1\"} 3\n"
            "d_seconds_bucket{l=\"a\",le=\"+Inf\"} 4\n"
            "d_seconds_sum{l=\"a\"} 2.055\n"
            "d_seconds_count{l=\"a\"} 4\n");
}

TEST(AdminRoutes, HealthzMetricsClustersAndErrors) {
  bool draining = false;
  Handlers h;
  h.metrics = [] { return std::string("m 1\n"); };
  h.clusters = [] { return std::string("{\"clusters\":[]}"); };
  h.draining = [&] { return draining; };
  EXPECT_EQ(respond(h, "GET", "/healthz").status, 200);
  EXPECT_EQ(respond(h, "GET", "/healthz").body, "ok\n");
  draining = true;
  EXPECT_EQ(respond(h, "GET", "/healthz").status, 503);
  Response m = respond(h, "GET", "/metrics?x=1");
  EXPECT_EQ(m.status, 200);
  EXPECT_EQ(m.content_type, "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_EQ(m.body, "m 1\n");
  EXPECT_EQ(respond(h, "GET", "/clusters").content_type, "application/json");
  EXPECT_EQ(respond(h, "POST", "/metrics").status, 405);
  EXPECT_EQ(respond(h, "DELETE", "/healthz").status, 405);
  EXPECT_EQ(respond(h, "GET", "/").status, 404);
  EXPECT_EQ(respond(h, "GET", "/metricsx").status, 404);
}

TEST(ClusterView, JsonEscapes) { EXPECT_EQ(jsonEscape("a\"b\\c\n"), "a\\\"b\\\\c\\u000a"); }

}  // namespace
}  // namespace portcullis::admin
