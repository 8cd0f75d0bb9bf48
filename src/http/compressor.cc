#include "http/compressor.h"

#include <brotli/encode.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <cstdlib>
#include <vector>

namespace portcullis::http {
namespace {

// brotli: 2^19 - 16 bytes of window (the default is 22: 4 MiB); zstd: 2^19. Both compress a
// web page as well as their defaults do and keep each stream's memory under ~1 MiB.
constexpr int kBrotliWindowBits = 19;
constexpr int kZstdWindowLog = 19;
// Output is produced into this much stack, then appended: no zero-filled resize of `out`.
constexpr size_t kOutStep = 16 * 1024;

// The blocks brotli and zlib free, kept for the next stream: brotli's encoder has no reset, so
// each response creates one, and it asks for the same sizes again (at the same level). Without
// this, every compressed response would cost a dozen mallocs of up to a megabyte.
class BlockPool {
 public:
  static constexpr size_t kMaxSpare = 48;
  BlockPool() { spare_.reserve(kMaxSpare); }
  ~BlockPool() { clear(); }

  void* get(size_t n) {
    // The smallest kept block that fits (they are all this object's: nothing is wasted for
    // long, the next stream asks for the large ones again).
    size_t best = spare_.size();
    for (size_t i = 0; i < spare_.size(); ++i) {
      size_t cap = spare_[i].cap;
      if (cap >= n && (best == spare_.size() || cap < spare_[best].cap)) best = i;
    }
    if (best != spare_.size()) {
      void* p = spare_[best].p;
      spare_[best] = spare_.back();
      spare_.pop_back();
      return p;
    }
    auto* raw = static_cast<char*>(std::malloc(n + kHeader));
    if (!raw) return nullptr;
    ++fresh_;
    *reinterpret_cast<size_t*>(raw) = n;
    return raw + kHeader;
  }
  void put(void* p) {
    if (!p) return;
    char* raw = static_cast<char*>(p) - kHeader;
    if (spare_.size() == kMaxSpare) {
      std::free(raw);
      return;
    }
    spare_.push_back({*reinterpret_cast<size_t*>(raw), p});
  }
  void clear() {
    for (const Block& b : spare_) std::free(static_cast<char*>(b.p) - kHeader);
    spare_.clear();
  }
  uint64_t fresh() const { return fresh_; }

  static void* brotliAlloc(void* pool, size_t n) { return static_cast<BlockPool*>(pool)->get(n); }
  static void brotliFree(void* pool, void* p) { static_cast<BlockPool*>(pool)->put(p); }
  static voidpf zAlloc(voidpf pool, uInt items, uInt size) {
    return static_cast<BlockPool*>(pool)->get(static_cast<size_t>(items) * size);
  }
  static void zFree(voidpf pool, voidpf p) { static_cast<BlockPool*>(pool)->put(p); }

