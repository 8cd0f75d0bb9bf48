// portcullis: CLI, start-up and the main thread's signal loop (reload, DNS refresh, drain).
//
// Exit codes: 0 ok (or -t: config valid), 2 configuration error ("file:line:col: message"),
// 64 bad command-line usage (EX_USAGE), 1 runtime failure (e.g. a port cannot be bound).
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "base/log.h"
#include "base/log_writer.h"
#include "base/stats.h"
#include "config/load.h"
#include "config/values.h"
#include "net/socket.h"
#include "proxy/redirect.h"
#include "server/control.h"
#include "server/django_settings.h"
#include "server/metrics.h"
#include "server/privileges.h"
#include "server/runtime_builder.h"
#include "server/sd_notify.h"
#include "server/worker.h"

namespace pc = portcullis;

namespace {

constexpr int kExitRuntime = 1;
constexpr int kExitConfig = 2;
constexpr int kExitUsage = 64;

const char* kUsage =
    "usage: portcullis [-c FILE] [-t] [--ready-file PATH] [--log-level debug|info|warn|error]\n"
    "       portcullis django-settings [-c FILE] [--format all|settings|gunicorn]\n"
    "  -c, --config FILE    configuration file (default: conf/portcullis.yaml)\n"
    "  -t, --test           check the configuration (YAML, certificates, upstream names) and exit;\n"
    "                       warns where it contradicts gunicorn's defaults\n"
    "  django-settings      print the Django settings.py lines and gunicorn/uvicorn flags that\n"
    "                       match the configuration (checked as by -t), then exit\n"
    "  --format WHAT        django-settings: all (default; valid Python), settings, or gunicorn\n"
    "                       (one line of flags)\n"
    "  --ready-file PATH    once every listener is bound, write \"<name> <host>:<port>\" lines here\n"
    "  --log-level LEVEL    debug, info (default), warn or error\n"
    "  -h, --help           show this help\n"
    "  -V, --version        show the version\n";

struct Options {
  std::string config = "conf/portcullis.yaml";
  std::string ready_file;
  bool test_only = false;
  bool django_settings = false;
  std::string django_format;  // --format; empty: "all"
};

int usageError(const std::string& msg) {
  std::fprintf(stderr, "portcullis: %s\n%s", msg.c_str(), kUsage);
  return kExitUsage;
}

// Returns -1 to continue, else an exit code.
int parseArgs(int argc, char** argv, Options& o) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&](std::string& out) -> bool {
      if (i + 1 >= argc) return false;
      out = argv[++i];
      return true;
    };
    if (a == "-c" || a == "--config") {
      if (!value(o.config)) return usageError(a + " needs a file");
    } else if (a.rfind("--config=", 0) == 0) {
      o.config = a.substr(9);
    } else if (a == "-t" || a == "--test") {
      o.test_only = true;
    } else if (a == "django-settings") {
      o.django_settings = true;
    } else if (a == "--format") {
      if (!value(o.django_format)) return usageError(a + " needs all, settings or gunicorn");
      if (o.django_format != "all" && o.django_format != "settings" && o.django_format != "gunicorn")
        return usageError("unknown format '" + o.django_format + "'");
    } else if (a == "--ready-file") {
      if (!value(o.ready_file)) return usageError(a + " needs a path");
    } else if (a == "--log-level") {
      std::string lv;
      if (!value(lv)) return usageError(a + " needs a level");
      using L = pc::base::log::Level;
      if (lv == "debug") pc::base::log::setLevel(L::Debug);
      else if (lv == "info") pc::base::log::setLevel(L::Info);
      else if (lv == "warn") pc::base::log::setLevel(L::Warn);
      else if (lv == "error") pc::base::log::setLevel(L::Error);
      else return usageError("unknown log level '" + lv + "'");
    } else if (a == "-h" || a == "--help") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (a == "-V" || a == "--version") {
      std::printf("portcullis %s\n", pc::server::kVersion);
      return 0;
    } else {
      return usageError("unknown argument '" + a + "'");
    }
  }
  if (!o.django_format.empty() && !o.django_settings) return usageError("--format is for django-settings");
  return -1;
}

