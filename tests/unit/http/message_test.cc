// Specs for the small helpers shared by every layer that reads heads.
#include <gtest/gtest.h>

#include "http/message.h"

namespace portcullis::http {
namespace {

TEST(Iequals, IgnoresAsciiCase) {
  EXPECT_TRUE(iequals("Content-Length", "content-length"));
  EXPECT_TRUE(iequals("CHUNKED", "chunked"));
  EXPECT_TRUE(iequals("", ""));
}

TEST(Iequals, RejectsDifferentLengthOrLetters) {
  EXPECT_FALSE(iequals("chunked", "chunked "));
  EXPECT_FALSE(iequals("close", "clos"));
  EXPECT_FALSE(iequals("host", "hosu"));
}

TEST(Iequals, DoesNotFoldNonLetters) {
  // '@' (0x40) and '`' (0x60) differ by the case bit but are not letters.
  EXPECT_FALSE(iequals("@", "`"));
  EXPECT_FALSE(iequals("[", "{"));
  EXPECT_FALSE(iequals("\xc9", "\xe9"));  // Latin-1 É/é: ASCII folding only
}

TEST(ListContains, FindsTokenAnywhereInTheList) {
  EXPECT_TRUE(listContains("close", "close"));
  EXPECT_TRUE(listContains("keep-alive, close", "close"));
  EXPECT_TRUE(listContains("close, upgrade", "close"));
}

TEST(ListContains, TrimsOwsAndIgnoresCase) {
  EXPECT_TRUE(listContains(" \tUpgrade ,\t Close \t", "close"));
}

TEST(ListContains, IgnoresEmptyElements) {
  EXPECT_TRUE(listContains(",,close,,", "close"));
  EXPECT_FALSE(listContains(", ,", ""));
}

TEST(ListContains, MatchesWholeElementsOnly) {
  EXPECT_FALSE(listContains("closed", "close"));
  EXPECT_FALSE(listContains("keep-alive-ish, x-close", "close"));
  EXPECT_FALSE(listContains("", "close"));
}

TEST(RequestHead, ClearResetsFieldsAndKeepsHeaderCapacity) {
  RequestHead h;
  h.method_text = "POST";
  h.method = Method::Post;
  h.target = "/x?y";
  h.path = "/x";
  h.query = "y";
  h.has_query = true;
  h.version_minor = 0;
  h.headers.resize(10);
  h.host = "a";
  h.framing = Framing::Chunked;
  h.content_length = 5;
  h.keep_alive = false;
  h.expect_continue = true;
  h.head_bytes = 99;
  size_t capacity = h.headers.capacity();
  h.clear();
  EXPECT_TRUE(h.method_text.empty());
  EXPECT_EQ(h.method, Method::Other);
  EXPECT_TRUE(h.target.empty());
  EXPECT_TRUE(h.path.empty());
  EXPECT_TRUE(h.query.empty());
  EXPECT_FALSE(h.has_query);
  EXPECT_EQ(h.version_minor, 1);
  EXPECT_TRUE(h.headers.empty());
  EXPECT_EQ(h.headers.capacity(), capacity);
  EXPECT_TRUE(h.host.empty());
  EXPECT_EQ(h.framing, Framing::None);
  EXPECT_EQ(h.content_length, 0u);
  EXPECT_TRUE(h.keep_alive);
  EXPECT_FALSE(h.expect_continue);
  EXPECT_EQ(h.head_bytes, 0u);
}

TEST(ResponseHead, ClearResetsFieldsAndKeepsHeaderCapacity) {
  ResponseHead h;
  h.status = 404;
  h.reason = "Not Found";
  h.version_minor = 0;
  h.headers.resize(10);
  h.framing = Framing::UntilClose;
  h.content_length = 5;
  h.keep_alive = false;
  h.head_bytes = 99;
  size_t capacity = h.headers.capacity();
  h.clear();
  EXPECT_EQ(h.status, 0);
  EXPECT_TRUE(h.reason.empty());
  EXPECT_EQ(h.version_minor, 1);
  EXPECT_TRUE(h.headers.empty());
  EXPECT_EQ(h.headers.capacity(), capacity);
  EXPECT_EQ(h.framing, Framing::None);
  EXPECT_EQ(h.content_length, 0u);
  EXPECT_TRUE(h.keep_alive);
  EXPECT_EQ(h.head_bytes, 0u);
}

}  // namespace
}  // namespace portcullis::http
