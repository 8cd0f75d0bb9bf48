// RequestStats: synthetic records counted into a shard, read back through the registry.
#include "proxy/request_stats.h"

#include <gtest/gtest.h>

#include "proxy/worker_context.h"

namespace portcullis::proxy {
namespace {

using base::stats::Registry;

config::Config twoRouteConfig() {
  config::Config c;
  config::Listener https;
  https.name = "https";
  config::Listener http;
  http.name = "http";
  c.listeners = {https, http};
  config::Upstream app;
  app.name = "app";
  config::Upstream api;
  api.name = "api";
  c.upstreams = {app, api};
  config::Route r0;
  r0.host = "example.com";
  r0.path_prefix = "/api";
  r0.upstream = "api";
  config::Route r1;
  r1.upstream = "app";
  c.routes = {r0, r1};
  return c;
}

const base::stats::Series* find(const std::vector<base::stats::FamilySnapshot>& snap, const std::string& family,
                                const std::vector<std::string>& labels) {
  for (const auto& f : snap) {
    if (f.name != family) continue;
    for (const auto& s : f.series)
      if (s.labels == labels) return &s;
  }
  return nullptr;
}

uint64_t counter(const Registry& r, const std::string& family, const std::vector<std::string>& labels) {
  auto snap = r.snapshot();
  const auto* s = find(snap, family, labels);
  if (!s) {
    ADD_FAILURE() << "no series " << family;
    return 0;
  }
  return s->values.at(0);
}

class RequestStatsTest : public ::testing::Test {
 protected:
  RequestStatsTest() : cfg_(twoRouteConfig()), stats_(*reg_.addShard()) {
    stats_.setSlots(buildRequestSlots(reg_, cfg_));
    https_.name = "https";
    https_.tls = true;
    assignListenerSlots(reg_, https_, 0);
    http_.name = "http";
    assignListenerSlots(reg_, http_, 1);
  }
  RequestRecord routed(int route, int cluster, int status) {
    RequestRecord r;
    r.listener = &https_;
    r.route = route;
    r.cluster = cluster;
    r.cluster_name = cfg_.upstreams[static_cast<size_t>(cluster)].name;
    r.status = status;
    return r;
  }

