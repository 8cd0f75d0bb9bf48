// The upstream HTTP/1.1 reader shared by proxied requests and health checks (http1_client.h):
// real response bytes in, the final head and the decoded body out, at every split point.
#include "upstream/http1_client.h"

#include <gtest/gtest.h>

#include <string>

namespace portcullis::upstream {
namespace {

using Read = Http1Client::Read;

// Feeds `bytes` in two pieces split at `split` and reads the head; the body is decoded whole.
struct Outcome {
  Read read = Read::NeedMore;
  int status = 0;
  std::string body;
  bool body_done = false;
};

Outcome readAll(const std::string& bytes, size_t split, http::Method method = http::Method::Get) {
  Http1Client client;
  client.startResponse(method);
  base::Buffer in;
  in.append(std::string_view(bytes).substr(0, split));
  Outcome o;
  o.read = client.readHead(in);
  if (o.read == Read::NeedMore) {
    in.append(std::string_view(bytes).substr(split));
    o.read = client.readHead(in);
  } else {
    in.append(std::string_view(bytes).substr(split));
  }
  if (o.read != Read::Head && o.read != Read::Upgrade) return o;
  o.status = client.head().status;
  if (o.read == Read::Upgrade) return o;
  client.consumeHead(in);
  while (!in.empty() && !client.bodyDone()) {
    http::DecodeStep step = client.decodeBody(in.view());
    if (step.error) break;
    o.body.append(step.data);
    in.consume(step.consumed);
    if (step.consumed == 0) break;
  }
  o.body_done = client.bodyDone();
  return o;
}

TEST(Http1Client, InterimHeadsAreSkippedAtEverySplit) {
  const std::string bytes =
      "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n"
      "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";
  for (size_t split = 0; split <= bytes.size(); ++split) {
    Outcome o = readAll(bytes, split);
    ASSERT_EQ(o.read, Read::Head) << "split " << split;
    EXPECT_EQ(o.status, 200) << "split " << split;
    EXPECT_EQ(o.body, "hello") << "split " << split;
    EXPECT_TRUE(o.body_done) << "split " << split;
  }
}

TEST(Http1Client, ChunkedBodyIsDecoded) {
  Outcome o = readAll("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n", 20);
  ASSERT_EQ(o.read, Read::Head);
  EXPECT_EQ(o.body, "abcde");
  EXPECT_TRUE(o.body_done);
}

TEST(Http1Client, SwitchingProtocolsIsReportedNotSkipped) {
  Outcome o = readAll("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n", 0);
  EXPECT_EQ(o.read, Read::Upgrade);
  EXPECT_EQ(o.status, 101);
}

TEST(Http1Client, TransferCodingOtherThanChunkedIsAnError) {
  Outcome o = readAll("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 0);
  EXPECT_EQ(o.read, Read::Error);
}

TEST(Http1Client, ResponseToHeadHasNoBodyDespiteItsLength) {
  Outcome o = readAll("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n", 0, http::Method::Head);
  ASSERT_EQ(o.read, Read::Head);
  EXPECT_TRUE(o.body_done);
  EXPECT_EQ(o.body, "");
}

TEST(Http1Client, GarbageIsAnErrorWithADetail) {
  Http1Client client;
  client.startResponse(http::Method::Get);
  base::Buffer in;
  in.append("HTTX/1.1 200 OK\r\n\r\n");
  EXPECT_EQ(client.readHead(in), Read::Error);
  EXPECT_STRNE(client.errorDetail(), "");
}

}  // namespace
}  // namespace portcullis::upstream