pc::proxy::ListenerInfo listenerInfo(const pc::config::Listener& l, size_t index) {
  pc::proxy::ListenerInfo info;
  info.name = l.name;
  info.tls = l.tls.has_value();
  pc::proxy::assignListenerSlots(pc::base::stats::Registry::global(), info, index);
  info.https_port = l.redirect_to_https ? l.redirect_to_https->https_port : 443;
  if (l.redirect_to_https) info.redirect_allowed_hosts = l.redirect_to_https->allowed_hosts;
  if (l.tls) {
    info.handshake_timeout_ms = static_cast<uint64_t>(l.tls->handshake_timeout.count());
    // Stripped from every client request on this listener, even with client_auth off: an app
    // configured to trust them must never see one a client made up. Set only from a verified
    // certificate.
    info.client_subject_header = l.tls->client_auth.subject_header;
    info.client_fingerprint_header = l.tls->client_auth.fingerprint_header;
  }
  if (l.tls && l.hsts.enabled) {
    info.hsts = pc::proxy::hstsValue(static_cast<uint64_t>(l.hsts.max_age.count()), l.hsts.include_subdomains,
                                     l.hsts.preload);
  }
  return info;
}

// A reload may change everything but the sockets: same listeners (name, address, kind) in the
// same order. Moving a listener means closing a SO_REUSEPORT socket, which drops the
// connections waiting in its accept queue; that is a restart, not a reload.
std::string listenerChange(const pc::config::Config& old_cfg, const pc::config::Config& new_cfg) {
  if (old_cfg.listeners.size() != new_cfg.listeners.size()) return "the number of listeners changed";
  for (size_t i = 0; i < old_cfg.listeners.size(); ++i) {
    const auto& a = old_cfg.listeners[i];
    const auto& b = new_cfg.listeners[i];
    if (a.name != b.name || a.host != b.host || a.port != b.port || a.tls.has_value() != b.tls.has_value())
      return "listener '" + b.name + "' changed its name, address or kind";
  }
  if (old_cfg.workers != new_cfg.workers) return "workers changed";
  return {};
}

// The access log's writer and the workers' formatters are made once, at start: a reload that
// changes the log keeps the running one (and says so) rather than lose or split lines between
// two files. SIGUSR1 reopens the same path.
std::string accessLogChange(const pc::config::AccessLog& a, const pc::config::AccessLog& b) {
  if (a.enabled != b.enabled) return b.enabled ? "turning access_log on" : "turning access_log off";
  if (!a.enabled) return {};
  if (a.path != b.path) return "a new access_log path";
  if (a.format != b.format) return "a new access_log format";
  return {};
}

bool writeReadyFile(const std::string& path, const std::string& text) {
  std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::trunc);
    if (!f) return false;
    f << text;
    if (!f.flush()) return false;
  }
  return std::rename(tmp.c_str(), path.c_str()) == 0;  // atomic: readers never see half a file
}

std::vector<pc::server::WorkerListener> listenerUpdates(const pc::config::Config& cfg,
                                                        const std::vector<std::shared_ptr<const pc::tls::Context>>& tls);

