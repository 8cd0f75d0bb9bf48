#include "config/model.h"

#include <gtest/gtest.h>

#include <string>

namespace portcullis::config {
namespace {

Upstream named(std::string name) {
  Upstream u;
  u.name = std::move(name);
  return u;
}

TEST(Mark, ToStringIsFileLineColumn) {
  EXPECT_EQ(toString(Mark{"portcullis.yaml", 7, 5}), "portcullis.yaml:7:5");
}

TEST(Mark, ToStringWithoutALineIsTheFileAlone) {
  // Errors with no position (an unreadable file) must not print a made-up "0:0".
  EXPECT_EQ(toString(Mark{"portcullis.yaml", 0, 0}), "portcullis.yaml");
}

TEST(Config, FindUpstreamReturnsTheNamedCluster) {
  Config c;
  c.upstreams.push_back(named("app"));
  c.upstreams.push_back(named("static"));
  const Upstream* u = c.findUpstream("static");
  ASSERT_NE(u, nullptr);
  EXPECT_EQ(u, &c.upstreams[1]);
}

TEST(Config, FindUpstreamReturnsNullForAnUnknownName) {
  Config c;
  c.upstreams.push_back(named("app"));
  EXPECT_EQ(c.findUpstream("api"), nullptr);
}

}  // namespace
}  // namespace portcullis::config
