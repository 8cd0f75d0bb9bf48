// A real browser through the real binary: headless Chromium (Debian 12's `chromium`) loads a
// page with 60 subresources (20 SVG images, 20 stylesheets, 20 scripts, each a distinct URL,
// every fourth one 100 KB) from a FakeUpstream behind the proxy's TLS listener.
//
// The page records, once its load event fires, how many elements fired `load` and how many
// `error`, how many scripts ran to their last statement, the navigation's nextHopProtocol, and per
// resource its path, nextHopProtocol, decodedBodySize and responseStatus
// (performance.getEntriesByType). Chromium prints the DOM (--dump-dom) and the test reads that
// report back, then checks the other side too: the upstream got each asset once with
// X-Forwarded-Proto https, the access log has every asset with the expected protocol, and
// /metrics counts the client connections per ALPN protocol.
//
// Suites:
//   BrowserHttp2      the default listener (ALPN h2, http/1.1): everything over h2, on one or two
//                     TLS connections
//   BrowserHttp11     a listener with `protocols: [http/1.1]`: the same page over http/1.1
//
// The certificate is the self-signed dev certificate; Chromium trusts exactly it through
// --ignore-certificate-errors-spki-list (its SPKI hash), not through --ignore-certificate-errors.
// The tests skip when /usr/bin/chromium is missing (scripts/install-deps.sh installs it).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <set>
#include <sstream>

#include "harness/harness.h"
#include "harness/headless_chromium.h"
#include "harness/observability.h"

