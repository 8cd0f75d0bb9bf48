// ErrorMap specs: the one place that decides which status the client sees (error_map.h).
#include "proxy/error_map.h"

#include <gtest/gtest.h>

#include <set>
#include <string_view>
#include <utility>

namespace portcullis::proxy {
namespace {

TEST(ErrorMap, EveryKindHasItsStatus) {
  const std::pair<ErrorKind, int> kTable[] = {
      {ErrorKind::BadRequest, 400},       {ErrorKind::UriTooLong, 414},
      {ErrorKind::HeaderTooLarge, 431},   {ErrorKind::BodyTooLarge, 413},
      {ErrorKind::NotImplemented, 501},   {ErrorKind::VersionNotSupported, 505},
      {ErrorKind::MethodNotAllowed, 405}, {ErrorKind::NoRouteHost, 421},
      {ErrorKind::NoRoutePath, 404},      {ErrorKind::UpstreamConnect, 502},
      {ErrorKind::UpstreamProtocol, 502}, {ErrorKind::UpstreamTimeout, 504},
      {ErrorKind::NoHealthyHost, 503},    {ErrorKind::Overloaded, 503},
      {ErrorKind::Internal, 500},         {ErrorKind::ClientTimeout, 408},
      {ErrorKind::ClientClosed, 499},
  };
  for (auto [kind, status] : kTable) {
    EXPECT_EQ(statusFor(kind), status) << "kind " << static_cast<int>(kind);
  }
}

TEST(ErrorMap, EveryKindHasADistinctSnakeCaseName) {
  // Names are metric label values and log fields: stable, unique, [a-z_] only.
  std::set<std::string_view> seen;
  for (int k = 0; k <= static_cast<int>(ErrorKind::ClientClosed); ++k) {
    std::string_view name = errorName(static_cast<ErrorKind>(k));
    EXPECT_TRUE(seen.insert(name).second) << "duplicate name " << name;
    EXPECT_FALSE(name.empty());
    for (char c : name) EXPECT_TRUE((c >= 'a' && c <= 'z') || c == '_') << name;
  }
  EXPECT_EQ(errorName(ErrorKind::UpstreamTimeout), "upstream_timeout");
}

TEST(ErrorMap, ParseErrorsMapToTheirKinds) {
  EXPECT_EQ(fromParseError(http::ParseError::BadRequest), ErrorKind::BadRequest);
  EXPECT_EQ(fromParseError(http::ParseError::UriTooLong), ErrorKind::UriTooLong);
  EXPECT_EQ(fromParseError(http::ParseError::HeaderTooLarge), ErrorKind::HeaderTooLarge);
  EXPECT_EQ(fromParseError(http::ParseError::NotImplemented), ErrorKind::NotImplemented);
  EXPECT_EQ(fromParseError(http::ParseError::VersionNotSupported), ErrorKind::VersionNotSupported);
}

TEST(ErrorMap, NoParseErrorIsTreatedAsBadRequest) {
  // Reaching the error path with ParseError::None is a bug upstream of here; 400 is the safe
  // answer (never 200 or a crash).
  EXPECT_EQ(fromParseError(http::ParseError::None), ErrorKind::BadRequest);
}

TEST(ErrorMap, ParseErrorStatusesMatchTheParserContract) {
  // parser.h documents the status for each ParseError; the two mappings compose to it.
  EXPECT_EQ(statusFor(fromParseError(http::ParseError::BadRequest)), 400);
  EXPECT_EQ(statusFor(fromParseError(http::ParseError::UriTooLong)), 414);
  EXPECT_EQ(statusFor(fromParseError(http::ParseError::HeaderTooLarge)), 431);
  EXPECT_EQ(statusFor(fromParseError(http::ParseError::NotImplemented)), 501);
  EXPECT_EQ(statusFor(fromParseError(http::ParseError::VersionNotSupported)), 505);
}

}  // namespace
}  // namespace portcullis::proxy
