// loadString for the front-end keys of a route: `static:` (files instead of an upstream) and
// `compress:` (on-the-fly compression of proxied responses).
#include <gtest/gtest.h>

#include <filesystem>
#include <algorithm>
#include <string>

#include "config/load.h"
#include "config_test_util.h"

namespace portcullis::config {
namespace {

using test_util::errorOf;
using test_util::mustLoad;

// Routes are loaded from /etc/pc/test.yaml: an absolute root that exists on every machine.
constexpr const char* kHead = R"(
listeners:
  - name: https
    address: "127.0.0.1:8443"
    tls: {certificate: cert.pem, key: key.pem}
upstreams:
  app:
    servers: [127.0.0.1:8001]
routes:
)";

Config withRoute(const std::string& route) { return mustLoad(std::string(kHead) + route); }

TEST(StaticConfig, ScalarFormIsTheRootWithDefaults) {
  Config c = withRoute("  - {path: /static/, static: /usr/share}\n  - upstream: app\n");
  ASSERT_EQ(c.routes.size(), 2u);
  ASSERT_TRUE(c.routes[0].static_files);
  const StaticFiles& s = *c.routes[0].static_files;
  EXPECT_EQ(s.root, "/usr/share");
  EXPECT_FALSE(s.fallback_upstream);
  EXPECT_EQ(s.max_age, std::chrono::seconds(3600));
  EXPECT_TRUE(s.precompressed);
  EXPECT_FALSE(s.allow_symlinks_outside);
  EXPECT_TRUE(c.routes[0].upstream.empty());
  EXPECT_FALSE(c.routes[1].static_files);
}

TEST(StaticConfig, MapFormReadsEveryKey) {
  Config c = withRoute(
      "  - path: /media/\n"
      "    upstream: app\n"
      "    static: {root: /usr/share, fallback: upstream, max_age: 10m,\n"
      "             allow_symlinks_outside: true, precompressed: false}\n");
  const StaticFiles& s = *c.routes[0].static_files;
  EXPECT_TRUE(s.fallback_upstream);
  EXPECT_EQ(s.max_age, std::chrono::seconds(600));
  EXPECT_TRUE(s.allow_symlinks_outside);
  EXPECT_FALSE(s.precompressed);
  EXPECT_EQ(c.routes[0].upstream, "app");
}

TEST(StaticConfig, MaxAgeMayBeZero) {
  Config c = withRoute("  - {static: {root: /usr/share, max_age: 0}}\n");
  EXPECT_EQ(c.routes[0].static_files->max_age, std::chrono::seconds(0));
}

TEST(StaticConfig, RelativeRootIsResolvedAgainstTheConfigFile) {
  auto c = loadString(std::string(kHead) + "  - {static: share}\n", "test.yaml", "/usr");
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c.value().routes[0].static_files->root, "/usr/share");
}

TEST(StaticConfig, MissingRootIsAnErrorAtTheValue) {
  std::string e = errorOf(std::string(kHead) + "  - {static: /nonexistent/pc-static}\n");
  EXPECT_NE(e.find("test.yaml:10:14:"), std::string::npos) << e;
  EXPECT_NE(e.find("is not a directory"), std::string::npos) << e;
}

TEST(StaticConfig, FallbackNeedsAnUpstream) {
  std::string e = errorOf(std::string(kHead) + "  - {static: {root: /usr/share, fallback: upstream}}\n");
  EXPECT_NE(e.find("needs the route's `upstream:`"), std::string::npos) << e;
}

TEST(StaticConfig, UpstreamWithoutFallbackIsAnError) {
  std::string e = errorOf(std::string(kHead) + "  - {upstream: app, static: /usr/share}\n");
  EXPECT_NE(e.find("proxies nothing"), std::string::npos) << e;
  EXPECT_NE(e.find("test.yaml:10:6:"), std::string::npos) << e;
}

TEST(StaticConfig, UnknownKeyIsAnError) {
  std::string e = errorOf(std::string(kHead) + "  - {static: {root: /usr/share, autoindex: on}}\n");
  EXPECT_NE(e.find("autoindex"), std::string::npos) << e;
}

TEST(CompressConfig, OffByDefault) {
  Config c = withRoute("  - upstream: app\n");
  EXPECT_FALSE(c.routes[0].compress.enabled);
}

TEST(CompressConfig, OnTakesTheDefaults) {
  Config c = withRoute("  - {upstream: app, compress: on}\n");
  const Compression& z = c.routes[0].compress;
  EXPECT_TRUE(z.enabled);
  EXPECT_EQ(z.min_size, 1024u);
  EXPECT_EQ(z.brotli_level, 4);
  EXPECT_NE(std::find(z.types.begin(), z.types.end(), "text/html"), z.types.end());
}

TEST(CompressConfig, MapReplacesTypesAndLevels) {
  Config c = withRoute(
      "  - upstream: app\n"
      "    compress: {types: [Text/HTML, application/*], min_size: 2k, gzip_level: 9,\n"
      "               brotli_level: 0, zstd_level: 19}\n");
  const Compression& z = c.routes[0].compress;
  EXPECT_TRUE(z.enabled);
  EXPECT_EQ(z.types, (std::vector<std::string>{"text/html", "application/*"}));
  EXPECT_EQ(z.min_size, 2048u);
  EXPECT_EQ(z.gzip_level, 9);
  EXPECT_EQ(z.brotli_level, 0);
  EXPECT_EQ(z.zstd_level, 19);
}

TEST(CompressConfig, BadValuesAreErrors) {
  EXPECT_NE(errorOf(std::string(kHead) + "  - {upstream: app, compress: {gzip_level: 10}}\n")
                .find("gzip_level"),
            std::string::npos);
  EXPECT_NE(errorOf(std::string(kHead) + "  - {upstream: app, compress: {types: [html]}}\n")
                .find("is not a content type"),
            std::string::npos);
  EXPECT_NE(errorOf(std::string(kHead) + "  - {upstream: app, compress: {types: []}}\n")
                .find("compress: off"),
            std::string::npos);
  EXPECT_NE(errorOf(std::string(kHead) + "  - {upstream: app, compress: maybe}\n").find("maybe"),
            std::string::npos);
}

}  // namespace
}  // namespace portcullis::config
