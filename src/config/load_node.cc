// The node-reading helpers every topic of the loader uses: each checks one YAML node's shape and
// value, and throws a Failure positioned at it (file:line:col) when they are wrong.
#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "config/load_internal.h"
#include "config/values.h"

namespace portcullis::config::internal {
namespace {

constexpr std::string_view kDurationShape = "a duration such as 10s or 500ms";
constexpr std::string_view kSizeShape = "a size such as 8k, 32KiB or 100m";

std::string child(const std::string& path, const std::string& key) {
  return path.empty() ? key : path + "." + key;
}

}  // namespace

std::string describe(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Scalar: return "'" + n.Scalar() + "'";
    case YAML::NodeType::Sequence: return "a list";
    case YAML::NodeType::Map: return "a map";
    default: return "nothing";
  }
}

std::vector<Entry> Loader::mapEntries(const Value& v, Keys allowed) const {
  if (v.node.IsNull()) return {};
  if (!v.node.IsMap()) fail(v, "expected a map, got " + describe(v.node));
  std::vector<Entry> out;
  for (auto it = v.node.begin(); it != v.node.end(); ++it) {
    // Copies, not references: `it->` yields a temporary pair. A Node copy is a handle.
    YAML::Node key = it->first;
    YAML::Node value = it->second;
    std::string in = v.path.empty() ? "at top level" : "in " + v.path;
    if (!key.IsScalar()) {
      failAt(key.Mark(), "expected a plain key " + in + ", got " + describe(key));
    }
    std::string name = key.Scalar();
    for (const Entry& seen : out) {
      if (seen.key == name) {
        failAt(key.Mark(), "duplicate key '" + name + "' " + in + " (first at line " +
                               std::to_string(seen.key_mark.line + 1) + ")");
      }
    }
    if (!allowed.empty() && std::find(allowed.begin(), allowed.end(), name) == allowed.end()) {
      failAt(key.Mark(),
             "unknown key '" + name + "' " + in + " (expected one of: " + joined(allowed) + ")");
    }
    out.push_back(Entry{name, key.Mark(), Value{value, key.Mark(), child(v.path, name)}});
  }
  return out;
}

const Entry* Loader::find(const std::vector<Entry>& entries, std::string_view key) {
  for (const Entry& e : entries) {
    if (e.key == key) return &e;
  }
  return nullptr;
}

const Entry& Loader::require(const std::vector<Entry>& entries, const Value& map,
                             std::string_view key) const {
  const Entry* e = find(entries, key);
  if (!e) fail(map, "missing required key '" + std::string(key) + "'");
  return *e;
}

std::vector<Value> Loader::listItems(const Value& v) const {
  if (v.node.IsNull()) return {};
  if (!v.node.IsSequence()) fail(v, "expected a list, got " + describe(v.node));
  std::vector<Value> out;
  size_t i = 0;
  for (YAML::Node item : v.node) {
    out.push_back(Value{item, v.node.Mark(), v.path + "[" + std::to_string(i++) + "]"});
  }
  return out;
}

std::string Loader::scalar(const Value& v, std::string_view shape, std::string_view hint) const {
  if (!v.node.IsScalar()) {
    std::string got = describe(v.node);
    fail(v, "expected " + std::string(shape) + ", got " + got +
                (v.node.IsSequence() ? std::string(hint) : ""));
  }
  return v.node.Scalar();
}

std::string Loader::name(const Value& v) const {
  std::string s = scalar(v, "a name");
  if (!isValidName(s)) {
    fail(v, "'" + s + "' is not a valid name (use letters, digits, '_', '.' and '-')");
  }
  return s;
}

std::chrono::milliseconds Loader::duration(const Value& v) const {
  return check(v, parseDuration(scalar(v, kDurationShape)));
}

uint64_t Loader::size(const Value& v, uint64_t min) const {
  uint64_t n = check(v, parseSize(scalar(v, kSizeShape)));
  if (n < min) {
    fail(v, "must be at least " + std::to_string(min) + " bytes, got '" + v.node.Scalar() + "'");
  }
  return n;
}

uint64_t Loader::integer(const Value& v, uint64_t min, uint64_t max) const {
  return check(v, parseInteger(scalar(v, "an integer"), min, max));
}

uint32_t Loader::integer32(const Value& v, uint32_t min, uint32_t max) const {
  return static_cast<uint32_t>(integer(v, min, max));
}

std::chrono::milliseconds Loader::duration(const Value& v, DurationRange range) const {
  return check(v, parseDuration(scalar(v, kDurationShape), range));
}

bool Loader::boolean(const Value& v) const {
  return check(v, parseBool(scalar(v, "true or false")));
}

size_t Loader::choice(const Value& v, std::initializer_list<std::string_view> options) const {
  std::string all = joined(Keys(options.begin(), options.size()));
  std::string s = scalar(v, "one of " + all);
  for (size_t i = 0; i < options.size(); ++i) {
    if (options.begin()[i] == s) return i;
  }
  fail(v, "expected one of " + all + "; got '" + s + "'");
}

void Loader::filePath(const Value& v, std::string& path, Mark& mark) const {
  std::string s = scalar(v, "a file path");
  if (s.empty()) fail(v, "must not be empty");
  path = resolve(s);
  mark = markOf(where(v));
}

void Loader::ordered(const std::vector<Entry>& entries, const Value& map, Order order,
                     std::string_view low_key, milliseconds low, std::string_view high_key,
                     milliseconds high, std::string_view blame) const {
  if (order == kLess ? low < high : low <= high) return;
  const Entry* lo = find(entries, low_key);
  const Entry* hi = find(entries, high_key);
  if (!lo && !hi) fail(map, "the defaults of " + std::string(low_key) + " and " +
                                std::string(high_key) + " conflict");  // a model bug
  bool on_low = lo && (blame == low_key || !hi);
  const Entry& at = on_low ? *lo : *hi;
  const Entry* other = on_low ? hi : lo;
  std::string relation = on_low ? (order == kLess ? "shorter than " : "at most ")
                                : (order == kLess ? "longer than " : "at least ");
  fail(at.value, "must be " + relation + std::string(on_low ? high_key : low_key) + " (" +
                     formatDuration(on_low ? high : low) + (other ? "" : ", the default") +
                     "), got '" + at.value.node.Scalar() + "'");
}

std::string Loader::resolve(const std::string& path) const {
  fs::path p(path);
  if (p.is_absolute() || base_dir_.empty()) return p.string();
  return (base_dir_ / p).lexically_normal().string();
}

bool Loader::offSwitch(const Value& v, std::string_view shape) const {
  if (!v.node.IsScalar()) return false;
  if (v.node.Scalar() == "off") return true;
  fail(v, "expected " + std::string(shape) + ", got '" + v.node.Scalar() + "'");
}

}  // namespace portcullis::config::internal
