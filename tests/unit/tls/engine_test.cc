// A client engine and a server engine talking through memory: no sockets, no threads.
#include "tls/engine.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/err.h>

#include <cstring>
#include <memory>
#include <random>
#include <string>

#include "tls/context.h"
#include "tls/stats.h"
#include "tls_test_util.h"

namespace portcullis::tls {
namespace {

using ::testing::AnyOf;
using ::testing::HasSubstr;
using testing::Peer;
using testing::pump;
using testing::TempCert;

class TlsEngine : public ::testing::Test {
 protected:
  // One certificate for the whole suite: generating it is the slowest part of these tests.
  static void SetUpTestSuite() {
    cert_ = new TempCert();
    auto ctx = Context::forServer(ServerOptions{cert_->cert(), cert_->key()});
    ASSERT_TRUE(ctx.ok()) << ctx.error().message;
    ctx_ = new std::shared_ptr<const Context>(*ctx);
  }
  static void TearDownTestSuite() {
    delete ctx_;
    delete cert_;
    ctx_ = nullptr;
    cert_ = nullptr;
  }

  static Peer server() {
    auto e = Engine::forServer(*ctx_);
    EXPECT_TRUE(e.ok()) << e.error().message;
    return Peer{std::move(*e), {}, {}};
  }
  static Peer client(const ClientOptions& opts) {
    auto e = Engine::forClient(opts);
    EXPECT_TRUE(e.ok()) << e.error().message;
    return Peer{std::move(*e), {}, {}};
  }
  static Peer client(std::string sni = "localhost", std::string alpn = "http/1.1") {
    ClientOptions opts;
    opts.sni = std::move(sni);
    opts.alpn = std::move(alpn);
    return client(opts);
  }

  static void expectConnected(const Peer& c, const Peer& s) {
    EXPECT_EQ(c.error, "");
    EXPECT_EQ(s.error, "");
    EXPECT_TRUE(c.engine.handshakeDone());
    EXPECT_TRUE(s.engine.handshakeDone());
  }