  Registry reg_;
  config::Config cfg_;
  RequestStats stats_;
  ListenerInfo https_, http_;
};

TEST_F(RequestStatsTest, CountsByListenerRouteClusterAndClass) {
  stats_.onRequestDone(routed(0, 1, 200));
  stats_.onRequestDone(routed(0, 1, 204));
  stats_.onRequestDone(routed(1, 0, 503));
  RequestRecord redirect;
  redirect.listener = &http_;
  redirect.status = 301;
  stats_.onRequestDone(redirect);

  EXPECT_EQ(counter(reg_, "portcullis_requests_total", {"https", "example.com/api", "api", "2xx"}), 2u);
  EXPECT_EQ(counter(reg_, "portcullis_requests_total", {"https", "*/", "app", "5xx"}), 1u);
  EXPECT_EQ(counter(reg_, "portcullis_requests_total", {"http", "", "", "3xx"}), 1u);
  EXPECT_EQ(counter(reg_, "portcullis_requests_total", {"https", "*/", "app", "2xx"}), 0u);
}

TEST_F(RequestStatsTest, StatusClassesAtTheEdges) {
  for (int status : {100, 199, 200, 299, 300, 399, 400, 499, 500, 599}) stats_.onRequestDone(routed(1, 0, status));
  for (std::string c : {"1xx", "2xx", "3xx", "4xx", "5xx"})
    EXPECT_EQ(counter(reg_, "portcullis_requests_total", {"https", "*/", "app", c}), 2u) << c;
}

TEST_F(RequestStatsTest, BytesErrorsRetriesQueueAndHistograms) {
  RequestRecord r = routed(1, 0, 504);
  r.bytes_in = 100;
  r.bytes_out = 2000;
  r.duration_us = 3'000;            // bucket 0.005
  r.upstream_connect_us = 200;      // bucket 0.00025
  r.upstream_first_byte_us = -1;    // never got one: not observed
  r.retries = 2;
  r.queued = true;
  r.queue_timeout = true;
  r.setError(ErrorKind::UpstreamTimeout);
  stats_.onRequestDone(r);

  EXPECT_EQ(counter(reg_, "portcullis_request_bytes_total", {"https"}), 100u);
  EXPECT_EQ(counter(reg_, "portcullis_response_bytes_total", {"https"}), 2000u);
  EXPECT_EQ(counter(reg_, "portcullis_request_errors_total", {"https", "upstream_timeout"}), 1u);
  EXPECT_EQ(counter(reg_, "portcullis_request_errors_total", {"https", "client_closed"}), 0u);
  EXPECT_EQ(counter(reg_, "portcullis_upstream_retries_total", {"app"}), 2u);
  EXPECT_EQ(counter(reg_, "portcullis_upstream_queued_total", {"app"}), 1u);
  EXPECT_EQ(counter(reg_, "portcullis_upstream_queue_timeouts_total", {"app"}), 1u);

  auto snap = reg_.snapshot();
  const auto* d = find(snap, "portcullis_request_duration_seconds", {"https", "*/", "app"});
  ASSERT_TRUE(d);
  ASSERT_EQ(d->values.size(), std::size(kDurationBucketsUs) + 2);
  EXPECT_EQ(d->values[2], 1u);  // <= 5 ms
  EXPECT_EQ(d->values.back(), 3'000u);
  const auto* c = find(snap, "portcullis_upstream_connect_duration_seconds", {"app"});
  ASSERT_TRUE(c);
  EXPECT_EQ(c->values[1], 1u);  // <= 250 µs
  const auto* fb = find(snap, "portcullis_upstream_first_byte_duration_seconds", {"app"});
  ASSERT_TRUE(fb);
  EXPECT_EQ(fb->values.back(), 0u);
}

TEST_F(RequestStatsTest, ARecordFromBeforeAReloadNeverLandsInAnotherRoutesSeries) {
  RequestRecord stale = routed(0, 1, 200);
  stale.cluster_name = "gone";  // the old config's cluster 1 had another name
  stats_.onRequestDone(stale);
  EXPECT_EQ(counter(reg_, "portcullis_requests_total", {"https", "example.com/api", "api", "2xx"}), 0u);
  EXPECT_EQ(counter(reg_, "portcullis_requests_total", {"https", "", "", "2xx"}), 1u);
  RequestRecord out_of_range = routed(0, 1, 200);
  out_of_range.route = 7;
  out_of_range.cluster = 9;
  stats_.onRequestDone(out_of_range);
  EXPECT_EQ(counter(reg_, "portcullis_requests_total", {"https", "", "", "2xx"}), 2u);
}

TEST_F(RequestStatsTest, AReloadKeepsCountsForTheSameLabels) {
  stats_.onRequestDone(routed(1, 0, 200));
  config::Config next = twoRouteConfig();
  std::swap(next.routes[0], next.routes[1]);  // same routes, other order
  stats_.setSlots(buildRequestSlots(reg_, next));
  RequestRecord r = routed(0, 0, 200);  // route 0 is now the catch-all to "app"
  stats_.onRequestDone(r);
  EXPECT_EQ(counter(reg_, "portcullis_requests_total", {"https", "*/", "app", "2xx"}), 2u);
}

TEST_F(RequestStatsTest, ConnectionSlotsPerListener) {
  EXPECT_NE(https_.connections_accepted_slot[kHttp11], http_.connections_accepted_slot[kHttp11]);
  EXPECT_NE(https_.connections_accepted_slot[kHttp11], https_.connections_closed_slot[kHttp11]);
  EXPECT_NE(https_.connections_accepted_slot[kH2], https_.connections_accepted_slot[kHttp11]);
  // HTTP/2 is TLS only: no h2 series on the plain listener.
  EXPECT_EQ(http_.connections_accepted_slot[kH2], ListenerInfo::kNoSlot);
  ListenerInfo again;
  again.name = "https";
  again.tls = true;
  assignListenerSlots(reg_, again, 0);
  EXPECT_EQ(again.connections_accepted_slot[kH2], https_.connections_accepted_slot[kH2]);
}

}  // namespace
}  // namespace portcullis::proxy
