// Running as a system service: `user:`/`group:` (root binds and reads, then drops before the
// workers run), what SIGHUP can still do afterwards, and systemd's sd_notify protocol.
#include <dirent.h>
#include <gtest/gtest.h>
#include <pwd.h>
#include <grp.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <fstream>
#include <sstream>

#include "harness/harness.h"

namespace portcullis::integration {
namespace {

using namespace std::chrono_literals;

struct Ids {
  uid_t uid = 0;
  gid_t gid = 0;
};

Ids idsOf(const char* user, const char* group_name) {
  Ids ids;
  if (const passwd* pw = getpwnam(user)) ids.uid = pw->pw_uid;
  if (const struct group* gr = getgrnam(group_name)) ids.gid = gr->gr_gid;
  return ids;
}

// The four ids of a "Uid:" / "Gid:" line (real, effective, saved, filesystem), and "Groups:".
struct ProcIds {
  std::vector<long> uid, gid, groups;
};

ProcIds readStatus(const std::string& path) {
  ProcIds out;
  std::ifstream f(path);
  std::string line;
  while (std::getline(f, line)) {
    std::istringstream in(line);
    std::string key;
    in >> key;
    std::vector<long>* into = key == "Uid:" ? &out.uid : key == "Gid:" ? &out.gid : key == "Groups:" ? &out.groups : nullptr;
    if (!into) continue;
    for (long v; in >> v;) into->push_back(v);
  }
  return out;
}

std::vector<std::string> threadStatusFiles(pid_t pid) {
  std::vector<std::string> files;
  std::string dir = "/proc/" + std::to_string(pid) + "/task";
  if (DIR* d = opendir(dir.c_str())) {
    while (dirent* e = readdir(d)) {
      if (e->d_name[0] != '.') files.push_back(dir + "/" + e->d_name + "/status");
    }
    closedir(d);
  }
  return files;
}

class ServicePrivileges : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (CI runs as root)";
    nobody_ = idsOf("nobody", "nogroup");
    ASSERT_NE(nobody_.uid, 0u) << "no user 'nobody'";
    ASSERT_NE(nobody_.gid, 0u) << "no group 'nogroup'";
  }

  ::testing::AssertionResult startAsNobody(ProxyConfig cfg) {
    cfg.top_extra.push_back("user: nobody");
    cfg.top_extra.push_back("group: nogroup");
    // The dir exists from construction; the yaml is written into it by start().
    if (::chmod(proxy_.dir().c_str(), 0777) != 0) return ::testing::AssertionFailure() << "chmod";
    return proxy_.start(cfg);
  }

  Ids nobody_;
  FakeUpstream app_{"app"};
  ProxyProcess proxy_;
};

TEST_F(ServicePrivileges, EveryThreadRunsAsTheConfiguredUserAndRequestsStillFlow) {
  ProxyConfig cfg = ProxyConfig::singleUpstream({app_.address()});
  // Opened as root, and its writer thread starts before the drop: it must be dropped too.
  const std::string log_path = proxy_.dir() + "/access.log";
  cfg.top_extra = {"access_log: {path: \"" + log_path + "\", format: combined}"};
  // Started in root's supplementary group, which the drop must replace with the user's.
  proxy_.setLauncher({"setpriv", "--groups=0"});
  ASSERT_TRUE(startAsNobody(cfg));
  EXPECT_TRUE(proxy_.waitForStderr("running as user nobody, group nogroup"));

  const std::string status = "/proc/" + std::to_string(proxy_.pid()) + "/status";
  ProcIds p = readStatus(status);
  ASSERT_EQ(p.uid.size(), 4u) << status;
  ASSERT_EQ(p.gid.size(), 4u) << status;
  for (long v : p.uid) EXPECT_EQ(v, static_cast<long>(nobody_.uid)) << "Uid: real, effective, saved, fs";
  for (long v : p.gid) EXPECT_EQ(v, static_cast<long>(nobody_.gid)) << "Gid: real, effective, saved, fs";
  for (long g : p.groups) EXPECT_NE(g, 0) << "still in group root";

  // Main, control and 2 workers at least; each one dropped.
  std::vector<std::string> threads = threadStatusFiles(proxy_.pid());
  EXPECT_GE(threads.size(), 4u);
  for (const auto& t : threads) {
    ProcIds ti = readStatus(t);
    ASSERT_EQ(ti.uid.size(), 4u) << t;
    for (long v : ti.uid) EXPECT_NE(v, 0) << t;
    for (long v : ti.gid) EXPECT_NE(v, 0) << t;
    for (long g : ti.groups) EXPECT_NE(g, 0) << t;
  }

  TlsClient client;
  ASSERT_TRUE(client.connect(proxy_.httpsPort()));
  Response resp;
  ASSERT_TRUE(client.roundTrip(getRequest("/after-drop"), &resp));
  EXPECT_EQ(resp.status, 200);
  RecordedRequest got;
  ASSERT_TRUE(app_.waitForRequest(0, &got));
  EXPECT_EQ(got.request.target, "/after-drop");
  EXPECT_TRUE(pollUntil([&] { return readFile(log_path).find("/after-drop") != std::string::npos; }, kWait))
      << "no access log line";
}

