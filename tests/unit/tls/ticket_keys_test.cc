// TicketKeyManager on its own, then session resumption by ticket through real handshakes:
// within one context, across contexts (fleet mode, reload), and across key rotation.
#include "tls/ticket_keys.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "tls/client_context.h"
#include "tls/context.h"
#include "tls/engine.h"
#include "tls/stats.h"
#include "tls_test_util.h"

namespace portcullis::tls {
namespace {

using ::testing::HasSubstr;
using testing::connect;
using testing::Connection;
using testing::must;
using testing::TestPki;

const std::string kSecret(40, 's');
const std::string kOtherSecret(40, 'o');
constexpr int64_t kHour = 3600;

// A clock the test moves by hand. Starts in the middle of an epoch so that "n rotations later"
// is unambiguous.
struct FakeClock {
  int64_t now = 1'700'000'000 / kHour * kHour + kHour / 2;
  UnixClock fn() {
    return [this] { return now; };
  }
};

TicketKeyOptions optionsWith(FakeClock& clock) {
  TicketKeyOptions o;
  o.clock = clock.fn();
  return o;
}

// --- The manager alone --------------------------------------------------------------------------

TEST(TicketKeyManager, RefusesShortSecretAndBadIntervals) {
  EXPECT_THAT(TicketKeyManager::createFleet(std::string(31, 'x')).error().message,
              HasSubstr("at least 32 bytes"));
  TicketKeyOptions o;
  o.rotation = std::chrono::seconds(0);
  EXPECT_FALSE(TicketKeyManager::createRandom(o).ok());
  o.rotation = std::chrono::hours(2);
  o.lifetime = std::chrono::hours(1);
  EXPECT_FALSE(TicketKeyManager::createRandom(o).ok());
}

TEST(TicketKeyManager, ReadsSecretFileAndNamesItInErrors) {
  testing::TempCert dir;
  std::string good = dir.write("secret", std::string(32, 'k') + "\n");
  EXPECT_TRUE(TicketKeyManager::createFleetFromFile(good).ok());
  std::string short_file = dir.write("short", std::string(31, 'k') + "\n\n");
  EXPECT_EQ(TicketKeyManager::createFleetFromFile(short_file).error().message,
            "ticket key secret " + short_file + ": ticket key secret must be at least 32 bytes, got 31");
  std::string missing = (dir.dir() / "nope").string();
  EXPECT_EQ(TicketKeyManager::createFleetFromFile(missing).error().message,
            "cannot read ticket key secret " + missing);
}

TEST(TicketKeyManager, FleetInstancesDeriveTheSameKeys) {
  FakeClock clock;
  auto a = must(TicketKeyManager::createFleet(kSecret, optionsWith(clock)));
  auto b = must(TicketKeyManager::createFleet(kSecret, optionsWith(clock)));
  auto c = must(TicketKeyManager::createFleet(kOtherSecret, optionsWith(clock)));
  auto ka = a->keys();
  auto kb = b->keys();
  ASSERT_EQ(ka->keys.size(), 12u);  // 12 h lifetime / 1 h rotation
  for (size_t i = 0; i < ka->keys.size(); ++i) {
    EXPECT_EQ(ka->keys[i].name, kb->keys[i].name);
    EXPECT_EQ(ka->keys[i].aes, kb->keys[i].aes);
    EXPECT_EQ(ka->keys[i].epoch, ka->epoch - static_cast<int64_t>(i));
  }
  EXPECT_NE(ka->keys[0].aes, c->keys()->keys[0].aes);
  EXPECT_NE(ka->keys[0].name, ka->keys[1].name);
}

TEST(TicketKeyManager, RandomModeRotatesAndKeepsOldKeysForTheLifetime) {
  FakeClock clock;
  auto m = must(TicketKeyManager::createRandom(optionsWith(clock)));
  auto first = m->keys();
  ASSERT_EQ(first->keys.size(), 1u);
  EXPECT_EQ(m->keys(), first) << "same epoch: the same snapshot, no rebuild";
  clock.now += kHour;
  auto second = m->keys();
  ASSERT_EQ(second->keys.size(), 2u);
  EXPECT_NE(second->keys[0].aes, first->keys[0].aes);
  EXPECT_EQ(second->keys[1].aes, first->keys[0].aes);
  clock.now += 11 * kHour;  // the first key is now 12 rotations old: 12 h is not < 12 h
  auto later = m->keys();
  for (const TicketKey& k : later->keys) EXPECT_NE(k.aes, first->keys[0].aes);
}

TEST(TicketKeyManager, ConcurrentReadersSeeOneConsistentSetPerEpoch) {
  FakeClock clock;
  auto m = must(TicketKeyManager::createFleet(kSecret, optionsWith(clock)));
  auto expected = m->keys();
  std::vector<std::thread> threads;
  std::atomic<int> mismatches{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) {
        if (m->keys()->keys[0].aes != expected->keys[0].aes) mismatches++;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(mismatches.load(), 0);
}

// --- Resumption through handshakes --------------------------------------------------------------

std::shared_ptr<const Context> serverWith(std::shared_ptr<TicketKeyManager> keys) {
  ServerOptions o;
  o.ticket_keys = std::move(keys);
  return testing::serverContext({TestPki::get().pair("a-ecdsa")}, o);
}

std::shared_ptr<const ClientContext> verifyingClient(TlsVersion max = TlsVersion::Tls1_3) {
  ClientContextOptions o;
  o.ca_file = TestPki::get().cert("ca");
  o.max_version = max;
  return must(ClientContext::create(o));
}

// Connects, checks the handshake, and reports whether it resumed.
bool resumes(const std::shared_ptr<const Context>& server,
             const std::shared_ptr<const ClientContext>& client) {
  Connection c = connect(server, client, "a.example.com");
  EXPECT_TRUE(c.ok()) << c.client.error << " / " << c.server.error;
  EXPECT_EQ(c.client.engine.sessionReused(), c.server.engine.sessionReused());
  return c.server.engine.sessionReused();
}

TEST(SessionTickets, ResumeWithinOneContextByDefault) {
  auto server = testing::serverContext({TestPki::get().pair("a-ecdsa")});
  auto client = verifyingClient();
  EXPECT_FALSE(resumes(server, client));
  EXPECT_EQ(client->cachedSessions(), 1u);
  EXPECT_TRUE(resumes(server, client));
  EXPECT_TRUE(resumes(server, client)) << "the renewed ticket resumes again";
}

TEST(SessionTickets, ResumeWithTls12Tickets) {
  auto server = testing::serverContext({TestPki::get().pair("a-ecdsa")});
  auto client = verifyingClient(TlsVersion::Tls1_2);
  EXPECT_FALSE(resumes(server, client));
  EXPECT_TRUE(resumes(server, client));
}

TEST(SessionTickets, OffMeansFullHandshakes) {
  ServerOptions o;
  o.session_tickets = false;
  auto server = testing::serverContext({TestPki::get().pair("a-ecdsa")}, o);
  EXPECT_EQ(server->ticketKeys(), nullptr);
  auto client = verifyingClient();
  EXPECT_FALSE(resumes(server, client));
  EXPECT_FALSE(resumes(server, client));
}

TEST(SessionTickets, TwoContextsWithoutSharedKeysDoNotResumeEachOther) {
  auto client = verifyingClient();
  EXPECT_FALSE(resumes(testing::serverContext({TestPki::get().pair("a-ecdsa")}), client));
  EXPECT_FALSE(resumes(testing::serverContext({TestPki::get().pair("a-ecdsa")}), client));
}

TEST(SessionTickets, ReloadedContextSharingTheManagerResumes) {
  auto keys = must(TicketKeyManager::createRandom());
  auto client = verifyingClient();
  EXPECT_FALSE(resumes(serverWith(keys), client));
  EXPECT_TRUE(resumes(serverWith(keys), client));
}

TEST(SessionTickets, FleetInstancesWithTheSameSecretResumeEachOther) {
  FakeClock clock;
  auto one = serverWith(must(TicketKeyManager::createFleet(kSecret, optionsWith(clock))));
  auto two = serverWith(must(TicketKeyManager::createFleet(kSecret, optionsWith(clock))));
  auto client = verifyingClient();
  EXPECT_FALSE(resumes(one, client));
  EXPECT_TRUE(resumes(two, client));
}

TEST(SessionTickets, FleetInstancesWithDifferentSecretsDoFullHandshakes) {
  FakeClock clock;
  auto one = serverWith(must(TicketKeyManager::createFleet(kSecret, optionsWith(clock))));
  auto two = serverWith(must(TicketKeyManager::createFleet(kOtherSecret, optionsWith(clock))));
  auto client = verifyingClient();
  EXPECT_FALSE(resumes(one, client));
  EXPECT_FALSE(resumes(two, client));
}

// Issues a ticket at the clock's epoch k, moves to epoch k + n, and reports whether the ticket
// still resumes. Default options: rotation 1 h, lifetime 12 h.
bool ticketResumesAfterRotations(int n, bool fleet) {
  FakeClock clock;
  auto keys = fleet ? must(TicketKeyManager::createFleet(kSecret, optionsWith(clock)))
                    : must(TicketKeyManager::createRandom(optionsWith(clock)));
  auto server = serverWith(keys);
  auto client = verifyingClient();
  EXPECT_FALSE(resumes(server, client));
  clock.now += n * kHour;
  return resumes(server, client);
}

TEST(SessionTickets, TicketDecryptsWhileRotationsTimesIntervalIsUnderLifetime) {
  EXPECT_TRUE(ticketResumesAfterRotations(1, /*fleet=*/true));
  EXPECT_TRUE(ticketResumesAfterRotations(11, /*fleet=*/true));  // 11 h < 12 h
  EXPECT_TRUE(ticketResumesAfterRotations(11, /*fleet=*/false));
}

TEST(SessionTickets, TicketIsRefusedOnceItsKeyHasExpired) {
  EXPECT_FALSE(ticketResumesAfterRotations(12, /*fleet=*/true));  // 12 h is not < 12 h
  EXPECT_FALSE(ticketResumesAfterRotations(12, /*fleet=*/false));
  EXPECT_FALSE(ticketResumesAfterRotations(100, /*fleet=*/true));
}

TEST(SessionTickets, TicketFromAnotherCertificateDoesNotResume) {
  // The session ID context binds a ticket to its certificate, even with shared keys: after a
  // reload that serves a.example.com from the wildcard certificate instead, the old ticket
  // (offered for the same host) gives a full handshake.
  auto keys = must(TicketKeyManager::createRandom());
  ServerOptions o;
  o.ticket_keys = keys;
  auto before = testing::serverContext({TestPki::get().pair("a-ecdsa")}, o);
  auto after = testing::serverContext({TestPki::get().pair("wildcard")}, o);
  auto client = verifyingClient();
  EXPECT_FALSE(resumes(before, client));
  EXPECT_TRUE(resumes(before, client));
  Connection c = connect(after, client, "a.example.com");
  ASSERT_TRUE(c.ok()) << c.client.error;
  EXPECT_EQ(testing::commonName(c.client.engine.peerSubject()), "wildcard");
  EXPECT_FALSE(c.server.engine.sessionReused());
}

// --- Counters -----------------------------------------------------------------------------------

TEST(HandshakeCounters, CountFullResumedAndFailed) {
  auto server = testing::serverContext({TestPki::get().pair("a-ecdsa")});
  auto client = verifyingClient();
  HandshakeCounts before = handshakeCounts();
  ASSERT_FALSE(resumes(server, client));
  ASSERT_TRUE(resumes(server, client));
  ClientOptions tls11;
  tls11.min_version = TlsVersion::Tls1_0;
  tls11.max_version = TlsVersion::Tls1_1;
  ASSERT_FALSE(connect(server, tls11).ok());
  HandshakeCounts after = handshakeCounts();
  EXPECT_EQ(after.server_full - before.server_full, 1u);
  EXPECT_EQ(after.server_resumed - before.server_resumed, 1u);
  EXPECT_EQ(after.server_failed - before.server_failed, 1u);
  EXPECT_EQ(after.client_full - before.client_full, 1u);
  EXPECT_EQ(after.client_resumed - before.client_resumed, 1u);
  EXPECT_EQ(after.client_failed - before.client_failed, 1u);
}

}  // namespace
}  // namespace portcullis::tls
