#include "http/body.h"

#include <algorithm>
#include <charconv>

namespace portcullis::http {
namespace {

// RFC 9112 §7.1: a chunk-size line is hex digits plus extensions; 4 KiB is far above anything a
// real client sends and stops a peer from making us scan an endless extension.
constexpr size_t kMaxChunkSizeLine = 4 * 1024;
// Trailers are read and dropped (we do not forward them), so they only need a bound, not a parse.
constexpr size_t kMaxTrailerBytes = 8 * 1024;
// 16 hex digits fill a uint64_t; more would overflow (RFC 9112 §7.1: "anticipate potentially
// large hexadecimal numerals and prevent parsing errors due to integer conversion overflows").
constexpr int kMaxChunkSizeDigits = 16;

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}


}  // namespace

void BodyDecoder::start(Framing framing, uint64_t content_length) {
  remaining_ = 0;
  body_bytes_ = 0;
  line_bytes_ = 0;
  trailer_bytes_ = 0;
  size_digits_ = 0;
  done_ = false;
  switch (framing) {
    case Framing::None:
      state_ = State::Done;
      done_ = true;
      break;
    case Framing::ContentLength:
      remaining_ = content_length;
      state_ = State::Length;
      if (content_length == 0) {
        state_ = State::Done;
        done_ = true;
      }
      break;
    case Framing::Chunked:
      state_ = State::ChunkSize;
      break;
    case Framing::UntilClose:
      state_ = State::Until;
      break;
  }
}

DecodeStep BodyDecoder::fail() {
  state_ = State::Error;
  DecodeStep step;
  step.error = true;
  return step;
}

// Contract: returns at most one run of body data per call, as a view into `input` (never a
// copy), preceded in `consumed` by whatever chunk framing came before it. Framing bytes are
// consumed as they arrive, so a chunk trickling in is forwarded piece by piece instead of being
// buffered whole. After done or error, further calls consume nothing.
DecodeStep BodyDecoder::decode(std::string_view input) {
  DecodeStep step;
  switch (state_) {
    case State::Done:
      step.done = true;
      return step;
    case State::Error:
      step.error = true;
      return step;
    case State::Until:
      step.consumed = input.size();
      step.data = input;
      body_bytes_ += input.size();
      return step;
    case State::Length: {
      size_t n = static_cast<size_t>(std::min<uint64_t>(remaining_, input.size()));
      remaining_ -= n;
      body_bytes_ += n;
      step.consumed = n;
      step.data = input.substr(0, n);
      if (remaining_ == 0) {
        state_ = State::Done;
        done_ = true;
      }
      step.done = done_;
      return step;
    }
    default:
      break;  // chunked: the byte loop below
  }

  size_t i = 0;
  while (i < input.size()) {
    char c = input[i];
    switch (state_) {
      case State::ChunkSize: {
        // Strict chunk-size (RFC 9112 §7.1): 1*HEXDIG, then ";" ext or CRLF. No whitespace and no
        // sign: parsers that skip them disagree on the size, a classic smuggling vector.
        int v = hexValue(c);
        if (v >= 0) {
          if (++size_digits_ > kMaxChunkSizeDigits) return fail();
          remaining_ = (remaining_ << 4) | static_cast<uint64_t>(v);
        } else if ((c == ';' || c == '\r') && size_digits_ > 0) {
          state_ = c == ';' ? State::ChunkExt : State::ChunkSizeLf;
        } else {
          return fail();
        }
        if (++line_bytes_ > kMaxChunkSizeLine) return fail();
        ++i;
        break;
      }
      case State::ChunkExt:
        // Extensions are skipped unparsed (we define none), but they stay bounded and free of
        // control characters so no line-ending ambiguity can hide in them.
        if (c == '\r') {
          state_ = State::ChunkSizeLf;
        } else if (isForbiddenControl(c)) {
          return fail();
        }
        if (++line_bytes_ > kMaxChunkSizeLine) return fail();
        ++i;
        break;
      case State::ChunkSizeLf:
        if (c != '\n') return fail();
        ++i;
        line_bytes_ = 0;
        if (remaining_ == 0) {  // last-chunk: trailer section follows
          state_ = State::TrailerLineStart;
          trailer_bytes_ = 0;
        } else {
          state_ = State::ChunkData;
        }
        break;
      case State::ChunkData: {
        size_t n = static_cast<size_t>(std::min<uint64_t>(remaining_, input.size() - i));
        step.data = input.substr(i, n);
        i += n;
        remaining_ -= n;
        body_bytes_ += n;
        if (remaining_ == 0) state_ = State::ChunkDataCr;
        step.consumed = i;
        return step;
      }
      case State::ChunkDataCr:
        if (c != '\r') return fail();  // chunk longer than its size, or a bare LF
        state_ = State::ChunkDataLf;
        ++i;
        break;
      case State::ChunkDataLf:
        if (c != '\n') return fail();
        state_ = State::ChunkSize;
        size_digits_ = 0;
        line_bytes_ = 0;
        ++i;
        break;
      case State::TrailerLineStart:
      case State::Trailer:
      case State::TrailerLf:
        if (++trailer_bytes_ > kMaxTrailerBytes) return fail();
        if (state_ == State::TrailerLf) {
          if (c != '\n') return fail();
          ++i;
          if (line_bytes_ == 0) {  // the empty line: end of the message
            state_ = State::Done;
            done_ = true;
            step.done = true;
            step.consumed = i;
            return step;
          }
          line_bytes_ = 0;
          state_ = State::TrailerLineStart;
        } else if (c == '\r') {
          state_ = State::TrailerLf;
          ++i;
        } else if (isForbiddenControl(c)) {
          return fail();
        } else {
          state_ = State::Trailer;
          ++line_bytes_;
          ++i;
        }
        break;
      case State::Length:
      case State::Until:
      case State::Done:
      case State::Error:
        return fail();  // unreachable: handled before the loop
    }
  }
  step.consumed = i;
  return step;
}

void appendChunk(base::Buffer& out, std::string_view data) {
  if (data.empty()) return;
  char* p = out.reserveTail(16 + 2 + data.size() + 2);
  char* start = p;
  // Lowercase hex, no leading zeros: the shortest form every chunked parser accepts.
  p = std::to_chars(p, p + 16, static_cast<uint64_t>(data.size()), 16).ptr;
  *p++ = '\r';
  *p++ = '\n';
  p = std::copy(data.begin(), data.end(), p);
  *p++ = '\r';
  *p++ = '\n';
  out.commit(static_cast<size_t>(p - start));
}

void appendChunkSize(base::Buffer& out, uint64_t size) {
  char* p = out.reserveTail(16 + 2);
  char* start = p;
  p = std::to_chars(p, p + 16, size, 16).ptr;
  *p++ = '\r';
  *p++ = '\n';
  out.commit(static_cast<size_t>(p - start));
}

void appendLastChunk(base::Buffer& out) { out.append(kLastChunk); }

}  // namespace portcullis::http
