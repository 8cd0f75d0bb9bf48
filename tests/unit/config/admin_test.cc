// The `admin:` section: off unless configured, a literal address, unknown keys and collisions
// with a listener are errors with their position.
#include <gtest/gtest.h>

#include "config/load.h"
#include "config_test_util.h"

namespace portcullis::config {
namespace {

constexpr const char* kBase = test_util::kTlsConfig;

using test_util::errorOf;
using test_util::load;

TEST(ConfigAdmin, OffUnlessConfigured) {
  auto c = load(kBase);
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_FALSE(c->admin.enabled);
}

TEST(ConfigAdmin, ParsesAddress) {
  auto c = load(std::string(kBase) + "admin: {address: \"127.0.0.1:9901\"}\n");
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_TRUE(c->admin.enabled);
  EXPECT_EQ(c->admin.host, "127.0.0.1");
  EXPECT_EQ(c->admin.port, 9901);
  EXPECT_EQ(c->admin.mark.line, 13);
}

TEST(ConfigAdmin, PortZeroAndIPv6) {
  auto c = load(std::string(kBase) + "admin:\n  address: \"[::1]:0\"\n");
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->admin.host, "::1");
  EXPECT_EQ(c->admin.port, 0);
}

TEST(ConfigAdmin, UnknownKeyIsAnError) {
  EXPECT_EQ(errorOf(std::string(kBase) + "admin: {address: \"127.0.0.1:9901\", bind: x}\n"),
            "test.yaml:13:36: unknown key 'bind' in admin (expected one of: address)");
}

TEST(ConfigAdmin, AddressIsRequired) {
  EXPECT_NE(errorOf(std::string(kBase) + "admin: {}\n").find("test.yaml:13:"), std::string::npos);
  EXPECT_NE(errorOf(std::string(kBase) + "admin: {}\n").find("address"), std::string::npos);
}

TEST(ConfigAdmin, HostNameIsRefused) {
  std::string e = errorOf(std::string(kBase) + "admin: {address: \"localhost:9901\"}\n");
  EXPECT_EQ(e.rfind("test.yaml:13:18: admin.address: ", 0), 0u) << e;
}

TEST(ConfigAdmin, SameAddressAsAListenerIsAnError) {
  EXPECT_EQ(errorOf(std::string(kBase) + "admin: {address: \"127.0.0.1:8443\"}\n"),
            "test.yaml:13:8: admin.address: 127.0.0.1:8443 is already used by listener 'https' (line 4)");
}

}  // namespace
}  // namespace portcullis::config
