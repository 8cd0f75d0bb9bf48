#pragma once
// Reading what the proxy reports about itself, with the real tools: the JSON access log parsed
// by python3's json module, /metrics linted by `promtool check metrics` and parsed by
// prometheus_client's parser (Debian packages that scripts/install-deps.sh installs).
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "harness/proxy_process.h"
#include "harness/test_util.h"

namespace portcullis::integration {

std::vector<std::string> linesOf(const std::string& text);
// Waits until `path` holds at least `n` lines (the workers flush their log buffers once a
// second); returns them.
::testing::AssertionResult waitForLines(const std::string& path, size_t n, std::vector<std::string>* out,
                                        milliseconds timeout = milliseconds(5000));

using JsonFields = std::map<std::string, std::string>;  // key -> the value as JSON text
// Parses each line of `path` with python3's json module (a strict parser) and returns, per line,
// every key with its value re-encoded as JSON ("200", "\"GET\"", "null").
::testing::AssertionResult parseJsonLines(const std::string& path, std::vector<JsonFields>* out);

// "name|label=value,label=value" (labels sorted) -> value, as Prometheus's parser read them.
using MetricSamples = std::map<std::string, double>;
double sampleAt(const MetricSamples& s, const std::string& key);  // -1 when absent
// GET /metrics on the admin listener (the ready file's "admin" line), `promtool check metrics`
// on it, then the python parser's view of it. Fails on anything promtool or the parser refuse.
::testing::AssertionResult scrapeMetrics(const ProxyProcess& proxy, MetricSamples* out);

}  // namespace portcullis::integration