namespace portcullis::integration {
namespace {

using namespace std::chrono_literals;

constexpr int kPerKind = 20;  // images, stylesheets and scripts each
constexpr size_t kAssets = 3 * kPerKind;
constexpr size_t kBigAsset = 100 * 1024;

struct Asset {
  std::string content_type;
  std::string body;
};

// Filler for a comment: lowercase letters and newlines (never "--", "*/", "<", "&").
std::string filler(size_t n, uint32_t seed) {
  std::string s;
  s.reserve(n);
  uint32_t x = seed * 2654435761u + 1;
  while (s.size() < n) {
    x = x * 1664525u + 1013904223u;
    s.push_back(s.size() % 80 == 79 ? '\n' : static_cast<char>('a' + (x >> 24) % 26));
  }
  return s;
}

// Each asset's meaningful part comes after the filler, so a truncated or corrupted body breaks
// it: an SVG without its closing tag fails to decode (the image's `error`), a script cut inside
// its comment is a syntax error (its counter never runs), and decodedBodySize is checked anyway.
std::map<std::string, Asset> makeAssets() {
  std::map<std::string, Asset> assets;
  char name[64];
  for (int i = 0; i < kPerKind; ++i) {
    for (int kind = 0; kind < 3; ++kind) {
      const int n = kind * kPerKind + i;
      const size_t size = (n % 4 == 0) ? kBigAsset : 1024 + 317 * static_cast<size_t>(n);
      Asset a;
      if (kind == 0) {
        std::snprintf(name, sizeof(name), "/assets/img-%02d.svg", i);
        a.content_type = "image/svg+xml";
        const std::string head = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"4\" height=\"4\"><!--\n";
        const std::string tail = "\n--><rect width=\"4\" height=\"4\" fill=\"#" + std::to_string(100000 + n * 7) +
                                 "\"/></svg>\n";
        a.body = head + filler(size - head.size() - tail.size(), n) + tail;
      } else if (kind == 1) {
        std::snprintf(name, sizeof(name), "/assets/style-%02d.css", i);
        a.content_type = "text/css; charset=utf-8";
        const std::string head = "/*\n";
        const std::string tail = "\n*/\n.probe-" + std::to_string(i) + " { width: " + std::to_string(i + 1) + "px; }\n";
        a.body = head + filler(size - head.size() - tail.size(), n) + tail;
      } else {
        std::snprintf(name, sizeof(name), "/assets/script-%02d.js", i);
        a.content_type = "text/javascript; charset=utf-8";
        const std::string head = "/*\n";
        const std::string tail = "\n*/\nwindow.__js = (window.__js || 0) + 1;\n";
        a.body = head + filler(size - head.size() - tail.size(), n) + tail;
      }
      assets[name] = std::move(a);
    }
  }
  return assets;
}

std::string makePage(const std::map<std::string, Asset>& assets) {
  std::ostringstream p;
  p << "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>many assets</title>\n"
    << "<script>window.__ok = []; window.__bad = [];\n"
    << "function ok(e) { __ok.push(e.getAttribute('src') || e.getAttribute('href')); }\n"
    << "function bad(e) { __bad.push(e.getAttribute('src') || e.getAttribute('href')); }</script>\n";
  for (const auto& [path, a] : assets) {
    if (path.ends_with(".css")) p << "<link rel=\"stylesheet\" href=\"" << path << "\" onload=\"ok(this)\" onerror=\"bad(this)\">\n";
  }
  p << "</head><body>\n";
  for (const auto& [path, a] : assets) {
    if (path.ends_with(".svg")) p << "<img src=\"" << path << "\" width=\"4\" height=\"4\" alt=\"\" onload=\"ok(this)\" onerror=\"bad(this)\">\n";
  }
  for (const auto& [path, a] : assets) {
    if (path.ends_with(".js")) p << "<script defer src=\"" << path << "\" onload=\"ok(this)\" onerror=\"bad(this)\"></script>\n";
  }
  p << "<pre id=\"result\">pending</pre>\n"
    << "<script>\n"
    << "addEventListener('load', () => {\n"
    << "  const nav = performance.getEntriesByType('navigation')[0];\n"
    << "  const lines = ['BEGIN-RESULT', 'ok ' + __ok.length, 'bad ' + __bad.length + ' ' + __bad.join(' '),\n"
    << "                 'js ' + (window.__js || 0), 'nav ' + (nav.nextHopProtocol || '-')];\n"
    << "  for (const e of performance.getEntriesByType('resource')) {\n"
    << "    lines.push('res ' + new URL(e.name).pathname + ' ' + (e.nextHopProtocol || '-') + ' ' +\n"
    << "               e.decodedBodySize + ' ' + e.responseStatus);\n"
    << "  }\n"
    << "  lines.push('END-RESULT');\n"
    << "  document.getElementById('result').textContent = lines.join('\\n');\n"
    << "});\n"
    << "</script>\n</body></html>\n";
  return p.str();
}

// What the page reported, parsed from the dumped DOM.
struct PageReport {
  bool found = false;
  size_t ok = 0;
  size_t bad = 0;
  std::string bad_list;
  size_t scripts_run = 0;
  std::string nav_protocol;
  struct Resource {
    std::string protocol;
    size_t decoded_size = 0;
    int status = 0;
  };
  std::multimap<std::string, Resource> resources;  // by path
};

PageReport parseReport(const std::string& dom) {
  PageReport r;
  const size_t begin = dom.find("BEGIN-RESULT");
  const size_t end = dom.find("END-RESULT", begin == std::string::npos ? 0 : begin);
  if (begin == std::string::npos || end == std::string::npos) return r;
  r.found = true;
  std::istringstream in(dom.substr(begin, end - begin));
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream l(line);
    std::string tag;
    l >> tag;
    if (tag == "ok") {
      l >> r.ok;
    } else if (tag == "bad") {
      l >> r.bad;
      std::getline(l, r.bad_list);
    } else if (tag == "js") {
      l >> r.scripts_run;
    } else if (tag == "nav") {
      l >> r.nav_protocol;
    } else if (tag == "res") {
      std::string path;
      PageReport::Resource res;
      l >> path >> res.protocol >> res.decoded_size >> res.status;
      r.resources.emplace(path, res);
    }
  }
  return r;
}

class BrowserFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    if (std::string why = chromiumUnavailableReason(); !why.empty()) GTEST_SKIP() << why;
    static const std::string version = chromiumVersion();
    RecordProperty("chromium_version", version);
    std::cout << "[ browser  ] " << (version.empty() ? "chromium (version unknown)" : version) << "\n";

    assets_ = makeAssets();
    page_ = makePage(assets_);
    app_.setResponder([this](const RecordedRequest& rr) {
      Reply reply;
      std::string path = rr.request.target.substr(0, rr.request.target.find('?'));
      if (path == "/") {
        reply.headers = {{"Content-Type", "text/html; charset=utf-8"}, {"Cache-Control", "no-store"}};
        reply.body = page_;
      } else if (auto it = assets_.find(path); it != assets_.end()) {
        reply.headers = {{"Content-Type", it->second.content_type}, {"Cache-Control", "no-store"}};
        reply.body = it->second.body;
      } else {
        reply.status = 404;
        reply.headers = {{"Content-Type", "text/plain"}};
        reply.body = "not found\n";
      }
      return reply;
    });

