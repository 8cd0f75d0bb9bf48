// TEMPORARY stub of static_file.h so branch static-serve links before static-core lands.
// Drop at merge: the real implementation is src/http/static_file.cc (branch static-core).
#include <cctype>
#include <charconv>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <sstream>

#include "http/message.h"
#include "http/static_file.h"

namespace portcullis::http {

namespace {
int hexv(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
bool isHex(std::string_view s) {
  for (char c : s)
    if (hexv(c) < 0) return false;
  return true;
}
int64_t parseDate(std::string_view s) {
  std::string t(s);
  std::tm tm{};
  const char* end = strptime(t.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (!end || *end) return -1;
  return static_cast<int64_t>(timegm(&tm));
}
}  // namespace

PathCheck mapStaticPath(std::string_view encoded, std::string& out) {
  out.clear();
  for (size_t i = 0; i < encoded.size(); ++i) {
    char c = encoded[i];
    if (c == '%') {
      if (i + 2 >= encoded.size()) return PathCheck::BadRequest;
      int a = hexv(encoded[i + 1]), b = hexv(encoded[i + 2]);
      if (a < 0 || b < 0) return PathCheck::BadRequest;
      char d = static_cast<char>(a * 16 + b);
      if (d == 0 || d == '/' || d == '\\') return PathCheck::BadRequest;
      out.push_back(d);
      i += 2;
    } else {
      if (c == 0) return PathCheck::BadRequest;
      out.push_back(c);
    }
  }
  while (!out.empty() && out.front() == '/') out.erase(0, 1);
  size_t start = 0;
  while (start <= out.size()) {
    size_t slash = out.find('/', start);
    std::string_view seg = std::string_view(out).substr(start, slash == std::string::npos ? std::string::npos : slash - start);
    bool last = slash == std::string::npos;
    if (seg == "..") return PathCheck::BadRequest;
    if (seg.empty() && !last) return PathCheck::BadRequest;
    if (seg == ".") return PathCheck::BadRequest;
    if (!seg.empty() && seg[0] == '.') return PathCheck::Forbidden;
    if (last) break;
    start = slash + 1;
  }
  return PathCheck::Ok;
}

MimeTypes MimeTypes::load(const std::string& mime_types_file) {
  MimeTypes m;
  const char* builtin[][2] = {{"html", "text/html"}, {"css", "text/css"}, {"js", "text/javascript"},
                              {"json", "application/json"}, {"svg", "image/svg+xml"}, {"png", "image/png"},
                              {"txt", "text/plain"}, {"woff2", "font/woff2"}, {"jpg", "image/jpeg"}};
  for (auto& b : builtin) m.by_ext_[b[0]] = b[1];
  std::ifstream in(mime_types_file);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream ss(line);
    std::string type, ext;
    ss >> type;
    while (ss >> ext) m.by_ext_.emplace(ext, type);
  }
  for (auto& [ext, type] : m.by_ext_) {
    if (type.rfind("text/", 0) == 0 || type == "application/json" || type == "image/svg+xml" ||
        type == "application/xml")
      type += "; charset=utf-8";
  }
  return m;
}

std::string_view MimeTypes::lookup(std::string_view file_name) const {
  size_t slash = file_name.rfind('/');
  if (slash != std::string_view::npos) file_name.remove_prefix(slash + 1);
  size_t dot = file_name.rfind('.');
  if (dot == std::string_view::npos) return "application/octet-stream";
  std::string ext(file_name.substr(dot + 1));
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  auto it = by_ext_.find(ext);
  return it == by_ext_.end() ? std::string_view("application/octet-stream") : std::string_view(it->second);
}

bool isHashedName(std::string_view name) {
  size_t slash = name.rfind('/');
  if (slash != std::string_view::npos) name.remove_prefix(slash + 1);
  size_t dot = name.rfind('.');
  if (dot == std::string_view::npos) return false;
  std::string_view stem = name.substr(0, dot);
  size_t sep = stem.find_last_of(".-");
  if (sep == std::string_view::npos) return false;
  std::string_view h = stem.substr(sep + 1);
  return h.size() >= 8 && h.size() <= 64 && isHex(h);
}

void cacheControl(bool hashed, std::chrono::seconds max_age, std::string& out) {
  if (hashed) out = "public, max-age=31536000, immutable";
  else out = "public, max-age=" + std::to_string(max_age.count());
}

void makeEtag(const FileFacts& f, Coding coding, std::string& out) {
  char buf[64];
  int n = std::snprintf(buf, sizeof buf, "\"%llx-%llx", static_cast<unsigned long long>(f.mtime_sec),
                        static_cast<unsigned long long>(f.size));
  out.assign(buf, static_cast<size_t>(n));
  switch (coding) {
    case Coding::Brotli: out += "-br"; break;
    case Coding::Zstd: out += "-zst"; break;
    case Coding::Gzip: out += "-gz"; break;
    case Coding::Identity: break;
  }
  out += '"';
}

void lastModified(const FileFacts& f, std::string& out) {
  std::time_t t = static_cast<std::time_t>(f.mtime_sec);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[40];
  size_t n = std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  out.assign(buf, n);
}

Plan planResponse(const Conditions& c, const FileFacts& facts, std::string_view etag) {
  Plan p;
  p.length = facts.size;
  auto weakMatch = [&](std::string_view list) {
    bool m = false;
    forEachListElement(list, [&](std::string_view e) {
      if (e == "*") m = true;
      if (e.substr(0, 2) == "W/") e.remove_prefix(2);
      std::string_view t = etag;
      if (e == t) m = true;
      return !m;
    });
    return m;
  };
  if (!c.if_none_match.empty()) {
    if (weakMatch(c.if_none_match)) return {Outcome::NotModified, 0, 0};
  } else if (!c.if_modified_since.empty()) {
    int64_t d = parseDate(c.if_modified_since);
    if (d >= 0 && facts.mtime_sec <= d) return {Outcome::NotModified, 0, 0};
  }
  if (c.range.empty()) return p;
  if (!c.if_range.empty() && c.if_range != etag) return p;
  std::string_view r = c.range;
  if (r.substr(0, 6) != "bytes=") return p;
  r.remove_prefix(6);
  if (r.find(',') != std::string_view::npos) return p;
  size_t dash = r.find('-');
  if (dash == std::string_view::npos) return p;
  std::string_view a = r.substr(0, dash), b = r.substr(dash + 1);
  uint64_t first = 0, last = 0;
  if (a.empty()) {
    if (b.empty() || std::from_chars(b.data(), b.data() + b.size(), last).ec != std::errc()) return p;
    if (last == 0 || facts.size == 0) return {Outcome::RangeNotSatisfiable, 0, 0};
    uint64_t n = std::min(last, facts.size);
    return {Outcome::Partial, facts.size - n, n};
  }
  if (std::from_chars(a.data(), a.data() + a.size(), first).ec != std::errc()) return p;
  if (first >= facts.size) return {Outcome::RangeNotSatisfiable, 0, 0};
  last = facts.size - 1;
  if (!b.empty()) {
    if (std::from_chars(b.data(), b.data() + b.size(), last).ec != std::errc()) return p;
    if (last < first) return p;
    last = std::min(last, facts.size - 1);
  }
  return {Outcome::Partial, first, last - first + 1};
}

void contentRange(const Plan& plan, uint64_t size, std::string& out) {
  if (plan.outcome == Outcome::Partial)
    out = "bytes " + std::to_string(plan.offset) + "-" + std::to_string(plan.offset + plan.length - 1) + "/" +
          std::to_string(size);
  else
    out = "bytes */" + std::to_string(size);
}

}  // namespace portcullis::http