// After the drop, SIGHUP re-reads certificates as the unprivileged user: one it cannot read
// fails the reload (the old config keeps serving) until its owner is fixed; a listener change
// fails as it always does (a port below 1024 could not be bound any more anyway).
TEST_F(ServicePrivileges, ReloadAfterTheDropKeepsTheOldConfigOnWhatTheUserCannotDo) {
  TempDir certs;
  CertFiles own = generateCertificate(certs.path());
  ASSERT_TRUE(own.error.empty()) << own.error;
  ASSERT_EQ(::chmod(certs.path().c_str(), 0755), 0);
  ASSERT_EQ(::chmod(own.certificate.c_str(), 0644), 0);
  ASSERT_EQ(::chown(own.key.c_str(), 0, 0), 0);
  ASSERT_EQ(::chmod(own.key.c_str(), 0600), 0);  // root only: read at start, not on reload

  ProxyConfig cfg = ProxyConfig::singleUpstream({app_.address()});
  cfg.certificate = own.certificate;
  cfg.key = own.key;
  ASSERT_TRUE(startAsNobody(cfg));
  ProxyConfig as_run = cfg;
  as_run.top_extra = {"user: nobody", "group: nogroup"};

  auto proxied = [&](const std::string& target) {
    TlsClient client;
    Response resp;
    return client.connect(proxy_.httpsPort()) && client.roundTrip(getRequest(target), &resp) && resp.status == 200;
  };

  ASSERT_TRUE(proxy_.reload());
  ASSERT_TRUE(proxy_.waitForStderr("reload failed, configuration unchanged"));
  EXPECT_NE(proxy_.stderrText().find("cannot read " + own.key), std::string::npos) << proxy_.stderrText();
  EXPECT_TRUE(proxied("/after-failed-reload"));

  ASSERT_EQ(::chown(own.key.c_str(), nobody_.uid, nobody_.gid), 0);
  ASSERT_TRUE(proxy_.reload());
  ASSERT_TRUE(proxy_.waitForStderr("reloaded "));
  EXPECT_TRUE(proxied("/after-reload"));

  ProxyConfig moved = as_run;
  moved.https_address = "127.0.0.1:443";
  ASSERT_TRUE(proxy_.rewriteConfig(moved));
  ASSERT_EQ(::chmod(proxy_.configPath().c_str(), 0644), 0);
  ASSERT_TRUE(proxy_.reload());
  ASSERT_TRUE(proxy_.waitForStderr("reload failed, configuration unchanged", kWait, 2));
  EXPECT_NE(proxy_.stderrText().find("restart to apply"), std::string::npos) << proxy_.stderrText();
  EXPECT_TRUE(proxy_.running());
  EXPECT_TRUE(proxied("/after-listener-change"));
}

// A non-root start cannot switch users: fine when it already is the configured one (systemd's
// User=), a clear error otherwise.
TEST_F(ServicePrivileges, UserSetWhileNotRootMustAlreadyBeThatUser) {
  TempDir dir;
  ASSERT_EQ(::chmod(dir.path().c_str(), 0755), 0);
  ProxyConfig cfg;
  cfg.https_listener = false;  // the dev key is root's; this test is about the identity only
  cfg.top_extra = {"user: daemon"};
  std::string path = dir.writeFile("portcullis.yaml", cfg.toYaml());
  ASSERT_EQ(::chmod(path.c_str(), 0644), 0);
  const std::string uid = "--reuid=" + std::to_string(nobody_.uid);
  const std::string gid = "--regid=" + std::to_string(nobody_.gid);

  CommandResult r;
  ASSERT_TRUE(runCommand({"setpriv", uid, gid, "--clear-groups", proxyBinary(), "-c", path}, &r, 10s));
  EXPECT_EQ(r.exit_code, 1) << r.stderr_text;
  EXPECT_NE(r.stderr_text.find("configured to run as user 'daemon'"), std::string::npos) << r.stderr_text;
  EXPECT_NE(r.stderr_text.find("not as root"), std::string::npos) << r.stderr_text;

  cfg.top_extra = {"user: nobody"};
  dir.writeFile("portcullis.yaml", cfg.toYaml());
  ASSERT_TRUE(runCommand({"setpriv", uid, gid, "--clear-groups", proxyBinary(), "-c", path, "-t"}, &r, 10s));
  EXPECT_EQ(r.exit_code, 0) << r.stderr_text;
  ProxyProcess proxy;
  ASSERT_EQ(::chmod(proxy.dir().c_str(), 0777), 0);
  proxy.setLauncher({"setpriv", uid, gid, "--clear-groups"});
  ASSERT_TRUE(proxy.start(cfg));
  EXPECT_TRUE(proxy.waitForStderr("running as user nobody"));
}