// SIGHUP: re-read the config and every certificate and key, check them all, then hand the new
// snapshot to the workers. Any error keeps the running configuration and says why (false).
bool reload(const std::string& path, std::shared_ptr<const pc::config::Config>& cfg,
            std::shared_ptr<const pc::proxy::Runtime>& runtime,
            std::vector<std::unique_ptr<pc::server::Worker>>& workers) {
  auto loaded = pc::config::loadFile(path);
  if (!loaded) {
    pc::base::log::error("reload failed, configuration unchanged: ", loaded.error().message);
    return false;
  }
  auto next = std::make_shared<const pc::config::Config>(std::move(*loaded));
  if (std::string why = listenerChange(*cfg, *next); !why.empty()) {
    pc::base::log::error("reload failed, configuration unchanged: ", why, " (restart to apply)");
    return false;
  }
  auto built = pc::server::buildRuntime(next, runtime.get());
  if (!built) {
    pc::base::log::error("reload failed, configuration unchanged: ", built.error().message);
    return false;
  }
  if (std::string why = accessLogChange(cfg->access_log, next->access_log); !why.empty()) {
    pc::base::log::warn("reload: ", why, " needs a restart; the access log stays as it was");
  }
  if (std::string why = pc::server::identityChange(*cfg, *next); !why.empty()) {
    pc::base::log::warn("reload: ", why, " needs a restart; the process keeps its user and group");
  }
  const auto updates = listenerUpdates(*next, built->tls);
  for (auto& w : workers) w->reload(built->runtime, updates);
  for (const auto& w : built->warnings) pc::base::log::warn(w);
  cfg = std::move(next);
  runtime = built->runtime;
  pc::base::log::info("reloaded ", path);
  return true;
}

// The shortest dns_refresh among the upstreams (0: none asks for it). Every name is
// re-resolved at that pace: resolution is cheap next to its interval, and one timer keeps the
// main thread's signal loop simple.
uint64_t dnsRefreshMs(const pc::config::Config& cfg) {
  uint64_t best = 0;
  for (const auto& u : cfg.upstreams) {
    auto ms = static_cast<uint64_t>(u.dns_refresh.count());
    if (ms && (!best || ms < best)) best = ms;
  }
  return best;
}

std::vector<pc::server::WorkerListener> listenerUpdates(const pc::config::Config& cfg,
                                                        const std::vector<std::shared_ptr<const pc::tls::Context>>& tls) {
  std::vector<pc::server::WorkerListener> updates;
  for (size_t i = 0; i < cfg.listeners.size(); ++i) {
    pc::server::WorkerListener u;
    u.info = listenerInfo(cfg.listeners[i], i);
    u.tls = tls[i];
    updates.push_back(std::move(u));
  }
  return updates;
}