    std::string error;
    spki_ = spkiSha256Base64(devCert().certificate, &error);
    ASSERT_FALSE(spki_.empty()) << error;
  }

  ::testing::AssertionResult startProxy(std::vector<std::string> https_extra) {
    ProxyConfig config = ProxyConfig::singleUpstream({app_.address()});
    config.https_extra = std::move(https_extra);
    config.top_extra = {"access_log: {path: " + log_ + ", format: json}", "admin: {address: \"127.0.0.1:0\"}"};
    return proxy_.start(config);
  }

  // Loads https://127.0.0.1:PORT/ in Chromium and returns the page's report.
  PageReport load(ChromiumRun* run) {
    ChromiumOptions o;
    o.url = "https://127.0.0.1:" + std::to_string(proxy_.httpsPort()) + "/";
    o.trusted_spki = {spki_};
    auto ran = dumpDom(o, run);
    EXPECT_TRUE(ran);
    std::cout << "[ browser  ] chromium ran " << run->elapsed.count() << " ms\n";
    PageReport r = parseReport(run->dom);
    EXPECT_TRUE(r.found) << "the page wrote no report; exit " << run->exit_code << ", DOM:\n"
                         << run->dom.substr(0, 2000) << "\nstderr:\n" << run->log.substr(0, 4000);
    return r;
  }

  // Every asset loaded, in full, over `protocol` (ALPN id as Resource Timing reports it).
  void expectPageLoaded(const PageReport& r, const std::string& protocol) {
    EXPECT_EQ(r.ok, kAssets) << "elements that fired load";
    EXPECT_EQ(r.bad, 0u) << "elements that fired error:" << r.bad_list;
    EXPECT_EQ(r.scripts_run, static_cast<size_t>(kPerKind)) << "scripts that ran to their last line";
    EXPECT_EQ(r.nav_protocol, protocol) << "the page's nextHopProtocol";
    size_t asset_entries = 0;
    std::map<std::string, size_t> protocols;  // nextHopProtocol -> assets fetched over it
    for (const auto& [path, res] : r.resources) {
      if (!path.starts_with("/assets/")) continue;
      ++asset_entries;
      ++protocols[res.protocol];
      EXPECT_EQ(res.status, 200) << path;
      auto it = assets_.find(path);
      ASSERT_NE(it, assets_.end()) << "a resource the page never asked for: " << path;
      EXPECT_EQ(res.decoded_size, it->second.body.size()) << path;
    }
    EXPECT_EQ(asset_entries, kAssets) << "resource timing entries for /assets/";
    std::string tally;
    for (const auto& [p, n] : protocols) tally += " " + p + " x" + std::to_string(n);
    EXPECT_EQ(protocols[protocol], kAssets) << "assets fetched over " << protocol << "; nextHopProtocol tally:" << tally;
    for (const auto& [path, a] : assets_) {
      EXPECT_EQ(r.resources.count(path), 1u) << "resource timing entries for " << path;
    }
  }

  // The upstream saw the page and each asset exactly once, as HTTP/1.1 with X-Forwarded-Proto https.
  void expectUpstreamSawEverything() {
    std::map<std::string, int> seen;
    for (const auto& rr : app_.requests()) {
      const Request& req = rr.request;
      std::string path = req.target.substr(0, req.target.find('?'));
      if (path != "/" && !path.starts_with("/assets/")) continue;  // e.g. /favicon.ico
      ++seen[path];
      EXPECT_EQ(req.method, "GET") << path;
      EXPECT_EQ(req.version, "HTTP/1.1") << path;
      EXPECT_EQ(req.headers.get("X-Forwarded-Proto").value_or("(none)"), "https") << path;
      EXPECT_EQ(req.headers.get("Host").value_or("(none)"), "127.0.0.1:" + std::to_string(proxy_.httpsPort()))
          << path;
    }
    EXPECT_EQ(seen["/"], 1) << "requests for the page";
    for (const auto& [path, a] : assets_) EXPECT_EQ(seen[path], 1) << "upstream requests for " << path;
    EXPECT_TRUE(app_.protocolErrors().empty()) << app_.protocolErrors().front();
  }

  // The access log has the page and every asset, 200, with `protocol` ("HTTP/2.0", "HTTP/1.1").
  void expectAccessLog(const std::vector<std::string>& protocols) {
    std::vector<std::string> lines;
    ASSERT_TRUE(waitForLines(log_, kAssets + 1, &lines));
    std::vector<JsonFields> recs;
    ASSERT_TRUE(parseJsonLines(log_, &recs));
    std::set<std::string> logged;
    for (auto& f : recs) {
      const std::string path = f["path"];
      if (path != "\"/\"" && !path.starts_with("\"/assets/")) continue;
      logged.insert(path.substr(1, path.size() - 2));
      bool protocol_ok = false;
      for (const auto& p : protocols) protocol_ok = protocol_ok || f["protocol"] == "\"" + p + "\"";
      EXPECT_TRUE(protocol_ok) << path << " logged with protocol " << f["protocol"];
      EXPECT_EQ(f["status"], "200") << path;
      EXPECT_EQ(f["method"], "\"GET\"") << path;
    }
    EXPECT_EQ(logged.size(), kAssets + 1) << "distinct paths (page and assets) in the access log";
  }

  double acceptedConnections(const std::string& protocol) {
    MetricSamples m;
    const std::string key = "portcullis_connections_accepted_total|listener=https,protocol=" + protocol;
    EXPECT_TRUE(scrapeMetrics(proxy_, &m));
    return std::max(0.0, sampleAt(m, key));
  }

  std::map<std::string, Asset> assets_;
  std::string page_;
  std::string spki_;
  FakeUpstream app_{"app"};
  TempDir dir_;
  const std::string log_ = dir_.path() + "/access.log";
  ProxyProcess proxy_;
};

