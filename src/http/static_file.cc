#include "http/static_file.h"

#include <algorithm>
#include <charconv>
#include <fstream>
#include <optional>
#include <sstream>

namespace portcullis::http {
namespace {

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool isCtl(unsigned char c) { return c < 0x20 || c == 0x7f; }

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool isOws(char c) { return c == ' ' || c == '\t'; }

std::string_view trimOws(std::string_view s) {
  while (!s.empty() && isOws(s.front())) s.remove_prefix(1);
  while (!s.empty() && isOws(s.back())) s.remove_suffix(1);
  return s;
}

std::string_view lastSegment(std::string_view name) {
  size_t slash = name.rfind('/');
  return slash == std::string_view::npos ? name : name.substr(slash + 1);
}

// The extension of the last segment; empty for "README" and for a dotfile like ".htaccess",
// whose leading dot starts the name rather than an extension.
std::string_view extensionOf(std::string_view file_name) {
  std::string_view base = lastSegment(file_name);
  size_t dot = base.rfind('.');
  if (dot == std::string_view::npos || dot == 0) return {};
  return base.substr(dot + 1);
}

// --- Civil dates (H. Hinnant's algorithms): no gmtime/timegm, so no TZ or locale involvement ---

constexpr int64_t kSecPerDay = 86400;
constexpr std::string_view kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
constexpr std::string_view kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

int64_t daysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

struct Civil {
  int64_t y;
  unsigned m, d;
};

Civil civilFromDays(int64_t z) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  return {static_cast<int64_t>(yoe) + era * 400 + (m <= 2), m, d};
}

unsigned daysInMonth(int64_t y, unsigned m) {
  static constexpr unsigned kLen[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return m == 2 && leap ? 29 : kLen[m - 1];
}

// A cursor over an HTTP-date; every read fails softly so a bad date is just "no date".
struct DateReader {
  std::string_view s;
  bool ok = true;

  unsigned digits(size_t n) {
    unsigned v = 0;
    if (s.size() < n) return ok = false, 0;
    for (size_t i = 0; i < n; ++i) {
      if (s[i] < '0' || s[i] > '9') return ok = false, 0;
      v = v * 10 + static_cast<unsigned>(s[i] - '0');
    }
    s.remove_prefix(n);
    return v;
  }
  void literal(std::string_view lit) {
    if (s.substr(0, lit.size()) != lit) ok = false;
    else s.remove_prefix(lit.size());
  }
  unsigned month() {
    for (unsigned i = 0; i < 12; ++i) {
      if (s.substr(0, 3) == kMonths[i]) return s.remove_prefix(3), i + 1;
    }
    return ok = false, 0;
  }
  void dayName() {  // redundant with the date, so its spelling is not checked against it
    size_t n = std::min(s.find_first_of(", "), s.size());
    ok = ok && n >= 3;
    s.remove_prefix(n);
  }
  void clock(unsigned& h, unsigned& mi, unsigned& sec) {
    h = digits(2), literal(":"), mi = digits(2), literal(":"), sec = digits(2);
  }
};

// RFC 9110 §5.6.7: IMF-fixdate, and the obsolete RFC 850 and asctime forms a recipient accepts.
std::optional<int64_t> parseHttpDate(std::string_view text) {
  DateReader r{trimOws(text)};
  int64_t y = 0;
  unsigned mo = 0, d = 0, h = 0, mi = 0, sec = 0;
  r.dayName();
  if (!r.s.empty() && r.s[0] == ',') {
    r.literal(", ");
    if (r.s.size() > 2 && r.s[2] == '-') {  // RFC 850: "Sunday, 06-Nov-94 08:49:37 GMT"
      d = r.digits(2), r.literal("-"), mo = r.month(), r.literal("-");
      unsigned yy = r.digits(2);
      y = yy < 70 ? 2000 + yy : 1900 + yy;  // a cheap take on §5.6.7's "50 years" rule
    } else {  // IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT"
      d = r.digits(2), r.literal(" "), mo = r.month(), r.literal(" "), y = r.digits(4);
    }
    r.literal(" "), r.clock(h, mi, sec), r.literal(" GMT");
  } else {  // asctime: "Sun Nov  6 08:49:37 1994"
    r.literal(" "), mo = r.month(), r.literal(" ");
    if (!r.s.empty() && r.s[0] == ' ') r.s.remove_prefix(1), d = r.digits(1);
    else d = r.digits(2);
    r.literal(" "), r.clock(h, mi, sec), r.literal(" "), y = r.digits(4);
  }
  if (!r.ok || !r.s.empty() || d < 1 || d > daysInMonth(y, mo) || h > 23 || mi > 59 || sec > 60) {
    return std::nullopt;
  }
  return daysFromCivil(y, mo, d) * kSecPerDay + h * 3600 + mi * 60 + sec;
}

// --- Entity tags (RFC 9110 §8.8.3) ---

struct Tag {
  bool weak;
  std::string_view opaque;  // with its quotes
};

Tag splitTag(std::string_view t) {
  return t.starts_with("W/") ? Tag{true, t.substr(2)} : Tag{false, t};
}

// Whether a member of the If-Match / If-None-Match / If-Range list matches `etag`; "*" matches
// any current representation. A member that is not a quoted tag skips to the next comma.
bool listMatches(std::string_view field, std::string_view etag, bool strong) {
  Tag ours = splitTag(etag);
  while (!field.empty()) {
    field = trimOws(field);
    if (field.empty()) break;
    if (field[0] == ',') {
      field.remove_prefix(1);
      continue;
    }
    if (field[0] == '*') return true;
    bool weak = field.starts_with("W/");
    if (weak) field.remove_prefix(2);
    size_t close = field.starts_with('"') ? field.find('"', 1) : std::string_view::npos;
    if (close == std::string_view::npos) {
      size_t comma = field.find(',');
      if (comma == std::string_view::npos) break;
      field.remove_prefix(comma + 1);
      continue;
    }
    std::string_view opaque = field.substr(0, close + 1);
    field.remove_prefix(close + 1);
    if (opaque != ours.opaque) continue;
    if (!strong || (!weak && !ours.weak)) return true;
  }
  return false;
}

// --- Range (RFC 9110 §14.1.2) ---

bool parseU64(std::string_view& s, uint64_t& v) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  s.remove_prefix(static_cast<size_t>(p - s.data()));
  return ec == std::errc();  // neither overflow nor no digits
}

struct ByteRange {
  bool suffix = false, open_ended = false;
  uint64_t first = 0, last = 0;  // suffix: `last` is the suffix length
};

// One well-formed "bytes=" range, or nothing: several ranges, another unit and malformed fields
// all mean the whole file.
std::optional<ByteRange> parseRange(std::string_view field) {
  field = trimOws(field);
  constexpr std::string_view kUnit = "bytes";
  if (field.size() < kUnit.size()) return std::nullopt;
  for (size_t i = 0; i < kUnit.size(); ++i) {
    if (lower(field[i]) != kUnit[i]) return std::nullopt;  // range units are case-insensitive
  }
  field = trimOws(field.substr(kUnit.size()));
  if (field.empty() || field[0] != '=') return std::nullopt;
  field.remove_prefix(1);
  std::optional<ByteRange> found;
  while (true) {
    field = trimOws(field);
    if (field.empty()) break;
    if (field[0] == ',') {  // empty list elements are allowed (§5.6.1.2)
      field.remove_prefix(1);
      continue;
    }
    if (found) return std::nullopt;  // a second range, or anything but a comma after the first
    ByteRange r;
    if (field[0] == '-') {
      field.remove_prefix(1);
      r.suffix = true;
      if (!parseU64(field, r.last)) return std::nullopt;
    } else {
      if (!parseU64(field, r.first) || field.empty() || field[0] != '-') return std::nullopt;
      field.remove_prefix(1);
      if (!field.empty() && field[0] >= '0' && field[0] <= '9') {
        if (!parseU64(field, r.last) || r.last < r.first) return std::nullopt;
      } else {
        r.open_ended = true;
      }
    }
    found = r;
  }
  return found;
}

void appendUnsigned(std::string& out, uint64_t v, int base = 10) {
  char buf[24];
  auto [p, ec] = std::to_chars(buf, buf + sizeof buf, v, base);
  out.append(buf, p);
}

// Built-in types, the ones a web site serves. Where the usual tables disagree, these follow
// what browsers expect: text/javascript (RFC 9239), application/manifest+json, font/*.
constexpr std::pair<std::string_view, std::string_view> kBuiltIn[] = {
    {"html", "text/html"}, {"htm", "text/html"}, {"css", "text/css"}, {"txt", "text/plain"},
    {"md", "text/markdown"}, {"csv", "text/csv"}, {"ics", "text/calendar"}, {"vtt", "text/vtt"},
    {"js", "text/javascript"}, {"mjs", "text/javascript"}, {"cjs", "text/javascript"},
    {"json", "application/json"}, {"map", "application/json"}, {"jsonld", "application/ld+json"},
    {"webmanifest", "application/manifest+json"}, {"xml", "application/xml"},
    {"xhtml", "application/xhtml+xml"}, {"rss", "application/rss+xml"},
    {"atom", "application/atom+xml"}, {"svg", "image/svg+xml"}, {"png", "image/png"},
    {"apng", "image/apng"}, {"jpg", "image/jpeg"}, {"jpeg", "image/jpeg"}, {"gif", "image/gif"},
    {"webp", "image/webp"}, {"avif", "image/avif"}, {"bmp", "image/bmp"}, {"ico", "image/x-icon"},
    {"woff", "font/woff"}, {"woff2", "font/woff2"}, {"ttf", "font/ttf"}, {"otf", "font/otf"},
    {"eot", "application/vnd.ms-fontobject"}, {"pdf", "application/pdf"},
    {"wasm", "application/wasm"}, {"zip", "application/zip"}, {"gz", "application/gzip"},
    {"tar", "application/x-tar"}, {"br", "application/x-brotli"}, {"zst", "application/zstd"},
    {"mp4", "video/mp4"}, {"webm", "video/webm"}, {"ogv", "video/ogg"}, {"mov", "video/quicktime"},
    {"mp3", "audio/mpeg"}, {"m4a", "audio/mp4"}, {"ogg", "audio/ogg"}, {"oga", "audio/ogg"},
    {"opus", "audio/ogg"}, {"wav", "audio/wav"}, {"flac", "audio/flac"},
};

constexpr std::string_view kOctetStream = "application/octet-stream";
// Long enough for every real extension and short enough to stay in std::string's inline buffer,
// so lookup() never allocates.
constexpr size_t kMaxExtension = 15;

// Text that browsers would otherwise sniff for an encoding: text/*, JavaScript, JSON and XML
// (including their +json / +xml kinds such as SVG and the web app manifest).
std::string withCharset(std::string_view type) {
  std::string v(type);
  if (type.starts_with("text/") || type == "application/javascript" ||
      type == "application/json" || type == "application/xml" || type.ends_with("+json") ||
      type.ends_with("+xml")) {
    v += "; charset=utf-8";
  }
  return v;
}

}  // namespace

