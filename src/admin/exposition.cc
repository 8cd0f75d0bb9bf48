#include "admin/exposition.h"

#include <charconv>
#include <cmath>

namespace portcullis::admin {

std::string escapeLabelValue(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string escapeHelp(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string formatValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

void Exposition::family(std::string_view name, std::string_view type, std::string_view help) {
  out_ += "# HELP ";
  out_ += name;
  out_ += ' ';
  out_ += escapeHelp(help);
  out_ += "\n# TYPE ";
  out_ += name;
  out_ += ' ';
  out_ += type;
  out_ += '\n';
}

void Exposition::labels(const Labels& labels, std::string_view extra_name, std::string_view extra_value) {
  if (labels.empty() && extra_name.empty()) return;
  out_ += '{';
  bool first = true;
  auto one = [&](std::string_view k, std::string_view v) {
    if (!first) out_ += ',';
    first = false;
    out_ += k;
    out_ += "=\"";
    out_ += escapeLabelValue(v);
    out_ += '"';
  };
  for (const auto& [k, v] : labels) one(k, v);
  if (!extra_name.empty()) one(extra_name, extra_value);
  out_ += '}';
}

void Exposition::sample(std::string_view name, const Labels& l, double value) {
  out_ += name;
  labels(l);
  out_ += ' ';
  out_ += formatValue(value);
  out_ += '\n';
}

void Exposition::sample(std::string_view name, const Labels& l, uint64_t value) {
  out_ += name;
  labels(l);
  out_ += ' ';
  out_ += std::to_string(value);
  out_ += '\n';
}

void Exposition::add(const std::vector<base::stats::FamilySnapshot>& families) {
  for (const auto& f : families) {
    bool hist = f.kind == base::stats::Kind::Histogram;
    family(f.name, hist ? "histogram" : "counter", f.help);
    for (const auto& s : f.series) {
      Labels l;
      for (size_t i = 0; i < f.label_names.size() && i < s.labels.size(); ++i) l.emplace_back(f.label_names[i], s.labels[i]);
      if (!hist) {
        sample(f.name, l, s.values.at(0));
        continue;
      }
      // Buckets are stored per bucket (one writer, no RMW); the format wants them cumulative,
      // and _count is the +Inf bucket, so the two always agree within one scrape.
      uint64_t cumulative = 0;
      const std::string bucket = f.name + "_bucket";
      for (size_t b = 0; b <= f.bounds.size(); ++b) {
        cumulative += s.values.at(b);
        std::string le = b < f.bounds.size() ? formatValue(static_cast<double>(f.bounds[b]) / static_cast<double>(f.divisor)) : "+Inf";
        out_ += bucket;
        labels(l, "le", le);
        out_ += ' ';
        out_ += std::to_string(cumulative);
        out_ += '\n';
      }
      uint64_t sum = s.values.at(f.bounds.size() + 1);
      if (f.divisor == 1) sample(f.name + "_sum", l, sum);
      else sample(f.name + "_sum", l, static_cast<double>(sum) / static_cast<double>(f.divisor));
      sample(f.name + "_count", l, cumulative);
    }
  }
}

}  // namespace portcullis::admin
