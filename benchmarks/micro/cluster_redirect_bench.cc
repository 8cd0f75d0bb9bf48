// Balancer pick (src/upstream/balancer.h, made by Cluster::makeBalancer) and the redirect listener's Location
// (src/proxy/redirect.h buildHttpsLocation): once per request each.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

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

}  // namespace