PathCheck mapStaticPath(std::string_view encoded, std::string& out) {
  out.clear();
  bool forbidden = false;
  size_t i = 0;
  while (i < encoded.size()) {
    size_t mark = out.size();
    if (!out.empty()) out.push_back('/');
    size_t seg = out.size();
    for (; i < encoded.size() && encoded[i] != '/'; ++i) {
      char c = encoded[i];
      if (c == '%') {
        int hi = i + 2 < encoded.size() ? hexValue(encoded[i + 1]) : -1;
        int lo = hi >= 0 ? hexValue(encoded[i + 2]) : -1;
        if (lo < 0) return PathCheck::BadRequest;
        c = static_cast<char>(hi * 16 + lo);
        i += 2;
        // Decoded once: "%252e" is the literal name "%2e", never "." — decoding again is how
        // double-encoding attacks get through.
        if (c == '/') return PathCheck::BadRequest;
      }
      if (c == '\\' || isCtl(static_cast<unsigned char>(c))) return PathCheck::BadRequest;
      out.push_back(c);
    }
    if (i < encoded.size()) ++i;  // the '/'
    std::string_view name(out.data() + seg, out.size() - seg);
    if (name.empty() || name == ".") {
      out.resize(mark);  // "a//b" and "a/./b" name "a/b", as a filesystem would resolve them
    } else if (name == "..") {
      // Refused even when it would stay inside the root (nginx does the same): a client with
      // a legitimate URL never sends one, and refusing needs no resolution logic to get right.
      return PathCheck::BadRequest;
    } else if (name[0] == '.') {
      forbidden = true;  // keep scanning: a malformed path is a 400 wherever the dotfile is
    }
  }
  if (forbidden) return PathCheck::Forbidden;
  if (!out.empty() && encoded.back() == '/') out.push_back('/');
  return PathCheck::Ok;
}

