// loadString / loadFile: what a valid file turns into, and the errors that are not one fixture
// each (see bad_configs_test.cc for those).
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "config/load.h"
#include "config_test_util.h"

namespace portcullis::config {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

constexpr const char* kTls = test_util::kTlsConfig;

using test_util::errorOf;
using test_util::load;
using test_util::mustLoad;

// A fresh directory under TMPDIR, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "pc-config-XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data()) ? tmpl : "";
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }
  fs::path write(const std::string& name, const std::string& text) const {
    std::ofstream(path_ / name) << text;
    return path_ / name;
  }

 private:
  fs::path path_;
};

// --- values ---------------------------------------------------------------------------------

TEST(ConfigLoad, OmittedSectionsKeepTheModelDefaults) {
  Config c = mustLoad(kTls);
  EXPECT_EQ(c.workers, 0u);
  EXPECT_EQ(c.timeouts.client_header, Timeouts{}.client_header);
  EXPECT_EQ(c.timeouts.upstream_response, Timeouts{}.upstream_response);
  EXPECT_EQ(c.limits.body, Limits{}.body);
  EXPECT_EQ(c.upstreams[0].max_idle, 64u);
  EXPECT_EQ(c.upstreams[0].idle_timeout, milliseconds(1500));
}

TEST(ConfigLoad, WorkersAutoMeansZero) {
  EXPECT_EQ(mustLoad(std::string("workers: auto\n") + kTls).workers, 0u);
}

TEST(ConfigLoad, WorkersTakesAnInteger) {
  EXPECT_EQ(mustLoad(std::string("workers: 4\n") + kTls).workers, 4u);
}

TEST(ConfigLoad, SourceFileIsTheGivenName) { EXPECT_EQ(mustLoad(kTls).source_file, "test.yaml"); }

TEST(ConfigLoad, ListenerAddressSplitsIntoHostAndPort) {
  Config c = mustLoad(kTls);
  const Listener& l = c.listeners.at(0);
  EXPECT_EQ(l.name, "https");
  EXPECT_EQ(l.host, "127.0.0.1");
  EXPECT_EQ(l.port, 8443);
}

TEST(ConfigLoad, IPv6ListenerHostHasNoBrackets) {
  Config c = mustLoad(R"(
listeners:
  - {name: v6, address: "[::]:8080", redirect_to_https: {}}
)");
  EXPECT_EQ(c.listeners.at(0).host, "::");
}

TEST(ConfigLoad, RelativeTlsPathsResolveAgainstTheBaseDirectory) {
  Config c = mustLoad(kTls);
  const Listener& l = c.listeners.at(0);
  ASSERT_TRUE(l.tls);
  EXPECT_EQ(l.tls->certificates.at(0).certificate, "/etc/pc/certs/cert.pem");
  EXPECT_EQ(l.tls->certificates.at(0).key, "/etc/pc/certs/key.pem");
}

TEST(ConfigLoad, DotDotInTlsPathsIsNormalised) {
  Config c = mustLoad(R"(
listeners:
  - name: https
    address: "127.0.0.1:8443"
    tls: {certificate: ../certs/cert.pem, key: ./key.pem}
)");
  EXPECT_EQ(c.listeners.at(0).tls->certificates.at(0).certificate, "/etc/certs/cert.pem");
  EXPECT_EQ(c.listeners.at(0).tls->certificates.at(0).key, "/etc/pc/key.pem");
}

TEST(ConfigLoad, AbsoluteTlsPathsAreKept) {
  Config c = mustLoad(R"(
listeners:
  - name: https
    address: "127.0.0.1:8443"
    tls: {certificate: /srv/tls/cert.pem, key: /srv/tls/key.pem}
)");
  EXPECT_EQ(c.listeners.at(0).tls->certificates.at(0).certificate, "/srv/tls/cert.pem");
}

TEST(ConfigLoad, CertificateFilesAreNotOpened) {
  // The server checks them with the tls layer, using the marks; a reload must not fail here
  // just because a file is being replaced.
  EXPECT_TRUE(load(kTls));  // /etc/pc/certs/cert.pem does not exist
}

TEST(ConfigLoad, RedirectListenerDefaultsToHttpsPort443) {
  Config c = mustLoad(R"(
listeners:
  - {name: http, address: "0.0.0.0:8080", redirect_to_https: {}}
)");
  ASSERT_TRUE(c.listeners.at(0).redirect_to_https);
  EXPECT_FALSE(c.listeners.at(0).tls);
  EXPECT_EQ(c.listeners.at(0).redirect_to_https->https_port, 443);
}

