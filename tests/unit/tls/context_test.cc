// Context::forServer: what loads, and the message an operator gets for each way it can fail.
#include "tls/context.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/err.h>

#include <filesystem>

#include "tls_test_util.h"

namespace portcullis::tls {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;
using testing::TempCert;

base::Result<std::shared_ptr<const Context>> load(const std::string& cert, const std::string& key) {
  return Context::forServer(ServerOptions{cert, key});
}

TEST(TlsContext, LoadsGeneratedDevCertificate) {
  TempCert c;
  auto ctx = load(c.cert(), c.key());
  ASSERT_TRUE(ctx.ok()) << ctx.error().message;
  ASSERT_NE(*ctx, nullptr);
  EXPECT_NE((*ctx)->native(), nullptr);
}

TEST(TlsContext, MissingCertificateFileNamesFileAndReason) {
  TempCert c;
  std::string missing = (c.dir() / "nope.pem").string();
  auto ctx = load(missing, c.key());
  ASSERT_FALSE(ctx.ok());
  EXPECT_EQ(ctx.error().message, "cannot read certificate " + missing + ": No such file or directory");
}

TEST(TlsContext, MissingKeyFileNamesFileAndReason) {
  TempCert c;
  std::string missing = (c.dir() / "nope-key.pem").string();
  auto ctx = load(c.cert(), missing);
  ASSERT_FALSE(ctx.ok());
  EXPECT_EQ(ctx.error().message, "cannot read key " + missing + ": No such file or directory");
}

TEST(TlsContext, KeyOfAnotherCertificateIsRefused) {
  TempCert a;
  TempCert b;
  auto ctx = load(a.cert(), b.key());
  ASSERT_FALSE(ctx.ok());
  EXPECT_EQ(ctx.error().message, "key " + b.key() + " does not match certificate " + a.cert());
}

TEST(TlsContext, GarbagePemCertificateIsRefused) {
  TempCert c;
  std::string bad = c.write("garbage.pem",
                            "-----BEGIN CERTIFICATE-----\nthis is not base64 !!!\n"
                            "-----END CERTIFICATE-----\n");
  auto ctx = load(bad, c.key());
  ASSERT_FALSE(ctx.ok());
  EXPECT_THAT(ctx.error().message, StartsWith("cannot read certificate " + bad + ": "));
}

TEST(TlsContext, FileWithoutCertificateIsRefused) {
  TempCert c;
  // A key where the certificate belongs: readable PEM, but no CERTIFICATE block.
  auto ctx = load(c.key(), c.key());
  ASSERT_FALSE(ctx.ok());
  EXPECT_THAT(ctx.error().message, StartsWith("cannot read certificate " + c.key() + ": "));
  EXPECT_THAT(ctx.error().message, HasSubstr("NO_START_LINE"));
}

TEST(TlsContext, GarbageKeyIsRefused) {
  TempCert c;
  std::string bad = c.write("garbage-key.pem", "not a key at all\n");
  auto ctx = load(c.cert(), bad);
  ASSERT_FALSE(ctx.ok());
  EXPECT_THAT(ctx.error().message, StartsWith("cannot read key " + bad + ": "));
}

TEST(TlsContext, EmptyPathsAreRefused) {
  EXPECT_EQ(load("", "k").error().message, "no certificate file configured");
  EXPECT_EQ(load("c", "").error().message, "no key file configured");
}

// The ERR queue is per thread: a worker that left an error behind would report it later on an
// unrelated connection.
TEST(TlsContext, FailureLeavesErrorQueueEmpty) {
  TempCert a;
  TempCert b;
  ASSERT_FALSE(load((a.dir() / "nope.pem").string(), a.key()).ok());
  EXPECT_EQ(ERR_peek_error(), 0u);
  ASSERT_FALSE(load(a.cert(), b.key()).ok());
  EXPECT_EQ(ERR_peek_error(), 0u);
  ASSERT_FALSE(load(a.key(), a.key()).ok());
  EXPECT_EQ(ERR_peek_error(), 0u);
}

TEST(DevCertScript, KeepsExistingPairAndForceRegenerates) {
  TempCert c;
  auto readAll = [](const std::string& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  std::string before = readAll(c.cert());
  ASSERT_FALSE(before.empty());
  auto perms = std::filesystem::status(c.key()).permissions();
  EXPECT_EQ(perms & std::filesystem::perms::all,
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);

  std::string script = std::string(PORTCULLIS_SOURCE_DIR) + "/scripts/gen-dev-cert.sh";
  ASSERT_EQ(std::system(("'" + script + "' '" + c.dir().string() + "' >/dev/null").c_str()), 0);
  EXPECT_EQ(readAll(c.cert()), before);
  ASSERT_EQ(
      std::system(("'" + script + "' --force '" + c.dir().string() + "' >/dev/null").c_str()), 0);
  EXPECT_NE(readAll(c.cert()), before);
  EXPECT_TRUE(load(c.cert(), c.key()).ok());
}

}  // namespace
}  // namespace portcullis::tls