 private:
  static constexpr size_t kHeader = 16;  // the block's size, keeping malloc's alignment
  struct Block {
    size_t cap;
    void* p;
  };
  std::vector<Block> spare_;
  uint64_t fresh_ = 0;
};

}  // namespace

struct Compressor::State {
  BlockPool pool;  // first: destroyed after the contexts below have given their blocks back
  z_stream z{};
  bool z_ready = false;
  int z_level = -1;
  BrotliEncoderState* br = nullptr;
  ZSTD_CCtx* zs = nullptr;
};

Compressor::Compressor() : s_(new State) {}

Compressor::~Compressor() {
  release();
  delete s_;
}

void Compressor::release() {
  if (s_->z_ready) deflateEnd(&s_->z);
  s_->z_ready = false;
  s_->z_level = -1;
  if (s_->br) BrotliEncoderDestroyInstance(s_->br);
  s_->br = nullptr;
  if (s_->zs) ZSTD_freeCCtx(s_->zs);
  s_->zs = nullptr;
  s_->pool.clear();
  active_ = false;
  coding_ = Coding::Identity;
}

bool Compressor::start(Coding c, int level) {
  reset();
  in_ = 0;
  switch (c) {
    case Coding::Identity:
      return false;
    case Coding::Brotli: {
      // BrotliEncoderState has no reset: a new one per stream.
      if (s_->br) BrotliEncoderDestroyInstance(s_->br);
      s_->br = BrotliEncoderCreateInstance(&BlockPool::brotliAlloc, &BlockPool::brotliFree, &s_->pool);
      if (!s_->br) return false;
      BrotliEncoderSetParameter(s_->br, BROTLI_PARAM_QUALITY, static_cast<uint32_t>(std::clamp(level, 0, 11)));
      BrotliEncoderSetParameter(s_->br, BROTLI_PARAM_LGWIN, kBrotliWindowBits);
      break;
    }
    case Coding::Zstd: {
      if (!s_->zs) s_->zs = ZSTD_createCCtx();
      if (!s_->zs) return false;
      // Parameters survive a session reset; set them anyway, the level may differ by route.
      if (ZSTD_isError(ZSTD_CCtx_setParameter(s_->zs, ZSTD_c_compressionLevel, std::clamp(level, 1, 19))) ||
          ZSTD_isError(ZSTD_CCtx_setParameter(s_->zs, ZSTD_c_windowLog, kZstdWindowLog)))
        return false;
      break;
    }
    case Coding::Gzip: {
      int lv = std::clamp(level, 1, 9);
      if (!s_->z_ready) {
        s_->z.zalloc = &BlockPool::zAlloc;
        s_->z.zfree = &BlockPool::zFree;
        s_->z.opaque = &s_->pool;
        // windowBits 15 + 16: a gzip header and trailer instead of zlib's.
        if (deflateInit2(&s_->z, lv, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) return false;
        s_->z_ready = true;
        s_->z_level = lv;
      } else if (lv != s_->z_level) {
        // Right after deflateReset: nothing to flush, so this only changes the parameters.
        if (deflateParams(&s_->z, lv, Z_DEFAULT_STRATEGY) != Z_OK) return false;
        s_->z_level = lv;
      }
      break;
    }
  }
  coding_ = c;
  active_ = true;
  return true;
}

void Compressor::reset() {
  if (!active_) return;
  active_ = false;
  switch (coding_) {
    case Coding::Identity:
      break;
    case Coding::Brotli:
      BrotliEncoderDestroyInstance(s_->br);
      s_->br = nullptr;
      break;
    case Coding::Zstd:
      ZSTD_CCtx_reset(s_->zs, ZSTD_reset_session_only);
      break;
    case Coding::Gzip:
      deflateReset(&s_->z);
      break;
  }
}

uint64_t Compressor::blocksAllocated() const { return s_->pool.fresh(); }

bool Compressor::write(std::string_view in, std::string& out) {
  in_ += in.size();
  // zlib counts in 32 bits: hand it at most 1 GiB at a time.
  constexpr size_t kMaxRun = size_t{1} << 30;
  while (!in.empty()) {
    std::string_view part = in.substr(0, kMaxRun);
    if (!run(part, Op::Process, out)) return false;
    in.remove_prefix(part.size());
  }
  return true;
}

bool Compressor::flush(std::string& out) { return run({}, Op::Flush, out); }

bool Compressor::finish(std::string& out) {
  bool ok = run({}, Op::End, out);
  reset();
  return ok;
}

bool Compressor::run(std::string_view in, Op op, std::string& out) {
  if (!active_) return false;
  char buf[kOutStep];
  switch (coding_) {
    case Coding::Identity:
      return false;
    case Coding::Brotli: {
      const BrotliEncoderOperation bop = op == Op::Process ? BROTLI_OPERATION_PROCESS
                                         : op == Op::Flush ? BROTLI_OPERATION_FLUSH
                                                           : BROTLI_OPERATION_FINISH;
      size_t avail_in = in.size();
      const uint8_t* next_in = reinterpret_cast<const uint8_t*>(in.data());
      while (true) {
        size_t avail_out = sizeof buf;
        uint8_t* next_out = reinterpret_cast<uint8_t*>(buf);
        if (!BrotliEncoderCompressStream(s_->br, bop, &avail_in, &next_in, &avail_out, &next_out, nullptr))
          return false;
        out.append(buf, sizeof buf - avail_out);
        if (avail_in == 0 && !BrotliEncoderHasMoreOutput(s_->br)) {
          if (op != Op::End || BrotliEncoderIsFinished(s_->br)) return true;
        }
      }
    }
    case Coding::Zstd: {
      const ZSTD_EndDirective zop = op == Op::Process ? ZSTD_e_continue : op == Op::Flush ? ZSTD_e_flush : ZSTD_e_end;
      ZSTD_inBuffer zin{in.data(), in.size(), 0};
      while (true) {
        ZSTD_outBuffer zout{buf, sizeof buf, 0};
        size_t left = ZSTD_compressStream2(s_->zs, &zout, &zin, zop);
        if (ZSTD_isError(left)) return false;
        out.append(buf, zout.pos);
        // e_continue: done once the input is taken; flush/end: once nothing is left to write.
        if (op == Op::Process ? zin.pos == zin.size : left == 0) return true;
      }
    }
    case Coding::Gzip: {
      z_stream& z = s_->z;
      const int zop = op == Op::Process ? Z_NO_FLUSH : op == Op::Flush ? Z_SYNC_FLUSH : Z_FINISH;
      z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
      z.avail_in = static_cast<uInt>(in.size());
      while (true) {
        z.next_out = reinterpret_cast<Bytef*>(buf);
        z.avail_out = sizeof buf;
        int rc = deflate(&z, zop);
        if (rc == Z_STREAM_ERROR) return false;
        out.append(buf, sizeof buf - z.avail_out);
        if (zop == Z_FINISH) {
          if (rc == Z_STREAM_END) return true;
          continue;
        }
        // Room left in buf: deflate took all the input and wrote everything it had to.
        if (z.avail_out != 0 && z.avail_in == 0) return true;
      }
    }
  }
  return false;
}

}  // namespace portcullis::http
