#pragma once
// Session ticket keys (RFC 5077 §4 "recommended ticket construction": a 16-byte public key
// name, AES-256-CBC and HMAC-SHA256 keys), rotated on a fixed schedule and shared by every
// worker thread and every Context that holds the same manager (so tickets survive a reload).
//
// Time is cut into epochs of `rotation` seconds: epoch = floor(unix_time / rotation). The key of
// the current epoch encrypts new tickets; the keys of the previous epochs stay for decryption
// while (current - epoch) * rotation < lifetime, then are dropped, which is what bounds how long
// a stolen key is useful. A ticket decrypted with an older key is renewed under the current one.
//
// Two ways to make keys:
//   random: fresh random key per epoch; each instance has its own (a restart or another instance
//           means a full handshake). The forward-secret choice.
//   fleet:  key(epoch) = HKDF-SHA256(secret, salt, "epoch" || epoch), so every instance holding
//           the same secret computes the same current and previous keys without talking to each
//           other, and a ticket from one instance resumes on any other. The trade-off: whoever
//           holds (or later steals) the secret can derive every epoch's key and decrypt the
//           tickets of recorded sessions, i.e. their resumption secrets (TLS 1.3) or master
//           secrets (TLS 1.2, so the whole recorded session). Forward secrecy of resumed
//           sessions is therefore bounded by the secret's life, not by `lifetime`: rotate the
//           secret (and keep it off disks that are backed up) as you would a long-term key.
//
// Thread safety: every method may be called from any thread. keys() is per handshake: an
// atomic load of an immutable snapshot; a mutex is taken only when the epoch changed.
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace portcullis::tls {

// Seconds since the Unix epoch. Injectable so tests can move time.
using UnixClock = std::function<int64_t()>;
int64_t systemUnixTime();

struct TicketKeyOptions {
  std::chrono::seconds rotation{std::chrono::hours(1)};   // > 0
  std::chrono::seconds lifetime{std::chrono::hours(12)};  // >= rotation
  UnixClock clock;                                        // empty: systemUnixTime
};

struct TicketKey {
  std::array<uint8_t, 16> name{};  // public: sent in clear in every ticket
  std::array<uint8_t, 32> aes{};   // AES-256-CBC
  std::array<uint8_t, 32> hmac{};  // HMAC-SHA256
  int64_t epoch = 0;
};

// An immutable snapshot: keys[0] is the current epoch's key (encrypts); all of them decrypt.
struct TicketKeySet {
  int64_t epoch = 0;
  std::vector<TicketKey> keys;  // newest first
};

class TicketKeyManager {
 public:
  // Random keys. Fails only on bad options (rotation <= 0, lifetime < rotation).
  static base::Result<std::shared_ptr<TicketKeyManager>> createRandom(TicketKeyOptions opts = {});
  // Keys derived from `secret` (>= 32 bytes, else an error). See the trade-off above.
  static base::Result<std::shared_ptr<TicketKeyManager>> createFleet(std::string_view secret,
                                                                     TicketKeyOptions opts = {});
  // As createFleet, with the secret read from `path` (trailing whitespace/newlines stripped, so
  // `openssl rand -base64 48 > file` works). Errors name the file.
  static base::Result<std::shared_ptr<TicketKeyManager>> createFleetFromFile(
      const std::string& path, TicketKeyOptions opts = {});

  TicketKeyManager(const TicketKeyManager&) = delete;
  TicketKeyManager& operator=(const TicketKeyManager&) = delete;

  // The key set for the clock's current epoch; never null, never empty. Cheap: one atomic
  // shared_ptr load unless the epoch moved. The caller may keep the snapshot as long as it likes.
  std::shared_ptr<const TicketKeySet> keys() const;
  int64_t currentEpoch() const;
  std::chrono::seconds lifetime() const { return lifetime_; }

 private:
  TicketKeyManager(TicketKeyOptions opts, std::string secret);
  // Builds the set for `epoch`, reusing still-valid keys of `previous` (random mode).
  std::shared_ptr<const TicketKeySet> build(int64_t epoch,
                                            const std::shared_ptr<const TicketKeySet>& previous) const;
  TicketKey derive(int64_t epoch) const;
  size_t keysKept() const;  // how many epochs decrypt: n with n * rotation < lifetime

  std::chrono::seconds rotation_;
  std::chrono::seconds lifetime_;
  UnixClock clock_;
  std::string secret_;  // empty: random mode
  mutable std::atomic<std::shared_ptr<const TicketKeySet>> current_;
  mutable std::mutex rebuild_mu_;  // only while building a new snapshot
};

}  // namespace portcullis::tls
