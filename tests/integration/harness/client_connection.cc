#include "harness/client_connection.h"

#include <algorithm>
#include <cstdio>

namespace portcullis::integration {
namespace {

// For failure messages: the first bytes, with CR/LF made visible.
std::string preview(std::string_view s, size_t max = 300) {
  std::string out;
  for (char c : s.substr(0, max)) {
    if (c == '\r') out += "\\r";
    else if (c == '\n') out += "\\n\n";
    else if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) out += '.';
    else out += c;
  }
  if (s.size() > max) out += "...";
  return out;
}

milliseconds remaining(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
  return std::max(left, milliseconds(0));
}

}  // namespace

::testing::AssertionResult ClientConnection::send(std::string_view bytes, milliseconds timeout) {
  std::string error;
  size_t written = 0;
  Io r = writeAll(bytes, timeout, &error, &written);
  if (r == Io::kData) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "send of " << bytes.size() << " bytes failed: "
                                       << (r == Io::kTimeout ? "timed out" : error);
}

::testing::AssertionResult ClientConnection::sendSome(std::string_view bytes, milliseconds timeout, size_t* sent) {
  std::string error;
  *sent = 0;
  Io r = writeAll(bytes, timeout, &error, sent);
  if (r == Io::kData || r == Io::kTimeout) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "send failed after " << *sent << " of " << bytes.size()
                                       << " bytes: " << error;
}

::testing::AssertionResult ClientConnection::readResponseHead(Response* out, milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  // Each pass either parses, reads more, or ends on EOF/timeout; the cap is a second guard.
  for (int pass = 0; pass < 1000000; ++pass) {
    Response r;
    ParseResult p = parseResponse(in_, eof_, /*head_request=*/false, &r);
    if (p.status == ParseStatus::kError) {
      return ::testing::AssertionFailure() << "malformed response: " << p.error << "\nbytes:\n"
                                           << preview(in_);
    }
    if (p.head_complete || p.status == ParseStatus::kComplete) {
      r.body.clear();  // a complete response's body is not what this call is for
      *out = std::move(r);
      return ::testing::AssertionSuccess();
    }
    if (eof_) {
      return ::testing::AssertionFailure() << "connection closed after " << in_.size()
                                           << " bytes, before a response head:\n" << preview(in_);
    }
    if (Clock::now() >= deadline) break;
    std::string error;
    Io io = readSome(&in_, remaining(deadline), &error);
    if (io == Io::kEof) eof_ = true;
    if (io == Io::kError) {
      return ::testing::AssertionFailure() << "read failed: " << error << " after " << in_.size()
                                           << " bytes:\n" << preview(in_);
    }
  }
  return ::testing::AssertionFailure() << "no response head within " << timeout.count() << " ms; have "
                                       << in_.size() << " bytes:\n" << preview(in_);
}

::testing::AssertionResult ClientConnection::readResponse(Response* out, milliseconds timeout,
                                                          bool head_request) {
  const auto deadline = Clock::now() + timeout;
  // Each pass either parses, reads more, or ends on EOF/timeout; the cap is a second guard.
  for (int pass = 0; pass < 1000000; ++pass) {
    ParseResult r = parseResponse(in_, eof_, head_request, out);
    if (r.status == ParseStatus::kComplete) {
      in_.erase(0, r.consumed);
      return ::testing::AssertionSuccess();
    }
    if (r.status == ParseStatus::kError) {
      return ::testing::AssertionFailure() << "malformed response: " << r.error << "\nbytes:\n"
                                           << preview(in_);
    }
    if (eof_) {
      return ::testing::AssertionFailure() << "connection closed after " << in_.size()
                                           << " bytes, before a complete response:\n" << preview(in_);
    }
    if (Clock::now() >= deadline) break;
    std::string error;
    Io io = readSome(&in_, remaining(deadline), &error);
    if (io == Io::kEof) eof_ = true;
    if (io == Io::kError) {
      return ::testing::AssertionFailure() << "read failed: " << error << " after " << in_.size()
                                           << " bytes:\n" << preview(in_);
    }
  }
  return ::testing::AssertionFailure() << "no complete response within " << timeout.count() << " ms; have "
                                       << in_.size() << " bytes:\n" << preview(in_);
}

