// Table-driven: every tests/fixtures/configs/bad_NAME.yaml must fail to load with exactly the
// message in bad_NAME.expected (one line; trailing whitespace ignored).
//
// The .expected file names the fixture by its bare file name ("bad_NAME.yaml:L:C: message"):
// the test loads it by full path with loadFile and strips the fixtures directory from the front
// of the message, so the fixtures do not depend on where the tree is checked out. The match is
// exact, line and column included, so a fixture fails if the message or its position drifts.
//
// To add a case: write bad_NAME.yaml (a comment on top saying what is wrong helps) and
// bad_NAME.expected; the test picks both up with no code change.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "config/load.h"

namespace portcullis::config {
namespace {

namespace fs = std::filesystem;

const fs::path kDir = fs::path(PORTCULLIS_FIXTURES_DIR) / "configs";

std::vector<std::string> badFixtures() {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(kDir, ec)) {
    std::string name = entry.path().filename().string();
    if (name.starts_with("bad_") && name.ends_with(".yaml")) names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::string readTrimmed(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

class BadConfig : public ::testing::TestWithParam<std::string> {};

TEST_P(BadConfig, FailsWithTheExpectedFileLineColumnAndMessage) {
  const std::string name = GetParam();
  fs::path expected_file = kDir / (name.substr(0, name.size() - 5) + ".expected");
  ASSERT_TRUE(fs::exists(expected_file)) << "missing " << expected_file;
  const std::string expected = readTrimmed(expected_file);

  const std::string path = (kDir / name).string();
  auto c = loadFile(path);
  ASSERT_FALSE(c) << name << " loaded but should have failed with: " << expected;
  std::string message = c.error().message;
  const std::string prefix = kDir.string() + "/";
  ASSERT_EQ(message.rfind(prefix, 0), 0u) << "error does not start with the file path: " << message;
  EXPECT_EQ(message.substr(prefix.size()), expected);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, BadConfig, ::testing::ValuesIn(badFixtures()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           std::string n = info.param.substr(0, info.param.size() - 5);
                           return n;  // bad_NAME: letters, digits and '_' only, as gtest needs
                         });

TEST(BadConfigFixtures, ArePresent) {
  // Guards the glob: an empty list would make the parameterised suite pass vacuously.
  EXPECT_GE(badFixtures().size(), 40u) << "looked in " << kDir;
}

TEST(BadConfigFixtures, EveryExpectedFileHasAFixture) {
  // A renamed fixture must not leave its .expected behind, silently untested.
  for (const auto& entry : fs::directory_iterator(kDir)) {
    if (entry.path().extension() != ".expected") continue;
    fs::path yaml = entry.path();
    yaml.replace_extension(".yaml");
    EXPECT_TRUE(fs::exists(yaml)) << entry.path() << " has no " << yaml.filename();
  }
}

}  // namespace
}  // namespace portcullis::config
