// loadString for `access_log:` and `request_id:`. The errors with a position are fixtures
// (tests/fixtures/configs/bad_access_log_*.yaml, bad_request_id_*.yaml).
#include <gtest/gtest.h>

#include <string>

#include "config/load.h"
#include "config_test_util.h"

namespace portcullis::config {
namespace {

// A minimal valid config followed by `extra` (top-level keys).
constexpr const char* kMinimal = R"(
listeners:
  - {name: http, address: "127.0.0.1:8080", redirect_to_https: {}}
)";
Config mustLoad(const std::string& extra) { return test_util::mustLoad(kMinimal + extra); }
std::string errorOf(const std::string& extra) { return test_util::errorOf(kMinimal + extra); }

TEST(AccessLogConfig, OffUnlessConfigured) {
  Config c = mustLoad("");
  EXPECT_FALSE(c.access_log.enabled);
}

TEST(AccessLogConfig, MapTurnsItOnWithJsonByDefault) {
  Config c = mustLoad("access_log: {path: /var/log/portcullis/access.log}\n");
  EXPECT_TRUE(c.access_log.enabled);
  EXPECT_EQ(c.access_log.path, "/var/log/portcullis/access.log");
  EXPECT_EQ(c.access_log.format, AccessLogFormat::Json);
  EXPECT_EQ(c.access_log.mark.line, 4);
}

TEST(AccessLogConfig, CombinedFormat) {
  Config c = mustLoad("access_log:\n  path: /tmp/a.log\n  format: combined\n");
  EXPECT_EQ(c.access_log.format, AccessLogFormat::Combined);
}

TEST(AccessLogConfig, StdoutIsKeptAsIs) {
  Config c = mustLoad("access_log: {path: stdout, format: json}\n");
  EXPECT_EQ(c.access_log.path, "stdout");
}

TEST(AccessLogConfig, RelativePathResolvesAgainstTheConfigDirectory) {
  Config c = mustLoad("access_log: {path: logs/access.log}\n");
  EXPECT_EQ(c.access_log.path, "/etc/pc/logs/access.log");
}

TEST(AccessLogConfig, OffIsAccepted) {
  Config c = mustLoad("access_log: off\n");
  EXPECT_FALSE(c.access_log.enabled);
}

TEST(AccessLogConfig, EmptySectionNeedsAPath) {
  EXPECT_EQ(errorOf("access_log:\n"), "test.yaml:4:1: access_log: missing required key 'path'");
}

TEST(RequestIdConfig, OnByDefaultWithXRequestId) {
  Config c = mustLoad("");
  EXPECT_TRUE(c.request_id.enabled);
  EXPECT_EQ(c.request_id.header, "X-Request-Id");
  EXPECT_FALSE(c.request_id.trust_client);
}

TEST(RequestIdConfig, HeaderAndTrustAreRead) {
  Config c = mustLoad("request_id: {header: X-Correlation-Id, trust_client: true}\n");
  EXPECT_TRUE(c.request_id.enabled);
  EXPECT_EQ(c.request_id.header, "X-Correlation-Id");
  EXPECT_TRUE(c.request_id.trust_client);
  EXPECT_EQ(c.request_id.mark.line, 4);
}

TEST(RequestIdConfig, EmptySectionKeepsTheDefaults) {
  Config c = mustLoad("request_id:\n");
  EXPECT_TRUE(c.request_id.enabled);
  EXPECT_EQ(c.request_id.header, "X-Request-Id");
}

TEST(RequestIdConfig, OffTurnsItOff) {
  Config c = mustLoad("request_id: off\n");
  EXPECT_FALSE(c.request_id.enabled);
}

TEST(RequestIdConfig, ReservedHeaderIsRefusedWhateverItsCase) {
  EXPECT_EQ(errorOf("request_id: {header: x-forwarded-for}\n"),
            "test.yaml:4:22: request_id.header: 'x-forwarded-for' is a header the proxy sets or "
            "frames itself; pick another");
  EXPECT_NE(errorOf("request_id: {header: HOST}\n").find("sets or frames itself"),
            std::string::npos);
}

}  // namespace
}  // namespace portcullis::config
