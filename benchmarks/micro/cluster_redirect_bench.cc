// Balancer pick (src/upstream/balancer.h, made by Cluster::makeBalancer) and the redirect listener's Location
// (src/proxy/redirect.h buildHttpsLocation): once per request each.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "base/buffer.h"
#include "base/hex.h"
#include "http/date.h"
#include "http/serializer.h"
#include "http/uri.h"
#include "proxy/local_reply.h"
#include "proxy/redirect.h"
#include "upstream/cluster.h"

namespace {

using namespace portcullis;

upstream::Cluster makeCluster(size_t n, upstream::Policy policy) {
  std::vector<upstream::Host> hosts;
  for (size_t i = 0; i < n; ++i) {
    std::string name = "app" + std::to_string(i) + ":8000";
    hosts.push_back({name, {}, "", std::make_shared<upstream::HostState>(name)});
  }
  upstream::ClusterOptions opts;
  opts.policy = policy;
  return upstream::Cluster("app", std::move(hosts), opts);
}

// acquire + release: what a request does with its host slot.
void BM_BalancerAcquire(benchmark::State& state) {
  auto policy = static_cast<upstream::Policy>(state.range(1));
  upstream::Cluster cluster = makeCluster(static_cast<size_t>(state.range(0)), policy);
  auto balancer = cluster.makeBalancer(0);
  upstream::Exclusions none;
  for (auto _ : state) {
    auto h = balancer->acquire(upstream::PickContext{1, "203.0.113.7"}, none);
    benchmark::DoNotOptimize(h);
    if (h) balancer->host(*h).release();
  }
}
BENCHMARK(BM_BalancerAcquire)
    ->Args({4, static_cast<int>(upstream::Policy::RoundRobin)})
    ->Args({4, static_cast<int>(upstream::Policy::LeastRequest)})
    ->Args({4, static_cast<int>(upstream::Policy::Hash)});

void BM_BuildHttpsLocation(benchmark::State& state) {
  for (auto _ : state) {
    std::string loc = proxy::buildHttpsLocation("www.example.com:80", 443,
                                                "/articles/2024/05/some-long-slug-for-an-article",
                                                "utm_source=newsletter&page=2", true);
    benchmark::DoNotOptimize(loc);
  }
}
BENCHMARK(BM_BuildHttpsLocation);

void BM_BuildHttpsLocationShort(benchmark::State& state) {
  for (auto _ : state) {
    std::string loc = proxy::buildHttpsLocation("localhost", 8443, "/", "", false);
    benchmark::DoNotOptimize(loc);
  }
}
BENCHMARK(BM_BuildHttpsLocationShort);

// The whole redirect answer for scenario (5)'s request (GET /some/page?q=1, Host: localhost),
// as the session wrote it (Location string, then the serializer's appends), and as the exchange
// writes it now (a local reply built as a response, one pass through the response serializer).
// The buffer is emptied each time, as the session's output is once sent.
void BM_RedirectReplyLocationPlusSerializer(benchmark::State& state) {
  base::Buffer out(4096);
  for (auto _ : state) {
    std::string_view host = "localhost";
    if (auto a = http::parseAuthority(host)) host = a->host;
    std::string location = proxy::buildHttpsLocation("localhost", 443, "/some/page", "q=1", true);
    http::appendStatusLine(out, 301);
    http::appendHeader(out, "Date", http::httpDateNow());
    http::appendHeader(out, "Content-Type", "text/plain; charset=utf-8");
    http::appendHeader(out, "Location", location);
    std::string_view reason = http::reasonPhrase(301);
    http::appendHeader(out, "Content-Length", static_cast<uint64_t>(3 + 1 + reason.size() + 1));
    http::appendEndOfHead(out);
    out.append("301");
    out.append(" ");
    out.append(reason);
    out.append("\n");
    benchmark::DoNotOptimize(out.data());
    out.consume(out.size());
  }
}
BENCHMARK(BM_RedirectReplyLocationPlusSerializer);

void BM_RedirectReplyOnePass(benchmark::State& state) {
  base::Buffer out(4096);
  std::string location;  // kept per connection, as the exchange keeps it
  http::Response r;      // likewise: its field list keeps its capacity
  proxy::LocalReplyScratch scratch;
  for (auto _ : state) {
    proxy::assignHttpsLocation(location, "localhost", 443, "/some/page", "q=1", true);
    std::string_view body = proxy::localReply(301, location, {}, false, scratch, r);
    http::appendResponseHead(out, r, http::Framing::ContentLength, http::ConnectionField::None);
    out.append(body);
    benchmark::DoNotOptimize(out.data());
    out.consume(out.size());
  }
}
BENCHMARK(BM_RedirectReplyOnePass);

// The per-request X-Request-Id's digits: a table look-up per digit, and base::hex16.
void BM_RequestIdDigitLoop(benchmark::State& state) {
  uint64_t v = 0x9e3779b97f4a7c15ull;
  char out[32];
  static constexpr char kHex[] = "0123456789abcdef";
  for (auto _ : state) {
    for (int half = 0; half < 2; ++half) {
      v += 0x9e3779b97f4a7c15ull;
      for (int i = 0; i < 16; ++i) out[half * 16 + i] = kHex[(v >> (60 - 4 * i)) & 0xf];
    }
    benchmark::DoNotOptimize(out);
  }
}
BENCHMARK(BM_RequestIdDigitLoop);

void BM_RequestIdHex16(benchmark::State& state) {
  uint64_t v = 0x9e3779b97f4a7c15ull;
  char out[32];
  for (auto _ : state) {
    base::hex16(v += 0x9e3779b97f4a7c15ull, out);
    base::hex16(v += 0x9e3779b97f4a7c15ull, out + 16);
    benchmark::DoNotOptimize(out);
  }
}
BENCHMARK(BM_RequestIdHex16);

}  // namespace
