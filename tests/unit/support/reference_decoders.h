#pragma once
// The reference decoders (zlib, brotli, zstd) that tests check the proxy's compressed bodies
// against: one copy for the compressor's unit tests and the compression integration tests.
#include <brotli/decode.h>
#include <zlib.h>
#include <zstd.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace portcullis::test_support {

struct Decoded {
  std::string data;
  bool finished = false;  // the stream's end marker was seen
  bool error = false;
};

// `coding` is a Content-Encoding token: "gzip", "br" or "zstd" (anything else is an error).
// Streaming, so that a prefix (after a flush) decodes as far as it goes.
inline Decoded decode(std::string_view coding, std::string_view in) {
  Decoded d;
  char buf[8192];
  if (coding == "gzip") {
    z_stream z{};
    if (inflateInit2(&z, 15 + 16) != Z_OK) return {{}, false, true};
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    z.avail_in = static_cast<uInt>(in.size());
    while (true) {
      z.next_out = reinterpret_cast<Bytef*>(buf);
      z.avail_out = sizeof buf;
      int rc = inflate(&z, Z_NO_FLUSH);
      d.data.append(buf, sizeof buf - z.avail_out);
      if (rc == Z_STREAM_END) {
        d.finished = true;
        d.error = z.avail_in != 0;  // bytes after the trailer
        break;
      }
      if (rc == Z_BUF_ERROR || (rc == Z_OK && z.avail_in == 0 && z.avail_out != 0)) break;
      if (rc != Z_OK) {
        d.error = true;
        break;
      }
    }
    inflateEnd(&z);
    return d;
  }
  if (coding == "br") {
    BrotliDecoderState* s = BrotliDecoderCreateInstance(nullptr, nullptr, nullptr);
    size_t avail_in = in.size();
    const uint8_t* next_in = reinterpret_cast<const uint8_t*>(in.data());
    while (true) {
      size_t avail_out = sizeof buf;
      uint8_t* next_out = reinterpret_cast<uint8_t*>(buf);
      BrotliDecoderResult r = BrotliDecoderDecompressStream(s, &avail_in, &next_in, &avail_out, &next_out, nullptr);
      d.data.append(buf, sizeof buf - avail_out);
      if (r == BROTLI_DECODER_RESULT_SUCCESS) {
        d.finished = true;
        d.error = avail_in != 0;
        break;
      }
      // Out of input, but the ring buffer may still hold output for a full buffer: go on
      // until it is drained.
      if (r == BROTLI_DECODER_RESULT_NEEDS_MORE_INPUT && avail_out != 0) break;
      if (r == BROTLI_DECODER_RESULT_ERROR) {
        d.error = true;
        break;
      }
    }
    BrotliDecoderDestroyInstance(s);
    return d;
  }
  if (coding == "zstd") {
    ZSTD_DCtx* s = ZSTD_createDCtx();
    ZSTD_inBuffer zin{in.data(), in.size(), 0};
    while (true) {
      ZSTD_outBuffer zout{buf, sizeof buf, 0};
      size_t r = ZSTD_decompressStream(s, &zout, &zin);
      if (ZSTD_isError(r)) {
        d.error = true;
        break;
      }
      d.data.append(buf, zout.pos);
      if (r == 0) {
        d.finished = true;
        d.error = zin.pos != zin.size;
        break;
      }
      if (zin.pos == zin.size && zout.pos < zout.size) break;
    }
    ZSTD_freeDCtx(s);
    return d;
  }
  return {{}, false, true};
}

}  // namespace portcullis::test_support
