#include "tls/ticket_keys.h"

#include <openssl/digest.h>
#include <openssl/hkdf.h>
#include <openssl/mem.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <iterator>

#include "tls/errors.h"

namespace portcullis::tls {
namespace {

// RFC 5869 §3.1: a salt makes HKDF-Extract a better randomness extractor even for a
// high-entropy secret; a fixed, versioned label also keeps these keys apart from anything else
// one might derive from the same secret. Bump "v1" if the key layout ever changes.
constexpr std::string_view kSalt = "portcullis session ticket keys v1";
constexpr size_t kMinSecret = 32;  // 256 bits: HKDF-SHA256 cannot give more strength than this

int64_t floorDiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

base::Result<void> checkOptions(const TicketKeyOptions& opts) {
  if (opts.rotation.count() <= 0) return base::makeError("ticket key rotation must be > 0");
  if (opts.lifetime < opts.rotation) {
    return base::makeError("ticket key lifetime must be at least the rotation interval");
  }
  return {};
}

}  // namespace

int64_t systemUnixTime() { return static_cast<int64_t>(std::time(nullptr)); }

TicketKeyManager::TicketKeyManager(TicketKeyOptions opts, std::string secret)
    : rotation_(opts.rotation),
      lifetime_(opts.lifetime),
      clock_(opts.clock ? std::move(opts.clock) : UnixClock(&systemUnixTime)),
      secret_(std::move(secret)) {}

base::Result<std::shared_ptr<TicketKeyManager>> TicketKeyManager::createRandom(
    TicketKeyOptions opts) {
  if (auto r = checkOptions(opts); !r) return r.error();
  std::shared_ptr<TicketKeyManager> m(new TicketKeyManager(std::move(opts), {}));
  m->current_.store(m->build(m->currentEpoch(), nullptr));
  return m;
}

base::Result<std::shared_ptr<TicketKeyManager>> TicketKeyManager::createFleet(
    std::string_view secret, TicketKeyOptions opts) {
  if (auto r = checkOptions(opts); !r) return r.error();
  if (secret.size() < kMinSecret) {
    return base::makeError("ticket key secret must be at least " + std::to_string(kMinSecret) +
                           " bytes, got " + std::to_string(secret.size()));
  }
  std::shared_ptr<TicketKeyManager> m(new TicketKeyManager(std::move(opts), std::string(secret)));
  m->current_.store(m->build(m->currentEpoch(), nullptr));
  return m;
}

base::Result<std::shared_ptr<TicketKeyManager>> TicketKeyManager::createFleetFromFile(
    const std::string& path, TicketKeyOptions opts) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return base::makeError("cannot read ticket key secret " + path);
  std::string secret((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return base::makeError("cannot read ticket key secret " + path);
  while (!secret.empty() && std::isspace(static_cast<unsigned char>(secret.back()))) {
    secret.pop_back();
  }
  auto m = createFleet(secret, std::move(opts));
  OPENSSL_cleanse(secret.data(), secret.size());
  if (!m) return base::makeError("ticket key secret " + path + ": " + m.error().message);
  return m;
}

int64_t TicketKeyManager::currentEpoch() const { return floorDiv(clock_(), rotation_.count()); }

size_t TicketKeyManager::keysKept() const {
  // Epochs n = 0, 1, ... with n * rotation < lifetime; lifetime >= rotation, so at least 1.
  int64_t r = rotation_.count();
  int64_t l = lifetime_.count();
  return static_cast<size_t>((l + r - 1) / r);
}

TicketKey TicketKeyManager::derive(int64_t epoch) const {
  TicketKey k;
  k.epoch = epoch;
  uint8_t info[6 + 8] = {'e', 'p', 'o', 'c', 'h', ' '};
  for (int i = 0; i < 8; ++i) info[6 + i] = static_cast<uint8_t>(uint64_t(epoch) >> (56 - 8 * i));
  uint8_t out[16 + 32 + 32];
  // HKDF cannot fail for these sizes (out_len <= 255 * 32); abort rather than run keyless.
  if (HKDF(out, sizeof out, EVP_sha256(), reinterpret_cast<const uint8_t*>(secret_.data()),
           secret_.size(), reinterpret_cast<const uint8_t*>(kSalt.data()), kSalt.size(), info,
           sizeof info) != 1) {
    std::abort();
  }
  std::copy(out, out + 16, k.name.begin());
  std::copy(out + 16, out + 48, k.aes.begin());
  std::copy(out + 48, out + 80, k.hmac.begin());
  OPENSSL_cleanse(out, sizeof out);
  return k;
}

std::shared_ptr<const TicketKeySet> TicketKeyManager::build(
    int64_t epoch, const std::shared_ptr<const TicketKeySet>& previous) const {
  auto set = std::make_shared<TicketKeySet>();
  set->epoch = epoch;
  size_t kept = keysKept();
  if (!secret_.empty()) {
    for (size_t n = 0; n < kept; ++n) set->keys.push_back(derive(epoch - static_cast<int64_t>(n)));
    return set;
  }
  TicketKey fresh;
  fresh.epoch = epoch;
  RAND_bytes(fresh.name.data(), fresh.name.size());  // BoringSSL's RAND_bytes cannot fail
  RAND_bytes(fresh.aes.data(), fresh.aes.size());
  RAND_bytes(fresh.hmac.data(), fresh.hmac.size());
  set->keys.push_back(fresh);
  if (previous) {
    for (const TicketKey& k : previous->keys) {
      int64_t age = epoch - k.epoch;
      if (age > 0 && static_cast<size_t>(age) < kept) set->keys.push_back(k);
    }
  }
  return set;
}

std::shared_ptr<const TicketKeySet> TicketKeyManager::keys() const {
  int64_t epoch = currentEpoch();
  std::shared_ptr<const TicketKeySet> set = current_.load(std::memory_order_acquire);
  if (set->epoch == epoch) return set;
  // Random mode never goes back: a clock stepping backwards keeps the newest keys (making a key
  // for a past epoch would only shorten its life). Fleet mode follows the clock either way, as
  // every instance must agree on the key for a given time.
  if (secret_.empty() && epoch < set->epoch) return set;
  std::lock_guard lock(rebuild_mu_);
  set = current_.load(std::memory_order_acquire);  // another thread may have rebuilt it
  if (set->epoch == epoch || (secret_.empty() && epoch < set->epoch)) return set;
  set = build(epoch, set);
  current_.store(set, std::memory_order_release);
  return set;
}

}  // namespace portcullis::tls