// ---------------------------------------------------------------------------------------------

class BrowserHttp2 : public BrowserFixture {};

TEST_F(BrowserHttp2, PageWithSixtyAssetsLoadsOverH2OnFewConnections) {
  ASSERT_TRUE(startProxy({}));
  ChromiumRun run;
  PageReport r = load(&run);
  ASSERT_TRUE(r.found);
  expectPageLoaded(r, "h2");
  expectUpstreamSawEverything();
  expectAccessLog({"HTTP/2.0", "HTTP/2"});

  // One connection carries every stream. Chromium sometimes starts a second TLS connect while
  // the first handshake is still running (its net log then shows two SSL connect jobs and one
  // HTTP2 session), so two are allowed; HTTP/1.1 takes six.
  const double h2 = acceptedConnections("h2");
  const double h1 = acceptedConnections("http/1.1");
  std::cout << "[ browser  ] TLS connections accepted: h2 " << h2 << ", http/1.1 " << h1
            << "; upstream connections " << app_.acceptedConnections() << ", at most "
            << app_.maxConcurrentRequests() << " requests at once\n";
  EXPECT_GE(h2, 1);
  EXPECT_LE(h2, 2) << "Chromium opened more than two h2 connections for one origin";
  EXPECT_EQ(h1, 0) << "connections that negotiated http/1.1";
}

class BrowserHttp11 : public BrowserFixture {};

// `protocols: [http/1.1]`: ALPN does not offer h2, so Chromium falls back to HTTP/1.1 and opens
// its usual handful of connections to the origin.
TEST_F(BrowserHttp11, SamePageLoadsOverHttp11WhenTheListenerOffersOnlyHttp11) {
  ASSERT_TRUE(startProxy({"protocols: [http/1.1]"}));
  ChromiumRun run;
  PageReport r = load(&run);
  ASSERT_TRUE(r.found);
  expectPageLoaded(r, "http/1.1");
  expectUpstreamSawEverything();
  expectAccessLog({"HTTP/1.1"});

  const double h2 = acceptedConnections("h2");
  const double h1 = acceptedConnections("http/1.1");
  std::cout << "[ browser  ] TLS connections accepted: h2 " << h2 << ", http/1.1 " << h1
            << "; upstream connections " << app_.acceptedConnections() << ", at most "
            << app_.maxConcurrentRequests() << " requests at once\n";
  EXPECT_EQ(h2, 0);
  EXPECT_GE(h1, 1);
  EXPECT_LE(h1, 8) << "Chromium keeps at most 6 HTTP/1.1 connections per origin (+ preconnects)";
}

}  // namespace
}  // namespace portcullis::integration
