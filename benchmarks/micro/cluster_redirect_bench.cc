// Balancer pick (src/upstream/cluster.h Cluster::pick) and the redirect listener's Location
// (src/proxy/redirect.h buildHttpsLocation): once per request each.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "proxy/redirect.h"
#include "upstream/cluster.h"

namespace {

using namespace portcullis;

upstream::Cluster makeCluster(size_t n) {
  std::vector<upstream::Host> hosts;
  for (size_t i = 0; i < n; ++i) hosts.push_back({"app" + std::to_string(i) + ":8000", {}});
  return upstream::Cluster("app", std::move(hosts), 64, 1500);
}

void BM_ClusterPick(benchmark::State& state) {
  upstream::Cluster cluster = makeCluster(static_cast<size_t>(state.range(0)));
  for (auto _ : state) benchmark::DoNotOptimize(cluster.pick());
}
BENCHMARK(BM_ClusterPick)->Arg(2)->Arg(8);

// Every thread of the benchmark picks from the same cluster, as the proxy's workers do.
void BM_ClusterPickShared(benchmark::State& state) {
  static upstream::Cluster cluster = makeCluster(4);
  for (auto _ : state) benchmark::DoNotOptimize(cluster.pick());
}
BENCHMARK(BM_ClusterPickShared)->Threads(1)->Threads(2);

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
