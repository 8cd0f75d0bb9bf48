#include "http/date.h"

#include <gtest/gtest.h>

#include <regex>
#include <string>

namespace portcullis::http {
namespace {

TEST(HttpDate, IsImfFixdate) {
  std::string d(httpDateNow());
  EXPECT_TRUE(std::regex_match(d, std::regex(R"((Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d\d:\d\d:\d\d GMT)")))
      << d;
}

}  // namespace
}  // namespace portcullis::http
