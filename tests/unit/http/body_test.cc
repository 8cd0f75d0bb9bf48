// BodyDecoder and chunked encoder specs. Decoding is driven like a connection would: bytes
// arrive in pieces, are appended to a pending buffer, and decode() is called until it asks for
// more; each sample is fed whole, split at every point, and byte by byte, with equal results.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "http/body.h"

namespace portcullis::http {
namespace {

struct Decoded {
  std::string body;
  bool done = false;
  bool error = false;
  std::string leftover;  // bytes after the body (a pipelined next message)
  bool views_into_input = true;
  bool operator==(const Decoded&) const = default;
};

std::ostream& operator<<(std::ostream& os, const Decoded& d) {
  return os << "{body=\"" << d.body << "\" done=" << d.done << " error=" << d.error
            << " leftover=\"" << d.leftover << "\" views=" << d.views_into_input << "}";
}

Decoded decodePieces(Framing framing, uint64_t length, const std::vector<std::string_view>& pieces) {
  BodyDecoder d;
  d.start(framing, length);
  Decoded out;
  std::string pending;
  for (std::string_view piece : pieces) {
    pending.append(piece);
    while (!out.done && !out.error) {
      DecodeStep step = d.decode(pending);
      if (!step.data.empty() && (step.data.data() < pending.data() ||
                                 step.data.data() + step.data.size() > pending.data() + pending.size())) {
        out.views_into_input = false;
      }
      out.body.append(step.data);
      pending.erase(0, step.consumed);
      out.done = step.done;
      out.error = step.error;
      if (step.consumed == 0) break;
    }
  }
  out.done = out.done || d.done();
  // After an error the connection is closed, so what is left unconsumed is meaningless (and
  // legitimately depends on how the bytes were split).
  out.leftover = out.error ? "" : pending;
  EXPECT_EQ(d.bodyBytes(), out.body.size());
  return out;
}

// Decodes `raw` whole, split in two at every point, and byte by byte; all must agree.
Decoded decodeAtEverySplit(std::string_view raw, Framing framing = Framing::Chunked, uint64_t length = 0) {
  Decoded whole = decodePieces(framing, length, {raw});
  EXPECT_TRUE(whole.views_into_input);
  for (size_t k = 0; k <= raw.size(); ++k) {
    EXPECT_EQ(decodePieces(framing, length, {raw.substr(0, k), raw.substr(k)}), whole) << "split at " << k;
  }
  std::vector<std::string_view> bytes;
  for (size_t i = 0; i < raw.size(); ++i) bytes.push_back(raw.substr(i, 1));
  EXPECT_EQ(decodePieces(framing, length, bytes), whole) << "byte at a time";
  return whole;
}

void expectChunkedError(std::string_view raw) {
  Decoded d = decodeAtEverySplit(raw);
  EXPECT_TRUE(d.error) << d;
  EXPECT_FALSE(d.done);
}

// --- Non-chunked framings -------------------------------------------------------------------

TEST(BodyDecoder, NoneIsDoneAtOnce) {
  BodyDecoder d;
  d.start(Framing::None, 0);
  EXPECT_TRUE(d.done());
  DecodeStep step = d.decode("GET / HTTP/1.1\r\n");
  EXPECT_EQ(step.consumed, 0u);
  EXPECT_TRUE(step.done);
}

TEST(BodyDecoder, ContentLengthZeroIsDoneAtOnce) {
  BodyDecoder d;
  d.start(Framing::ContentLength, 0);
  EXPECT_TRUE(d.done());
}

TEST(BodyDecoder, ContentLengthPassesOnlyItsBytes) {
  Decoded d = decodeAtEverySplit("helloGET /next", Framing::ContentLength, 5);
  EXPECT_EQ(d.body, "hello");
  EXPECT_TRUE(d.done);
  EXPECT_EQ(d.leftover, "GET /next");
}

TEST(BodyDecoder, ContentLengthReturnsDataAsItArrives) {
  BodyDecoder d;
  d.start(Framing::ContentLength, 10);
  DecodeStep step = d.decode("abc");
  EXPECT_EQ(step.data, "abc");
  EXPECT_EQ(step.consumed, 3u);
  EXPECT_FALSE(step.done);
  EXPECT_FALSE(d.done());
  step = d.decode("defghijklm");
  EXPECT_EQ(step.data, "defghij");
  EXPECT_TRUE(step.done);
  EXPECT_EQ(d.bodyBytes(), 10u);
}

TEST(BodyDecoder, ContentLengthIncompleteIsNotDone) {
  Decoded d = decodeAtEverySplit("hel", Framing::ContentLength, 5);
  EXPECT_EQ(d.body, "hel");
  EXPECT_FALSE(d.done);
}

TEST(BodyDecoder, UntilCloseTakesEverythingAndNeverFinishes) {
  Decoded d = decodeAtEverySplit("anything\r\n0\r\n\r\nat all", Framing::UntilClose);
  EXPECT_EQ(d.body, "anything\r\n0\r\n\r\nat all");
  EXPECT_FALSE(d.done);
  EXPECT_FALSE(d.error);
}

// --- Chunked: accepted ----------------------------------------------------------------------

TEST(BodyDecoder, DecodesChunksAtEverySplit) {
  Decoded d = decodeAtEverySplit("5\r\nhello\r\n1\r\n \r\n6\r\nworld!\r\n0\r\n\r\n");
  EXPECT_EQ(d.body, "hello world!");
  EXPECT_TRUE(d.done);
  EXPECT_EQ(d.leftover, "");
}

TEST(BodyDecoder, AcceptsUpperAndLowerCaseHexSizes) {
  std::string a(0x1a, 'a');
  std::string b(0x1b, 'b');
  Decoded d = decodeAtEverySplit("1A\r\n" + a + "\r\n1b\r\n" + b + "\r\n0\r\n\r\n");
  EXPECT_EQ(d.body, a + b);
  EXPECT_TRUE(d.done);
}

TEST(BodyDecoder, AcceptsLeadingZerosUpTo16Digits) {
  Decoded d = decodeAtEverySplit("0000000000000003\r\nabc\r\n0000\r\n\r\n");
  EXPECT_EQ(d.body, "abc");
  EXPECT_TRUE(d.done);
}

TEST(BodyDecoder, SkipsChunkExtensionsAtEverySplit) {
  Decoded d = decodeAtEverySplit("3;name=value;flag\r\nabc\r\n2;q=\"a b\"\r\nde\r\n0;last\r\n\r\n");
  EXPECT_EQ(d.body, "abcde");
  EXPECT_TRUE(d.done);
}

TEST(BodyDecoder, ReadsAndDropsTrailersAtEverySplit) {
  Decoded d = decodeAtEverySplit("3\r\nabc\r\n0\r\nChecksum: xyz\r\nX-Other:\tv\r\n\r\nNEXT");
  EXPECT_EQ(d.body, "abc");
  EXPECT_TRUE(d.done);
  EXPECT_EQ(d.leftover, "NEXT");
}

TEST(BodyDecoder, StopsAtEndLeavingPipelinedBytes) {
  Decoded d = decodeAtEverySplit("2\r\nok\r\n0\r\n\r\nGET / HTTP/1.1\r\n");
  EXPECT_TRUE(d.done);
  EXPECT_EQ(d.leftover, "GET / HTTP/1.1\r\n");
}

TEST(BodyDecoder, EmptyChunkedBodyIsDone) {
  Decoded d = decodeAtEverySplit("0\r\n\r\n");
  EXPECT_EQ(d.body, "");
  EXPECT_TRUE(d.done);
}

TEST(BodyDecoder, IncompleteChunkedBodyIsNotDone) {
  Decoded d = decodeAtEverySplit("5\r\nhello\r\n0\r\n");
  EXPECT_EQ(d.body, "hello");
  EXPECT_FALSE(d.done);
  EXPECT_FALSE(d.error);
}

TEST(BodyDecoder, ReturnsChunkDataBeforeTheChunkIsComplete) {
  BodyDecoder d;
  d.start(Framing::Chunked, 0);
  std::string_view input = "a\r\nhell";
  DecodeStep step = d.decode(input);
  EXPECT_EQ(step.data, "hell");
  EXPECT_EQ(step.consumed, input.size());
  EXPECT_EQ(step.data.data(), input.data() + 3);  // a view into the input, not a copy
  EXPECT_FALSE(step.done);
}

TEST(BodyDecoder, ReturnsOneRunPerCall) {
  BodyDecoder d;
  d.start(Framing::Chunked, 0);
  std::string_view input = "2\r\nab\r\n2\r\ncd\r\n0\r\n\r\n";
  DecodeStep first = d.decode(input);
  EXPECT_EQ(first.data, "ab");
  EXPECT_EQ(first.consumed, 5u);
  DecodeStep second = d.decode(input.substr(first.consumed));
  EXPECT_EQ(second.data, "cd");
  DecodeStep last = d.decode(input.substr(first.consumed + second.consumed));
  EXPECT_TRUE(last.done);
  EXPECT_EQ(last.data, "");
}

TEST(BodyDecoder, CountsDecodedBodyBytes) {
  BodyDecoder d;
  d.start(Framing::Chunked, 0);
  std::string_view input = "3\r\nabc\r\n";
  DecodeStep step = d.decode(input);
  EXPECT_EQ(d.bodyBytes(), 3u);
  EXPECT_EQ(step.data.size(), 3u);
}

TEST(BodyDecoder, StartResetsTheDecoder) {
  BodyDecoder d;
  d.start(Framing::Chunked, 0);
  (void)d.decode("3\r\nab");
  d.start(Framing::ContentLength, 2);
  EXPECT_EQ(d.bodyBytes(), 0u);
  DecodeStep step = d.decode("xy");
  EXPECT_EQ(step.data, "xy");
  EXPECT_TRUE(step.done);
}

// --- Chunked: rejected ----------------------------------------------------------------------

TEST(BodyDecoder, RejectsEmptyChunkSize) { expectChunkedError("\r\nabc\r\n0\r\n\r\n"); }
TEST(BodyDecoder, RejectsEmptyChunkSizeBeforeExtension) { expectChunkedError(";ext\r\n"); }
TEST(BodyDecoder, RejectsNonHexChunkSize) { expectChunkedError("g\r\n"); }
TEST(BodyDecoder, RejectsHexPrefix) { expectChunkedError("0x5\r\nhello\r\n0\r\n\r\n"); }
TEST(BodyDecoder, RejectsSignedChunkSize) {
  expectChunkedError("+5\r\nhello\r\n0\r\n\r\n");
  expectChunkedError("-5\r\nhello\r\n0\r\n\r\n");
}
TEST(BodyDecoder, RejectsSpaceBeforeChunkSize) { expectChunkedError(" 5\r\nhello\r\n0\r\n\r\n"); }
TEST(BodyDecoder, RejectsSpaceAfterChunkSize) { expectChunkedError("5 \r\nhello\r\n0\r\n\r\n"); }
TEST(BodyDecoder, RejectsWhitespaceBeforeExtension) { expectChunkedError("5 ;a=b\r\nhello\r\n0\r\n\r\n"); }
TEST(BodyDecoder, RejectsSeventeenHexDigits) { expectChunkedError("00000000000000005\r\nhello\r\n0\r\n\r\n"); }
TEST(BodyDecoder, RejectsBareLfAfterChunkSize) { expectChunkedError("5\nhello\r\n0\r\n\r\n"); }
TEST(BodyDecoder, RejectsBareCrAfterChunkSize) { expectChunkedError("5\rhello\r\n0\r\n\r\n"); }
TEST(BodyDecoder, RejectsDataLongerThanChunkSize) { expectChunkedError("5\r\nhello!\r\n0\r\n\r\n"); }
TEST(BodyDecoder, RejectsBareLfAfterChunkData) { expectChunkedError("5\r\nhello\n0\r\n\r\n"); }
TEST(BodyDecoder, RejectsCrWithoutLfAfterChunkData) { expectChunkedError("5\r\nhello\rX0\r\n\r\n"); }
TEST(BodyDecoder, RejectsControlCharacterInExtension) { expectChunkedError("5;a\x01\r\nhello\r\n0\r\n\r\n"); }
TEST(BodyDecoder, RejectsBareLfInExtension) { expectChunkedError("5;a\nb\r\nhello\r\n0\r\n\r\n"); }
TEST(BodyDecoder, RejectsNulInTrailer) {
  using namespace std::string_view_literals;
  expectChunkedError("0\r\nX: a\x00\r\n\r\n"sv);
}
TEST(BodyDecoder, RejectsDelInTrailer) { expectChunkedError("0\r\nX: a\x7f\r\n\r\n"); }
TEST(BodyDecoder, RejectsBareLfInTrailer) { expectChunkedError("0\r\nX: a\n\r\n"); }
TEST(BodyDecoder, RejectsBareLfEndingTrailers) { expectChunkedError("0\r\n\n"); }

TEST(BodyDecoder, RejectsChunkSizeLineOver4KiB) {
  std::string ext(4100, 'e');
  Decoded d = decodePieces(Framing::Chunked, 0, {"5;" + ext + "\r\nhello\r\n0\r\n\r\n"});
  EXPECT_TRUE(d.error);
}

TEST(BodyDecoder, AcceptsChunkSizeLineJustUnder4KiB) {
  std::string ext(4000, 'e');
  Decoded d = decodePieces(Framing::Chunked, 0, {"5;" + ext + "\r\nhello\r\n0\r\n\r\n"});
  EXPECT_TRUE(d.done);
  EXPECT_EQ(d.body, "hello");
}

TEST(BodyDecoder, RejectsTrailerSectionOver8KiB) {
  std::string trailers;
  for (int i = 0; i < 100; ++i) trailers += "X-Trailer: " + std::string(80, 'v') + "\r\n";
  Decoded d = decodePieces(Framing::Chunked, 0, {"0\r\n" + trailers + "\r\n"});
  EXPECT_TRUE(d.error);
}

TEST(BodyDecoder, AcceptsTrailerSectionUnder8KiB) {
  std::string trailers;
  for (int i = 0; i < 80; ++i) trailers += "X-Trailer: " + std::string(80, 'v') + "\r\n";
  Decoded d = decodePieces(Framing::Chunked, 0, {"0\r\n" + trailers + "\r\n"});
  EXPECT_TRUE(d.done);
}

TEST(BodyDecoder, ErrorIsSticky) {
  BodyDecoder d;
  d.start(Framing::Chunked, 0);
  EXPECT_TRUE(d.decode("zz\r\n").error);
  DecodeStep again = d.decode("0\r\n\r\n");
  EXPECT_TRUE(again.error);
  EXPECT_EQ(again.consumed, 0u);
  EXPECT_FALSE(d.done());
}

// --- Encoder --------------------------------------------------------------------------------

TEST(ChunkedEncoder, AppendsLowercaseHexSizeAndCrlf) {
  base::Buffer out;
  std::string data(255, 'x');
  appendChunk(out, data);
  EXPECT_EQ(out.view(), "ff\r\n" + data + "\r\n");
}

TEST(ChunkedEncoder, AppendsNothingForEmptyData) {
  base::Buffer out;
  appendChunk(out, "");
  EXPECT_TRUE(out.empty());
}

TEST(ChunkedEncoder, AppendsLastChunk) {
  base::Buffer out;
  appendLastChunk(out);
  EXPECT_EQ(out.view(), "0\r\n\r\n");
}

TEST(ChunkedEncoder, RoundTripsThroughTheDecoder) {
  std::string expected;
  base::Buffer out;
  for (size_t size : {1u, 9u, 10u, 15u, 16u, 17u, 255u, 256u, 4096u, 70000u}) {
    std::string piece(size, static_cast<char>('a' + size % 26));
    expected += piece;
    appendChunk(out, piece);
  }
  appendLastChunk(out);
  Decoded d = decodePieces(Framing::Chunked, 0, {out.view()});
  EXPECT_TRUE(d.done);
  EXPECT_FALSE(d.error);
  EXPECT_EQ(d.body, expected);
  EXPECT_EQ(d.leftover, "");
}

}  // namespace
}  // namespace portcullis::http