MimeTypes MimeTypes::load(const std::string& mime_types_file) {
  MimeTypes m;
  for (auto [ext, type] : kBuiltIn) m.by_ext_.emplace(ext, withCharset(type));
  std::ifstream in(mime_types_file);
  for (std::string line; std::getline(in, line);) {
    std::istringstream words(line.substr(0, line.find('#')));
    std::string type, ext;
    if (!(words >> type) || type.find('/') == std::string::npos) continue;
    std::string value = withCharset(type);
    while (words >> ext) {
      for (char& ch : ext) ch = lower(ch);
      m.by_ext_.try_emplace(ext, value);  // never replaces a built-in entry
    }
  }
  return m;
}

std::string_view MimeTypes::lookup(std::string_view file_name) const {
  std::string_view ext = extensionOf(file_name);
  if (ext.empty() || ext.size() > kMaxExtension) return kOctetStream;
  std::string key(ext);
  for (char& ch : key) ch = lower(ch);
  auto it = by_ext_.find(key);
  return it == by_ext_.end() ? kOctetStream : std::string_view(it->second);
}

bool isHashedName(std::string_view file_name) {
  std::string_view base = lastSegment(file_name);
  size_t dot = base.rfind('.');
  if (dot == std::string_view::npos || dot == 0 || dot + 1 == base.size()) return false;
  std::string_view stem = base.substr(0, dot);
  size_t sep = stem.find_last_of(".-");
  // The part right before the extension: "x.abcdef12.min.js" is not hashed ("min" is), and a
  // stem that is all hash ("deadbeef.css", webpack's "[contenthash].js") is.
  std::string_view part = sep == std::string_view::npos ? stem : stem.substr(sep + 1);
  if (part.size() < 8 || part.size() > 64) return false;
  bool letter = false;
  for (char c : part) {
    int v = hexValue(c);
    if (v < 0) return false;
    letter |= v >= 10;
  }
  // All digits is far likelier a date or a version ("backup-20240101.zip") than a hash, and
  // calling a mutable file immutable is the costly mistake; a hash with no letter (~2% of
  // 8-digit ones) just gets the ordinary max-age.
  return letter;
}

