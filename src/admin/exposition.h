#pragma once
// Prometheus text exposition format 0.0.4: families with # HELP / # TYPE, samples with escaped
// label values, histograms as cumulative _bucket{le} + _sum + _count.
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/stats.h"

namespace portcullis::admin {

inline constexpr std::string_view kExpositionContentType = "text/plain; version=0.0.4; charset=utf-8";

using Labels = std::vector<std::pair<std::string_view, std::string_view>>;

// Label values: backslash, double quote and line feed escaped (\\, \", \n).
std::string escapeLabelValue(std::string_view v);
// HELP text: backslash and line feed escaped.
std::string escapeHelp(std::string_view v);
// Shortest text that reads back as `v` ("0.005", "1", "2.5e-05"; "+Inf", "NaN").
std::string formatValue(double v);

class Exposition {
 public:
  // Starts a family; every sample until the next family() belongs to it. `type`: counter,
  // gauge, histogram.
  void family(std::string_view name, std::string_view type, std::string_view help);
  void sample(std::string_view name, const Labels& labels, double value);
  void sample(std::string_view name, const Labels& labels, uint64_t value);
  // Every family of `registry`, summed over its shards.
  void add(const std::vector<base::stats::FamilySnapshot>& families);

  const std::string& text() const { return out_; }

 private:
  void labels(const Labels& labels, std::string_view extra_name = {}, std::string_view extra_value = {});
  std::string out_;
};

}  // namespace portcullis::admin
