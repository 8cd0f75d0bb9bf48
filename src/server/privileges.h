#pragma once
// `user:` / `group:`: started as root, the process binds its ports and opens its files, then
// gives root up for good before any worker runs (main.cc). Started as anyone else, it must
// already be the configured identity; there is nothing to drop.
#include <sys/types.h>

#include <string>
#include <vector>

#include "base/result.h"
#include "config/model.h"

namespace portcullis::server {

struct Identity {
  bool configured = false;  // false: no `user:`, keep the identity the process started with
  std::string user;
  std::string group;  // the user's primary group's name unless `group:` says otherwise
  uid_t uid = 0;
  gid_t gid = 0;
};

// Looks the names up (also on -t). An unknown user or group is an error at its key's mark.
base::Result<Identity> resolveIdentity(const config::Config& cfg);

// As root: supplementary groups (the user's, initgroups), then gid, then uid, in that order
// (after setuid nothing else may change), and checks root cannot come back. Not root: checks
// the process already is `id`. Every thread is changed (glibc's set*id apply process-wide), but
// main calls this before the workers exist anyway. An error means the process must exit.
base::Result<void> dropPrivileges(const Identity& id);

// Spill files are created by the workers, as whoever the process is by then: create (and drop)
// one now so an unwritable temp_dir stops the start instead of failing requests later.
base::Result<void> checkTempDir(const config::Config& cfg);

// A reload cannot change the identity (root is gone): a non-empty reason when `b` asks to.
std::string identityChange(const config::Config& a, const config::Config& b);

}  // namespace portcullis::server
