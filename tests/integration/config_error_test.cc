// `portcullis -t` and start-up config errors: exit 2 with "file:line:col: message"; CLI misuse
// exits 64 (EX_USAGE).
#include <gtest/gtest.h>

#include <regex>

#include "harness/harness.h"

namespace portcullis::integration {
namespace {

using namespace std::chrono_literals;

class ConfigCheck : public ::testing::Test {
 protected:
  ProxyConfig validConfig() const {
    // 127.0.0.1:9 (discard): a literal, so no DNS; -t never connects to it.
    return ProxyConfig::singleUpstream({"127.0.0.1:9"});
  }

  // Writes `yaml` to config.yaml and runs `portcullis -c <file> -t`.
  CommandResult check(const std::string& yaml) {
    config_path_ = dir_.writeFile("config.yaml", yaml);
    CommandResult r;
    EXPECT_TRUE(runCommand({proxyBinary(), "-c", config_path_, "-t"}, &r));
    return r;
  }

  void SetUp() override {
    ASSERT_FALSE(proxyBinary().empty()) << "PORTCULLIS_BIN is not set";
    ASSERT_TRUE(devCert().error.empty()) << devCert().error;
  }

  TempDir dir_;
  std::string config_path_;
};

// 1-based line of the first line of `yaml` that starts with `prefix`; 0 if none.
int lineOf(const std::string& yaml, const std::string& prefix) {
  int line = 1;
  size_t pos = 0;
  while (pos < yaml.size()) {
    if (yaml.compare(pos, prefix.size(), prefix) == 0) return line;
    size_t nl = yaml.find('\n', pos);
    if (nl == std::string::npos) break;
    pos = nl + 1;
    ++line;
  }
  return 0;
}

TEST_F(ConfigCheck, ValidConfigPasses) {
  CommandResult r = check(validConfig().toYaml());
  EXPECT_EQ(r.exit_code, 0) << r.stderr_text;
}

TEST_F(ConfigCheck, UnknownKeyIsReportedWithFileLineAndColumn) {
  // A typo must not be silently ignored: "client_heder: 1s" would leave the default in force.
  std::string yaml = validConfig().toYaml() + "timeoutz: { client_header: 1s }\n";
  const int line = lineOf(yaml, "timeoutz:");
  ASSERT_GT(line, 0);
  CommandResult r = check(yaml);
  EXPECT_EQ(r.exit_code, 2) << r.stderr_text;
  const std::regex position(config_path_ + ":" + std::to_string(line) + ":[0-9]+: ");
  EXPECT_TRUE(std::regex_search(r.stderr_text, position))
      << "wanted \"" << config_path_ << ":" << line << ":<col>: ...\" in stderr:\n" << r.stderr_text;
  EXPECT_NE(r.stderr_text.find("timeoutz"), std::string::npos) << r.stderr_text;
}

TEST_F(ConfigCheck, RouteToUnknownUpstreamIsRejected) {
  ProxyConfig config = validConfig();
  config.routes.push_back({"", "/missing/", "no_such_upstream"});
  std::string yaml = config.toYaml();
  CommandResult r = check(yaml);
  EXPECT_EQ(r.exit_code, 2) << r.stderr_text;
  EXPECT_NE(r.stderr_text.find("no_such_upstream"), std::string::npos) << r.stderr_text;
  const int line = lineOf(yaml, "  - { path: \"/missing/\"");
  EXPECT_NE(r.stderr_text.find(config_path_ + ":" + std::to_string(line) + ":"), std::string::npos)
      << "wanted line " << line << " in:\n" << r.stderr_text;
}

TEST_F(ConfigCheck, MissingCertificateFileIsRejectedByName) {
  ProxyConfig config = validConfig();
  config.certificate = dir_.path() + "/no-such-cert.pem";
  config.key = devCert().key;
  CommandResult r = check(config.toYaml());
  EXPECT_EQ(r.exit_code, 2) << r.stderr_text;
  EXPECT_NE(r.stderr_text.find("no-such-cert.pem"), std::string::npos) << r.stderr_text;
  EXPECT_NE(r.stderr_text.find(config_path_ + ":"), std::string::npos) << r.stderr_text;
}

TEST_F(ConfigCheck, KeyNotMatchingTheCertificateIsRejected) {
  const std::string other_key = dir_.path() + "/other-key.pem";
  ASSERT_TRUE(generateKey(other_key));
  ProxyConfig config = validConfig();
  config.certificate = devCert().certificate;
  config.key = other_key;
  CommandResult r = check(config.toYaml());
  EXPECT_EQ(r.exit_code, 2) << r.stderr_text;
  EXPECT_FALSE(r.stderr_text.empty());
}

TEST_F(ConfigCheck, ConfigErrorAtStartExitsTwoAndListensOnNothing) {
  ProxyConfig config = validConfig();
  config.routes.push_back({"", "/missing/", "no_such_upstream"});
  config_path_ = dir_.writeFile("config.yaml", config.toYaml());
  const std::string ready = dir_.path() + "/ready";
  CommandResult r;
  ASSERT_TRUE(runCommand({proxyBinary(), "-c", config_path_, "--ready-file", ready}, &r, 10s));
  EXPECT_EQ(r.exit_code, 2) << r.stderr_text;
  EXPECT_NE(r.stderr_text.find(config_path_ + ":"), std::string::npos) << r.stderr_text;
  EXPECT_TRUE(readFile(ready).empty()) << "a ready file was written: " << readFile(ready);
}

TEST(CommandLine, UnknownFlagExits64WithUsage) {
  ASSERT_FALSE(proxyBinary().empty()) << "PORTCULLIS_BIN is not set";
  CommandResult r;
  ASSERT_TRUE(runCommand({proxyBinary(), "--no-such-flag"}, &r));
  EXPECT_EQ(r.exit_code, 64) << r.stderr_text;
  EXPECT_NE(toLower(r.stderr_text).find("usage"), std::string::npos) << r.stderr_text;
}

TEST(CommandLine, MissingConfigArgumentExits64) {
  ASSERT_FALSE(proxyBinary().empty()) << "PORTCULLIS_BIN is not set";
  CommandResult r;
  ASSERT_TRUE(runCommand({proxyBinary(), "-c"}, &r));
  EXPECT_EQ(r.exit_code, 64) << r.stderr_text;
  EXPECT_FALSE(r.stderr_text.empty());
}

}  // namespace
}  // namespace portcullis::integration
