#include "harness/headless_chromium.h"

#include <openssl/base64.h>
#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <unistd.h>

#include <cstdlib>
#include <sstream>

namespace portcullis::integration {

std::string chromiumUnavailableReason() {
  if (access(kChromiumPath, X_OK) == 0) return "";
  return std::string(kChromiumPath) +
         " is not installed (Debian package `chromium`; scripts/install-deps.sh installs it): "
         "skipping the browser tests";
}

std::string chromiumVersion() {
  CommandResult r;
  if (!runCommand({kChromiumPath, "--version"}, &r, milliseconds(10000)) || r.exit_code != 0) return "";
  std::string v = r.stdout_text;
  while (!v.empty() && (v.back() == '\n' || v.back() == '\r' || v.back() == ' ')) v.pop_back();
  return v;
}

std::string spkiSha256Base64(const std::string& pem_path, std::string* error) {
  BIO* bio = BIO_new_file(pem_path.c_str(), "r");
  if (!bio) {
    *error = "cannot open " + pem_path;
    return "";
  }
  X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  if (!cert) {
    *error = "no PEM certificate in " + pem_path;
    return "";
  }
  uint8_t* der = nullptr;
  int len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &der);
  X509_free(cert);
  if (len <= 0) {
    *error = "cannot encode the SubjectPublicKeyInfo of " + pem_path;
    return "";
  }
  uint8_t digest[SHA256_DIGEST_LENGTH];
  SHA256(der, static_cast<size_t>(len), digest);
  OPENSSL_free(der);
  std::string out(4 * ((sizeof(digest) + 2) / 3) + 1, '\0');
  size_t n = EVP_EncodeBlock(reinterpret_cast<uint8_t*>(out.data()), digest, sizeof(digest));
  out.resize(n);
  return out;
}

::testing::AssertionResult dumpDom(const ChromiumOptions& options, ChromiumRun* out) {
  *out = ChromiumRun{};
  TempDir profile;
  const auto secs = [](milliseconds ms) { return std::to_string((ms.count() + 999) / 1000); };
  std::vector<std::string> argv = {
      "/usr/bin/timeout", "-k", "3", secs(options.timeout), kChromiumPath,
      "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
      "--user-data-dir=" + profile.path(),
      "--no-first-run", "--no-default-browser-check", "--disable-background-networking",
      "--disable-component-update", "--disable-sync", "--disable-extensions", "--disable-default-apps",
      "--disable-domain-reliability", "--disable-client-side-phishing-detection",
      "--metrics-recording-only", "--mute-audio", "--password-store=basic", "--use-mock-keychain",
      // No name resolves (only loopback is ever contacted); the URL's 127.0.0.1 is let through.
      "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
      "--virtual-time-budget=" + std::to_string(options.virtual_time_budget.count())};
  if (!options.trusted_spki.empty()) {
    std::string list;
    for (const auto& h : options.trusted_spki) list += (list.empty() ? "" : ",") + h;
    argv.push_back("--ignore-certificate-errors-spki-list=" + list);
  }
  for (const auto& f : options.extra_flags) argv.push_back(f);
  // For debugging a failure by hand, e.g. PORTCULLIS_CHROMIUM_FLAGS="--log-net-log=/tmp/net.json"
  // (space-separated).
  if (const char* env = std::getenv("PORTCULLIS_CHROMIUM_FLAGS")) {
    std::istringstream flags(env);
    for (std::string f; flags >> f;) argv.push_back(f);
  }
  argv.push_back("--dump-dom");
  argv.push_back(options.url);

  CommandResult r;
  const auto start = Clock::now();
  // timeout(1) kills the group at options.timeout (+3 s for SIGKILL); runCommand's own deadline
  // is later, so it only fires if timeout(1) itself hangs.
  auto ran = runCommand(argv, &r, options.timeout + milliseconds(10000));
  out->elapsed = std::chrono::duration_cast<milliseconds>(Clock::now() - start);
  out->dom = r.stdout_text;
  // Without a D-Bus (containers, CI) Chromium logs a dozen lines about it: drop them.
  std::istringstream lines(r.stderr_text);
  for (std::string line; std::getline(lines, line);) {
    if (line.find("dbus") == std::string::npos) out->log += line + "\n";
  }
  out->exit_code = r.exit_code;
  out->term_signal = r.term_signal;
  if (!ran) return ran;
  if (r.exit_code == 124 || r.exit_code == 137) {
    return ::testing::AssertionFailure() << "chromium did not finish within " << options.timeout.count()
                                         << " ms and was killed; stderr:\n" << out->log;
  }
  return ::testing::AssertionSuccess();
}

}  // namespace portcullis::integration