TEST(ConfigLoad, RedirectToHttpsMayBeNull) {
  Config c = mustLoad(R"(
listeners:
  - name: http
    address: "0.0.0.0:8080"
    redirect_to_https:
)");
  EXPECT_TRUE(c.listeners.at(0).redirect_to_https);
}

TEST(ConfigLoad, RedirectPortIsRead) {
  Config c = mustLoad(R"(
listeners:
  - {name: http, address: "0.0.0.0:8080", redirect_to_https: {port: 8443}}
)");
  EXPECT_EQ(c.listeners.at(0).redirect_to_https->https_port, 8443);
}

TEST(ConfigLoad, RedirectOnlyConfigNeedsNoUpstreamsOrRoutes) {
  Config c = mustLoad(R"(
listeners:
  - {name: http, address: "0.0.0.0:80", redirect_to_https: {}}
)");
  EXPECT_TRUE(c.upstreams.empty());
  EXPECT_TRUE(c.routes.empty());
}

TEST(ConfigLoad, TlsListenerWithoutRoutesIsValid) {
  auto c = load(R"(
listeners:
  - name: https
    address: "127.0.0.1:8443"
    tls: {certificate: c.pem, key: k.pem}
routes:
)");
  EXPECT_TRUE(c) << c.error().message;
}

TEST(ConfigLoad, TwoListenersOnPortZeroAreAllowed) {
  // Port 0 gives each listener its own ephemeral port, so they do not collide (tests use it).
  auto c = load(R"(
listeners:
  - {name: a, address: "127.0.0.1:0", redirect_to_https: {}}
  - {name: b, address: "127.0.0.1:0", redirect_to_https: {}}
)");
  EXPECT_TRUE(c) << c.error().message;
}

TEST(ConfigLoad, SameAddressSpelledDifferentlyIsADuplicate) {
  EXPECT_EQ(errorOf(R"(
listeners:
  - {name: a, address: "[::]:8080", redirect_to_https: {}}
  - {name: b, address: "[0:0::0]:8080", redirect_to_https: {}}
)"),
            "test.yaml:4:24: listeners[1].address: [0:0::0]:8080 is already used by listener 'a' "
            "(line 3)");
}

TEST(ConfigLoad, SamePortOnDifferentAddressesIsAllowed) {
  auto c = load(R"(
listeners:
  - {name: a, address: "127.0.0.1:8080", redirect_to_https: {}}
  - {name: b, address: "127.0.0.2:8080", redirect_to_https: {}}
)");
  EXPECT_TRUE(c) << c.error().message;
}

TEST(ConfigLoad, ServersKeepFileOrderHostsAndPorts) {
  Config c = mustLoad(R"(
listeners:
  - {name: http, address: "0.0.0.0:80", redirect_to_https: {}}
upstreams:
  app:
    servers: [10.0.0.2:8000, app.internal:9000, "[fd00::1]:8001"]
)");
  const auto& s = c.upstreams.at(0).servers;
  ASSERT_EQ(s.size(), 3u);
  EXPECT_EQ(s[0].host, "10.0.0.2");
  EXPECT_EQ(s[0].port, 8000);
  EXPECT_EQ(s[1].host, "app.internal");
  EXPECT_EQ(s[1].port, 9000);
  EXPECT_EQ(s[2].host, "fd00::1");
  EXPECT_EQ(s[2].port, 8001);
}

TEST(ConfigLoad, UpstreamSettingsAreRead) {
  Config c = mustLoad(R"(
listeners:
  - {name: http, address: "0.0.0.0:80", redirect_to_https: {}}
upstreams:
  app:
    servers: [127.0.0.1:8001]
    max_idle: 0
    idle_timeout: 4s
)");
  EXPECT_EQ(c.upstreams.at(0).max_idle, 0u);
  EXPECT_EQ(c.upstreams.at(0).idle_timeout, milliseconds(4000));
}

