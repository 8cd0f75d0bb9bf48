// HTTP/1 request-head parsing (src/http/parser.h), per request on every downstream connection.
#include <benchmark/benchmark.h>

#include <string>

#include "http/message.h"
#include "http/parser.h"

namespace {

using portcullis::http::ParseStatus;
using portcullis::http::RequestHead;
using portcullis::http::RequestParser;

// What a current desktop Chrome sends for a page navigation (~700 bytes, 15 header fields).
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
    "Cookie: csrftoken=4Vq1bXl0m9d2b7YkL8P0aHc3WnQe5tRz; sessionid=k2j3h4g5f6d7s8a9q0w1e2r3t4y5u6i7\r\n"
    "\r\n";

const std::string kMinimalRequest = "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n";

void parseLoop(benchmark::State& state, const std::string& input) {
  RequestParser parser;
  RequestHead head;
  for (auto _ : state) {
    parser.reset();
    head.clear();
    ParseStatus s = parser.parse(input, head);
    if (s != ParseStatus::Complete) state.SkipWithError("request did not parse");
    benchmark::DoNotOptimize(head);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(input.size()));
}

void BM_ParseBrowserRequest(benchmark::State& state) { parseLoop(state, kBrowserRequest); }
BENCHMARK(BM_ParseBrowserRequest);

void BM_ParseMinimalRequest(benchmark::State& state) { parseLoop(state, kMinimalRequest); }
BENCHMARK(BM_ParseMinimalRequest);

// A head arriving in 64-byte pieces: parse() is re-called with the whole buffer each time.
void BM_ParseBrowserRequestTrickled(benchmark::State& state) {
  RequestParser parser;
  RequestHead head;
  for (auto _ : state) {
    parser.reset();
    head.clear();
    ParseStatus s = ParseStatus::NeedMore;
    for (size_t n = 64; s == ParseStatus::NeedMore; n += 64) {
      s = parser.parse(std::string_view(kBrowserRequest).substr(0, std::min(n, kBrowserRequest.size())), head);
    }
    if (s != ParseStatus::Complete) state.SkipWithError("request did not parse");
    benchmark::DoNotOptimize(head);
  }
}
BENCHMARK(BM_ParseBrowserRequestTrickled);

}  // namespace
