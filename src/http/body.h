#pragma once
// Incremental body decoders and the chunked encoder. Zero-copy: decode() returns a view into the
// caller's input for each run of body data; the caller forwards it and consumes `consumed` bytes.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "base/buffer.h"
#include "http/message.h"

namespace portcullis::http {

struct DecodeStep {
  size_t consumed = 0;     // input bytes used (framing + data); consume these from the buffer
  std::string_view data;   // body bytes found in this step (a view into input); may be empty
  bool done = false;       // body complete (for chunked: last-chunk and trailers read)
  bool error = false;      // malformed framing: 400 for requests, 502 for responses
};

class BodyDecoder {
 public:
  BodyDecoder() = default;
  // Framing::None makes done() true at once. UntilClose never finishes by itself: the caller
  // ends it at EOF.
  void start(Framing framing, uint64_t content_length);
  // Decodes from `input`; returns as soon as it has a run of data, finished, needs more input
  // (consumed == input.size() and data empty), or failed. Call repeatedly until consumed == 0.
  // Chunk extensions are skipped; trailers are read and discarded (they are not forwarded).
  // Limits: chunk-size lines and trailer section are bounded (4 KiB / 8 KiB) -> error.
  DecodeStep decode(std::string_view input);
  bool done() const { return done_; }
  uint64_t bodyBytes() const { return body_bytes_; }  // decoded body bytes seen so far

 private:
  enum class State : uint8_t { Length, ChunkSize, ChunkExt, ChunkSizeLf, ChunkData, ChunkDataCr,
                               ChunkDataLf, Trailer, TrailerLf, TrailerLineStart, Until, Done,
                               Error };
  DecodeStep fail();
  State state_ = State::Done;
  uint64_t remaining_ = 0;
  uint64_t body_bytes_ = 0;
  size_t line_bytes_ = 0;
  size_t trailer_bytes_ = 0;
  int size_digits_ = 0;
  bool done_ = true;
};

// Appends chunked framing around `data` to `out` ("<hex>\r\n" data "\r\n"); empty data appends
// nothing (an empty chunk would end the body).
void appendChunk(base::Buffer& out, std::string_view data);
// Only the size line of a chunk of `size` (> 0) bytes ("<hex>\r\n"), for a writer that appends
// the data and its closing CRLF itself (straight from a file, with no copy in between).
void appendChunkSize(base::Buffer& out, uint64_t size);
// The chunked terminator (no trailers), and a function appending it.
inline constexpr std::string_view kLastChunk = "0\r\n\r\n";
void appendLastChunk(base::Buffer& out);

}  // namespace portcullis::http