TEST(ConfigLoad, UpstreamsKeepFileOrder) {
  Config c = mustLoad(R"(
listeners:
  - {name: http, address: "0.0.0.0:80", redirect_to_https: {}}
upstreams:
  zeta: {servers: [127.0.0.1:1]}
  alpha: {servers: [127.0.0.1:2]}
)");
  ASSERT_EQ(c.upstreams.size(), 2u);
  EXPECT_EQ(c.upstreams[0].name, "zeta");
  EXPECT_EQ(c.upstreams[1].name, "alpha");
}

TEST(ConfigLoad, RouteHostIsLowerCased) {
  Config c = mustLoad(std::string(kTls) + "  - {host: \"*.Example.COM\", upstream: app}\n");
  EXPECT_EQ(c.routes.at(1).host, "*.example.com");
}

TEST(ConfigLoad, RouteWithoutHostMatchesAnyHostAndPathDefaultsToSlash) {
  Config c = mustLoad(kTls);
  const Route& r = c.routes.at(0);
  EXPECT_EQ(r.host, "");
  EXPECT_EQ(r.path_prefix, "/");
  EXPECT_EQ(r.upstream, "app");
}

TEST(ConfigLoad, RoutesKeepFileOrder) {
  Config c = mustLoad(std::string(kTls) + "  - {path: /api/, upstream: app}\n");
  ASSERT_EQ(c.routes.size(), 2u);
  EXPECT_EQ(c.routes[0].path_prefix, "/");
  EXPECT_EQ(c.routes[1].path_prefix, "/api/");
}

TEST(ConfigLoad, TimeoutsAreRead) {
  Timeouts t = mustLoad(std::string(kTls) + R"(
timeouts:
  client_header: 1s
  client_body: 2s
  client_idle: 3s
  upstream_connect: 400ms
  upstream_response: 5m
  shutdown_grace: 6
)").timeouts;
  EXPECT_EQ(t.client_header, milliseconds(1000));
  EXPECT_EQ(t.client_body, milliseconds(2000));
  EXPECT_EQ(t.client_idle, milliseconds(3000));
  EXPECT_EQ(t.upstream_connect, milliseconds(400));
  EXPECT_EQ(t.upstream_response, milliseconds(300'000));
  EXPECT_EQ(t.shutdown_grace, milliseconds(6000));
}

TEST(ConfigLoad, LimitsAreRead) {
  Limits l = mustLoad(std::string(kTls) + R"(
limits:
  request_line: 4k
  header_bytes: 16KiB
  header_count: 50
  body: 1g
)").limits;
  EXPECT_EQ(l.request_line, 4096u);
  EXPECT_EQ(l.header_bytes, 16384u);
  EXPECT_EQ(l.header_count, 50u);
  EXPECT_EQ(l.body, 1024ull * 1024 * 1024);
}

TEST(ConfigLoad, BodyLimitZeroMeansUnlimited) {
  EXPECT_EQ(mustLoad(std::string(kTls) + "limits: {body: 0}\n").limits.body, 0u);
}

TEST(ConfigLoad, EmptySectionsAreAllowed) {
  auto c = load(std::string(kTls) + "timeouts:\nlimits: {}\n");
  EXPECT_TRUE(c) << c.error().message;
}

// --- marks (1-based; the server reports certificate and bind errors with them) --------------

TEST(ConfigLoad, ListenerMarksPointAtTheListenerAndItsAddress) {
  Config c = mustLoad(kTls);
  const Listener& l = c.listeners.at(0);
  EXPECT_EQ(toString(l.mark), "test.yaml:3:5");
  EXPECT_EQ(toString(l.address_mark), "test.yaml:4:14");
}

TEST(ConfigLoad, TlsMarksPointAtTheFilePaths) {
  Config c = mustLoad(kTls);
  const Listener& l = c.listeners.at(0);
  EXPECT_EQ(toString(l.tls->certificates.at(0).certificate_mark), "test.yaml:6:20");
  EXPECT_EQ(toString(l.tls->certificates.at(0).key_mark), "test.yaml:7:12");
}

TEST(ConfigLoad, UpstreamMarkPointsAtItsName) {
  EXPECT_EQ(toString(mustLoad(kTls).upstreams.at(0).mark), "test.yaml:9:3");
}

TEST(ConfigLoad, ServerMarkPointsAtTheServer) {
  EXPECT_EQ(toString(mustLoad(kTls).upstreams.at(0).servers.at(0).mark), "test.yaml:10:15");
}

TEST(ConfigLoad, RouteMarksPointAtTheRouteAndItsUpstream) {
  Config c = mustLoad(kTls);
  const Route& r = c.routes.at(0);
  EXPECT_EQ(toString(r.mark), "test.yaml:12:5");
  EXPECT_EQ(toString(r.upstream_mark), "test.yaml:12:15");
}

// --- errors that are not fixtures -----------------------------------------------------------

TEST(ConfigLoad, ErrorsNameTheFileGivenToLoadString) {
  auto c = loadString("listeners: 3\n", "conf/site.yaml", "/etc");
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().message, "conf/site.yaml:1:12: listeners: expected a list, got '3'");
}

TEST(ConfigLoad, MissingFileSaysCannotReadAndWhy) {
  auto c = loadFile("/nonexistent/portcullis.yaml");
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().message,
            "/nonexistent/portcullis.yaml: cannot read: No such file or directory");
}

