#include "upstream/cluster.h"

namespace portcullis::upstream {

namespace {
HostList statesOf(const std::vector<Host>& hosts) {
  HostList out;
  out.reserve(hosts.size());
  for (const auto& h : hosts) out.push_back(h.state);
  return out;
}
}  // namespace

Cluster::Cluster(std::string name, std::vector<Host> hosts, ClusterOptions opts,
                 std::shared_ptr<const tls::ClientContext> tls)
    : name_(std::move(name)),
      hosts_(std::move(hosts)),
      states_(statesOf(hosts_)),
      opts_(opts),
      tls_(std::move(tls)),
      outlier_(states_, opts_.outlier),
      retry_budget_(opts_.retry_budget) {}

std::unique_ptr<Balancer> Cluster::makeBalancer(uint64_t seed) const {
  BalancerOptions b = opts_.balancer;
  b.seed = seed;
  return upstream::makeBalancer(opts_.policy, states_, b);
}

}  // namespace portcullis::upstream
