#include "proxy/response_compression.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace portcullis::proxy {
namespace {

using http::Coding;

config::Compression on() {
  config::Compression c;
  c.enabled = true;
  return c;
}

CompressionRequest acceptAll(std::string_view ae = "gzip, br, zstd") {
  CompressionRequest r;
  r.accept.add(ae);
  return r;
}

// A 200 with a chunked (unknown-length) HTML body, plus `more` fields.
struct Resp {
  std::vector<std::pair<std::string, std::string>> fields{{"Content-Type", "text/html; charset=utf-8"}};
  http::Response r;
  Resp& set(std::string n, std::string v) {
    fields.emplace_back(std::move(n), std::move(v));
    return *this;
  }
  http::Response& build(int status = 200, http::BodySize body = http::BodySize::Unknown, uint64_t len = 0) {
    r.clear();
    r.status = status;
    r.body = body;
    r.length = len;
    for (auto& [n, v] : fields) r.headers.add(n, v);
    return r;
  }
};

std::string fieldValues(const http::Response& r, std::string_view name) {
  std::string out;
  for (const http::Header& h : r.headers)
    if (http::iequals(h.name, name)) out += (out.empty() ? "" : "|") + std::string(h.value);
  return out;
}

TEST(CompressionDecision, CompressesAnAcceptedTypeInTheClientsBestCoding) {
  Resp resp;
  auto d = decideCompression(on(), acceptAll(), resp.build());
  EXPECT_EQ(d.verdict, CompressionVerdict::Compress);
  EXPECT_EQ(d.coding, Coding::Brotli);
  d = decideCompression(on(), acceptAll("gzip;q=1, br;q=0.5, zstd;q=0.9"), resp.build());
  EXPECT_EQ(d.coding, Coding::Gzip);
  d = decideCompression(on(), acceptAll("gzip, zstd"), resp.build());
  EXPECT_EQ(d.coding, Coding::Zstd);
}

TEST(CompressionDecision, OffRouteLeavesEverythingAlone) {
  Resp resp;
  config::Compression off;
  EXPECT_EQ(decideCompression(off, acceptAll(), resp.build()).verdict, CompressionVerdict::Unchanged);
}

TEST(CompressionDecision, ClientWithoutACodingGetsVaryOnly) {
  Resp resp;
  CompressionRequest none;
  EXPECT_EQ(decideCompression(on(), none, resp.build()).verdict, CompressionVerdict::VaryOnly);
  EXPECT_EQ(decideCompression(on(), acceptAll("br;q=0, gzip;q=0, zstd;q=0"), resp.build()).verdict,
            CompressionVerdict::VaryOnly);
  EXPECT_EQ(decideCompression(on(), acceptAll("deflate, identity"), resp.build()).verdict,
            CompressionVerdict::VaryOnly);
}

TEST(CompressionDecision, StatusCodes) {
  Resp resp;
  for (int s : {200, 201, 202, 203, 403, 404, 410})
    EXPECT_EQ(decideCompression(on(), acceptAll(), resp.build(s)).verdict, CompressionVerdict::Compress) << s;
  for (int s : {204, 206, 301, 302, 304, 400, 500, 502, 503})
    EXPECT_EQ(decideCompression(on(), acceptAll(), resp.build(s)).verdict, CompressionVerdict::Unchanged) << s;
}

TEST(CompressionDecision, TypesWithParametersCaseAndWildcards) {
  config::Compression c = on();
  c.types = {"text/*", "application/json"};
  for (const char* t : {"text/html", "TEXT/CSS; charset=x", "Application/JSON", " application/json ;q"}) {
    Resp resp;
    resp.fields = {{"Content-Type", t}};
    EXPECT_EQ(decideCompression(c, acceptAll(), resp.build()).verdict, CompressionVerdict::Compress) << t;
  }
  for (const char* t : {"image/png", "application/jsonx", "text", "text/", "", "application/octet-stream"}) {
    Resp resp;
    resp.fields = {{"Content-Type", t}};
    EXPECT_EQ(decideCompression(c, acceptAll(), resp.build()).verdict, CompressionVerdict::Unchanged) << t;
  }
  Resp untyped;
  untyped.fields.clear();
  EXPECT_EQ(decideCompression(c, acceptAll(), untyped.build()).verdict, CompressionVerdict::Unchanged);
}

TEST(CompressionDecision, ResponsesThatMustNotBeTransformed) {
  {
    Resp resp;
    resp.set("Content-Encoding", "gzip");
    EXPECT_EQ(decideCompression(on(), acceptAll(), resp.build()).verdict, CompressionVerdict::Unchanged);
  }
  {
    Resp resp;
    resp.set("Content-Range", "bytes 0-9/100");
    EXPECT_EQ(decideCompression(on(), acceptAll(), resp.build()).verdict, CompressionVerdict::Unchanged);
  }
  {
    Resp resp;
    resp.set("Cache-Control", "public, No-Transform");
    EXPECT_EQ(decideCompression(on(), acceptAll(), resp.build()).verdict, CompressionVerdict::Unchanged);
  }
  {
    Resp resp;
    CompressionRequest range = acceptAll();
    range.range = true;
    EXPECT_EQ(decideCompression(on(), range, resp.build()).verdict, CompressionVerdict::Unchanged);
  }
  {
    Resp resp;
    http::Response& r = resp.build();
    r.local = true;
    EXPECT_EQ(decideCompression(on(), acceptAll(), r).verdict, CompressionVerdict::Unchanged);
  }
  {
    // A WebSocket's 101 (or h2's 200 that opens the tunnel): raw bytes follow, not a body.
    Resp resp;
    http::Response& r = resp.build();
    r.websocket = true;
    EXPECT_EQ(decideCompression(on(), acceptAll(), r).verdict, CompressionVerdict::Unchanged);
  }
}

TEST(CompressionDecision, SizeRules) {
  config::Compression c = on();
  c.min_size = 1000;
  Resp resp;
  EXPECT_EQ(decideCompression(c, acceptAll(), resp.build(200, http::BodySize::Known, 999)).verdict,
            CompressionVerdict::Unchanged);
  EXPECT_EQ(decideCompression(c, acceptAll(), resp.build(200, http::BodySize::Known, 1000)).verdict,
            CompressionVerdict::Compress);
  EXPECT_EQ(decideCompression(c, acceptAll(), resp.build(200, http::BodySize::Unknown)).verdict,
            CompressionVerdict::Compress);
  EXPECT_EQ(decideCompression(c, acceptAll(), resp.build(200, http::BodySize::None)).verdict,
            CompressionVerdict::Unchanged);
  c.min_size = 0;
  EXPECT_EQ(decideCompression(c, acceptAll(), resp.build(200, http::BodySize::Known, 0)).verdict,
            CompressionVerdict::Unchanged);
}

TEST(CompressionDecision, HeadGetsVaryButNoCoding) {
  config::Compression c = on();
  c.min_size = 1000;
  CompressionRequest head = acceptAll();
  head.head = true;
  Resp big;
  big.set("Content-Length", "5000");
  EXPECT_EQ(decideCompression(c, head, big.build(200, http::BodySize::None)).verdict, CompressionVerdict::VaryOnly);
  Resp small;
  small.set("Content-Length", "10");
  EXPECT_EQ(decideCompression(c, head, small.build(200, http::BodySize::None)).verdict,
            CompressionVerdict::Unchanged);
}

TEST(CompressionHead, CompressingRewritesTheHead) {
  Resp resp;
  resp.set("ETag", "\"v1\"").set("Vary", "Cookie");
  http::Response& r = resp.build(200, http::BodySize::Known, 5000);
  CompressionScratch scratch;
  applyCompressionHead({CompressionVerdict::Compress, Coding::Zstd}, r, scratch);
  EXPECT_EQ(r.body, http::BodySize::Unknown);
  EXPECT_EQ(fieldValues(r, "content-encoding"), "zstd");
  EXPECT_EQ(fieldValues(r, "etag"), "W/\"v1\"");
  EXPECT_EQ(fieldValues(r, "vary"), "Cookie, Accept-Encoding");
}

TEST(CompressionHead, VaryIsNotDuplicatedAndWeakETagsStay) {
  Resp resp;
  resp.set("ETag", "W/\"v1\"").set("Vary", "Cookie").set("vary", "accept-encoding");
  http::Response& r = resp.build();
  CompressionScratch scratch;
  applyCompressionHead({CompressionVerdict::Compress, Coding::Gzip}, r, scratch);
  EXPECT_EQ(fieldValues(r, "vary"), "Cookie|accept-encoding");
  EXPECT_EQ(fieldValues(r, "etag"), "W/\"v1\"");
  Resp star;
  star.set("Vary", "*");
  http::Response& r2 = star.build();
  applyCompressionHead({CompressionVerdict::Compress, Coding::Gzip}, r2, scratch);
  EXPECT_EQ(fieldValues(r2, "vary"), "*");
}

TEST(CompressionHead, VaryOnlyTouchesNothingElse) {
  Resp resp;
  resp.set("ETag", "\"v1\"");
  http::Response& r = resp.build(200, http::BodySize::Known, 5000);
  CompressionScratch scratch;
  applyCompressionHead({CompressionVerdict::VaryOnly, Coding::Identity}, r, scratch);
  EXPECT_EQ(fieldValues(r, "vary"), "Accept-Encoding");
  EXPECT_EQ(fieldValues(r, "etag"), "\"v1\"");
  EXPECT_EQ(fieldValues(r, "content-encoding"), "");
  EXPECT_EQ(r.body, http::BodySize::Known);
  EXPECT_EQ(r.length, 5000u);
}

TEST(ResponseCompression, RequestFieldsAreGatheredAndTheEncoderRuns) {
  config::Compression c = on();
  http::RequestHead req;
  req.method = http::Method::Get;
  req.headers = {{"Accept-Encoding", "gzip;q=0.5"}, {"accept-encoding", "zstd;q=0.8"}};
  ResponseCompression rc;
  rc.onRequest(req, c);
  Resp resp;
  http::Response& r = resp.build();
  ASSERT_TRUE(rc.onResponseHead(r));
  EXPECT_EQ(fieldValues(r, "content-encoding"), "zstd");
  std::string all;
  all += rc.write(std::string(5000, 'a'));
  all += rc.flush();
  EXPECT_FALSE(all.empty());
  all += rc.finish();
  EXPECT_FALSE(rc.active());
  rc.clear();
  // The next request on the connection: a Range request is left alone.
  req.headers.push_back({"Range", "bytes=0-"});
  rc.onRequest(req, c);
  http::Response& r2 = resp.build();
  EXPECT_FALSE(rc.onResponseHead(r2));
  EXPECT_EQ(fieldValues(r2, "content-encoding"), "");
}

}  // namespace
}  // namespace portcullis::proxy
