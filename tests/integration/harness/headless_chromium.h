#pragma once
// Headless Chromium (Debian 12's `chromium` package, /usr/bin/chromium) as a one-shot client:
// load one URL, run its scripts until the page is quiet, print the DOM (--dump-dom) and exit.
//
// Every run gets a fresh profile in a temp dir (no cache, no earlier connections), no sandbox
// (tests run as root), no GPU, no background networking, and a host resolver that resolves no
// name at all (127.0.0.1 excepted), so the only traffic is to the URL's loopback address. The run is
// bounded by /usr/bin/timeout, which puts Chromium in its own process group and kills the whole
// group (browser, zygote, renderers) at the deadline.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "harness/test_util.h"

namespace portcullis::integration {

inline constexpr const char* kChromiumPath = "/usr/bin/chromium";

// Empty when /usr/bin/chromium exists; otherwise why the browser tests skip.
std::string chromiumUnavailableReason();
// "Chromium 156.0.8078.114 built on Debian ..." (--version); empty on failure.
std::string chromiumVersion();

// base64(SHA-256(SubjectPublicKeyInfo)) of the first certificate in a PEM file: what
// --ignore-certificate-errors-spki-list takes. Empty (and *error set) on failure.
std::string spkiSha256Base64(const std::string& pem_path, std::string* error);

struct ChromiumRun {
  std::string dom;     // stdout: the serialized DOM
  std::string log;     // stderr
  int exit_code = -1;
  int term_signal = 0;
  milliseconds elapsed{0};
};

struct ChromiumOptions {
  std::string url;
  // SPKI hashes whose certificates Chromium accepts without a trusted chain.
  std::vector<std::string> trusted_spki;
  milliseconds virtual_time_budget{10000};  // virtual: passes only while nothing is loading
  milliseconds timeout{25000};              // wall clock, then the process group is killed
  std::vector<std::string> extra_flags;
};

// Runs `chromium --headless=new ... --dump-dom <url>`; fails if it could not start or outlived
// the deadline.
::testing::AssertionResult dumpDom(const ChromiumOptions& options, ChromiumRun* out);

}  // namespace portcullis::integration
