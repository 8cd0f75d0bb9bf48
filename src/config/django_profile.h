#pragma once
// Config -> the Django and gunicorn settings that match it (`portcullis django-settings`), and
// the places where a config contradicts a Django deployment (warnings for `portcullis -t`).
// Pure: no I/O. The certificate names come from the server, which reads the PEM files.
//
// What the generated settings rely on (src/proxy/forwarded.cc): Portcullis removes every
// client-sent X-Forwarded-For/-Proto/-Host/-Port, Forwarded and X-Real-IP, then sets them from
// what it saw (X-Forwarded-Proto "https" on TLS listeners, X-Forwarded-Host = the Host it
// forwards unchanged, X-Forwarded-Port = the listener's port); it adds the listener's
// Strict-Transport-Security only when the upstream sent none.
#include <string>
#include <string_view>
#include <vector>

#include "config/model.h"

namespace portcullis::config {

// Which part `djangoSettings` prints.
enum class DjangoPart {
  All,       // settings.py, then the app servers' flags as comments: valid Python as a whole
  Settings,  // settings.py only
  Gunicorn,  // one line of gunicorn flags, for a shell or GUNICORN_CMD_ARGS
};

// The app servers' flags that match `cfg`.
struct AppServerFlags {
  unsigned timeout_s = 0;     // gunicorn --timeout: above timeouts.upstream_response
  unsigned keep_alive_s = 0;  // gunicorn --keep-alive / uvicorn --timeout-keep-alive: above
                              // every upstream's idle_timeout
  std::string forwarded_allow_ips;  // empty: not every upstream server is on loopback
};
AppServerFlags appServerFlags(const Config& cfg);

// Django's ALLOWED_HOSTS form of a route or certificate host: "*.example.com" -> ".example.com"
// (Django's subdomain pattern, which also matches example.com itself), an IPv6 address in
// brackets (as in a Host header), others unchanged.
std::string djangoHostPattern(std::string_view host);

// `certificate_names[i]`: the subjectAltNames of listener i's certificates (empty for plain
// listeners, or when missing). Used for ALLOWED_HOSTS when a route takes any host.
std::string djangoSettings(const Config& cfg, const std::vector<std::vector<std::string>>& certificate_names,
                           DjangoPart part = DjangoPart::All);

// "file:line:col: message" for each setting that a default gunicorn would contradict (an
// idle_timeout not below its --keep-alive, an upstream_response above its --timeout). One line
// each; empty when there is nothing to say.
std::vector<std::string> djangoWarnings(const Config& cfg);

}  // namespace portcullis::config