  static inline TempCert* cert_ = nullptr;
  static inline std::shared_ptr<const Context>* ctx_ = nullptr;
};

std::string randomBytes(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (auto& ch : s) ch = static_cast<char>(rng());
  return s;
}

// --- Handshake and negotiation ------------------------------------------------------------------

TEST_F(TlsEngine, HandshakeCompletesWithTls13) {
  Peer c = client();
  Peer s = server();
  EXPECT_FALSE(s.engine.handshakeDone());
  pump(c, s);
  expectConnected(c, s);
  EXPECT_EQ(s.engine.protocolVersion(), "TLSv1.3");
  EXPECT_EQ(c.engine.protocolVersion(), "TLSv1.3");
  EXPECT_FALSE(s.engine.sessionReused());
}

TEST_F(TlsEngine, NegotiatesHttp11Alpn) {
  Peer c = client("localhost", "http/1.1");
  Peer s = server();
  pump(c, s);
  expectConnected(c, s);
  EXPECT_EQ(s.engine.alpn(), "http/1.1");
  EXPECT_EQ(c.engine.alpn(), "http/1.1");
}

TEST_F(TlsEngine, PicksHttp11EvenWhenClientPrefersH2) {
  Peer c = client("localhost", "h2,http/1.1");
  Peer s = server();
  pump(c, s);
  expectConnected(c, s);
  EXPECT_EQ(s.engine.alpn(), "http/1.1");
}

TEST_F(TlsEngine, ClientOfferingOnlyH2ConnectsWithoutAlpn) {
  Peer c = client("localhost", "h2");
  Peer s = server();
  pump(c, s);
  expectConnected(c, s);
  EXPECT_EQ(s.engine.alpn(), "");
  EXPECT_EQ(c.engine.alpn(), "");
}

TEST_F(TlsEngine, ClientWithoutAlpnConnects) {
  Peer c = client("localhost", "");
  Peer s = server();
  pump(c, s);
  expectConnected(c, s);
  EXPECT_EQ(s.engine.alpn(), "");
}

TEST_F(TlsEngine, ServerSeesSni) {
  Peer c = client("api.example.test");
  Peer s = server();
  pump(c, s);
  expectConnected(c, s);
  EXPECT_EQ(s.engine.serverName(), "api.example.test");
}

TEST_F(TlsEngine, NoSniMeansEmptyServerName) {
  Peer c = client("");
  Peer s = server();
  pump(c, s);
  expectConnected(c, s);
  EXPECT_EQ(s.engine.serverName(), "");
}

TEST_F(TlsEngine, AcceptsTls12OnlyClientWithAeadCipher) {
  ClientOptions opts;
  opts.sni = "localhost";
  opts.alpn = "http/1.1";
  opts.max_version = TlsVersion::Tls1_2;
  Peer c = client(opts);
  Peer s = server();
  pump(c, s);
  expectConnected(c, s);
  EXPECT_EQ(s.engine.protocolVersion(), "TLSv1.2");
  EXPECT_EQ(s.engine.alpn(), "http/1.1");
  EXPECT_THAT(std::string(s.engine.cipherName()),
              AnyOf("ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384",
                    "ECDHE-ECDSA-CHACHA20-POLY1305"));

  ASSERT_TRUE(c.engine.writePlaintext("over 1.2").ok());
  pump(c, s);
  EXPECT_EQ(s.text(), "over 1.2");
}

TEST_F(TlsEngine, AcceptsTls12ChaCha20Client) {
  ClientOptions opts;
  opts.max_version = TlsVersion::Tls1_2;
  opts.tls12_ciphers = "ECDHE-ECDSA-CHACHA20-POLY1305";
  Peer c = client(opts);
  Peer s = server();
  pump(c, s);
  expectConnected(c, s);
  EXPECT_EQ(s.engine.cipherName(), "ECDHE-ECDSA-CHACHA20-POLY1305");
}

TEST_F(TlsEngine, RefusesTls12ClientOfferingOnlyCbc) {
  ClientOptions opts;
  opts.max_version = TlsVersion::Tls1_2;
  opts.tls12_ciphers = "ECDHE-ECDSA-AES128-SHA";
  Peer c = client(opts);
  Peer s = server();
  pump(c, s);
  EXPECT_THAT(s.error, HasSubstr("NO_SHARED_CIPHER"));
  EXPECT_THAT(c.error, HasSubstr("HANDSHAKE_FAILURE"));
  EXPECT_FALSE(s.engine.handshakeDone());
}

TEST_F(TlsEngine, RefusesTls11Client) {
  ClientOptions opts;
  opts.min_version = TlsVersion::Tls1_0;
  opts.max_version = TlsVersion::Tls1_1;
  uint64_t before = handshakeFailures(true, HandshakeFailure::UnsupportedVersion);
  Peer c = client(opts);
  Peer s = server();
  pump(c, s);
  EXPECT_EQ(handshakeFailures(true, HandshakeFailure::UnsupportedVersion) - before, 1u);
  EXPECT_THAT(s.error, HasSubstr("TLS handshake failed"));
  EXPECT_THAT(s.error, HasSubstr("UNSUPPORTED_PROTOCOL"));
  // The server's protocol_version alert reached the client (it was drained after the failure).
  EXPECT_THAT(c.error, HasSubstr("PROTOCOL_VERSION"));
  EXPECT_FALSE(s.engine.handshakeDone());
  EXPECT_FALSE(c.engine.handshakeDone());
}

// --- Data ---------------------------------------------------------------------------------------

TEST_F(TlsEngine, CarriesDataBothWays) {
  Peer c = client();
  Peer s = server();
  pump(c, s);
  ASSERT_TRUE(c.engine.writePlaintext("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n").ok());
  pump(c, s);
  EXPECT_EQ(s.text(), "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n");
  ASSERT_TRUE(s.engine.writePlaintext("HTTP/1.1 204 No Content\r\n\r\n").ok());
  pump(c, s);
  EXPECT_EQ(c.text(), "HTTP/1.1 204 No Content\r\n\r\n");
}

TEST_F(TlsEngine, CarriesOneMebibyteExactlyEachWay) {
  Peer c = client();
  Peer s = server();
  pump(c, s);
  const std::string up = randomBytes(1 << 20, 1);
  const std::string down = randomBytes(1 << 20, 2);
  ASSERT_TRUE(c.engine.writePlaintext(up).ok());
  ASSERT_TRUE(s.engine.writePlaintext(down).ok());
  pump(c, s);
  ASSERT_EQ(s.received.size(), up.size());
  ASSERT_EQ(c.received.size(), down.size());
  EXPECT_TRUE(s.received.view() == up);
  EXPECT_TRUE(c.received.view() == down);
}

TEST_F(TlsEngine, DeliversRecordsSplitAtEveryByte) {
  Peer c = client();
  Peer s = server();
  pump(c, s);
  ASSERT_TRUE(c.engine.writePlaintext("split me").ok());
  base::Buffer wire;
  c.engine.drainCiphertext(wire);
  ASSERT_GT(wire.size(), 8u);
  for (size_t i = 0; i < wire.size(); ++i) {
    ASSERT_TRUE(s.engine.feedCiphertext(wire.view().substr(i, 1)).ok()) << "byte " << i;
    auto n = s.engine.readPlaintext(s.received);
    ASSERT_TRUE(n.ok()) << n.error().message;
    if (i + 1 < wire.size()) {
      EXPECT_EQ(*n, 0u) << "plaintext before the record was complete";
    }
  }
  EXPECT_EQ(s.text(), "split me");
}

TEST_F(TlsEngine, ClientWriteBeforeHandshakeIsSentAfterIt) {
  Peer c = client();
  Peer s = server();
  ASSERT_TRUE(c.engine.writePlaintext("early request").ok());
  pump(c, s);
  expectConnected(c, s);
  EXPECT_EQ(s.text(), "early request");
}

TEST_F(TlsEngine, ServerWriteBeforeHandshakeIsSentAfterIt) {
  Peer c = client();
  Peer s = server();
  ASSERT_TRUE(s.engine.writePlaintext("early response").ok());
  base::Buffer nothing;
  EXPECT_EQ(s.engine.drainCiphertext(nothing), 0u) << "plaintext must not leave before the handshake";
  pump(c, s);
  expectConnected(c, s);
  EXPECT_EQ(c.text(), "early response");
}

TEST_F(TlsEngine, ReleaseBuffersKeepsConnectionUsable) {
  Peer c = client();
  Peer s = server();
  pump(c, s);
  ASSERT_TRUE(s.engine.writePlaintext(randomBytes(256 * 1024, 3)).ok());
  pump(c, s);
  s.engine.releaseBuffers();
  c.engine.releaseBuffers();
  ASSERT_TRUE(c.engine.writePlaintext("after idle").ok());
  pump(c, s);
  EXPECT_EQ(s.text(), "after idle");
  EXPECT_EQ(s.error, "");
}

// --- Closing and failures -----------------------------------------------------------------------

TEST_F(TlsEngine, CloseNotifySetsPeerClosedAfterTheData) {
  Peer c = client();
  Peer s = server();
  pump(c, s);
  ASSERT_TRUE(c.engine.writePlaintext("last words").ok());
  c.engine.shutdown();
  EXPECT_FALSE(s.engine.peerClosed());
  pump(c, s);
  EXPECT_EQ(s.text(), "last words");
  EXPECT_TRUE(s.engine.peerClosed());
  EXPECT_EQ(s.error, "");
  EXPECT_FALSE(c.engine.peerClosed());
}

TEST_F(TlsEngine, WriteAfterShutdownFails) {
  Peer c = client();
  Peer s = server();
  pump(c, s);
  s.engine.shutdown();
  EXPECT_FALSE(s.engine.writePlaintext("too late").ok());
}

TEST_F(TlsEngine, CorruptedRecordIsFatal) {
  Peer c = client();
  Peer s = server();
  pump(c, s);
  ASSERT_TRUE(c.engine.writePlaintext("tampered").ok());
  base::Buffer wire;
  c.engine.drainCiphertext(wire);
  wire.data()[wire.size() - 1] ^= 0x01;  // inside the AEAD tag
  auto fed = s.engine.feedCiphertext(wire.view());
  auto read = fed.ok() ? s.engine.readPlaintext(s.received) : base::Result<size_t>(fed.error());
  ASSERT_FALSE(read.ok());
  EXPECT_THAT(read.error().message, HasSubstr("BAD_DECRYPT"));
  EXPECT_EQ(s.text(), "");
  EXPECT_EQ(ERR_peek_error(), 0u) << "error queue must be left empty";
  // The engine stays failed, and the bad_record_mac alert is waiting to be sent.
  EXPECT_FALSE(s.engine.feedCiphertext("x").ok());
  EXPECT_FALSE(s.engine.writePlaintext("x").ok());
  pump(c, s);
  EXPECT_THAT(c.error, HasSubstr("BAD_RECORD_MAC"));
}

TEST_F(TlsEngine, CorruptedHandshakeIsFatal) {
  Peer c = client();
  Peer s = server();
  testing::transfer(c, s);  // ClientHello
  base::Buffer flight;
  s.engine.drainCiphertext(flight);  // ServerHello + encrypted extensions, certificate, Finished
  flight.data()[flight.size() - 1] ^= 0x01;
  auto fed = c.engine.feedCiphertext(flight.view());
  ASSERT_FALSE(fed.ok());
  EXPECT_THAT(fed.error().message, HasSubstr("TLS handshake failed"));
  EXPECT_FALSE(c.engine.handshakeDone());
  EXPECT_EQ(ERR_peek_error(), 0u);
}

TEST_F(TlsEngine, PlainHttpOnTlsPortIsFatal) {
  uint64_t before = handshakeFailures(true, HandshakeFailure::ProtocolError);
  Peer s = server();
  auto fed = s.engine.feedCiphertext("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n");
  ASSERT_FALSE(fed.ok());
  EXPECT_EQ(handshakeFailures(true, HandshakeFailure::ProtocolError) - before, 1u);
  EXPECT_THAT(fed.error().message, HasSubstr("HTTP_REQUEST"));
}

TEST_F(TlsEngine, MovedEngineKeepsWorking) {
  Peer c = client();
  Peer s = server();
  pump(c, s);
  Engine moved = std::move(s.engine);
  s.engine = std::move(moved);
  ASSERT_TRUE(c.engine.writePlaintext("still here").ok());
  pump(c, s);
  EXPECT_EQ(s.text(), "still here");
}

// --- Zero-copy calls (feed / writePlaintext(app, out) / shutdown(out)), as net::Connection uses
// them ----------------------------------------------------------------------------------------

// One end of a connection driven the way net::Connection drives it: socket bytes go in with
// feed(), everything to send accumulates in `wire`.
struct Side {
  Engine engine;
  base::Buffer plain;  // plaintext received
  base::Buffer wire;   // ciphertext to send
  std::string error;
  std::string text() const { return std::string(plain.view()); }
};

Side side(Peer p) {
  Side s{std::move(p.engine), {}, {}, {}};
  s.engine.drainCiphertext(s.wire);  // a client's ClientHello, as Connection::onConnect does
  return s;
}

// Sends everything `from` has to `to`, in socket reads of `chunk` bytes. Returns bytes sent.
size_t deliver(Side& from, Side& to, size_t chunk = 64 * 1024) {
  base::Buffer bytes;
  bytes.swap(from.wire);
  std::string_view rest = bytes.view();
  while (!rest.empty() && to.error.empty()) {
    std::string_view piece = rest.substr(0, chunk);
    rest.remove_prefix(piece.size());
    if (auto r = to.engine.feed(piece, to.plain, to.wire); !r) to.error = r.error().message;
  }
  return bytes.size();
}

void exchange(Side& a, Side& b, size_t chunk = 64 * 1024) {
  for (int round = 0; round < 1000; ++round) {
    if (deliver(a, b, chunk) + deliver(b, a, chunk) == 0) return;
  }
  ADD_FAILURE() << "engines still talking after 1000 rounds";
}

class TlsEngineZeroCopy : public TlsEngine {
 protected:
  static Side zclient() { return side(client()); }
  static Side zserver() { return side(server()); }
  static void expectConnected(const Side& c, const Side& s) {
    EXPECT_EQ(c.error, "");
    EXPECT_EQ(s.error, "");
    EXPECT_TRUE(c.engine.handshakeDone());
    EXPECT_TRUE(s.engine.handshakeDone());
  }
};

TEST_F(TlsEngineZeroCopy, HandshakeAndDataBothWays) {
  Side c = zclient();
  Side s = zserver();
  exchange(c, s);
  expectConnected(c, s);
  EXPECT_EQ(s.engine.serverName(), "localhost");
  EXPECT_EQ(s.engine.alpn(), "http/1.1");
  ASSERT_TRUE(c.engine.writePlaintext("GET / HTTP/1.1\r\n\r\n", c.wire).ok());
  exchange(c, s);
  EXPECT_EQ(s.text(), "GET / HTTP/1.1\r\n\r\n");
  ASSERT_TRUE(s.engine.writePlaintext("HTTP/1.1 204 No Content\r\n\r\n", s.wire).ok());
  exchange(c, s);
  EXPECT_EQ(c.text(), "HTTP/1.1 204 No Content\r\n\r\n");
  // The handshake results survive the server shedding its handshake configuration.
  EXPECT_EQ(s.engine.serverName(), "localhost");
  EXPECT_EQ(s.engine.alpn(), "http/1.1");
  EXPECT_EQ(s.engine.protocolVersion(), "TLSv1.3");
  EXPECT_FALSE(s.engine.cipherName().empty());
}

TEST_F(TlsEngineZeroCopy, ServerSendsTicketsWithItsLastHandshakeFlight) {
  Side c = zclient();
  Side s = zserver();
  deliver(c, s);  // ClientHello
  deliver(s, c);  // ServerHello .. Finished
  ASSERT_TRUE(c.engine.handshakeDone());
  ASSERT_FALSE(c.wire.empty());
  deliver(c, s);  // the client's Finished
  ASSERT_TRUE(s.engine.handshakeDone());
  EXPECT_GT(s.wire.size(), 0u) << "NewSessionTicket must go out at once, not with a response";
}

TEST_F(TlsEngineZeroCopy, RequestArrivingWithTheClientFinishedComesOutOfTheSameFeed) {
  Side c = zclient();
  Side s = zserver();
  ASSERT_TRUE(c.engine.writePlaintext("early request", c.wire).ok());
  deliver(c, s);
  deliver(s, c);  // the client finishes and sends Finished + the held request in one go
  ASSERT_TRUE(c.engine.handshakeDone());
  auto n = s.engine.feed(c.wire.view(), s.plain, s.wire);
  ASSERT_TRUE(n.ok()) << n.error().message;
  EXPECT_EQ(*n, 13u);
  EXPECT_TRUE(s.engine.handshakeDone());
  EXPECT_EQ(s.text(), "early request");
}

TEST_F(TlsEngineZeroCopy, RecordsSplitAtEveryByteBoundary) {
  // Three records; every possible cut of them into two socket reads, each read from memory
  // that is overwritten after the call (the engine must have kept a copy, not a pointer).
  const std::string parts[] = {"split me", randomBytes(600, 7), "end"};
  const std::string expected = parts[0] + parts[1] + parts[2];
  auto connected = [&](std::string& bytes) {
    Side c = zclient();
    Side s = zserver();
    exchange(c, s);
    for (const std::string& part : parts) EXPECT_TRUE(c.engine.writePlaintext(part, c.wire).ok());
    bytes.assign(c.wire.view());
    return s;
  };
  std::string probe_bytes;
  Side probe = connected(probe_bytes);
  const size_t total = probe_bytes.size();
  std::string bytes;
  ASSERT_GT(total, expected.size());
  for (size_t cut = 0; cut <= total; ++cut) {
    Side s = connected(bytes);
    ASSERT_EQ(bytes.size(), total);
    std::string first = bytes.substr(0, cut);
    std::string second = bytes.substr(cut);
    auto n = s.engine.feed(first, s.plain, s.wire);
    ASSERT_TRUE(n.ok()) << "cut " << cut << ": " << n.error().message;
    first.assign(first.size(), '\xAA');
    n = s.engine.feed(second, s.plain, s.wire);
    ASSERT_TRUE(n.ok()) << "cut " << cut << ": " << n.error().message;
    ASSERT_TRUE(s.plain.view() == expected) << "cut " << cut;
  }
  // And one byte per feed.
  for (size_t i = 0; i < total; ++i) {
    auto n = probe.engine.feed(std::string_view(probe_bytes).substr(i, 1), probe.plain,
                               probe.wire);
    ASSERT_TRUE(n.ok()) << "byte " << i << ": " << n.error().message;
  }
  EXPECT_TRUE(probe.plain.view() == expected);
}

TEST_F(TlsEngineZeroCopy, SeveralRecordsInOneFeed) {
  Side c = zclient();
  Side s = zserver();
  exchange(c, s);
  for (const char* part : {"one ", "two ", "three"}) {
    ASSERT_TRUE(c.engine.writePlaintext(part, c.wire).ok());
  }
  auto n = s.engine.feed(c.wire.view(), s.plain, s.wire);
  ASSERT_TRUE(n.ok()) << n.error().message;
  EXPECT_EQ(*n, 13u);
  EXPECT_EQ(s.text(), "one two three");
}

TEST_F(TlsEngineZeroCopy, OneMebibyteRoundTripInSocketSizedReads) {
  for (size_t chunk : {size_t{64 * 1024}, size_t{1500}, size_t{3 << 20}}) {
    Side c = zclient();
    Side s = zserver();
    exchange(c, s, chunk);
    const std::string up = randomBytes(1 << 20, 11);
    ASSERT_TRUE(c.engine.writePlaintext(up, c.wire).ok());
    exchange(c, s, chunk);
    ASSERT_EQ(s.plain.size(), up.size()) << chunk;
    ASSERT_TRUE(s.plain.view() == up) << chunk;
    // The server echoes it back in one write.
    ASSERT_TRUE(s.engine.writePlaintext(s.plain.view(), s.wire).ok());
    exchange(c, s, chunk);
    ASSERT_EQ(c.plain.size(), up.size()) << chunk;
    ASSERT_TRUE(c.plain.view() == up) << chunk;
    EXPECT_EQ(c.error + s.error, "");
  }
}

TEST_F(TlsEngineZeroCopy, FailureLeavesTheAlertInTheOutput) {
  Side c = zclient();
  Side s = zserver();
  exchange(c, s);
  ASSERT_TRUE(c.engine.writePlaintext("tampered", c.wire).ok());
  c.wire.data()[c.wire.size() - 1] ^= 0x01;  // inside the AEAD tag
  auto n = s.engine.feed(c.wire.view(), s.plain, s.wire);
  c.wire.clear();
  ASSERT_FALSE(n.ok());
  EXPECT_THAT(n.error().message, HasSubstr("BAD_DECRYPT"));
  EXPECT_EQ(ERR_peek_error(), 0u) << "error queue must be left empty";
  ASSERT_FALSE(s.wire.empty()) << "the bad_record_mac alert";
  // Sticky, and nothing more to send.
  base::Buffer more;
  EXPECT_FALSE(s.engine.feed("x", s.plain, more).ok());
  EXPECT_FALSE(s.engine.writePlaintext("x", more).ok());
  EXPECT_TRUE(more.empty());
  deliver(s, c);
  EXPECT_THAT(c.error, HasSubstr("BAD_RECORD_MAC"));
}

TEST_F(TlsEngineZeroCopy, HandshakeFailureLeavesTheAlertInTheOutput) {
  ClientOptions opts;
  opts.min_version = TlsVersion::Tls1_0;
  opts.max_version = TlsVersion::Tls1_1;
  Side c = side(client(opts));
  Side s = zserver();
  deliver(c, s);
  EXPECT_THAT(s.error, HasSubstr("UNSUPPORTED_PROTOCOL"));
  ASSERT_FALSE(s.wire.empty());
  deliver(s, c);
  EXPECT_THAT(c.error, HasSubstr("PROTOCOL_VERSION"));
}

TEST_F(TlsEngineZeroCopy, CloseNotifyAfterDataAndNothingReadAfterIt) {
  Side c = zclient();
  Side s = zserver();
  exchange(c, s);
  ASSERT_TRUE(c.engine.writePlaintext("last words", c.wire).ok());
  c.engine.shutdown(c.wire);
  std::string bytes(c.wire.view());
  c.wire.clear();
  bytes += "trailing garbage after close_notify";
  auto n = s.engine.feed(bytes, s.plain, s.wire);
  ASSERT_TRUE(n.ok()) << n.error().message;
  EXPECT_EQ(s.text(), "last words");
  EXPECT_TRUE(s.engine.peerClosed());
  EXPECT_TRUE(s.engine.feed("more", s.plain, s.wire).ok());
  EXPECT_EQ(s.text(), "last words");
  EXPECT_FALSE(c.engine.writePlaintext("too late", c.wire).ok());
}

TEST_F(TlsEngineZeroCopy, ReleaseBuffersWithAPartialRecordPending) {
  Side c = zclient();
  Side s = zserver();
  exchange(c, s);
  ASSERT_TRUE(s.engine.writePlaintext(randomBytes(256 * 1024, 3), s.wire).ok());
  exchange(c, s);
  ASSERT_TRUE(c.engine.writePlaintext("after idle", c.wire).ok());
  std::string bytes(c.wire.view());
  c.wire.clear();
  ASSERT_TRUE(s.engine.feed(std::string_view(bytes).substr(0, 7), s.plain, s.wire).ok());
  s.engine.releaseBuffers();
  c.engine.releaseBuffers();
  ASSERT_TRUE(s.engine.feed(std::string_view(bytes).substr(7), s.plain, s.wire).ok());
  EXPECT_EQ(s.text(), "after idle");
  s.plain.clear();
  // The same with the buffered calls, whose remainder the engine keeps itself.
  ASSERT_TRUE(c.engine.writePlaintext("and again", c.wire).ok());
  bytes.assign(c.wire.view());
  c.wire.clear();
  ASSERT_TRUE(s.engine.feedCiphertext(std::string_view(bytes).substr(0, 9)).ok());
  s.engine.releaseBuffers();
  ASSERT_TRUE(s.engine.feedCiphertext(std::string_view(bytes).substr(9)).ok());
  s.engine.releaseBuffers();
  Engine moved = std::move(s.engine);  // the engine's buffers move with it
  s.engine = std::move(moved);
  ASSERT_TRUE(s.engine.readPlaintext(s.plain).ok());
  EXPECT_EQ(s.text(), "and again");
  ASSERT_TRUE(s.engine.writePlaintext("still fine", s.wire).ok());
  exchange(c, s);
  EXPECT_TRUE(c.plain.view().ends_with("still fine"));
  EXPECT_EQ(c.error + s.error, "");
}

TEST_F(TlsEngineZeroCopy, BufferedAndZeroCopyOutputKeepTheirOrder) {
  Side c = zclient();
  Side s = zserver();
  exchange(c, s);
  ASSERT_TRUE(c.engine.writePlaintext("first, ").ok());  // waits inside the engine
  ASSERT_TRUE(c.engine.writePlaintext("second", c.wire).ok());
  exchange(c, s);
  EXPECT_EQ(s.text(), "first, second");
  base::Buffer nothing;
  EXPECT_EQ(c.engine.drainCiphertext(nothing), 0u);
}

TEST(TlsEngineZeroCopyClient, FirstOutputStartsWithTheClientHello) {
  auto c = Engine::forClient("localhost", "http/1.1");
  ASSERT_TRUE(c.ok()) << c.error().message;
  base::Buffer wire;
  ASSERT_TRUE(c->writePlaintext("held until the handshake", wire).ok());
  ASSERT_GT(wire.size(), 5u);
  EXPECT_EQ(static_cast<unsigned char>(wire.data()[0]), 0x16) << "handshake record";
  size_t record = 5 + ((static_cast<unsigned char>(wire.data()[3]) << 8) |
                       static_cast<unsigned char>(wire.data()[4]));
  EXPECT_EQ(wire.size(), record) << "only the ClientHello: the plaintext waits";
}

TEST_F(TlsEngine, BufferedFeedKeepsNoPointerToTheCallersBytes) {
  Peer c = client();
  Peer s = server();
  pump(c, s);
  ASSERT_TRUE(c.engine.writePlaintext("copied in").ok());
  {
    base::Buffer wire;
    c.engine.drainCiphertext(wire);
    ASSERT_TRUE(s.engine.feedCiphertext(wire.view()).ok());
    std::memset(wire.data(), 0, wire.size());
  }  // freed: ASan reports a read of it
  ASSERT_TRUE(s.engine.readPlaintext(s.received).ok());
  EXPECT_EQ(s.text(), "copied in");
}

TEST(TlsEngineClient, RejectsMalformedAlpnList) {
  EXPECT_FALSE(Engine::forClient("localhost", "h2,,http/1.1").ok());
  EXPECT_FALSE(Engine::forClient("localhost", "http/1.1,").ok());
}

TEST(TlsEngineClient, HasClientHelloReadyAtOnce) {
  auto c = Engine::forClient("localhost", "http/1.1");
  ASSERT_TRUE(c.ok()) << c.error().message;
  base::Buffer wire;
  ASSERT_GT(c->drainCiphertext(wire), 5u);
  EXPECT_EQ(static_cast<unsigned char>(wire.data()[0]), 0x16) << "handshake record";
}

TEST(TlsEngineServer, RefusesNullContext) {
  EXPECT_FALSE(Engine::forServer(nullptr).ok());
}

}  // namespace
}  // namespace portcullis::tls