void cacheControl(bool hashed, std::chrono::seconds max_age, std::string& out) {
  out = hashed ? "public, max-age=31536000, immutable" : "public, max-age=";
  if (!hashed) appendUnsigned(out, static_cast<uint64_t>(std::max<int64_t>(max_age.count(), 0)));
}

void makeEtag(const FileFacts& facts, Coding coding, std::string& out) {
  out.assign(1, '"');
  // Two's complement for a pre-1970 mtime: still a unique, stable token.
  appendUnsigned(out, static_cast<uint64_t>(facts.mtime_sec), 16);
  out.push_back('-');
  appendUnsigned(out, facts.size, 16);
  std::string_view suffix = codingSuffix(coding);  // ".br": the variant gets a tag of its own
  if (!suffix.empty()) out.append("-").append(suffix.substr(1));
  out.push_back('"');
}

void lastModified(const FileFacts& facts, std::string& out) {
  // IMF-fixdate has a four-digit year.
  constexpr int64_t kMin = -62135596800;  // 0001-01-01T00:00:00Z
  constexpr int64_t kMax = 253402300799;  // 9999-12-31T23:59:59Z
  int64_t t = facts.mtime_sec < kMin ? kMin : facts.mtime_sec > kMax ? kMax : facts.mtime_sec;
  int64_t days = t >= 0 ? t / kSecPerDay : (t - kSecPerDay + 1) / kSecPerDay;
  int64_t secs = t - days * kSecPerDay;
  Civil c = civilFromDays(days);
  auto two = [&out](int64_t v) {
    out.push_back(static_cast<char>('0' + v / 10));
    out.push_back(static_cast<char>('0' + v % 10));
  };
  out.clear();
  out.append(kDays[((days % 7) + 11) % 7]).append(", ");  // 1970-01-01 was a Thursday
  two(c.d);
  out.append(" ").append(kMonths[c.m - 1]).append(" ");
  two(c.y / 100), two(c.y % 100);
  out.push_back(' ');
  two(secs / 3600), out.push_back(':'), two(secs / 60 % 60), out.push_back(':'), two(secs % 60);
  out.append(" GMT");
}

