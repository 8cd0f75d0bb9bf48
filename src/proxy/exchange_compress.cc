// Exchange: on-the-fly compression of the response body (response_compression.h has the rules).
// The relay hands decoded upstream bytes to emitResponseBody; from there on everything, the
// response buffer included, holds compressed bytes, so the watermarks and the buffering limit
// apply to what the client downloads.
#include "base/log.h"
#include "proxy/exchange.h"

namespace portcullis::proxy {
namespace {

// While body bytes queue in resp_buf_ with less room than this (a memory-only buffer, or the
// end of a file's), every relay step's input is flushed through the encoder at once, so the
// encoder holds nothing back between steps and a step's output is its input's size at most
// (plus 1/256 and some framing, the codings' worst case): it fits the room it was measured
// against. Above it nothing is ever short of room and the encoder works undisturbed.
constexpr uint64_t kFlushStepsBelowRoom = 4 * 1024 * 1024;

}  // namespace

void Exchange::emitResponseBody(std::string_view data) {
  if (!compress_.active()) {
    emitResponseBytes(data);
    return;
  }
  const bool tight = responseToBuffer() && responseBufferRoom() < kFlushStepsBelowRoom;
  std::string_view z = compress_.write(data, tight);
  if (compress_.failed()) {
    compressionFailed();
    return;
  }
  emitCompressed(z);
}

void Exchange::emitCompressed(std::string_view z) {
  if (z.empty()) return;
  if (responseToBuffer() && resp_buf_.empty() && z.size() > responseBufferRoom()) {
    // What the encoder held from before the client fell behind (up to a block, or brotli's
    // metablock) does not fit a small buffer; nothing is queued, so it goes to the codec
    // directly, still in order. From here on the steps are flushed and their output fits.
    stream_.sendBody(z);
    return;
  }
  emitResponseBytes(z);
}

void Exchange::flushCompressedBody() {
  // Only when something was written since the last flush: an empty flush is pure framing.
  if (!compress_.active() || !compress_.unflushed()) return;
  std::string_view z = compress_.flush();
  if (compress_.failed()) {
    compressionFailed();
    return;
  }
  emitCompressed(z);
}

void Exchange::finishCompressedBody() {
  if (!compress_.active()) return;
  std::string_view z = compress_.finish();
  if (compress_.failed()) {
    compressionFailed();
    return;
  }
  emitCompressed(z);
}

uint64_t Exchange::responseInputRoom() const {
  uint64_t room = responseBufferRoom();
  if (!compress_.active()) return room;
  // The codings' worst-case growth (zstd's bound, n/256, is the largest) and their framing,
  // with the finishing trailer's bytes to spare; never more than half the buffer, so an empty
  // one always takes input.
  uint64_t slack = std::min<uint64_t>(resp_buf_.limit() / 2, 1024 + room / 64);
  return room > slack ? room - slack : 0;
}

void Exchange::compressionFailed() {
  // The head promised a coding: nothing honest is left but cutting the response short.
  base::log::error("response compression: the encoder failed (out of memory)");
  rec_.setError(ErrorKind::Internal);
  stream_.reset();
}

}  // namespace portcullis::proxy
