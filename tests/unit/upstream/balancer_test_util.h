#pragma once
// Helpers shared by the balancer specs.
#include <memory>
#include <string>
#include <vector>

#include "upstream/balancer.h"

namespace portcullis::upstream::testing {

// Hosts "h0:80", "h1:80"... with the given weights.
inline HostList makeHosts(const std::vector<uint32_t>& weights, uint32_t max_requests = 0) {
  HostList hosts;
  for (size_t i = 0; i < weights.size(); ++i) {
    hosts.push_back(std::make_shared<HostState>("h" + std::to_string(i) + ":80", weights[i], max_requests));
  }
  return hosts;
}

inline HostList makeNamed(const std::vector<std::string>& names) {
  HostList hosts;
  for (const auto& n : names) hosts.push_back(std::make_shared<HostState>(n, 1));
  return hosts;
}

// Pick counts per host over `n` picks with no exclusions; a nullopt pick counts nowhere.
inline std::vector<int> countPicks(Balancer& b, int n, uint64_t now_ms = 0) {
  std::vector<int> counts(b.size());
  Exclusions none;
  for (int i = 0; i < n; ++i) {
    std::string key = "k" + std::to_string(i);
    if (auto h = b.pick(PickContext{now_ms, key}, none)) ++counts[*h];
  }
  return counts;
}

}  // namespace portcullis::upstream::testing