// dns_refresh: resolve every upstream name again; when the set of addresses changed, the
// workers get a runtime with the new hosts. New addresses join; removed ones drain, because
// requests in flight keep the generation they started with.
void refreshDns(const pc::config::Config& cfg, std::shared_ptr<const pc::proxy::Runtime>& runtime,
                std::vector<std::unique_ptr<pc::server::Worker>>& workers) {
  // Same config as `runtime` was built from: its clusters' TLS contexts are kept, not rebuilt
  // from the CA files at every tick (those are re-read on SIGHUP, as documented).
  auto clusters = pc::server::buildClusters(cfg, runtime.get(), /*same_config=*/true);
  if (!clusters) {
    pc::base::log::warn("dns refresh failed, upstreams unchanged: ", clusters.error().message);
    return;
  }
  if (pc::server::sameHosts(*runtime, *clusters)) return;
  auto next = std::make_shared<pc::proxy::Runtime>(*runtime);
  next->clusters = std::move(*clusters);
  for (const auto& c : next->clusters) {
    std::string names;
    for (const auto& h : c->hosts()) names += (names.empty() ? "" : ", ") + h.name;
    pc::base::log::info("upstream ", c->name(), ": hosts now ", names);
  }
  runtime = next;
  for (auto& w : workers) w->reload(runtime, {});  // listeners unchanged
}

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  if (int rc = parseArgs(argc, argv, opt); rc >= 0) return rc;
  if (opt.django_settings) return pc::server::djangoSettingsCommand(opt.config, opt.django_format);

  auto loaded = pc::config::loadFile(opt.config);
  if (!loaded) {
    std::fprintf(stderr, "%s\n", loaded.error().message.c_str());
    return kExitConfig;
  }
  auto cfg = std::make_shared<const pc::config::Config>(std::move(*loaded));
  auto built = pc::server::buildRuntime(cfg);
  if (!built) {
    std::fprintf(stderr, "%s\n", built.error().message.c_str());
    return kExitConfig;
  }
  std::shared_ptr<const pc::proxy::Runtime> runtime = built->runtime;
  for (const auto& w : built->warnings) pc::base::log::warn(w);
  auto identity = pc::server::resolveIdentity(*cfg);
  if (!identity) {
    std::fprintf(stderr, "%s\n", identity.error().message.c_str());
    return kExitConfig;
  }
  if (opt.test_only) {
    pc::server::printDjangoWarnings(*cfg);
    std::fprintf(stderr, "portcullis: configuration %s is ok\n", opt.config.c_str());
    return 0;
  }

  // Signals are taken synchronously by this (control) thread with sigwait; every thread
  // inherits the mask, so no worker is ever interrupted. A peer closing mid-write must not
  // kill the process: EPIPE comes back as an error instead.
  ::signal(SIGPIPE, SIG_IGN);
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGHUP);
  sigaddset(&sigs, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);

  // One writer thread for the process; each worker formats into a buffer of its own.
  std::unique_ptr<pc::base::LogWriter> access_log;
  if (cfg->access_log.enabled) {
    auto opened = pc::base::LogWriter::open(cfg->access_log.path);
    if (!opened) {
      std::fprintf(stderr, "portcullis: %s: access_log: %s\n",
                   pc::config::toString(cfg->access_log.mark).c_str(), opened.error().message.c_str());
      return kExitRuntime;
    }
    access_log = std::move(*opened);
  }

  unsigned nworkers = cfg->workers ? cfg->workers : std::max(1u, std::thread::hardware_concurrency());

  // Bind every listener once per worker before starting anything, so a bind error stops the
  // start cleanly. With port 0 the first bind picks the port and the others join it.
  std::vector<std::vector<pc::server::WorkerListener>> per_worker(nworkers);
  std::string ready;
  for (size_t i = 0; i < cfg->listeners.size(); ++i) {
    const auto& l = cfg->listeners[i];
    uint16_t port = l.port;
    for (unsigned w = 0; w < nworkers; ++w) {
      auto fd = pc::net::bindReusePort(l.host, port);
      if (!fd) {
        std::fprintf(stderr, "portcullis: listener '%s': %s\n", l.name.c_str(), fd.error().message.c_str());
        for (auto& v : per_worker)
          for (auto& x : v) ::close(x.fd);
        return kExitRuntime;
      }
      if (port == 0) port = *pc::net::boundPort(*fd);
      pc::server::WorkerListener wl;
      wl.fd = *fd;
      wl.info = listenerInfo(l, i);
      wl.tls = built->tls[i];
      per_worker[w].push_back(std::move(wl));
    }
    std::string address = pc::config::formatHostPort(l.host, port);
    ready += l.name + " " + address + "\n";
    pc::base::log::info("listening on ", address, " (", l.name, l.tls ? ", tls" : ", redirect to https", ")");
  }

  // Admin: one socket (no SO_REUSEPORT), served by the control thread. Bound before the
  // workers start so that a taken port stops the start like a listener's would. Its line in
  // the ready file comes after the listeners' ("admin <host>:<port>").
  int admin_fd = -1;
  if (cfg->admin.enabled) {
    auto fd = pc::net::bindExclusive(cfg->admin.host, cfg->admin.port);
    if (!fd) {
      std::fprintf(stderr, "portcullis: admin: %s\n", fd.error().message.c_str());
      for (auto& v : per_worker)
        for (auto& x : v) ::close(x.fd);
      return kExitRuntime;
    }
    admin_fd = *fd;
    std::string address = pc::config::formatHostPort(cfg->admin.host, *pc::net::boundPort(admin_fd));
    ready += "admin " + address + "\n";
    pc::base::log::info("admin listening on ", address, " (/metrics, /healthz, /clusters)");
  }

  // Everything root was needed for is open: ports, certificates and keys (read by buildRuntime),
  // the access log. Give root up before any worker exists; see README "Run as a service" for
  // what a reload can still do afterwards.
  if (auto dropped = pc::server::dropPrivileges(*identity); !dropped) {
    std::fprintf(stderr, "portcullis: %s\n", dropped.error().message.c_str());
    for (auto& v : per_worker)
      for (auto& x : v) ::close(x.fd);
    if (admin_fd >= 0) ::close(admin_fd);
    return kExitRuntime;
  }
  if (identity->configured) {
    pc::base::log::info("running as user ", identity->user, ", group ", identity->group);
  }
  if (auto writable = pc::server::checkTempDir(*cfg); !writable) {
    std::fprintf(stderr, "portcullis: %s\n", writable.error().message.c_str());
    for (auto& v : per_worker)
      for (auto& x : v) ::close(x.fd);
    if (admin_fd >= 0) ::close(admin_fd);
    return kExitRuntime;
  }

  pc::server::ProcessStats process;
  process.workers = nworkers;
  std::vector<std::unique_ptr<pc::server::Worker>> workers;
  for (unsigned w = 0; w < nworkers; ++w) {
    workers.push_back(std::make_unique<pc::server::Worker>(static_cast<int>(w), built->runtime,
                                                           std::move(per_worker[w])));
    workers.back()->setAccessLog(access_log.get(), cfg->access_log.format);
    workers.back()->start();
  }
  // Active health checks run on the control loop, a thread of its own, off the workers.
  pc::server::Control control;
  control.start(runtime, &process, admin_fd);
  pc::base::log::info("portcullis started: ", nworkers, " workers, config ", opt.config);
  if (!opt.ready_file.empty() && !writeReadyFile(opt.ready_file, ready)) {
    pc::base::log::error("cannot write ready file ", opt.ready_file, ": ", std::strerror(errno));
  }
  pc::server::sd::ready();

  for (;;) {
    int sig = 0;
    if (uint64_t refresh = dnsRefreshMs(*cfg)) {
      timespec wait{static_cast<time_t>(refresh / 1000), static_cast<long>(refresh % 1000) * 1'000'000};
      sig = sigtimedwait(&sigs, nullptr, &wait);
      if (sig < 0) {
        if (errno == EAGAIN) refreshDns(*cfg, runtime, workers);
        control.update(runtime);  // no-op unless the hosts changed (same runtime)
        continue;
      }
    } else if (sigwait(&sigs, &sig) != 0) {
      continue;
    }
    if (sig == SIGUSR1) {
      // logrotate's postrotate: the file was renamed; new lines go to a new file at the path.
      if (access_log) {
        access_log->reopen();
        pc::base::log::info("SIGUSR1: reopening access log ", access_log->path());
      }
      continue;
    }
    if (sig == SIGHUP) {
      // READY=1 again whatever the outcome: a failed reload keeps serving the old config.
      pc::server::sd::reloading();
      if (reload(opt.config, cfg, runtime, workers)) {
        process.reloads_ok.fetch_add(1, std::memory_order_relaxed);
        process.generation.fetch_add(1, std::memory_order_relaxed);
      } else {
        process.reloads_failed.fetch_add(1, std::memory_order_relaxed);
      }
      control.update(runtime);  // no-op when the reload failed (same runtime)
      pc::server::sd::ready();
      continue;
    }
    pc::base::log::info("signal ", sig, ": draining (up to ", cfg->timeouts.shutdown_grace.count(), " ms)");
    pc::server::sd::stopping();
    break;
  }
  auto grace = static_cast<uint64_t>(cfg->timeouts.shutdown_grace.count());
  // /healthz turns 503 first, so an L4 balancer polling it stops sending while requests in
  // flight finish; no probes (or health flips) while draining. The admin listener stays up
  // until every worker is done.
  control.beginDrain();
  for (auto& w : workers) w->drain(grace);
  for (auto& w : workers) w->join();
  control.stop();  // joins the control thread
  if (access_log) {
    access_log->close();  // every worker has flushed: the last requests' lines are written now
    if (uint64_t dropped = access_log->droppedLines()) {
      pc::base::log::warn("access log: ", dropped, " lines dropped (", access_log->writeErrors(),
                          " write errors)");
    }
  }
  pc::base::log::info("portcullis stopped");
  return 0;
}
