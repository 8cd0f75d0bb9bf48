#include "http/content_coding.h"

#include "http/message.h"

namespace portcullis::http {
namespace {

constexpr bool isOws(char c) { return c == ' ' || c == '\t'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && isOws(s.front())) s.remove_prefix(1);
  while (!s.empty() && isOws(s.back())) s.remove_suffix(1);
  return s;
}

// qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ), in thousandths; -1 if malformed.
int parseQ(std::string_view v) {
  if (v.empty() || (v[0] != '0' && v[0] != '1')) return -1;
  int whole = v[0] - '0';
  int frac = 0;
  if (v.size() > 1) {
    if (v[1] != '.' || v.size() > 5) return -1;
    int scale = 100;
    for (size_t i = 2; i < v.size(); ++i, scale /= 10) {
      if (v[i] < '0' || v[i] > '9') return -1;
      frac += (v[i] - '0') * scale;
    }
  }
  int q = whole * 1000 + frac;
  return q > 1000 ? -1 : q;
}

}  // namespace

std::string_view codingToken(Coding c) {
  switch (c) {
    case Coding::Brotli: return "br";
    case Coding::Zstd: return "zstd";
    case Coding::Gzip: return "gzip";
    case Coding::Identity: break;
  }
  return "identity";
}

std::string_view codingSuffix(Coding c) {
  switch (c) {
    case Coding::Brotli: return ".br";
    case Coding::Zstd: return ".zst";
    case Coding::Gzip: return ".gz";
    case Coding::Identity: break;
  }
  return "";
}

void AcceptEncoding::add(std::string_view field_value) {
  seen_ = true;
  while (!field_value.empty()) {
    size_t comma = field_value.find(',');
    std::string_view item = field_value.substr(0, comma);
    field_value = comma == std::string_view::npos ? std::string_view{} : field_value.substr(comma + 1);
    size_t semi = item.find(';');
    std::string_view token = trim(item.substr(0, semi));
    if (token.empty()) continue;
    int q = 1000;
    while (semi != std::string_view::npos) {
      item = item.substr(semi + 1);
      semi = item.find(';');
      std::string_view param = trim(item.substr(0, semi));
      size_t eq = param.find('=');
      if (eq == std::string_view::npos) continue;
      if (iequals(trim(param.substr(0, eq)), "q")) q = parseQ(trim(param.substr(eq + 1)));
    }
    if (q < 0) continue;  // a malformed weight: ignore the item rather than guess
    int* slot = nullptr;
    if (iequals(token, "br")) slot = &q_[static_cast<int>(Coding::Brotli)];
    else if (iequals(token, "zstd")) slot = &q_[static_cast<int>(Coding::Zstd)];
    else if (iequals(token, "gzip") || iequals(token, "x-gzip")) slot = &q_[static_cast<int>(Coding::Gzip)];
    else if (iequals(token, "identity")) slot = &q_[static_cast<int>(Coding::Identity)];
    else if (token == "*") slot = &star_;
    if (slot && q > *slot) *slot = q;
  }
}

Coding AcceptEncoding::choose(unsigned offered) const {
  Coding best = Coding::Identity;
  int best_q = 0;
  for (Coding c : {Coding::Brotli, Coding::Zstd, Coding::Gzip}) {
    if (!(offered & codingBit(c))) continue;
    int q = q_[static_cast<int>(c)];
    if (q < 0) q = star_;
    if (q > best_q) {
      best_q = q;
      best = c;
    }
  }
  return best;
}

}  // namespace portcullis::http
