#include "upstream/health_checker.h"

#include <cerrno>
#include <cstring>
#include <random>
#include <utility>

#include "base/log.h"
#include "upstream/http1_client.h"
#include "net/connection.h"
#include "net/timer.h"

namespace portcullis::upstream {
namespace {

// Connection::connect reports libuv error codes, which on Unix are negated errno values (libuv
// docs, "Error handling"); upstream/ may not include uv.h, so they are matched as errno here.
std::string connectFailure(int status) {
  switch (-status) {
    case ECONNREFUSED: return "connect refused";
    case ETIMEDOUT: return "connect timeout";
    case EHOSTUNREACH:
    case ENETUNREACH: return "host unreachable";
    case EPERM: return "connect failed";  // also the code for "no TLS session could be made"
    default: return std::string("connect failed: ") + std::strerror(-status);
  }
}

const char* closeReason(net::CloseReason why) {
  switch (why) {
    case net::CloseReason::PeerEof: return "closed before the response";
    case net::CloseReason::PeerReset: return "connection reset";
    case net::CloseReason::TlsError: return "tls error";
    case net::CloseReason::Timeout: return "timeout";
    case net::CloseReason::Error: return "connection error";
    case net::CloseReason::Local: return "closed";
  }
  return "closed";
}

}  // namespace

// One host's probes: its timer, the connection of the probe in flight, and the rise/fall
// counters. Owned by the HealthChecker; both the timer and the connection are self-deleting
// handles, detached (Timer::close, Connection::abort) before this object goes away.
class HealthChecker::Prober final : public net::ConnectionHandler {
 public:
  Prober(HealthChecker& owner, size_t target, size_t host)
      : owner_(owner),
        target_(target),
        host_(host),
        cluster_(*owner.targets_[target].cluster),
        check_(owner.targets_[target].check) {
    const Host& h = cluster_.hosts()[host_];
    // A host resolved from a name is called "name:port@address" (server/runtime_builder.cc);
    // the Host header is the configured "name:port", as the application expects it.
    const std::string host_header = check_.host.empty() ? h.name.substr(0, h.name.find('@')) : check_.host;
    request_ = check_.method + " " + check_.path + " HTTP/1.1\r\nHost: " + host_header +
               "\r\nUser-Agent: portcullis-health-check\r\nConnection: close\r\n\r\n";
    // Only HEAD changes how a response head is read (no body follows); the body is never
    // parsed here, so every other method reads like GET.
    method_ = check_.method == "HEAD" ? http::Method::Head : http::Method::Get;
    interval_ms_ = static_cast<uint64_t>(check_.interval.count());
    timeout_ms_ = static_cast<uint64_t>(check_.timeout.count());
    if (interval_ms_ == 0) interval_ms_ = 1;  // validation forbids it; never spin
    if (timeout_ms_ == 0) timeout_ms_ = 1;
  }

  ~Prober() { stop(); }

  void start(uint64_t first_delay_ms) {
    timer_ = net::Timer::create(owner_.loop_, [this] { probe(); });
    timer_->start(first_delay_ms, interval_ms_);
  }

  void stop() {
    if (timer_) std::exchange(timer_, nullptr)->close();
    abortProbe();
  }

  uint64_t intervalMs() const { return interval_ms_; }

  // --- ConnectionHandler -----------------------------------------------------------------------
  void onConnected(net::Connection& c, int status) override {
    if (&c != conn_) return;
    if (status != 0) {
      conn_ = nullptr;  // a failed connect is the connection's last word
      finish(false, connectFailure(status));
      return;
    }
    uint64_t now = owner_.loop_.nowMs();
    c.setTimeout(deadline_ > now ? deadline_ - now : 1);
    c.write(request_);
    // The connection flushes what was written during onConnected once it returns.
  }

  void onData(net::Connection& c) override {
    if (&c != conn_) return;
    if (verdict_) {  // draining until the host closes
      c.input().consume(c.input().size());
      return;
    }
    switch (client_.readHead(c.input())) {
      case Http1Client::Read::NeedMore:
        return;
      case Http1Client::Read::Error:
        finish(false, std::string("bad response: ") + client_.errorDetail());
        abortProbe();
        return;
      case Http1Client::Read::Head:
      case Http1Client::Read::Upgrade: {  // a 101 is judged like any status (never expected)
        int status = client_.head().status;
        bool ok = false;
        for (const auto& [lo, hi] : check_.expected) ok = ok || (status >= lo && status <= hi);
        c.input().consume(c.input().size());
        finish(ok, "status " + std::to_string(status));
        return;
      }
    }
  }

