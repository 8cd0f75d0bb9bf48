#pragma once
// A real ASGI app server as a child process on loopback: uvicorn (with the websockets library)
// or daphne, running tests/integration/apps/ws_app.py. These are what Portcullis will sit in
// front of in production, so the WebSocket tests check the proxy against their real handshake,
// framing and close behaviour rather than against our own idea of it.
//
// The servers come from Debian (python3-uvicorn, python3-websockets, python3-daphne; see
// scripts/install-deps.sh) and run under /usr/bin/python3, the interpreter those packages install
// into (a python3 earlier on PATH, e.g. a pyenv one, does not have them). A test skips with the
// reason when a module is missing.
#include <gtest/gtest.h>
#include <sys/types.h>

#include <string>
#include <vector>

#include "harness/http_message.h"
#include "harness/test_util.h"

namespace portcullis::integration {

enum class AppServerKind { kUvicorn, kDaphne };

// "uvicorn" / "daphne" (also usable in test names).
const char* appServerName(AppServerKind kind);

// What /stats of ws_app.py reports.
struct AppStats {
  int accepted = 0;       // WebSockets accepted
  int open = 0;           // accepted and not yet closed
  int closed = 0;         // closed, by either side
  int server_closed = 0;  // closes the app started (/close/<code>)
  std::vector<int> close_codes;  // one per closed WebSocket, in order (1006: no close frame)
};

class AppServer {
 public:
  // `name`: what /whoami answers (how a test tells two upstreams apart).
  explicit AppServer(AppServerKind kind, std::string name = "app");
  ~AppServer();  // stop(), failures ignored: the app's own shutdown is not under test
  AppServer(const AppServer&) = delete;
  AppServer& operator=(const AppServer&) = delete;

  // Empty when `kind` can run here; otherwise why not (for GTEST_SKIP). Checked once per kind.
  static std::string unavailableReason(AppServerKind kind);

  // Picks a free port (bind to :0 and release; a server that then fails to bind is retried on
  // another), starts the server and waits until GET /whoami answers.
  ::testing::AssertionResult start(milliseconds timeout = milliseconds(20000));
  // SIGTERM, then SIGKILL after `timeout` (uvicorn waits for open WebSockets on SIGTERM).
  void stop(milliseconds timeout = milliseconds(3000));
  // SIGKILL at once and reap: the upstream dying mid-stream.
  void kill();
  bool running();

  AppServerKind kind() const { return kind_; }
  const std::string& name() const { return name_; }
  uint16_t port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  pid_t pid() const { return pid_; }
  std::string logText() const;

  // GET `target` straight from the app (plain TCP, no proxy).
  ::testing::AssertionResult get(const std::string& target, Response* out, milliseconds timeout = kWait) const;
  ::testing::AssertionResult stats(AppStats* out, milliseconds timeout = kWait) const;
  // The app's view of the WebSocket opened with "?id=<id>": "open", "closed <code>" (1006: it
  // ended without a close frame) or "unknown"; "error: ..." when the app does not answer.
  std::string connectionState(const std::string& id) const;

 private:
  std::vector<std::string> command(uint16_t port) const;

  const AppServerKind kind_;
  const std::string name_;
  TempDir dir_;
  uint16_t port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace portcullis::integration
