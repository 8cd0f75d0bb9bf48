#include "server/privileges.h"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "base/log.h"

namespace portcullis::server {
namespace {

// The key's position, or the file's name for a default (temp_dir: /tmp has no mark).
std::string at(const config::Mark& m, const config::Config& cfg) {
  return m.line > 0 ? config::toString(m) : cfg.source_file;
}

std::vector<char> lookupBuffer(int which) {
  long n = ::sysconf(which);
  return std::vector<char>(n > 0 ? static_cast<size_t>(n) : 16384);
}

std::string describe(uid_t uid, gid_t gid) {
  return "uid " + std::to_string(uid) + ", gid " + std::to_string(gid);
}

}  // namespace

base::Result<Identity> resolveIdentity(const config::Config& cfg) {
  Identity id;
  if (cfg.user.empty()) return id;
  id.configured = true;
  id.user = cfg.user;

  passwd pw{};
  passwd* found = nullptr;
  std::vector<char> buf = lookupBuffer(_SC_GETPW_R_SIZE_MAX);
  int rc;
  while ((rc = ::getpwnam_r(cfg.user.c_str(), &pw, buf.data(), buf.size(), &found)) == ERANGE) buf.resize(buf.size() * 2);
  if (!found) {
    return base::makeError(at(cfg.user_mark, cfg) + ": user: unknown user '" + cfg.user + "'" +
                           (rc ? std::string(" (") + std::strerror(rc) + ")" : ""));
  }
  id.uid = pw.pw_uid;
  id.gid = pw.pw_gid;

  group gr{};
  group* gfound = nullptr;
  std::vector<char> gbuf = lookupBuffer(_SC_GETGR_R_SIZE_MAX);
  if (!cfg.group.empty()) {
    while ((rc = ::getgrnam_r(cfg.group.c_str(), &gr, gbuf.data(), gbuf.size(), &gfound)) == ERANGE)
      gbuf.resize(gbuf.size() * 2);
    if (!gfound) {
      return base::makeError(at(cfg.group_mark, cfg) + ": group: unknown group '" + cfg.group + "'" +
                             (rc ? std::string(" (") + std::strerror(rc) + ")" : ""));
    }
    id.gid = gr.gr_gid;
    id.group = cfg.group;
  } else {
    while ((rc = ::getgrgid_r(id.gid, &gr, gbuf.data(), gbuf.size(), &gfound)) == ERANGE) gbuf.resize(gbuf.size() * 2);
    // A primary gid without a /etc/group entry is legal; the number still works for setgid.
    id.group = gfound ? std::string(gr.gr_name) : std::to_string(id.gid);
  }
  return id;
}

base::Result<void> dropPrivileges(const Identity& id) {
  if (!id.configured) {
    if (::geteuid() == 0) base::log::warn("running as root: set `user:` to switch to an unprivileged user once listening");
    return {};
  }
  const std::string who = "user '" + id.user + "', group '" + id.group + "' (" + describe(id.uid, id.gid) + ")";
  if (::geteuid() != 0) {
    // Nothing to drop (systemd's User=, or started by that user): just make sure this is who the
    // config says, so files written later (access log reopen, spill files) get the owner expected.
    if (::getuid() != id.uid || ::geteuid() != id.uid || ::getgid() != id.gid || ::getegid() != id.gid) {
      return base::makeError("configured to run as " + who + ", but started as " +
                             describe(::geteuid(), ::getegid()) + " and not as root, so it cannot switch");
    }
    return {};
  }
  if (::initgroups(id.user.c_str(), id.gid) != 0) {
    return base::makeError("initgroups(" + id.user + "): " + std::strerror(errno));
  }
  // Real, effective and saved ids alike: a saved uid 0 would let the process take root back.
  if (::setresgid(id.gid, id.gid, id.gid) != 0) {
    return base::makeError("setresgid(" + std::to_string(id.gid) + "): " + std::strerror(errno));
  }
  if (::setresuid(id.uid, id.uid, id.uid) != 0) {
    return base::makeError("setresuid(" + std::to_string(id.uid) + "): " + std::strerror(errno));
  }
  if (id.uid != 0 && (::setuid(0) == 0 || ::seteuid(0) == 0)) {
    return base::makeError("dropped to " + who + " but could take root back; refusing to run");
  }
  uid_t r, e, s;
  gid_t rg, eg, sg;
  if (::getresuid(&r, &e, &s) != 0 || ::getresgid(&rg, &eg, &sg) != 0 || r != id.uid || e != id.uid ||
      s != id.uid || rg != id.gid || eg != id.gid || sg != id.gid) {
    return base::makeError("dropping to " + who + " did not take effect; refusing to run");
  }
  return {};
}

base::Result<void> checkTempDir(const config::Config& cfg) {
  const std::string& dir = cfg.temp_dir;
  int fd = ::open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR)) {
    // No O_TMPFILE on this filesystem: body_buffer.cc then creates and unlinks a named file.
    std::string path = dir + "/portcullis-check-XXXXXX";
    fd = ::mkostemp(path.data(), O_CLOEXEC);
    if (fd >= 0) ::unlink(path.c_str());
  }
  if (fd < 0) {
    int err = errno;
    return base::makeError(at(cfg.temp_dir_mark, cfg) + ": temp_dir: cannot create a file in " + dir + " as " +
                           describe(::geteuid(), ::getegid()) + ": " + std::strerror(err));
  }
  ::close(fd);
  return {};
}

std::string identityChange(const config::Config& a, const config::Config& b) {
  if (a.user != b.user || a.group != b.group) return "a new user or group";
  return {};
}

}  // namespace portcullis::server
