#include "config/django_profile.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <set>

namespace portcullis::config {
namespace {

using std::chrono::milliseconds;

// gunicorn's defaults (docs.gunicorn.org, settings): --timeout 30, --keep-alive 2.
constexpr milliseconds kGunicornTimeout{30'000};
constexpr milliseconds kGunicornKeepAlive{2'000};
// Margin between Portcullis's upstream_response and gunicorn's --timeout.
constexpr unsigned kTimeoutMarginS = 5;

unsigned ceilSeconds(milliseconds d) {
  auto ms = static_cast<uint64_t>(std::max<int64_t>(0, d.count()));
  return static_cast<unsigned>((ms + 999) / 1000);
}

// "3s", "1500ms" as a config would write them.
std::string durationText(milliseconds d) {
  auto ms = d.count();
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

// A Python string literal (double quotes; backslash, quote and control characters escaped).
std::string py(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20 || u == 0x7f) {
      static const char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[u >> 4];
      out += kHex[u & 15];
    } else {
      out += c;
    }
  }
  return out + "\"";
}

// The model's defaults (named, not temporaries: GCC 12 flags those as maybe-uninitialized).
milliseconds defaultIdleTimeout() {
  static const Upstream u;
  return u.idle_timeout;
}
milliseconds defaultUpstreamResponse() {
  static const Timeouts t;
  return t.upstream_response;
}

std::string lineOf(const Mark& m) { return m.line > 0 ? "line " + std::to_string(m.line) : "default"; }

bool isLoopback(const std::string& host) {
  return host == "localhost" || host.rfind("127.", 0) == 0 || host == "::1";
}

struct HostEntry {
  std::string pattern;  // as a route or certificate writes it ("*.example.com")
  std::string comment;
};

// ALLOWED_HOSTS sources: the hosts of the routes that reach an upstream; when one of them takes
// any host, the TLS listeners' certificate names too (Portcullis then forwards any Host, and
// Django's ALLOWED_HOSTS is the only host check left).
struct Hosts {
  std::vector<HostEntry> entries;
  bool any_host_route = false;
};

Hosts collectHosts(const Config& cfg, const std::vector<std::vector<std::string>>& certificate_names) {
  Hosts h;
  auto add = [&h](const std::string& pattern, std::string comment) {
    for (const auto& e : h.entries)
      if (e.pattern == pattern) return;
    h.entries.push_back({pattern, std::move(comment)});
  };
  for (const Route& r : cfg.routes) {
    if (r.upstream.empty()) continue;  // a static route without fallback never reaches Django
    if (r.host.empty()) {
      h.any_host_route = true;
      continue;
    }
    add(r.host, "route at " + lineOf(r.mark));
  }
  if (h.any_host_route) {
    for (size_t i = 0; i < cfg.listeners.size() && i < certificate_names.size(); ++i) {
      if (!cfg.listeners[i].tls) continue;
      for (const std::string& n : certificate_names[i])
        add(n, "certificate of listener '" + cfg.listeners[i].name + "'");
    }
  }
  return h;
}

// The ports browsers use for https: the redirect listeners' targets and the TLS listeners' own
// ports (0, "pick one", is a test's and left out). 443 when none is known.
std::vector<uint16_t> httpsPorts(const Config& cfg) {
  std::set<uint16_t> ports;
  for (const Listener& l : cfg.listeners) {
    if (l.redirect_to_https) ports.insert(l.redirect_to_https->https_port);
    if (l.tls && l.port != 0) ports.insert(l.port);
  }
  if (ports.empty()) ports.insert(443);
  return {ports.begin(), ports.end()};
}

std::string origin(const std::string& pattern, uint16_t port) {
  // Django 4 takes "https://*.example.com" as is; an IPv6 address goes in brackets.
  std::string host = pattern.rfind("*.", 0) == 0 ? pattern : djangoHostPattern(pattern);
  return "https://" + host + (port == 443 ? "" : ":" + std::to_string(port));
}

void settings(const Config& cfg, const std::vector<std::vector<std::string>>& certificate_names, std::string& o) {
  const bool any_tls = std::any_of(cfg.listeners.begin(), cfg.listeners.end(), [](const Listener& l) { return l.tls.has_value(); });
  o += "# --- settings.py ---\n";
  if (!any_tls) {
    o += "# FIXME: no listener terminates TLS, so no request reaches Django through Portcullis over https\n";
  }
  o += "# Portcullis replaces any client-sent X-Forwarded-Proto/-Host/-Port with its own, so Django may trust them.\n";
  o += "SECURE_PROXY_SSL_HEADER = (\"HTTP_X_FORWARDED_PROTO\", \"https\")  # \"https\" on every TLS listener\n";
  o += "USE_X_FORWARDED_HOST = True  # set to the Host header, which Portcullis forwards unchanged\n";
  o += "USE_X_FORWARDED_PORT = True  # set to the port of the listener the client connected to\n";

  // ALLOWED_HOSTS and CSRF_TRUSTED_ORIGINS.
  Hosts hosts = collectHosts(cfg, certificate_names);
  if (hosts.entries.empty()) {
    o += "# FIXME: no route names a host and no certificate names one: list the site's host names here.\n";
    o += "# Never \"*\": with a route that takes any host, ALLOWED_HOSTS is the only Host check.\n";
    o += "ALLOWED_HOSTS = []\n";
    o += "CSRF_TRUSTED_ORIGINS = []\n";
  } else {
    if (hosts.any_host_route) {
      o += "# A route takes any host, so these are the TLS certificates' names as well: remove any that is not the site's.\n";
    }
    o += "ALLOWED_HOSTS = [\n";
    for (const auto& e : hosts.entries) {
      o += "    " + py(djangoHostPattern(e.pattern)) + ",  # " + e.comment;
      if (e.pattern.rfind("*.", 0) == 0) o += " (" + e.pattern + "; Django's form also matches " + e.pattern.substr(2) + ")";
      o += "\n";
    }
    o += "]\n";
    const std::vector<uint16_t> ports = httpsPorts(cfg);
    o += "# Django >= 4.0 (scheme required). Same-origin POSTs pass without it; it is for the other hosts of the site.\n";
    o += "CSRF_TRUSTED_ORIGINS = [\n";
    for (const auto& e : hosts.entries)
      for (uint16_t port : ports) o += "    " + py(origin(e.pattern, port)) + ",\n";
    o += "]\n";
    o += "# Django 3.2 (Debian 12) takes hosts instead: CSRF_TRUSTED_ORIGINS = [";
    for (size_t i = 0; i < hosts.entries.size(); ++i)
      o += (i ? ", " : "") + py(djangoHostPattern(hosts.entries[i].pattern));
    o += "]\n";
  }

  if (any_tls) {
    o += "SESSION_COOKIE_SECURE = True  # routes are served over TLS only; plain listeners redirect\n";
    o += "CSRF_COOKIE_SECURE = True  # likewise\n";
  }
  o += "# Portcullis's plain listeners redirect to https before Django sees a request (except ACME\n";
  o += "# challenges, which must stay on http); a second redirect in Django adds nothing.\n";
  o += "SECURE_SSL_REDIRECT = False\n";

  // HSTS: Portcullis adds the listener's header only when the upstream sent none, so a Django
  // header would win. One place decides: the listener's `hsts:`.
  std::vector<const Listener*> hsts_on;
  for (const Listener& l : cfg.listeners)
    if (l.tls && l.hsts.enabled) hsts_on.push_back(&l);
  if (!hsts_on.empty()) {
    for (const Listener* l : hsts_on) {
      o += "# Listener '" + l->name + "' sends Strict-Transport-Security: max-age=" + std::to_string(l->hsts.max_age.count()) +
           (l->hsts.include_subdomains ? "; includeSubDomains" : "") + (l->hsts.preload ? "; preload" : "") + "\n";
    }
    o += "SECURE_HSTS_SECONDS = 0  # Portcullis sends HSTS; a header from Django would replace it\n";
  } else {
    o += "SECURE_HSTS_SECONDS = 0  # no listener sends HSTS; turn on the listener's `hsts:` rather than this\n";
  }
  o += "SECURE_HSTS_INCLUDE_SUBDOMAINS = False  # unused while SECURE_HSTS_SECONDS = 0\n";
  o += "SECURE_HSTS_PRELOAD = False  # likewise\n";
  o += "# `manage.py check --deploy` then reports security.W004 and W008: both are Portcullis's job here.\n";
  o += "# SILENCED_SYSTEM_CHECKS = [\"security.W004\", \"security.W008\"]\n";

  // Static and media files that Portcullis serves itself.
  const Route* static_route = nullptr;
  const Route* media_route = nullptr;
  std::vector<const Route*> statics;
  for (const Route& r : cfg.routes) {
    if (!r.static_files) continue;
    statics.push_back(&r);
    bool media = r.path_prefix.find("media") != std::string::npos;
    if (media && !media_route) media_route = &r;
    if (!media && !static_route) static_route = &r;
  }
  if (statics.empty()) {
    o += "# No route has `static:`: Django (e.g. whitenoise) serves STATIC_URL itself.\n";
  }
  for (const Route* r : statics) {
    if (r == static_route || r == media_route) continue;
    o += "# Also served by Portcullis: " + r->path_prefix + " from " + r->static_files->root + " (route at " + lineOf(r->mark) + ")\n";
  }
  auto url = [](const Route* r) {
    std::string p = r->path_prefix;
    if (p.empty() || p.back() != '/') p += '/';  // Django requires the trailing slash
    return r->host.empty() ? p : "https://" + r->host + p;
  };
  if (static_route) {
    o += "STATIC_URL = " + py(url(static_route)) + "  # static route at " + lineOf(static_route->mark) + "\n";
    o += "STATIC_ROOT = " + py(static_route->static_files->root) + "  # its static.root: collectstatic writes, Portcullis serves\n";
  }
  if (media_route) {
    o += "MEDIA_URL = " + py(url(media_route)) + "  # static route at " + lineOf(media_route->mark) + "\n";
    o += "MEDIA_ROOT = " + py(media_route->static_files->root) + "  # its static.root: uploads are written here, Portcullis serves them\n";
  }
}

std::string gunicornFlags(const AppServerFlags& f) {
  std::string ips = f.forwarded_allow_ips.empty() ? "FIXME-proxy-address" : f.forwarded_allow_ips;
  return "--forwarded-allow-ips=" + ips + " --timeout=" + std::to_string(f.timeout_s) +
         " --keep-alive=" + std::to_string(f.keep_alive_s);
}

void appServers(const Config& cfg, std::string& o) {
  const AppServerFlags f = appServerFlags(cfg);
  milliseconds idle{0};
  std::string idle_from;
  for (const Upstream& u : cfg.upstreams) {
    if (u.idle_timeout > idle) {
      idle = u.idle_timeout;
      idle_from = "upstream '" + u.name + "' idle_timeout " + durationText(u.idle_timeout);
    }
  }
  if (idle_from.empty()) idle_from = "idle_timeout " + durationText(defaultIdleTimeout()) + " (default)";
  o += "\n# --- gunicorn (command line; or the same flags in GUNICORN_CMD_ARGS) ---\n";
  o += "#   gunicorn " + gunicornFlags(f) + " myproject.wsgi\n";
  if (f.forwarded_allow_ips.empty()) {
    o += "# --forwarded-allow-ips: FIXME: the address Portcullis connects from, as the app servers see it\n";
    o += "#   (not every upstream server is on loopback).\n";
  } else {
    o += "# --forwarded-allow-ips=" + f.forwarded_allow_ips + ": every upstream server is on loopback, so Portcullis connects from there.\n";
  }
  o += "# --timeout=" + std::to_string(f.timeout_s) + ": above timeouts.upstream_response " + durationText(cfg.timeouts.upstream_response) +
       " (" + lineOf(cfg.timeouts.upstream_response_mark) + "), so a slow view gets Portcullis's 504\n";
  o += "#   and a closed connection first; gunicorn kills the worker only if the view still runs " + std::to_string(kTimeoutMarginS) +
       " s later.\n";
  o += "#   The other way round the client gets a 502 from the killed worker (or an idempotent request is\n";
  o += "#   retried on another server, running the slow view again).\n";
  o += "# --keep-alive=" + std::to_string(f.keep_alive_s) + ": above " + idle_from +
       ", so Portcullis closes an idle connection before\n";
  o += "#   gunicorn does and never reuses one gunicorn is closing (gthread/gevent/eventlet workers; sync ones close after each response).\n";
  o += "\n# --- uvicorn / daphne (ASGI) ---\n";
  o += "#   uvicorn --proxy-headers --forwarded-allow-ips=" +
       (f.forwarded_allow_ips.empty() ? std::string("FIXME-proxy-address") : f.forwarded_allow_ips) +
       " --timeout-keep-alive=" + std::to_string(f.keep_alive_s) + " myproject.asgi:application\n";
  o += "#   daphne --proxy-headers myproject.asgi:application\n";
  o += "# uvicorn has no per-request timeout: Portcullis's upstream_response is the only one.\n";
}

}  // namespace

std::string djangoHostPattern(std::string_view host) {
  if (host.find(':') != std::string_view::npos) return "[" + std::string(host) + "]";  // IPv6, as in Host
  if (host.size() > 2 && host[0] == '*' && host[1] == '.') return std::string(host.substr(1));
  return std::string(host);
}

AppServerFlags appServerFlags(const Config& cfg) {
  AppServerFlags f;
  f.timeout_s = ceilSeconds(cfg.timeouts.upstream_response) + kTimeoutMarginS;
  milliseconds idle = cfg.upstreams.empty() ? defaultIdleTimeout() : milliseconds{0};
  bool v4 = false, v6 = false, all_loopback = !cfg.upstreams.empty();
  for (const Upstream& u : cfg.upstreams) {
    idle = std::max(idle, u.idle_timeout);
    for (const UpstreamServer& s : u.servers) {
      if (!isLoopback(s.host)) all_loopback = false;
      if (s.host == "::1") v6 = true;
      else if (s.host == "localhost") v4 = v6 = true;  // resolves to either
      else v4 = true;
    }
  }
  f.keep_alive_s = ceilSeconds(idle) + 1;
  if (all_loopback) f.forwarded_allow_ips = v4 && v6 ? "127.0.0.1,::1" : v6 ? "::1" : "127.0.0.1";
  return f;
}

std::string djangoSettings(const Config& cfg, const std::vector<std::vector<std::string>>& certificate_names,
                           DjangoPart part) {
  std::string o;
  if (part == DjangoPart::Gunicorn) return gunicornFlags(appServerFlags(cfg)) + "\n";
  o += "# Django settings matching " + (cfg.source_file.empty() ? std::string("the configuration") : cfg.source_file) + ",\n";
  o += "# made by `portcullis django-settings`: make them again after changing it.\n";
  settings(cfg, certificate_names, o);
  if (part == DjangoPart::All) appServers(cfg, o);
  return o;
}

std::vector<std::string> djangoWarnings(const Config& cfg) {
  std::vector<std::string> out;
  const AppServerFlags f = appServerFlags(cfg);
  for (const Upstream& u : cfg.upstreams) {
    if (u.idle_timeout < kGunicornKeepAlive) continue;
    const Mark& at = u.idle_timeout_mark.line > 0 ? u.idle_timeout_mark : u.mark;
    out.push_back(toString(at) + ": upstreams." + u.name + ".idle_timeout " + durationText(u.idle_timeout) +
                  " is not below gunicorn's default --keep-alive (2s): make sure gunicorn runs with --keep-alive=" +
                  std::to_string(ceilSeconds(u.idle_timeout) + 1) + " or more (see portcullis django-settings)");
  }
  // Only a value the config writes: the default (60 s, nginx's) is above gunicorn's 30 s too,
  // which conf/portcullis.yaml explains where it shows the default.
  const Timeouts& t = cfg.timeouts;
  if (t.upstream_response_mark.line > 0 && t.upstream_response > kGunicornTimeout &&
      t.upstream_response != defaultUpstreamResponse()) {
    out.push_back(toString(t.upstream_response_mark) + ": timeouts.upstream_response " + durationText(t.upstream_response) +
                  " is above gunicorn's default --timeout (30s), which kills the worker first: make sure gunicorn runs with --timeout=" +
                  std::to_string(f.timeout_s) + " or more (see portcullis django-settings)");
  }
  return out;
}

}  // namespace portcullis::config