TEST(ConfigLoad, DirectoryCannotBeRead) {
  TempDir dir;
  auto c = loadFile(dir.path().string());
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().message, dir.path().string() + ": cannot read: Is a directory");
}

TEST(ConfigLoad, FileWithoutReadPermissionCannotBeRead) {
  if (::geteuid() == 0) GTEST_SKIP() << "root reads files whatever their mode";
  TempDir dir;
  fs::path file = dir.write("secret.yaml", kTls);
  ::chmod(file.c_str(), 0);
  auto c = loadFile(file.string());
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().message, file.string() + ": cannot read: Permission denied");
}

TEST(ConfigLoad, LoadFileResolvesPathsAgainstTheFilesDirectory) {
  TempDir dir;
  fs::create_directory(dir.path() / "conf");
  fs::path file = dir.write("conf/site.yaml", kTls);
  auto c = loadFile(file.string());
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->listeners.at(0).tls->certificates.at(0).certificate, (dir.path() / "conf/certs/cert.pem").string());
  EXPECT_EQ(c->source_file, file.string());
}

TEST(ConfigLoad, LoadFileErrorsNameThePathAsGiven) {
  TempDir dir;
  fs::path file = dir.write("site.yaml", "workers: 0\n");
  auto c = loadFile(file.string());
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().message,
            file.string() + ":1:10: workers: expected an integer 1..256 or 'auto', got '0'");
}

TEST(ConfigLoad, NeverThrowsOnAnyTruncationOfAValidFile) {
  // Every prefix of a real config is a plausible half-saved file on reload; each must come back
  // as a value (ok or "test.yaml:...") and never as an exception.
  const std::string full = std::string("workers: 2\n") + kTls + "timeouts: {client_idle: 5s}\n";
  for (size_t n = 0; n <= full.size(); ++n) {
    base::Result<Config> c = Config{};
    EXPECT_NO_THROW(c = load(full.substr(0, n))) << "prefix of " << n << " bytes";
    if (!c) {
      EXPECT_EQ(c.error().message.rfind("test.yaml:", 0), 0u) << c.error().message;
    }
  }
}

TEST(ConfigLoad, DeeplyNestedInputIsAnErrorNotACrash) {
  // yaml-cpp's depth guard throws past 2000 levels; that must come back as an Error.
  std::string yaml = "listeners: " + std::string(5000, '[') + std::string(5000, ']') + "\n";
  auto c = load(yaml);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().message.rfind("test.yaml:", 0), 0u) << c.error().message;
}

TEST(ConfigLoad, UndefinedAliasIsASyntaxErrorWithItsPosition) {
  EXPECT_EQ(errorOf("workers: *nope\n"),
            "test.yaml:1:10: YAML syntax error: the referenced anchor is not defined");
}

TEST(ConfigLoad, NonScalarKeyIsRejected) {
  EXPECT_EQ(errorOf("? [a, b]\n: 1\n"),
            "test.yaml:1:3: expected a plain key at top level, got a list");
}

TEST(ConfigLoad, UnquotedIPv6ListenerAddressAsksForQuotes) {
  // `address: [::1]` parses as a one-element list, not a syntax error.
  EXPECT_EQ(errorOf(R"(
listeners:
  - name: a
    address: [::1]
    redirect_to_https: {}
)"),
            "test.yaml:4:14: listeners[0].address: expected an address such as 0.0.0.0:443, got a "
            "list (quote IPv6 addresses: \"[::1]:8001\")");
}

}  // namespace
}  // namespace portcullis::config
