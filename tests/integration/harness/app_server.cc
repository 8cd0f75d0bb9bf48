#include "harness/app_server.h"

#include <signal.h>
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>

#include "harness/raw_client.h"

namespace portcullis::integration {
namespace {

constexpr const char* kPython = "/usr/bin/python3";

std::string appsDir() { return std::string(PORTCULLIS_SOURCE_DIR) + "/tests/integration/apps"; }

// The integer after "key": in ws_app.py's json.dumps output; -1 if absent.
int jsonInt(const std::string& json, const std::string& key) {
  size_t at = json.find("\"" + key + "\":");
  if (at == std::string::npos) return -1;
  return std::atoi(json.c_str() + at + key.size() + 3);
}

std::vector<int> jsonIntList(const std::string& json, const std::string& key) {
  std::vector<int> out;
  size_t at = json.find("\"" + key + "\": [");
  if (at == std::string::npos) return out;
  size_t pos = at + key.size() + 5;
  size_t end = json.find(']', pos);
  while (pos < end) {
    char* next = nullptr;
    long v = std::strtol(json.c_str() + pos, &next, 10);
    if (next == json.c_str() + pos) break;
    out.push_back(static_cast<int>(v));
    pos = static_cast<size_t>(next - json.c_str());
    while (pos < end && (json[pos] == ',' || json[pos] == ' ')) ++pos;
  }
  return out;
}

}  // namespace

const char* appServerName(AppServerKind kind) {
  return kind == AppServerKind::kUvicorn ? "uvicorn" : "daphne";
}

std::string AppServer::unavailableReason(AppServerKind kind) {
  static std::mutex mu;
  static std::map<AppServerKind, std::string> cache;
  std::lock_guard<std::mutex> lock(mu);
  auto it = cache.find(kind);
  if (it != cache.end()) return it->second;
  // uvicorn serves WebSockets only with the websockets (or wsproto) library next to it.
  std::string modules = kind == AppServerKind::kUvicorn ? "uvicorn, websockets" : "daphne";
  CommandResult r;
  std::string reason;
  auto ran = runCommand({kPython, "-c", "import " + modules}, &r);
  if (!ran) {
    reason = std::string(kPython) + " did not run: " + ran.message();
  } else if (r.exit_code != 0) {
    reason = std::string(appServerName(kind)) + " is not installed for " + kPython + " (import " + modules +
             " failed; scripts/install-deps.sh installs python3-uvicorn python3-websockets python3-daphne): " +
             r.stderr_text;
  }
  cache[kind] = reason;
  return reason;
}

AppServer::AppServer(AppServerKind kind, std::string name) : kind_(kind), name_(std::move(name)) {}

AppServer::~AppServer() {
  if (pid_ > 0 && ::testing::Test::HasFailure()) {
    std::fprintf(stderr, "----- %s (%s) log -----\n%s----- end of %s log -----\n", appServerName(kind_),
                 name_.c_str(), logText().c_str(), appServerName(kind_));
  }
  stop();
}

std::string AppServer::logText() const { return readFile(dir_.path() + "/server.log"); }

std::vector<std::string> AppServer::command(uint16_t port) const {
  // env(1) sets the app's environment without touching this process's: the app's name, the
  // apps directory as its import path, and no __pycache__ written into the source tree.
  std::vector<std::string> argv = {"/usr/bin/env", "WS_APP_NAME=" + name_, "PYTHONPATH=" + appsDir(),
                                   "PYTHONDONTWRITEBYTECODE=1", kPython, "-m"};
  const std::string p = std::to_string(port);
  if (kind_ == AppServerKind::kUvicorn) {
    // --ws-max-size: the default (16 MiB) is exactly the size of the largest test message;
    // the limit under test is the proxy's, not uvicorn's.
    for (const char* a : {"uvicorn", "--host", "127.0.0.1", "--port"}) argv.push_back(a);
    argv.push_back(p);
    for (const char* a : {"--ws", "websockets", "--ws-max-size", "67108864", "--lifespan", "off", "--log-level",
                          "warning", "ws_app:app"})
      argv.push_back(a);
  } else {
    for (const char* a : {"daphne", "-b", "127.0.0.1", "-p"}) argv.push_back(a);
    argv.push_back(p);
    for (const char* a : {"-v", "1", "--access-log", "/dev/null", "ws_app:app"}) argv.push_back(a);
  }
  return argv;
}

::testing::AssertionResult AppServer::start(milliseconds timeout) {
  if (pid_ > 0) return ::testing::AssertionFailure() << "already running";
  if (std::string why = unavailableReason(kind_); !why.empty()) return ::testing::AssertionFailure() << why;
  const auto deadline = Clock::now() + timeout;
  std::string last_log;
  // A port released by unusedPort() can be taken by someone else before the server binds it;
  // the server then exits at once and we try another.
  for (int attempt = 0; attempt < 5 && Clock::now() < deadline; ++attempt) {
    port_ = unusedPort();
    if (port_ == 0) return ::testing::AssertionFailure() << "no free loopback port";
    std::string log = dir_.path() + "/server.log";
    std::string error;
    pid_ = spawnProcess(command(port_), log, log, &error);
    if (pid_ < 0) return ::testing::AssertionFailure() << error;
    Response r;
    bool up = pollUntil(
        [&] {
          if (!running()) return true;
          return static_cast<bool>(get("/whoami", &r, milliseconds(500))) && r.status == 200;
        },
        std::chrono::duration_cast<milliseconds>(deadline - Clock::now()));
    if (up && running()) {
      if (r.body != name_) return ::testing::AssertionFailure() << "/whoami answered \"" << r.body << "\"";
      return ::testing::AssertionSuccess();
    }
    last_log = logText();
    if (running()) break;  // alive but not answering: a real failure, not a port race
    pid_ = -1;
  }
  stop();
  return ::testing::AssertionFailure() << appServerName(kind_) << " did not come up on 127.0.0.1:" << port_
                                       << " within " << timeout.count() << " ms; log:\n" << last_log;
}

bool AppServer::running() {
  if (pid_ <= 0) return false;
  int status = 0;
  if (waitpid(pid_, &status, WNOHANG) == pid_) {
    pid_ = -1;
    return false;
  }
  return true;
}

void AppServer::stop(milliseconds timeout) {
  if (!running()) return;
  ::kill(pid_, SIGTERM);
  if (!pollUntil([&] { return !running(); }, timeout)) kill();
}

void AppServer::kill() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);  // our own child, by PID
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
}