  void onEof(net::Connection& c) override {
    if (&c != conn_) return;
    if (!verdict_) finish(false, closeReason(net::CloseReason::PeerEof));
    abortProbe();  // nothing unread is left, so this is an orderly close (FIN, not RST)
  }

  void onTimeout(net::Connection& c) override {
    if (&c != conn_) return;
    if (!verdict_) finish(false, "timeout");
    abortProbe();
  }

  void onClose(net::Connection& c, net::CloseReason why) override {
    if (&c != conn_) return;  // our own abort (conn_ already cleared)
    conn_ = nullptr;
    if (!verdict_) finish(false, closeReason(why));
  }

 private:
  void probe() {
    if (conn_) return;  // still running (only after a loop stall; timeout < interval)
    const Host& h = cluster_.hosts()[host_];
    verdict_ = false;
    client_.startResponse(method_);
    deadline_ = owner_.loop_.nowMs() + timeout_ms_;
    const auto& tls = cluster_.tls();
    conn_ = net::Connection::connect(owner_.loop_, h.address, this, timeout_ms_, tls, tls ? h.sni : std::string());
    if (!conn_) finish(false, "cannot create a socket");
  }

  void abortProbe() {
    if (net::Connection* c = std::exchange(conn_, nullptr)) c->abort();
  }

  // Records the verdict of the current probe and moves the host's state.
  void finish(bool passed, std::string reason) {
    verdict_ = true;
    const Host& h = cluster_.hosts()[host_];
    HostState& state = *h.state;
    uint64_t now = owner_.loop_.nowMs();
    if (passed) {
      failures_ = 0;
      ++passes_;
      if (!state.healthy() && passes_ >= check_.rise) {
        state.setHealthy(true, now);
        cluster_.outlier().onActiveCheckPassed(host_, now);
        base::log::info("upstream ", cluster_.name(), "/", h.name, ": healthy after ", passes_, " passed check",
                        passes_ == 1 ? "" : "s");
      }
    } else {
      passes_ = 0;
      ++failures_;
      if (state.healthy() && failures_ >= check_.fall) {
        state.setHealthy(false, now);
        base::log::warn("upstream ", cluster_.name(), "/", h.name, ": unhealthy after ", failures_, " failed check",
                        failures_ == 1 ? "" : "s", " (", reason, ")");
      } else {
        base::log::debug("upstream ", cluster_.name(), "/", h.name, ": health check failed (", reason, ")");
      }
    }
    if (owner_.observer_) owner_.observer_(ProbeResult{target_, host_, passed, std::move(reason)});
  }

  HealthChecker& owner_;
  const size_t target_;
  const size_t host_;
  const Cluster& cluster_;           // kept alive by owner_.targets_
  const config::HealthCheck& check_;  // likewise
  std::string request_;
  http::Method method_ = http::Method::Get;
  uint64_t interval_ms_ = 0;
  uint64_t timeout_ms_ = 0;
  net::Timer* timer_ = nullptr;
  net::Connection* conn_ = nullptr;  // the probe in flight, if any
  Http1Client client_;  // the same reader as proxied requests use
  uint64_t deadline_ = 0;
  bool verdict_ = false;  // the current probe has been judged (its connection may still drain)
  uint32_t passes_ = 0;   // in a row
  uint32_t failures_ = 0; // in a row
};

HealthChecker::HealthChecker(net::Loop& loop, std::vector<HealthCheckTarget> targets, uint64_t seed)
    : loop_(loop), targets_(std::move(targets)), seed_(seed != 0 ? seed : std::random_device{}()) {
  for (size_t t = 0; t < targets_.size(); ++t) {
    const auto& target = targets_[t];
    if (!target.cluster || !target.check.enabled) continue;
    for (size_t h = 0; h < target.cluster->hosts().size(); ++h)
      probers_.push_back(std::make_unique<Prober>(*this, t, h));
  }
}

HealthChecker::~HealthChecker() { stop(); }

void HealthChecker::start() {
  if (std::exchange(started_, true) || stopped_) return;
  uint64_t now = loop_.nowMs();
  for (const auto& target : targets_) {
    if (!target.cluster || target.check.enabled) continue;
    for (const auto& h : target.cluster->hosts()) {
      if (!h.state->healthy()) {
        h.state->setHealthy(true, now);
        base::log::info("upstream ", target.cluster->name(), "/", h.name, ": healthy (health checks are off)");
      }
    }
  }
  std::mt19937_64 rng(seed_);
  for (auto& p : probers_) {
    std::uniform_int_distribution<uint64_t> first(0, p->intervalMs() - 1);
    p->start(first(rng));
  }
}

void HealthChecker::stop() {
  if (std::exchange(stopped_, true)) return;
  for (auto& p : probers_) p->stop();
}

}  // namespace portcullis::upstream