// A free port below 1024 on loopback (bound and released here, as root), 0 if none.
uint16_t freeLowPort() {
  for (uint16_t port = 990; port > 900; --port) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    ::close(fd);
    if (ok) return port;
  }
  return 0;
}

// The packaged unit's model (conf/systemd/portcullis.service): never root, an ambient
// CAP_NET_BIND_SERVICE, no_new_privs. Here setpriv stands in for systemd.
TEST_F(ServicePrivileges, AnAmbientBindCapabilityIsAllALowPortNeeds) {
  TempDir certs;
  CertFiles own = generateCertificate(certs.path());
  ASSERT_TRUE(own.error.empty()) << own.error;
  ASSERT_EQ(::chmod(certs.path().c_str(), 0755), 0);
  ASSERT_EQ(::chmod(own.key.c_str(), 0644), 0);
  const uint16_t port = freeLowPort();
  ASSERT_NE(port, 0) << "no free port in 901..990";
  ProxyConfig cfg = ProxyConfig::singleUpstream({app_.address()});
  cfg.certificate = own.certificate;
  cfg.key = own.key;
  cfg.https_address = "127.0.0.1:" + std::to_string(port);
  cfg.redirect_port.reset();
  cfg.top_extra = {"user: nobody", "group: nogroup"};  // already them: nothing to drop, just checked
  ASSERT_EQ(::chmod(proxy_.dir().c_str(), 0777), 0);
  const std::vector<std::string> unprivileged = {
      "setpriv", "--reuid=" + std::to_string(nobody_.uid), "--regid=" + std::to_string(nobody_.gid), "--clear-groups",
      "--no-new-privs", "--bounding-set=-all,+net_bind_service"};

  // Without the capability the bind fails: exit 1 with the reason.
  proxy_.setLauncher(unprivileged);
  auto refused = proxy_.start(cfg, 5s);
  ASSERT_FALSE(refused);
  EXPECT_NE(proxy_.stderrText().find("listener 'https'"), std::string::npos) << proxy_.stderrText();

  std::vector<std::string> with_cap = unprivileged;
  with_cap.push_back("--inh-caps=+net_bind_service");
  with_cap.push_back("--ambient-caps=+net_bind_service");
  ProxyProcess proxy;
  ASSERT_EQ(::chmod(proxy.dir().c_str(), 0777), 0);
  proxy.setLauncher(with_cap);
  ASSERT_TRUE(proxy.start(cfg));
  EXPECT_EQ(proxy.httpsPort(), port);
  ProcIds p = readStatus("/proc/" + std::to_string(proxy.pid()) + "/status");
  for (long v : p.uid) EXPECT_EQ(v, static_cast<long>(nobody_.uid));
  TlsClient client;
  ASSERT_TRUE(client.connect(port));
  Response resp;
  ASSERT_TRUE(client.roundTrip(getRequest("/low-port"), &resp));
  EXPECT_EQ(resp.status, 200);
}

TEST_F(ServicePrivileges, TempDirTheUserCannotWriteStopsTheStart) {
  TempDir spill;
  ASSERT_EQ(::chmod(spill.path().c_str(), 0700), 0);  // root's
  ProxyConfig cfg = ProxyConfig::singleUpstream({app_.address()});
  cfg.top_extra = {"temp_dir: " + spill.path()};
  ASSERT_FALSE(startAsNobody(cfg));
  EXPECT_NE(proxy_.stderrText().find("temp_dir: cannot create a file in " + spill.path()), std::string::npos)
      << proxy_.stderrText();
}

