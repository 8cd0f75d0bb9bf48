// Header rewrite towards the upstream (src/proxy/forwarded.h upstreamRequestFields + appendUpstreamRequestHead): drops
// hop-by-hop and client-sent forwarding headers, adds X-Forwarded-*, Via. Once per request.
#include <benchmark/benchmark.h>

#include <string>

#include "base/buffer.h"
#include "http/message.h"
#include "http/parser.h"
#include "proxy/forwarded.h"

namespace {

using namespace portcullis;

const std::string kBrowserRequest =
    "GET /articles/2024/05/some-long-slug-for-an-article?utm_source=newsletter&page=2 HTTP/1.1\r\n"
    "Host: www.example.com\r\n"
    "Connection: keep-alive\r\n"
    "sec-ch-ua: \"Chromium\";v=\"124\", \"Google Chrome\";v=\"124\", \"Not-A.Brand\";v=\"99\"\r\n"
    "sec-ch-ua-mobile: ?0\r\n"
    "sec-ch-ua-platform: \"Linux\"\r\n"
    "Upgrade-Insecure-Requests: 1\r\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36\r\n"
    "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,"
    "image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7\r\n"
    "Sec-Fetch-Site: same-origin\r\n"
    "Sec-Fetch-Mode: navigate\r\n"
    "Sec-Fetch-User: ?1\r\n"
    "Sec-Fetch-Dest: document\r\n"
    "Referer: https://www.example.com/articles/\r\n"
    "Accept-Encoding: gzip, deflate, br, zstd\r\n"
    "Accept-Language: en-GB,en-US;q=0.9,en;q=0.8\r\n"
    "X-Forwarded-For: 6.6.6.6\r\n"
    "X-Forwarded-Proto: https\r\n"
    "Cookie: csrftoken=4Vq1bXl0m9d2b7YkL8P0aHc3WnQe5tRz; sessionid=k2j3h4g5f6d7s8a9q0w1e2r3t4y5u6i7\r\n"
    "\r\n";

void BM_AppendUpstreamRequestHead(benchmark::State& state) {
  http::RequestParser parser;
  http::RequestHead head;
  if (parser.parse(kBrowserRequest, head) != http::ParseStatus::Complete) {
    state.SkipWithError("request did not parse");
    return;
  }
  proxy::ForwardInfo info;
  info.client_ip = "203.0.113.7";
  info.https = true;
  info.local_port = 443;
  base::Buffer out;
  http::HeaderList fields;  // the exchange's, reused
  proxy::ForwardScratch scratch;
  for (auto _ : state) {
    out.clear();  // keeps the capacity, as a pooled upstream connection's buffer does
    proxy::upstreamRequestFields(head, info, scratch, fields);
    proxy::appendUpstreamRequestHead(out, head, fields);
    proxy::finishUpstreamRequestHead(out, head.framing, head.content_length);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(kBrowserRequest.size()));
}
BENCHMARK(BM_AppendUpstreamRequestHead);

}  // namespace
