#include "harness/observability.h"

#include <fstream>
#include <sstream>

#include "harness/raw_client.h"

namespace portcullis::integration {

std::vector<std::string> linesOf(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

::testing::AssertionResult waitForLines(const std::string& path, size_t n, std::vector<std::string>* out,
                                        milliseconds timeout) {
  bool ok = pollUntil([&] { return linesOf(readFile(path)).size() >= n; }, timeout);
  *out = linesOf(readFile(path));
  if (ok) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << path << ": " << out->size() << " lines after " << timeout.count()
                                       << " ms, expected " << n << ":\n"
                                       << readFile(path);
}

::testing::AssertionResult parseJsonLines(const std::string& path, std::vector<JsonFields>* out) {
  TempDir tmp;
  std::string script = tmp.writeFile("flatten.py", R"(
import json, sys
for raw in open(sys.argv[1], 'rb'):
    obj = json.loads(raw.decode('utf-8'))
    print('\x1f'.join(k + '=' + json.dumps(v) for k, v in obj.items()))
)");
  CommandResult r;
  auto ran = runCommand({"/usr/bin/env", "python3", script, path}, &r);
  if (!ran) return ran;
  if (r.exit_code != 0) {
    return ::testing::AssertionFailure() << "not valid JSON lines:\n" << r.stderr_text << "\n" << readFile(path);
  }
  out->clear();
  for (const std::string& line : linesOf(r.stdout_text)) {
    JsonFields f;
    size_t start = 0;
    while (start <= line.size()) {
      size_t end = line.find('\x1f', start);
      if (end == std::string::npos) end = line.size();
      std::string kv = line.substr(start, end - start);
      size_t eq = kv.find('=');
      if (eq != std::string::npos) f[kv.substr(0, eq)] = kv.substr(eq + 1);
      start = end + 1;
    }
    out->push_back(std::move(f));
  }
  return ::testing::AssertionSuccess();
}

double sampleAt(const MetricSamples& s, const std::string& key) {
  auto it = s.find(key);
  return it == s.end() ? -1 : it->second;
}

namespace {
// Prints every sample as "name|k=v,k=v|value" with labels sorted, so a test reads the numbers
// as Prometheus's parser understood them, not as the test would guess from the text.
constexpr const char* kParser = R"(
import sys
from prometheus_client.parser import text_string_to_metric_families
text = open(sys.argv[1]).read()
for family in text_string_to_metric_families(text):
    for s in family.samples:
        labels = ",".join("%s=%s" % (k, v) for k, v in sorted(s.labels.items()))
        print("%s|%s|%r" % (s.name, labels, float(s.value)))
)";
}  // namespace

::testing::AssertionResult scrapeMetrics(const ProxyProcess& proxy, MetricSamples* out) {
  Response resp;
  {
    RawClient c;
    if (auto r = c.connect(proxy.port("admin")); !r) return r;
    if (auto r = c.roundTrip("GET /metrics HTTP/1.1\r\nHost: admin\r\n\r\n", &resp); !r) return r;
  }
  if (resp.status != 200) return ::testing::AssertionFailure() << "/metrics: " << resp.status;
  if (resp.headers.get("Content-Type") != "text/plain; version=0.0.4; charset=utf-8")
    return ::testing::AssertionFailure() << "Content-Type: " << resp.headers.get("Content-Type").value_or("");
  TempDir tmp;
  std::string file = tmp.writeFile("metrics.txt", resp.body);
  std::string script = tmp.writeFile("parse.py", kParser);
  CommandResult lint;
  if (auto r = runCommand({"/bin/sh", "-c", "promtool check metrics < \"$0\"", file}, &lint); !r) return r;
  if (lint.exit_code != 0)
    return ::testing::AssertionFailure() << "promtool check metrics failed (exit " << lint.exit_code << "):\n"
                                         << lint.stdout_text << lint.stderr_text;
  CommandResult parsed;
  if (auto r = runCommand({"/usr/bin/python3", script, file}, &parsed); !r) return r;
  if (parsed.exit_code != 0)
    return ::testing::AssertionFailure() << "prometheus_client parser failed:\n" << parsed.stderr_text;
  out->clear();
  std::istringstream in(parsed.stdout_text);
  std::string line;
  while (std::getline(in, line)) {
    size_t bar = line.rfind('|');
    if (bar == std::string::npos) continue;
    (*out)[line.substr(0, bar)] = std::stod(line.substr(bar + 1));
  }
  if (out->empty()) return ::testing::AssertionFailure() << "no samples";
  return ::testing::AssertionSuccess();
}

}  // namespace portcullis::integration
