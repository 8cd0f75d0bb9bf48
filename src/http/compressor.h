#pragma once
// A streaming encoder for one content coding (brotli, zstd or gzip): bytes in, compressed bytes
// appended to a caller's string. Pure, no I/O. One object lives per exchange and is reused
// request after request: reset() keeps what can be kept (zlib's and zstd's state; brotli's
// encoder has no reset and is recreated, which costs one allocation of its window).
//
// Memory is bounded by the coding's window, never by the response's size: brotli lgwin 19
// (512 KiB), zstd windowLog 19, deflate 32 KiB. A response of any length costs the same.
// The compression libraries' headers stay in compressor.cc (scripts/check-layers.sh).
#include <cstdint>
#include <string>
#include <string_view>

#include "http/content_coding.h"

namespace portcullis::http {

class Compressor {
 public:
  Compressor();
  ~Compressor();
  Compressor(const Compressor&) = delete;
  Compressor& operator=(const Compressor&) = delete;

  // Begins a stream in `c` (not Identity) at `level` (clamped to the coding's range: brotli
  // 0..11, zstd 1..19, gzip 1..9). False: the library could not allocate its state.
  bool start(Coding c, int level);
  // Compresses `in`, appending what the encoder gives out to `out` (possibly nothing: it keeps
  // input until it has a block's worth). False: the encoder failed (no memory).
  bool write(std::string_view in, std::string& out);
  // Sync flush: everything written so far becomes decodable from `out`. Costs a few bytes of
  // framing each time, so only when the input pauses.
  bool flush(std::string& out);
  // Ends the stream (the coding's trailer). The object then takes start() again.
  bool finish(std::string& out);
  // Drops a stream in progress (the response was cut short); keeps state for the next start().
  void reset();
  // Frees every library state (an idle connection).
  void release();

  Coding coding() const { return coding_; }
  bool active() const { return active_; }
  // Bytes written in since start().
  uint64_t bytesIn() const { return in_; }
  // Blocks brotli and zlib got from malloc (not from the object's spares) since construction.
  uint64_t blocksAllocated() const;

 private:
  enum class Op : uint8_t { Process, Flush, End };
  bool run(std::string_view in, Op op, std::string& out);

  struct State;
  State* s_;  // the libraries' contexts, created on first use
  Coding coding_ = Coding::Identity;
  bool active_ = false;
  uint64_t in_ = 0;
};

}  // namespace portcullis::http
