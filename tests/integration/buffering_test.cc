// Buffering (a route's `buffering`, on by default): the proxy takes a whole request body before
// it connects upstream, and takes a response as fast as the upstream sends it (memory, then an
// unnamed file in temp_dir), so a slow client never ties up an application worker (gunicorn's
// sync workers are the case in point). `buffering: off` streams instead, with backpressure.
#include <dirent.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "harness/harness.h"

namespace portcullis::integration {
namespace {

using namespace std::chrono_literals;

constexpr size_t kMiB = 1024 * 1024;
// Larger than what the kernel buffers on the two loopback hops can hold when the client stops
// reading (7-9 MiB measured, see backpressure_test.cc), so streaming must stall the upstream.
constexpr size_t kResponseSize = 32 * kMiB;
// Far above the route's default buffering memory (64k): the body spills to a file.
constexpr size_t kRequestSize = 1 * kMiB;

// Targets of the open descriptors of `pid` that are deleted files ("... (deleted)"): the spill
// files (O_TMPFILE or unlinked right away) while they are open.
std::vector<std::string> deletedFilesOpen(pid_t pid) {
  std::vector<std::string> out;
  const std::string dir = "/proc/" + std::to_string(pid) + "/fd";
  DIR* d = opendir(dir.c_str());
  if (!d) return {"(cannot open " + dir + ")"};
  for (int i = 0; i < 100000; ++i) {
    dirent* e = readdir(d);
    if (!e) break;
    if (e->d_name[0] == '.') continue;
    char target[4096];
    ssize_t n = readlink((dir + "/" + e->d_name).c_str(), target, sizeof target - 1);
    if (n <= 0) continue;
    std::string t(target, static_cast<size_t>(n));
    const std::string suffix = " (deleted)";
    if (t.size() >= suffix.size() && t.compare(t.size() - suffix.size(), suffix.size(), suffix) == 0) {
      out.push_back(t);
    }
  }
  closedir(d);
  return out;
}

std::vector<std::string> filesIn(const std::string& path) {
  std::vector<std::string> out;
  DIR* d = opendir(path.c_str());
  if (!d) return {"(cannot open " + path + ")"};
  for (int i = 0; i < 100000; ++i) {
    dirent* e = readdir(d);
    if (!e) break;
    std::string name = e->d_name;
    if (name != "." && name != "..") out.push_back(name);
  }
  closedir(d);
  return out;
}

std::string joined(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += x + "\n";
  return s;
}

// Polls `progress` until it has not grown for `quiet`, for at most `cap` (as in
// backpressure_test.cc). *stalled_at: the value it settled at.
::testing::AssertionResult waitForStall(const std::function<uint64_t()>& progress, milliseconds quiet,
                                        milliseconds cap, uint64_t* stalled_at) {
  const auto deadline = Clock::now() + cap;
  uint64_t last = progress();
  auto last_growth = Clock::now();
  for (int i = 0; i < 100000 && Clock::now() < deadline; ++i) {
    std::this_thread::sleep_for(10ms);  // sampling period, not a readiness wait
    uint64_t now = progress();
    if (now != last) {
      last = now;
      last_growth = Clock::now();
    } else if (Clock::now() - last_growth >= quiet) {
      *stalled_at = last;
      return ::testing::AssertionSuccess();
    }
  }
  *stalled_at = last;
  return ::testing::AssertionFailure() << "still growing after " << cap.count() << " ms, at " << last << " bytes";
}

class Buffering : public ::testing::Test {
 protected:
  // `server`: the servers entry ("" = the upstream's address); `route_buffering`: the route's
  // buffering value ("" = default, on).
  ::testing::AssertionResult startProxy(const std::string& route_buffering = "", const std::string& server = "") {
    ProxyConfig config = ProxyConfig::singleUpstream({server.empty() ? up_.address() : server});
    config.workers = 1;
    config.routes[0].buffering = route_buffering;
    config.top_extra = {"temp_dir: \"" + temp_.path() + "\""};
    config.timeouts.emplace_back("upstream_response", "10s");
    return proxy_.start(config);
  }

  void replyWithBigBody(Reply::BodyFraming framing = Reply::BodyFraming::kContentLength) {
    big_ = patternBody(kResponseSize, 23);
    Reply reply = up_.defaultReply();
    reply.body = big_;
    reply.framing = framing;
    up_.setResponder([this, reply](const RecordedRequest& r) {
      return r.request.target == "/big" ? reply : up_.defaultReply();
    });
  }

  // Waits until the proxy holds an unnamed file in temp_dir open (a body spilled to disk).
  bool spillFileOpen() {
    return pollUntil(
        [&] {
          for (const auto& f : deletedFilesOpen(proxy_.pid()))
            if (f.rfind(temp_.path() + "/", 0) == 0) return true;
          return false;
        },
        kWait);
  }

