// YAML -> Config: the entry points and the top-level map. The loader (load*.cc, sharing
// load_internal.h) is the only code that sees yaml-cpp (scripts/check-layers.sh): everything past
// it works on the plain structs of model.h and the marks kept in them.
#include "config/load.h"

#include <fcntl.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <exception>
#include <filesystem>
#include <regex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/load_internal.h"
#include "config/validate.h"

namespace portcullis::config {
namespace internal {
namespace {

constexpr std::array<std::string_view, 12> kTopKeys = {
    "workers", "temp_dir", "listeners", "upstreams", "routes", "timeouts", "limits",
    "access_log", "request_id", "admin", "user", "group"};

}  // namespace

Config Loader::load(const YAML::Node& root) {
  Config config;
  config.source_file = file_;
  Value top{root, root.Mark(), ""};
  bool have_listeners = false;
  for (const Entry& e : mapEntries(top, kTopKeys)) {
    if (e.key == "workers") {
      config.workers = workers(e.value);
    } else if (e.key == "temp_dir") {
      std::string dir = scalar(e.value, "a directory path");
      // Absolute only: spill files are created by workers long after start, and a relative
      // path would then depend on the working directory, not on this file.
      if (dir.empty() || dir.front() != '/') {
        fail(e.value, "must be an absolute path, got '" + dir + "'");
      }
      config.temp_dir = dir;
      config.temp_dir_mark = markOf(where(e.value));
    } else if (e.key == "user" || e.key == "group") {
      std::string name = scalar(e.value, "a user or group name");
      if (name.empty()) fail(e.value, "must not be empty");
      (e.key == "user" ? config.user : config.group) = name;
      (e.key == "user" ? config.user_mark : config.group_mark) = markOf(where(e.value));
    } else if (e.key == "listeners") {
      have_listeners = true;
      std::vector<Value> items = listItems(e.value);
      if (items.empty()) fail(e.value, "at least one listener is required");
      for (const Value& item : items) config.listeners.push_back(listener(item));
    } else if (e.key == "upstreams") {
      for (const Entry& u : mapEntries(e.value, {})) config.upstreams.push_back(upstream(u));
    } else if (e.key == "routes") {
      for (const Value& item : listItems(e.value)) config.routes.push_back(route(item));
    } else if (e.key == "timeouts") {
      timeouts(e.value, config.timeouts);
    } else if (e.key == "limits") {
      limits(e.value, config.limits);
    } else if (e.key == "access_log") {
      config.access_log = accessLog(e.value);
    } else if (e.key == "request_id") {
      config.request_id = requestId(e.value);
    } else if (e.key == "admin") {
      config.admin = parseAdmin(e.value);
    }
  }
  if (!have_listeners) fail(top, "missing required key 'listeners' at top level");
  // Without `user:` there is no identity to take the group from, and setgid alone would leave
  // the process root.
  if (!config.group.empty() && config.user.empty()) {
    throw Failure{toString(config.group_mark) + ": 'group' needs 'user' as well"};
  }
  return config;
}

}  // namespace internal

namespace {

namespace fs = std::filesystem;
using internal::describe;
using internal::Failure;
using internal::kQuoteIPv6;
using internal::Loader;

// "file:line:col" for a yaml-cpp mark, "file" when it has none.
std::string position(const std::string& name, const YAML::Mark& m) {
  if (m.is_null()) return name;
  return toString(Mark{name, m.line + 1, m.column + 1});
}

// The text of 0-based line `line`, to explain a syntax error.
std::string lineAt(const std::string& text, int line) {
  size_t start = 0;
  for (int i = 0; i < line; ++i) {
    start = text.find('\n', start);
    if (start == std::string::npos) return {};
    ++start;
  }
  size_t end = text.find('\n', start);
  return text.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

std::string syntaxError(const std::string& yaml, const std::string& name,
                        const YAML::Exception& e) {
  std::string message = position(name, e.mark) + ": YAML syntax error: " + e.msg;
  // An unquoted [::1]:8001 opens a flow list and yaml-cpp's complaint says nothing about why.
  static const std::regex kBareIPv6(R"((^|[\s:-])\[[0-9A-Fa-f:.]*\]:[0-9])");
  if (!e.mark.is_null() && std::regex_search(lineAt(yaml, e.mark.line), kBareIPv6)) {
    message += std::string(kQuoteIPv6);
  }
  return message;
}

}  // namespace

base::Result<Config> loadString(const std::string& yaml, const std::string& name,
                                const std::string& base_dir) {
  auto error = [](std::string message) { return base::makeError(std::move(message)); };
  try {
    std::vector<YAML::Node> docs;
    try {
      docs = YAML::LoadAll(yaml);
    } catch (const YAML::Exception& e) {
      return error(syntaxError(yaml, name, e));
    }
    // An empty file or one with only comments: refuse it rather than run with no listeners.
    if (docs.empty() || docs[0].IsNull()) {
      return error(name +
                   ":1:1: the configuration is empty (expected a map with at least 'listeners')");
    }
    if (docs.size() > 1) {
      return error(position(name, docs[1].Mark()) +
                   ": a second YAML document starts here; the configuration must be one document");
    }
    const YAML::Node& root = docs[0];
    if (!root.IsMap()) {
      return error(position(name, root.Mark()) +
                   ": expected a map at top level (with at least 'listeners'), got " +
                   describe(root));
    }
    Config config = Loader(name, base_dir).load(root);
    if (auto valid = validate(config); !valid) return valid.error();
    return config;
  } catch (const Failure& f) {
    return error(f.message);
  } catch (const YAML::Exception& e) {
    // Not expected (the loader checks types before converting), but yaml-cpp may throw from any
    // accessor; keep its position rather than let it escape.
    return error(position(name, e.mark) + ": " + e.msg);
  } catch (const std::exception& e) {
    return error(name + ": " + e.what());
  } catch (...) {
    return error(name + ": unexpected error while loading the configuration");
  }
}

base::Result<Config> loadFile(const std::string& path) {
  // open/read rather than ifstream: the error must say why (strerror), and ifstream hides errno.
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return base::makeError(path + ": cannot read: " + std::strerror(errno));
  std::string text;
  char buf[16 * 1024];
  while (true) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;  // EISDIR for a directory
      ::close(fd);
      return base::makeError(path + ": cannot read: " + std::strerror(err));
    }
    text.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);

  // Absolute, so certificate paths stay right if the process later changes directory and read
  // clearly in logs.
  std::error_code ec;
  fs::path dir = fs::absolute(fs::path(path), ec).parent_path();
  if (ec) dir = fs::path(path).parent_path();
  return loadString(text, path, dir.lexically_normal().string());
}

}  // namespace portcullis::config
