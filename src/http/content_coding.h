#pragma once
// Content codings (RFC 9110 §8.4) and the client's Accept-Encoding (§12.5.3): which of the
// codings the proxy can offer a response in the client takes best. Shared by static files (the
// precompressed siblings on disk) and by on-the-fly compression of proxied responses.
#include <cstdint>
#include <string_view>

namespace portcullis::http {

enum class Coding : uint8_t { Identity = 0, Brotli, Zstd, Gzip };

// A set of codings, as bits: offered(Coding::Gzip) | offered(Coding::Brotli).
constexpr unsigned codingBit(Coding c) { return 1u << static_cast<unsigned>(c); }

// "br", "zstd", "gzip" ("identity" for Identity): the Content-Encoding token.
std::string_view codingToken(Coding c);
// ".br", ".zst", ".gz" ("" for Identity): the suffix of a precompressed sibling file.
std::string_view codingSuffix(Coding c);

// The q-values of one request's Accept-Encoding fields. Fed field by field (a request may send
// several), then asked once; holds no pointer into them and allocates nothing.
class AcceptEncoding {
 public:
  void add(std::string_view field_value);
  // The coding of `offered` (codingBit set) with the highest q; ties go to the server's order
  // br > zstd > gzip (smallest first). Identity when none is acceptable or the field is absent:
  // RFC 9110 allows a 415 when even identity is refused, but every server sends identity.
  Coding choose(unsigned offered) const;
  bool empty() const { return !seen_; }

 private:
  // Thousandths (q=0.5 -> 500); -1: not named.
  int q_[4] = {-1, -1, -1, -1};
  int star_ = -1;
  bool seen_ = false;
};

}  // namespace portcullis::http
