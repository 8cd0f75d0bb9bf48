#pragma once
// The /metrics page: the workers' request and connection shards (base/stats.h) summed, plus
// what only the process knows, read at scrape time on the control thread: TLS handshakes,
// upstream hosts and queues, reloads, config generation, build info.
#include <atomic>
#include <cstdint>
#include <string>

#include "base/stats.h"
#include "proxy/worker_context.h"

namespace portcullis::server {

inline constexpr const char* kVersion = "0.1.0";

// Written by the main thread (reload, drain), read by the control thread (admin).
struct ProcessStats {
  std::atomic<uint64_t> reloads_ok{0};
  std::atomic<uint64_t> reloads_failed{0};
  std::atomic<uint64_t> generation{1};  // 1 = the config loaded at start; +1 per successful reload
  std::atomic<bool> draining{false};
  std::atomic<uint32_t> workers{0};
};

// `runtime` may be null (no clusters shown). `now_ms`: monotonic loop time.
std::string renderMetrics(const base::stats::Registry& registry, const ProcessStats& process,
                          const proxy::Runtime* runtime, uint64_t now_ms);

}  // namespace portcullis::server
