// Exchange: on-the-fly compression of the response body (response_compression.h has the rules).
// The relay hands decoded upstream bytes to emitResponseBody; from there on everything, the
// response buffer included, holds compressed bytes, so the watermarks and the buffering limit
// apply to what the client downloads.
#include "base/log.h"
#include "proxy/exchange.h"

namespace portcullis::proxy {
namespace {

// What the encoder may give out beyond the input it was handed in one relay step: what it held
// from earlier steps (a block at most) and its framing. The relay leaves this much of resp_buf_'s
// room free so the compressed bytes fit (never more than half: a small buffer still moves).
constexpr uint64_t kCompressedSlack = 32 * 1024;

}  // namespace

void Exchange::emitResponseBody(std::string_view data) {
  if (compress_.active()) {
    data = compress_.write(data);
    if (compress_.failed()) {
      compressionFailed();
      return;
    }
    if (data.empty()) return;
  }
  emitResponseBytes(data);
}

void Exchange::flushCompressedBody() {
  // Only when something was written since the last flush: an empty flush is pure framing.
  if (!compress_.active() || !compress_.unflushed()) return;
  std::string_view z = compress_.flush();
  if (compress_.failed()) {
    compressionFailed();
    return;
  }
  if (!z.empty()) emitResponseBytes(z);
}

void Exchange::finishCompressedBody() {
  if (!compress_.active()) return;
  std::string_view z = compress_.finish();
  if (compress_.failed()) {
    compressionFailed();
    return;
  }
  if (!z.empty()) emitResponseBytes(z);
}

uint64_t Exchange::responseInputRoom() const {
  uint64_t room = responseBufferRoom();
  if (!compress_.active()) return room;
  uint64_t slack = std::min(kCompressedSlack, resp_buf_.limit() / 2);
  return room > slack ? room - slack : 0;
}

void Exchange::compressionFailed() {
  // The head promised a coding: nothing honest is left but cutting the response short.
  base::log::error("response compression: the encoder failed (out of memory)");
  rec_.setError(ErrorKind::Internal);
  stream_.reset();
}

}  // namespace portcullis::proxy