Plan planResponse(const Conditions& c, const FileFacts& facts, std::string_view etag) {
  Plan p{Outcome::Full, 0, facts.size};
  auto fail = [](Outcome o) { return Plan{o, 0, 0}; };
  if (!c.if_match.empty()) {
    if (!listMatches(c.if_match, etag, /*strong=*/true)) return fail(Outcome::PreconditionFailed);
  } else if (!c.if_unmodified_since.empty()) {
    std::optional<int64_t> t = parseHttpDate(c.if_unmodified_since);
    if (t && facts.mtime_sec > *t) return fail(Outcome::PreconditionFailed);
  }
  if (!c.if_none_match.empty()) {
    if (listMatches(c.if_none_match, etag, /*strong=*/false)) return fail(Outcome::NotModified);
  } else if (!c.if_modified_since.empty()) {
    std::optional<int64_t> t = parseHttpDate(c.if_modified_since);
    if (t && facts.mtime_sec <= *t) return fail(Outcome::NotModified);
  }
  if (c.range.empty()) return p;
  if (!c.if_range.empty()) {
    std::string_view ir = trimOws(c.if_range);
    bool current;
    if (ir.starts_with("W/") || ir.starts_with('"')) {
      // One strong tag; a weak one never matches (§13.1.5), and a list is not an If-Range.
      Tag t = splitTag(ir), ours = splitTag(etag);
      current = !t.weak && !ours.weak && t.opaque == ours.opaque;
    } else {
      std::optional<int64_t> t = parseHttpDate(ir);
      current = t && *t == facts.mtime_sec;
    }
    if (!current) return p;
  }
  std::optional<ByteRange> r = parseRange(c.range);
  if (!r) return p;
  const uint64_t size = facts.size;
  if (r->suffix) {
    if (r->last == 0) return fail(Outcome::RangeNotSatisfiable);
    // A suffix range of an empty file is satisfiable (§14.1.1) but selects zero bytes, which
    // Content-Range cannot express: the whole (empty) file, as ignoring Range is allowed.
    if (size == 0) return p;
    uint64_t n = r->last < size ? r->last : size;
    return Plan{Outcome::Partial, size - n, n};
  }
  // "bytes=0-" of an empty file is unsatisfiable (first-pos not below the length) -> 416, as
  // the RFC says; nginx answers 200 there.
  if (r->first >= size) return fail(Outcome::RangeNotSatisfiable);
  uint64_t last = r->open_ended || r->last >= size ? size - 1 : r->last;
  return Plan{Outcome::Partial, r->first, last - r->first + 1};
}

void contentRange(const Plan& plan, uint64_t size, std::string& out) {
  out.clear();
  if (plan.outcome == Outcome::RangeNotSatisfiable) {
    out = "bytes */";
  } else if (plan.outcome == Outcome::Partial && plan.length > 0) {
    out = "bytes ";
    appendUnsigned(out, plan.offset);
    out.push_back('-');
    appendUnsigned(out, plan.offset + plan.length - 1);
    out.push_back('/');
  } else {
    return;
  }
  appendUnsigned(out, size);
}

}  // namespace portcullis::http
