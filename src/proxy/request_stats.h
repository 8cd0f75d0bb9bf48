#pragma once
// Metrics of finished requests: a RequestObserver per worker that counts each RequestRecord
// into the worker's stats shard (base/stats.h). The label sets come from the config and are
// registered off the request path when a runtime is built (buildRequestSlots), so counting a
// request is a handful of indexed relaxed stores: no lock, no allocation, no shared line.
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "base/stats.h"
#include "config/model.h"
#include "proxy/request_record.h"

namespace portcullis::proxy {

struct ListenerInfo;

inline constexpr size_t kStatusClasses = 5;     // 1xx .. 5xx
inline constexpr size_t kErrorKinds = 17;       // every ErrorKind (ClientClosed is the last)
// Connection protocols, indexes into ListenerInfo's connection slots.
inline constexpr uint8_t kHttp11 = 0;
inline constexpr uint8_t kH2 = 1;
inline constexpr std::string_view kProtocolNames[] = {"http/1.1", "h2"};

// Request histogram buckets, in microseconds: a web proxy's answers span from a cached 1 ms
// to a report that takes most of gunicorn's 30 s timeout.
inline constexpr uint64_t kDurationBucketsUs[] = {1'000,   2'500,   5'000,     10'000,    25'000,
                                                  50'000,  100'000, 250'000,   500'000,   1'000'000,
                                                  2'500'000, 5'000'000, 10'000'000, 30'000'000, 60'000'000};
// Connect (pool reuse is ~0) and first byte (the app's think time) need finer low buckets.
inline constexpr uint64_t kUpstreamBucketsUs[] = {100,     250,     500,       1'000,     2'500,     5'000,
                                                  10'000,  25'000,  50'000,    100'000,   250'000,   500'000,
                                                  1'000'000, 2'500'000, 5'000'000, 10'000'000, 30'000'000};

// The slots of one runtime's label sets. Listener indexes are stable for the process (a reload
// cannot change listeners); route and cluster indexes are those of the runtime's config.
struct RequestSlots {
  size_t listeners = 0;
  size_t routes = 0;
  std::vector<std::string> route_clusters;  // per route: its upstream's name
  std::vector<std::string> clusters;        // per config upstream
  // [(listener * (routes + 1) + route + 1) * kStatusClasses + class]; route -1 = none.
  std::vector<uint32_t> requests;
  std::vector<uint32_t> duration;  // histogram, [listener * (routes + 1) + route + 1]
  // Files a static route with a fallback answered from disk: their own series, with an empty
  // cluster label (the route's series carry its upstream's name). [(listener * routes + route)
  // * kStatusClasses + class] and [listener * routes + route]; kNoStaticSlot for other routes.
  static constexpr uint32_t kNoStaticSlot = UINT32_MAX;
  std::vector<uint32_t> static_requests, static_duration;
  std::vector<uint32_t> bytes_in, bytes_out;  // [listener]
  std::vector<uint32_t> errors;               // [listener * kErrorKinds + kind]
  // [cluster]
  std::vector<uint32_t> connect, first_byte, retries, queued, queue_timeouts;
  // [cluster]: WebSocket tunnels opened and closed (open = the difference, at scrape), and
  // their bytes each way.
  std::vector<uint32_t> tunnels_opened, tunnels_closed, tunnel_to_upstream, tunnel_to_client;
};

// Registers the request families and every label set of `cfg` in `registry`. Main thread (start,
// reload); the same (family, labels) always gets the same slot, so counts carry over a reload.
std::shared_ptr<const RequestSlots> buildRequestSlots(base::stats::Registry& registry, const config::Config& cfg);

// The connection counters of listener `name` (index `index` in the config), set into `info`.
void assignListenerSlots(base::stats::Registry& registry, ListenerInfo& info, size_t index);

// "example.com/api", "*/" (any host): the route label, unique per config (validate.cc).
std::string routeLabel(const config::Route& r);

class RequestStats final : public RequestObserver {
 public:
  explicit RequestStats(base::stats::Shard& shard) : shard_(shard) {}
  // The worker's current runtime's slots; set on the worker thread at start and at each
  // reload (the shared_ptr keeps them alive while in use).
  void setSlots(std::shared_ptr<const RequestSlots> slots) { slots_ = std::move(slots); }
  void onRequestDone(const RequestRecord& r) override;
  void onTunnelOpened(const RequestRecord& r) override;
  void onTunnelBytes(const RequestRecord& r, uint64_t to_upstream, uint64_t to_client) override;

 private:
  // r's cluster index in the current slots, if its name still agrees (a record may come from
  // before a reload); -1 otherwise.
  long clusterOf(const RequestRecord& r) const;

  base::stats::Shard& shard_;
  std::shared_ptr<const RequestSlots> slots_;
};

}  // namespace portcullis::proxy