::testing::AssertionResult ClientConnection::readResponses(size_t n, std::vector<Response>* out,
                                                           milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  out->clear();
  for (size_t i = 0; i < n; ++i) {
    Response r;
    auto ok = readResponse(&r, remaining(deadline));
    if (!ok) return ::testing::AssertionFailure() << "response " << i + 1 << " of " << n << ": " << ok.message();
    out->push_back(std::move(r));
  }
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult ClientConnection::roundTrip(std::string_view request, Response* out,
                                                       milliseconds timeout, bool head_request) {
  auto ok = send(request, timeout);
  if (!ok) return ok;
  return readResponse(out, timeout, head_request);
}

::testing::AssertionResult ClientConnection::waitForClose(milliseconds timeout, std::string* received) {
  const auto deadline = Clock::now() + timeout;
  for (int pass = 0; pass < 1000000 && !eof_; ++pass) {
    if (Clock::now() >= deadline) break;
    std::string error;
    Io io = readSome(&in_, remaining(deadline), &error);
    if (io == Io::kEof) eof_ = true;
    if (io == Io::kError) {
      return ::testing::AssertionFailure() << "read failed while waiting for close: " << error;
    }
  }
  if (received) *received = in_;
  if (eof_) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "connection still open after " << timeout.count() << " ms; "
                                       << in_.size() << " unread bytes:\n" << preview(in_);
}

::testing::AssertionResult ClientConnection::staysOpenAndSilent(milliseconds period) {
  const auto deadline = Clock::now() + period;
  size_t before = in_.size();
  for (int pass = 0; pass < 1000000 && !eof_ && Clock::now() < deadline; ++pass) {
    std::string error;
    Io io = readSome(&in_, remaining(deadline), &error);
    if (io == Io::kEof) eof_ = true;
    if (io == Io::kError) return ::testing::AssertionFailure() << "read failed: " << error;
    if (in_.size() != before) break;
  }
  if (eof_) return ::testing::AssertionFailure() << "connection closed within " << period.count() << " ms";
  if (in_.size() != before) {
    return ::testing::AssertionFailure() << "unexpected bytes:\n" << preview(std::string_view(in_).substr(before));
  }
  return ::testing::AssertionSuccess();
}

ClientConnection::ReadResult ClientConnection::readMore(milliseconds timeout, std::string* error) {
  if (eof_) return ReadResult::kEof;
  std::string e;
  switch (readSome(&in_, timeout, &e)) {
    case Io::kData:
      return ReadResult::kData;
    case Io::kEof:
      eof_ = true;
      return ReadResult::kEof;
    case Io::kTimeout:
      return ReadResult::kTimeout;
    case Io::kError:
      break;
  }
  if (error) *error = e;
  return ReadResult::kError;
}

std::string getRequest(std::string_view target, std::string_view host, std::string_view extra_headers) {
  std::string r = "GET ";
  r += target;
  r += " HTTP/1.1\r\nHost: ";
  r += host;
  r += "\r\n";
  r += extra_headers;
  r += "\r\n";
  return r;
}

std::string requestWithBody(std::string_view method, std::string_view target, std::string_view body,
                            std::string_view host, std::string_view extra_headers) {
  std::string r(method);
  r += " ";
  r += target;
  r += " HTTP/1.1\r\nHost: ";
  r += host;
  r += "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  r += extra_headers;
  r += "\r\n";
  r += body;
  return r;
}

std::string chunkedEncode(std::string_view body, size_t max_chunk) {
  std::string out;
  size_t pos = 0;
  size_t step = 1;
  while (pos < body.size()) {
    size_t n = std::min({step, max_chunk, body.size() - pos});
    char line[32];
    snprintf(line, sizeof line, "%zx\r\n", n);
    out += line;
    out.append(body.substr(pos, n));
    out += "\r\n";
    pos += n;
    step = step * 3 + 7;  // 1, 10, 37, ... then max_chunk: odd sizes straddle every read size
  }
  out += "0\r\n\r\n";
  return out;
}

}  // namespace portcullis::integration
