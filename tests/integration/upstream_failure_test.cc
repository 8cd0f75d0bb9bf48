// What the client sees when an upstream is down, slow, or breaks off mid-response.
#include <gtest/gtest.h>

#include "harness/harness.h"

namespace portcullis::integration {
namespace {

using namespace std::chrono_literals;

class UpstreamFailure : public ::testing::Test {
 protected:
  // Short upstream timeouts so the failures under test take about a second.
  ::testing::AssertionResult startProxy(std::vector<std::string> servers) {
    ProxyConfig config = ProxyConfig::singleUpstream(std::move(servers));
    config.timeouts.emplace_back("upstream_connect", "1s");
    config.timeouts.emplace_back("upstream_response", "1s");
    auto ok = proxy_.start(config);
    if (!ok) return ok;
    return client_.connect(proxy_.httpsPort());
  }

  FakeUpstream up_{"up"};
  ProxyProcess proxy_;
  TlsClient client_;
};

TEST_F(UpstreamFailure, NothingListeningGives502) {
  ASSERT_TRUE(startProxy({"127.0.0.1:" + std::to_string(unusedPort())}));
  Response resp;
  ASSERT_TRUE(client_.roundTrip(getRequest("/"), &resp));
  EXPECT_EQ(resp.status, 502);
}

TEST_F(UpstreamFailure, RefusedConnectFailsOverToTheNextServer) {
  // Round robin picks the dead server for about half of these; each must be retried on the
  // live one (a failed connect sent nothing, so any method may be retried).
  ASSERT_TRUE(startProxy({"127.0.0.1:" + std::to_string(unusedPort()), up_.address()}));
  for (int i = 0; i < 4; ++i) {
    Response resp;
    ASSERT_TRUE(client_.roundTrip(getRequest("/" + std::to_string(i)), &resp)) << "request " << i;
    EXPECT_EQ(resp.status, 200) << "request " << i;
    EXPECT_EQ(resp.headers.get("X-Upstream-Name"), "up");
  }
  EXPECT_EQ(up_.requestCount(), 4u);
}

TEST_F(UpstreamFailure, UpstreamThatNeverAnswersGives504) {
  Reply silent;
  silent.action = Reply::Action::kNeverRespond;
  up_.setReply(silent);
  ASSERT_TRUE(startProxy({up_.address()}));
  const auto start = Clock::now();
  Response resp;
  ASSERT_TRUE(client_.roundTrip(getRequest("/slow"), &resp, 6s));
  const auto elapsed = std::chrono::duration_cast<milliseconds>(Clock::now() - start);
  EXPECT_EQ(resp.status, 504);
  EXPECT_GE(elapsed, 900ms) << "answered before upstream_response (1s) ran out";
  EXPECT_LE(elapsed, 4s) << "upstream_response is 1s";
}

TEST_F(UpstreamFailure, UpstreamClosingMidBodyClosesTheClientConnection) {
  Reply broken;
  broken.action = Reply::Action::kCloseMidBody;
  broken.body = patternBody(1 << 20, 9);
  broken.close_after_body_bytes = 64 * 1024;
  up_.setReply(broken);
  ASSERT_TRUE(startProxy({up_.address()}));
  ASSERT_TRUE(client_.send(getRequest("/big")));
  std::string received;
  ASSERT_TRUE(client_.waitForClose(5s, &received)) << "the client would hang";
  // The client must be able to tell the body is incomplete: either no complete response at all,
  // or (if the proxy had not started the response yet) a complete 502.
  Response resp;
  ParseResult r = parseResponse(received, /*eof=*/true, /*head_request=*/false, &resp);
  if (r.status == ParseStatus::kComplete) {
    EXPECT_EQ(resp.status, 502) << "a truncated body was presented as complete (" << resp.body.size()
                                << " of " << broken.body.size() << " bytes)";
  }
  EXPECT_LT(received.size(), broken.body.size());
}

TEST_F(UpstreamFailure, UpstreamClosingWithoutResponseGives502) {
  Reply hangup;
  hangup.action = Reply::Action::kCloseWithoutResponse;
  up_.setReply(hangup);
  ASSERT_TRUE(startProxy({up_.address()}));
  Response resp;
  ASSERT_TRUE(client_.roundTrip(getRequest("/"), &resp));
  EXPECT_EQ(resp.status, 502);
}

TEST_F(UpstreamFailure, GarbageResponseGives502) {
  Reply garbage;
  garbage.action = Reply::Action::kRaw;
  garbage.raw = "this is not HTTP at all\r\n\r\n";
  garbage.close_connection = true;
  up_.setReply(garbage);
  ASSERT_TRUE(startProxy({up_.address()}));
  Response resp;
  ASSERT_TRUE(client_.roundTrip(getRequest("/"), &resp));
  EXPECT_EQ(resp.status, 502);
}

TEST_F(UpstreamFailure, ProxyKeepsServingAfterAnUpstreamFailure) {
  up_.setResponder([this](const RecordedRequest& r) {
    Reply reply = up_.defaultReply();
    if (r.request.target == "/hangup") reply.action = Reply::Action::kCloseWithoutResponse;
    return reply;
  });
  ASSERT_TRUE(startProxy({up_.address()}));
  Response failed;
  ASSERT_TRUE(client_.roundTrip(getRequest("/hangup"), &failed));
  EXPECT_EQ(failed.status, 502);
  TlsClient other;
  ASSERT_TRUE(other.connect(proxy_.httpsPort()));
  Response ok;
  ASSERT_TRUE(other.roundTrip(getRequest("/fine"), &ok));
  EXPECT_EQ(ok.status, 200);
}

}  // namespace
}  // namespace portcullis::integration
