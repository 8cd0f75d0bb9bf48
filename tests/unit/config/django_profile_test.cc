// config::djangoSettings / djangoWarnings: the Django and gunicorn settings that match a config
// (`portcullis django-settings`), and the -t warnings where a config contradicts gunicorn.
#include "config/django_profile.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <unistd.h>
#include <string>
#include <vector>

#include "config/load.h"
#include "config_test_util.h"

namespace portcullis::config {
namespace {

using test_util::mustLoad;
using Names = std::vector<std::vector<std::string>>;

// A TLS listener on 8443 (not 443: origins carry the port), upstream `app` on loopback.
constexpr const char* kHead = R"(
listeners:
  - name: https
    address: "127.0.0.1:8443"
    tls: {certificate: cert.pem, key: key.pem}
upstreams:
  app:
    servers: [127.0.0.1:8001]
)";

std::string settingsFor(const std::string& yaml, const Names& names = {}) {
  return djangoSettings(mustLoad(yaml), names);
}

bool has(const std::string& text, const std::string& needle) { return text.find(needle) != std::string::npos; }

// The lines of `text` from the one starting with `first` up to the next line starting with "]".
std::string block(const std::string& text, const std::string& first) {
  size_t b = text.find("\n" + first);
  if (b == std::string::npos) return "(no " + first + ")";
  size_t e = text.find("\n]", b + 1);
  return text.substr(b + 1, e == std::string::npos ? std::string::npos : e - b);
}

TEST(DjangoProfile, TrustsTheForwardedHeadersPortcullisOverwrites) {
  std::string s = settingsFor(std::string(kHead) + "routes:\n  - {host: example.com, upstream: app}\n");
  EXPECT_TRUE(has(s, "\nSECURE_PROXY_SSL_HEADER = (\"HTTP_X_FORWARDED_PROTO\", \"https\")  #")) << s;
  EXPECT_TRUE(has(s, "\nUSE_X_FORWARDED_HOST = True  #")) << s;
  EXPECT_TRUE(has(s, "\nUSE_X_FORWARDED_PORT = True  #")) << s;
  EXPECT_TRUE(has(s, "\nSESSION_COOKIE_SECURE = True  #")) << s;
  EXPECT_TRUE(has(s, "\nCSRF_COOKIE_SECURE = True  #")) << s;
  EXPECT_TRUE(has(s, "\nSECURE_SSL_REDIRECT = False\n")) << s;
}

TEST(DjangoProfile, RouteHostsBecomeAllowedHostsWithWildcardsInDjangosForm) {
  std::string s = settingsFor(std::string(kHead) +
                              "routes:\n"
                              "  - {host: example.com, path: /api/, upstream: app}\n"
                              "  - {host: \"*.example.org\", upstream: app}\n"
                              "  - {host: example.com, upstream: app}\n");
  std::string hosts = block(s, "ALLOWED_HOSTS = [");
  EXPECT_TRUE(has(hosts, "    \"example.com\",  # route at line 10")) << s;
  EXPECT_TRUE(has(hosts, "    \".example.org\",  # route at line 11")) << s;
  EXPECT_EQ(hosts.find("example.com\""), hosts.rfind("example.com\"")) << "listed once:\n" << s;
  EXPECT_FALSE(has(hosts, "\"*\"")) << s;
  std::string origins = block(s, "CSRF_TRUSTED_ORIGINS = [");
  EXPECT_TRUE(has(origins, "\"https://example.com:8443\",")) << s;
  EXPECT_TRUE(has(origins, "\"https://*.example.org:8443\",")) << s;
  EXPECT_TRUE(has(s, "\n# Django 3.2 (Debian 12) takes hosts instead: CSRF_TRUSTED_ORIGINS = [\"example.com\", \".example.org\"]\n"))
      << s;
}

TEST(DjangoProfile, OriginsOn443HaveNoPortAndFollowTheRedirectTarget) {
  std::string s = settingsFor(R"(
listeners:
  - name: https
    address: "0.0.0.0:443"
    tls: {certificate: cert.pem, key: key.pem}
  - name: http
    address: "0.0.0.0:80"
    redirect_to_https: {}
upstreams:
  app:
    servers: [127.0.0.1:8001]
routes:
  - {host: example.com, upstream: app}
)");
  std::string origins = block(s, "CSRF_TRUSTED_ORIGINS = [");
  EXPECT_TRUE(has(origins, "\"https://example.com\",")) << s;
  EXPECT_FALSE(has(origins, ":443")) << s;
  EXPECT_FALSE(has(origins, ":80")) << s;
}

TEST(DjangoProfile, AnyHostRouteTakesTheCertificateNames) {
  std::string s = settingsFor(std::string(kHead) + "routes:\n  - upstream: app\n",
                              Names{{"www.example.com", "*.example.net", "127.0.0.1", "::1"}});
  std::string hosts = block(s, "ALLOWED_HOSTS = [");
  EXPECT_TRUE(has(hosts, "\"www.example.com\",  # certificate of listener 'https'")) << s;
  EXPECT_TRUE(has(hosts, "\".example.net\",")) << s;
  EXPECT_TRUE(has(hosts, "\"127.0.0.1\",")) << s;
  EXPECT_TRUE(has(hosts, "\"[::1]\",")) << s;
  EXPECT_TRUE(has(s, "remove any that is not the site's")) << s;
  EXPECT_TRUE(has(block(s, "CSRF_TRUSTED_ORIGINS = ["), "\"https://[::1]:8443\",")) << s;
}

TEST(DjangoProfile, HostRoutesAloneDoNotListCertificateNames) {
  std::string s = settingsFor(std::string(kHead) + "routes:\n  - {host: example.com, upstream: app}\n",
                              Names{{"other.example.com"}});
  EXPECT_FALSE(has(s, "other.example.com")) << s;
}

TEST(DjangoProfile, NoNamesAnywhereIsAFixmeNeverAStar) {
  std::string s = settingsFor(std::string(kHead) + "routes:\n  - upstream: app\n", Names{{}});
  EXPECT_TRUE(has(s, "# FIXME: no route names a host")) << s;
  EXPECT_TRUE(has(s, "\nALLOWED_HOSTS = []\n")) << s;
  EXPECT_FALSE(has(s, "\"*\"]")) << s;
}

TEST(DjangoProfile, StaticRouteWithoutFallbackIsNoDjangoHost) {
  std::string s = settingsFor(std::string(kHead) +
                              "routes:\n"
                              "  - {host: static.example.com, path: /static/, static: /usr/share}\n"
                              "  - {host: example.com, upstream: app}\n");
  EXPECT_FALSE(has(block(s, "ALLOWED_HOSTS = ["), "static.example.com")) << s;
  EXPECT_TRUE(has(s, "\nSTATIC_URL = \"https://static.example.com/static/\"  #")) << s;
}

TEST(DjangoProfile, HstsFromPortcullisMeansNoneFromDjango) {
  std::string s = settingsFor(R"(
listeners:
  - name: https
    address: "127.0.0.1:8443"
    tls: {certificate: cert.pem, key: key.pem}
    hsts: {max_age: 365d, include_subdomains: true, preload: true}
upstreams:
  app:
    servers: [127.0.0.1:8001]
routes:
  - {host: example.com, upstream: app}
)");
  EXPECT_TRUE(has(s, "\n# Listener 'https' sends Strict-Transport-Security: max-age=31536000; includeSubDomains; preload\n"))
      << s;
  EXPECT_TRUE(has(s, "\nSECURE_HSTS_SECONDS = 0  # Portcullis sends HSTS")) << s;
  EXPECT_TRUE(has(s, "\nSECURE_HSTS_INCLUDE_SUBDOMAINS = False")) << s;
  EXPECT_TRUE(has(s, "\nSECURE_HSTS_PRELOAD = False")) << s;
}

TEST(DjangoProfile, HstsOffPointsAtTheListener) {
  std::string s = settingsFor(std::string(kHead) + "routes:\n  - {host: example.com, upstream: app}\n");
  EXPECT_TRUE(has(s, "\nSECURE_HSTS_SECONDS = 0  # no listener sends HSTS")) << s;
  EXPECT_FALSE(has(s, "Strict-Transport-Security: max-age")) << s;
}

TEST(DjangoProfile, StaticAndMediaRoutesGiveUrlsAndRoots) {
  std::string s = settingsFor(std::string(kHead) +
                              "routes:\n"
                              "  - {path: /media/, static: /tmp}\n"
                              "  - {path: /static, static: /usr/share}\n"
                              "  - {path: /favicon/, static: /usr}\n"
                              "  - {host: example.com, upstream: app}\n");
  EXPECT_TRUE(has(s, "\nSTATIC_URL = \"/static/\"  # static route at line 11\n")) << s;
  EXPECT_TRUE(has(s, "\nSTATIC_ROOT = \"/usr/share\"  #")) << s;
  EXPECT_TRUE(has(s, "\nMEDIA_URL = \"/media/\"  # static route at line 10\n")) << s;
  EXPECT_TRUE(has(s, "\nMEDIA_ROOT = \"/tmp\"  #")) << s;
  EXPECT_TRUE(has(s, "\n# Also served by Portcullis: /favicon/ from /usr (route at line 12)\n")) << s;
}

TEST(DjangoProfile, NoStaticRouteLeavesStaticFilesToDjango) {
  std::string s = settingsFor(std::string(kHead) + "routes:\n  - {host: example.com, upstream: app}\n");
  EXPECT_FALSE(has(s, "STATIC_URL =")) << s;
  EXPECT_TRUE(has(s, "# No route has `static:`")) << s;
}

TEST(DjangoProfile, GunicornTimeoutIsAboveUpstreamResponseAndKeepAliveAboveIdleTimeout) {
  Config c = mustLoad(std::string(kHead) + "routes:\n  - upstream: app\n");
  AppServerFlags f = appServerFlags(c);
  EXPECT_EQ(f.timeout_s, 65u);    // 60 s default + 5
  EXPECT_EQ(f.keep_alive_s, 3u);  // 1500 ms default, rounded up, + 1
  EXPECT_EQ(f.forwarded_allow_ips, "127.0.0.1");

  c = mustLoad(R"(
listeners:
  - name: https
    address: "127.0.0.1:8443"
    tls: {certificate: cert.pem, key: key.pem}
upstreams:
  app:
    servers: [127.0.0.1:8001, "[::1]:8002"]
    idle_timeout: 4s
  api:
    servers: [localhost:9000]
    idle_timeout: 2500ms
routes:
  - upstream: app
timeouts:
  upstream_response: 2500ms
)");
  f = appServerFlags(c);
  EXPECT_EQ(f.timeout_s, 8u);     // 2.5 s rounded up + 5
  EXPECT_EQ(f.keep_alive_s, 5u);  // the longest idle_timeout (4 s) + 1
  EXPECT_EQ(f.forwarded_allow_ips, "127.0.0.1,::1");
  std::string s = djangoSettings(c, {});
  EXPECT_TRUE(has(s, "\n#   gunicorn --forwarded-allow-ips=127.0.0.1,::1 --timeout=8 --keep-alive=5 myproject.wsgi\n")) << s;
  EXPECT_TRUE(has(s, "--timeout=8: above timeouts.upstream_response 2500ms (line 16)")) << s;
  EXPECT_TRUE(has(s, "--keep-alive=5: above upstream 'app' idle_timeout 4s")) << s;
  EXPECT_TRUE(has(s, "\n#   uvicorn --proxy-headers --forwarded-allow-ips=127.0.0.1,::1 --timeout-keep-alive=5 ")) << s;
}

TEST(DjangoProfile, RemoteUpstreamsLeaveForwardedAllowIpsToTheOperator) {
  Config c = mustLoad(R"(
listeners:
  - name: https
    address: "127.0.0.1:8443"
    tls: {certificate: cert.pem, key: key.pem}
upstreams:
  app:
    servers: [127.0.0.1:8001, 10.0.0.7:8000]
routes:
  - upstream: app
)");
  EXPECT_EQ(appServerFlags(c).forwarded_allow_ips, "");
  std::string s = djangoSettings(c, {});
  EXPECT_TRUE(has(s, "--forwarded-allow-ips=FIXME-proxy-address")) << s;
  EXPECT_TRUE(has(s, "# --forwarded-allow-ips: FIXME: the address Portcullis connects from")) << s;
}

TEST(DjangoProfile, PartsPrintOnlyWhatTheyName) {
  Config c = mustLoad(std::string(kHead) + "routes:\n  - {host: example.com, upstream: app}\n");
  EXPECT_EQ(djangoSettings(c, {}, DjangoPart::Gunicorn), "--forwarded-allow-ips=127.0.0.1 --timeout=65 --keep-alive=3\n");
  std::string settings = djangoSettings(c, {}, DjangoPart::Settings);
  EXPECT_TRUE(has(settings, "ALLOWED_HOSTS")) << settings;
  EXPECT_FALSE(has(settings, "gunicorn")) << settings;
  EXPECT_TRUE(has(djangoSettings(c, {}), "# --- gunicorn"));
}

TEST(DjangoProfile, HostPatterns) {
  EXPECT_EQ(djangoHostPattern("*.example.com"), ".example.com");
  EXPECT_EQ(djangoHostPattern("example.com"), "example.com");
  EXPECT_EQ(djangoHostPattern("::1"), "[::1]");
  EXPECT_EQ(djangoHostPattern("10.0.0.1"), "10.0.0.1");
}

// The whole output is Python (settings.py lines, the rest comments): python3 parses it.
TEST(DjangoProfile, OutputIsValidPython) {
  if (std::system("python3 -c '' >/dev/null 2>&1") != 0) GTEST_SKIP() << "no python3";
  std::string s = settingsFor(std::string(kHead) +
                                  "routes:\n"
                                  "  - {path: /static/, static: /usr/share}\n"
                                  "  - {path: /media/, static: /tmp}\n"
                                  "  - {host: \"*.example.org\", upstream: app}\n"
                                  "  - upstream: app\n",
                              Names{{"localhost", "127.0.0.1", "::1"}});
  auto file = std::filesystem::temp_directory_path() / ("django_profile_test_" + std::to_string(::getpid()) + ".py");
  std::ofstream(file) << s;
  std::string cmd = "python3 -c 'import ast,sys; ast.parse(open(sys.argv[1]).read())' " + file.string();
  int rc = std::system(cmd.c_str());
  std::filesystem::remove(file);
  EXPECT_EQ(rc, 0) << s;
}

// --- -t warnings -----------------------------------------------------------------------------

TEST(DjangoWarnings, IdleTimeoutNotBelowGunicornsKeepAliveNamesItsPosition) {
  Config c = mustLoad(std::string(kHead) + "    idle_timeout: 3s\nroutes:\n  - upstream: app\n");
  std::vector<std::string> w = djangoWarnings(c);
  ASSERT_EQ(w.size(), 1u);
  EXPECT_EQ(w[0], "test.yaml:9:19: upstreams.app.idle_timeout 3s is not below gunicorn's default --keep-alive (2s): "
                  "make sure gunicorn runs with --keep-alive=4 or more (see portcullis django-settings)");
  // 2 s exactly races gunicorn's own 2 s close.
  EXPECT_EQ(djangoWarnings(mustLoad(std::string(kHead) + "    idle_timeout: 2s\nroutes:\n  - upstream: app\n")).size(), 1u);
  EXPECT_TRUE(djangoWarnings(mustLoad(std::string(kHead) + "    idle_timeout: 1999ms\nroutes:\n  - upstream: app\n")).empty());
}

TEST(DjangoWarnings, UpstreamResponseAboveGunicornsTimeoutWhenWritten) {
  Config c = mustLoad(std::string(kHead) + "routes:\n  - upstream: app\ntimeouts:\n  upstream_response: 2m\n");
  std::vector<std::string> w = djangoWarnings(c);
  ASSERT_EQ(w.size(), 1u);
  EXPECT_EQ(w[0].rfind("test.yaml:12:22: timeouts.upstream_response 120s is above gunicorn's default --timeout (30s)", 0), 0u)
      << w[0];
  EXPECT_TRUE(has(w[0], "make sure gunicorn runs with --timeout=125 or more (see portcullis django-settings)")) << w[0];
  EXPECT_EQ(djangoWarnings(mustLoad(std::string(kHead) + "routes: []\ntimeouts: {upstream_response: 31s}\n")).size(), 1u);
  // 30 s and below: gunicorn's default is above it. The default (60 s, written or not) is
  // conf/portcullis.yaml's documented choice and stays quiet.
  EXPECT_TRUE(djangoWarnings(mustLoad(std::string(kHead) + "routes: []\ntimeouts: {upstream_response: 30s}\n")).empty());
  EXPECT_TRUE(djangoWarnings(mustLoad(std::string(kHead) + "routes: []\ntimeouts: {upstream_response: 60s}\n")).empty());
  EXPECT_TRUE(djangoWarnings(mustLoad(std::string(kHead) + "routes: []\n")).empty());
}

TEST(DjangoWarnings, ShippedConfigHasNone) {
  auto c = loadFile(std::string(PORTCULLIS_SOURCE_DIR) + "/conf/portcullis.yaml");
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_TRUE(djangoWarnings(*c).empty()) << djangoWarnings(*c).front();
}

}  // namespace
}  // namespace portcullis::config