// Not root-only: the names are looked up on -t too.
TEST(ServiceConfig, UnknownUserOrGroupIsAConfigErrorNamingIt) {
  ASSERT_FALSE(proxyBinary().empty()) << "PORTCULLIS_BIN is not set";
  TempDir dir;
  ProxyConfig cfg;
  cfg.https_listener = false;
  const std::string base = cfg.toYaml();
  const int line = static_cast<int>(std::count(base.begin(), base.end(), '\n')) + 1;

  std::string path = dir.writeFile("portcullis.yaml", base + "user: no-such-user-pc\n");
  CommandResult r;
  ASSERT_TRUE(runCommand({proxyBinary(), "-c", path, "-t"}, &r, 10s));
  EXPECT_EQ(r.exit_code, 2) << r.stderr_text;
  EXPECT_NE(r.stderr_text.find(path + ":" + std::to_string(line) + ":7: user: unknown user 'no-such-user-pc'"),
            std::string::npos)
      << r.stderr_text;

  dir.writeFile("portcullis.yaml", base + "user: nobody\ngroup: no-such-group-pc\n");
  ASSERT_TRUE(runCommand({proxyBinary(), "-c", path, "-t"}, &r, 10s));
  EXPECT_EQ(r.exit_code, 2) << r.stderr_text;
  EXPECT_NE(r.stderr_text.find(path + ":" + std::to_string(line + 1) + ":8: group: unknown group 'no-such-group-pc'"),
            std::string::npos)
      << r.stderr_text;
}

// The test's end of $NOTIFY_SOCKET: a datagram socket, as systemd's.
class NotifySocket {
 public:
  // `abstract`: "@name" in the abstract namespace instead of a file in `dir`.
  NotifySocket(const std::string& dir, bool abstract) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    socklen_t len;
    if (abstract) {
      name_ = "@portcullis-it-" + std::to_string(::getpid()) + "-" + std::to_string(++counter_);
      std::memcpy(addr.sun_path + 1, name_.c_str() + 1, name_.size() - 1);
      len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name_.size());
    } else {
      name_ = dir + "/notify";
      std::memcpy(addr.sun_path, name_.c_str(), name_.size() + 1);
      len = sizeof addr;
    }
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), len) != 0) ADD_FAILURE() << "bind " << name_ << ": " << std::strerror(errno);
  }
  ~NotifySocket() { ::close(fd_); }
  const std::string& name() const { return name_; }

  // The next datagram, or "" after `timeout`.
  std::string next(milliseconds timeout = kWait) {
    timeval tv{static_cast<time_t>(timeout.count() / 1000), static_cast<suseconds_t>(timeout.count() % 1000 * 1000)};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char buf[4096];
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
  }

 private:
  static inline int counter_ = 0;
  int fd_ = -1;
  std::string name_;
};

uint64_t monotonicUsec() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000u + static_cast<uint64_t>(ts.tv_nsec) / 1000u;
}

void expectNotifyProtocol(bool abstract) {
  FakeUpstream app{"app"};
  ProxyProcess proxy;
  NotifySocket sock(proxy.dir(), abstract);
  proxy.setEnv("NOTIFY_SOCKET", sock.name());
  ASSERT_TRUE(proxy.start(ProxyConfig::singleUpstream({app.address()})));
  const std::string mainpid = "MAINPID=" + std::to_string(proxy.pid());
  EXPECT_EQ(sock.next(), "READY=1\n" + mainpid);

  const uint64_t before = monotonicUsec();
  ASSERT_TRUE(proxy.reload());
  std::string reloading = sock.next();
  const uint64_t after = monotonicUsec();
  ASSERT_EQ(reloading.rfind("RELOADING=1\nMONOTONIC_USEC=", 0), 0u) << reloading;
  uint64_t usec = std::stoull(reloading.substr(reloading.find('=', 12) + 1));
  EXPECT_GE(usec, before);
  EXPECT_LE(usec, after);
  EXPECT_EQ(sock.next(), "READY=1\n" + mainpid);

  // A reload that fails keeps the old config, and the service is ready again all the same.
  ASSERT_TRUE(proxy.rewriteYaml("listeners: [oops\n"));
  ASSERT_TRUE(proxy.reload());
  EXPECT_EQ(sock.next().rfind("RELOADING=1\n", 0), 0u);
  EXPECT_EQ(sock.next(), "READY=1\n" + mainpid);
  EXPECT_TRUE(proxy.waitForStderr("reload failed"));

  ASSERT_TRUE(proxy.sendSignal(SIGTERM));
  EXPECT_EQ(sock.next(), "STOPPING=1");
  EXPECT_TRUE(proxy.waitForExit(10s));
}

TEST(ServiceNotify, ReadyReloadingReadyStoppingOnAFileSocket) { expectNotifyProtocol(false); }

TEST(ServiceNotify, AbstractNamespaceSocket) { expectNotifyProtocol(true); }

}  // namespace
}  // namespace portcullis::integration
