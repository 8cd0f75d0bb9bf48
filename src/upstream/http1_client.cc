#include "upstream/http1_client.h"

namespace portcullis::upstream {

void Http1Client::startResponse(http::Method request_method) {
  method_ = request_method;
  parser_.reset();
  head_.clear();
  error_ = "";
}

Http1Client::Read Http1Client::readHead(base::Buffer& in) {
  for (;;) {
    http::ParseStatus st = parser_.parse(in.view(), method_, head_);
    if (st == http::ParseStatus::NeedMore) return Read::NeedMore;
    if (st == http::ParseStatus::Error) {
      error_ = parser_.errorDetail();
      return Read::Error;
    }
    if (head_.status == 101) return Read::Upgrade;
    if (head_.status < 200) {
      in.consume(head_.head_bytes);
      parser_.reset();
      head_.clear();
      continue;
    }
    if (!onlyChunkedTransferCoding(head_)) {
      error_ = "unsupported transfer coding in response";
      return Read::Error;
    }
    return Read::Head;
  }
}

void Http1Client::consumeHead(base::Buffer& in) {
  in.consume(head_.head_bytes);
  body_.start(head_.framing, head_.content_length);
}

void Http1Client::releaseIdleMemory() { std::vector<http::Header>().swap(head_.headers); }

bool onlyChunkedTransferCoding(const http::ResponseHead& resp) {
  for (const auto& h : resp.headers) {
    if (!http::iequals(h.name, "transfer-encoding")) continue;
    bool only_chunked = true;
    http::forEachListElement(h.value, [&](std::string_view item) {
      if (item.empty()) return true;
      only_chunked = http::iequals(item, "chunked");
      return only_chunked;
    });
    if (!only_chunked) return false;
  }
  return true;
}

}  // namespace portcullis::upstream