  ::testing::AssertionResult noTempFilesLeft() {
    bool clean = pollUntil([&] { return deletedFilesOpen(proxy_.pid()).empty() && filesIn(temp_.path()).empty(); },
                           kWait);
    if (clean) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << "deleted files still open:\n" << joined(deletedFilesOpen(proxy_.pid()))
                                         << "files in temp_dir:\n" << joined(filesIn(temp_.path()));
  }

  TempDir temp_;
  ProxyProcess proxy_;
  FakeUpstream up_{"up"};  // after the proxy: goes first at teardown
  std::string big_;
};

TEST_F(Buffering, BufferedResponseIsTakenFromTheUpstreamWhileTheClientReadsNothing) {
  replyWithBigBody();
  ASSERT_TRUE(startProxy());
  ASSERT_TRUE(deletedFilesOpen(proxy_.pid()).empty()) << joined(deletedFilesOpen(proxy_.pid()));
  TlsClient client;
  ASSERT_TRUE(client.connect(proxy_.httpsPort()));
  ASSERT_TRUE(client.send(getRequest("/big")));
  Response head;
  ASSERT_TRUE(client.readResponseHead(&head, 10s));
  ASSERT_EQ(head.status, 200);
  // The client reads nothing more: the upstream must still get rid of all 32 MiB.
  EXPECT_TRUE(up_.waitForResponsesSent(1, 10s)) << "the upstream is held by the slow client; it sent "
                                                 << up_.responseBodyBytesSent() << " of " << big_.size();
  // The spill is a file in temp_dir with no name.
  EXPECT_FALSE(deletedFilesOpen(proxy_.pid()).empty()) << "32 MiB buffered but no temp file open";
  Response resp;
  ASSERT_TRUE(client.readResponse(&resp, 30s));
  EXPECT_EQ(resp.status, 200);
  EXPECT_TRUE(sameBytes(big_, resp.body));
  EXPECT_TRUE(noTempFilesLeft());
}

TEST_F(Buffering, SlowClientDoesNotHoldTheHostSlotWhileItDownloads) {
  // max_requests 1 and no queue: while the first request holds the slot, any other gets 503.
  replyWithBigBody();
  ASSERT_TRUE(startProxy("", "{address: \"" + up_.address() + "\", max_requests: 1}"));
  TlsClient slow;
  ASSERT_TRUE(slow.connect(proxy_.httpsPort()));
  ASSERT_TRUE(slow.send(getRequest("/big")));
  Response head;
  ASSERT_TRUE(slow.readResponseHead(&head, 10s));
  ASSERT_TRUE(up_.waitForResponsesSent(1, 10s));
  // The upstream has handed everything to its kernel; the proxy frees the slot once it has read
  // the last byte, a moment later. Until then another request gets 503 (and a fresh connection
  // for the next try, as the 503 closes this one). The slow client reads nothing meanwhile.
  int last_status = 0;
  bool served = pollUntil(
      [&] {
        TlsClient other;
        Response resp;
        if (!other.connect(proxy_.httpsPort()) || !other.roundTrip(getRequest("/small"), &resp)) return false;
        last_status = resp.status;
        return resp.status == 200;
      },
      kWait);
  EXPECT_TRUE(served) << "the slow download still holds the host's only slot (last status " << last_status << ")";
  Response big;
  ASSERT_TRUE(slow.readResponse(&big, 30s));
  EXPECT_TRUE(sameBytes(big_, big.body));
}

TEST_F(Buffering, WithBufferingOffASlowClientStallsTheUpstream) {
  replyWithBigBody();
  ASSERT_TRUE(startProxy("off"));
  TlsClient client;
  ASSERT_TRUE(client.connect(proxy_.httpsPort()));
  ASSERT_TRUE(client.send(getRequest("/big")));
  Response head;
  ASSERT_TRUE(client.readResponseHead(&head, 10s));
  uint64_t stalled_at = 0;
  ASSERT_TRUE(waitForStall([&] { return up_.responseBodyBytesSent(); }, 500ms, 15s, &stalled_at));
  EXPECT_LT(stalled_at, big_.size());
  EXPECT_EQ(up_.responsesSent(), 0u) << "the upstream finished although nobody read the response";
  EXPECT_TRUE(deletedFilesOpen(proxy_.pid()).empty()) << "streaming wrote a temp file";
  // Reading resumes the stream, with nothing lost.
  Response resp;
  ASSERT_TRUE(client.readResponse(&resp, 30s));
  EXPECT_TRUE(sameBytes(big_, resp.body));
  EXPECT_TRUE(up_.waitForResponsesSent(1));
}

// `max_file: 0`: past the 50k in memory (not a multiple of a read) the response streams with
// backpressure (what the config documents), not an error: no "cannot spill" log, no switch to
// unbounded memory. Chunked: the buffer also keeps room for the chunk framing and the last chunk.
class BufferingWithoutFile : public Buffering, public ::testing::WithParamInterface<Reply::BodyFraming> {};

TEST_P(BufferingWithoutFile, ResponseBufferFillsThenStallsTheUpstreamQuietly) {
  replyWithBigBody(GetParam());
  ASSERT_TRUE(startProxy("{memory: 50k, max_file: 0}"));
  TlsClient client;
  ASSERT_TRUE(client.connect(proxy_.httpsPort()));
  ASSERT_TRUE(client.send(getRequest("/big")));
  Response head;
  ASSERT_TRUE(client.readResponseHead(&head, 10s));
  uint64_t stalled_at = 0;
  ASSERT_TRUE(waitForStall([&] { return up_.responseBodyBytesSent(); }, 500ms, 15s, &stalled_at));
  EXPECT_LT(stalled_at, big_.size());
  EXPECT_EQ(up_.responsesSent(), 0u) << "the upstream finished although nobody read the response";
  EXPECT_TRUE(deletedFilesOpen(proxy_.pid()).empty()) << "max_file 0 wrote a temp file";
  Response resp;
  ASSERT_TRUE(client.readResponse(&resp, 30s));
  EXPECT_TRUE(sameBytes(big_, resp.body));
  EXPECT_EQ(proxy_.stderrText().find("cannot spill"), std::string::npos) << proxy_.stderrText();
}

INSTANTIATE_TEST_SUITE_P(Framing, BufferingWithoutFile,
                         ::testing::Values(Reply::BodyFraming::kContentLength, Reply::BodyFraming::kChunked),
                         [](const auto& info) {
                           return info.param == Reply::BodyFraming::kChunked ? "Chunked" : "ContentLength";
                         });

// The head and the first half of a chunked 1 MiB body; the second half.
std::pair<std::string, std::string> chunkedUploadInTwo(const std::string& body) {
  std::string all = "POST /upload HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n" +
                    chunkedEncode(body, 16 * 1024);
  size_t half = all.size() / 2;
  return {all.substr(0, half), all.substr(half)};
}

TEST_F(Buffering, RequestReachesTheUpstreamOnlyOnceTheWholeBodyIsAtTheProxy) {
  ASSERT_TRUE(startProxy());
  const std::string body = patternBody(kRequestSize, 5);
  auto [first, second] = chunkedUploadInTwo(body);
  TlsClient client;
  ASSERT_TRUE(client.connect(proxy_.httpsPort()));
  ASSERT_TRUE(client.send(first));
  // The client pauses midway, as a slow uplink does. Once the proxy has taken that half (its
  // spill file is open: half a megabyte is past the 64k in memory), it must still not have
  // gone upstream.
  ASSERT_TRUE(spillFileOpen()) << joined(deletedFilesOpen(proxy_.pid()));
  EXPECT_EQ(up_.acceptedConnections(), 0u) << "the proxy connected upstream with half a body";
  const auto rest_sent_at = Clock::now();
  ASSERT_TRUE(client.send(second));
  Response resp;
  ASSERT_TRUE(client.readResponse(&resp, 10s))
      << "the whole body was sent; upstream connections so far: " << up_.acceptedConnections();
  EXPECT_EQ(resp.status, 200);

  RecordedRequest got;
  ASSERT_TRUE(up_.waitForRequest(0, &got));
  EXPECT_GE(got.first_byte_at, rest_sent_at) << "the upstream saw the request before the client finished it";
  // Buffered whole, so it goes with its length whatever framing the client used.
  EXPECT_EQ(got.request.headers.get("Content-Length"), std::to_string(body.size()));
  EXPECT_FALSE(got.request.headers.has("Transfer-Encoding"));
  EXPECT_TRUE(sameBytes(body, got.request.body));
}

TEST_F(Buffering, SpilledRequestBodyLeavesNoTempFileBehind) {
  ASSERT_TRUE(startProxy());
  ASSERT_TRUE(deletedFilesOpen(proxy_.pid()).empty()) << joined(deletedFilesOpen(proxy_.pid()));
  const std::string body = patternBody(kRequestSize, 6);
  auto [first, second] = chunkedUploadInTwo(body);
  TlsClient client;
  ASSERT_TRUE(client.connect(proxy_.httpsPort()));
  ASSERT_TRUE(client.send(first));
  // Half a megabyte is past the 64k in memory: a nameless file in temp_dir holds it.
  EXPECT_TRUE(spillFileOpen())
      << "no spill file in temp_dir " << temp_.path() << "; deleted files open:\n"
      << joined(deletedFilesOpen(proxy_.pid()));
  ASSERT_TRUE(client.send(second));
  Response resp;
  ASSERT_TRUE(client.readResponse(&resp, 10s))
      << "the whole body was sent; upstream connections so far: " << up_.acceptedConnections();
  EXPECT_EQ(resp.status, 200);
  // The client connection stays open: the file must go with the request, not the connection.
  EXPECT_TRUE(noTempFilesLeft());
}

}  // namespace
}  // namespace portcullis::integration