::testing::AssertionResult AppServer::get(const std::string& target, Response* out, milliseconds timeout) const {
  RawClient c;
  if (auto ok = c.connect(port_, timeout); !ok) return ok;
  return c.roundTrip(getRequest(target, "127.0.0.1"), out, timeout);
}

::testing::AssertionResult AppServer::stats(AppStats* out, milliseconds timeout) const {
  Response r;
  if (auto ok = get("/stats", &r, timeout); !ok) return ok;
  if (r.status != 200) return ::testing::AssertionFailure() << "/stats: " << r.status << " " << r.body;
  out->accepted = jsonInt(r.body, "accepted");
  out->open = jsonInt(r.body, "open");
  out->closed = jsonInt(r.body, "closed");
  out->server_closed = jsonInt(r.body, "server_closed");
  out->close_codes = jsonIntList(r.body, "close_codes");
  if (out->accepted < 0 || out->open < 0 || out->closed < 0) {
    return ::testing::AssertionFailure() << "/stats not understood: " << r.body;
  }
  return ::testing::AssertionSuccess();
}

std::string AppServer::connectionState(const std::string& id) const {
  Response r;
  auto ok = get("/conn?id=" + id, &r);
  if (!ok) return "error: " + std::string(ok.message());
  if (r.status != 200) return "error: status " + std::to_string(r.status);
  return r.body;
}

}  // namespace portcullis::integration
