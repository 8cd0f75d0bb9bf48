#include "harness/h2_client.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <sstream>

namespace portcullis::integration {
namespace {

constexpr const char* kPython = "/usr/bin/python3";
constexpr const char* kCurl = "/usr/bin/curl";
constexpr const char* kNghttp = "/usr/bin/nghttp";
constexpr const char* kH2load = "/usr/bin/h2load";

std::string peerScript() { return std::string(PORTCULLIS_SOURCE_DIR) + "/tests/integration/apps/h2_peer.py"; }

// Runs `argv` once and caches why it cannot run ("" if it exits 0).
std::string probe(const std::vector<std::string>& argv, const std::string& install_hint) {
  static std::mutex mu;
  static std::map<std::string, std::string> cache;
  std::string key;
  for (const auto& a : argv) key += a + " ";
  std::lock_guard<std::mutex> lock(mu);
  if (auto it = cache.find(key); it != cache.end()) return it->second;
  std::string reason;
  if (access(argv[0].c_str(), X_OK) != 0) {
    reason = argv[0] + " is not installed (" + install_hint + ")";
  } else {
    CommandResult r;
    auto ran = runCommand(argv, &r);
    if (!ran) reason = argv[0] + " did not run: " + ran.message();
    else if (r.exit_code != 0) reason = key + "failed (" + install_hint + "): " + r.stderr_text + r.stdout_text;
  }
  cache[key] = reason;
  return reason;
}

std::string jsonString(std::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20 || c >= 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);  // h2_peer.py encodes strings as latin-1
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

std::string jsonPairs(const std::vector<std::pair<std::string, std::string>>& v) {
  std::string out = "[";
  for (size_t i = 0; i < v.size(); ++i) {
    out += (i ? "," : "") + std::string("[") + jsonString(v[i].first) + "," + jsonString(v[i].second) + "]";
  }
  return out + "]";
}

std::string unhex(std::string_view hex) {
  std::string out;
  if (hex == "-") return out;
  out.reserve(hex.size() / 2);
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>(std::strtoul(std::string(hex.substr(i, 2)).c_str(), nullptr, 16)));
  }
  return out;
}

std::vector<std::string> splitWords(const std::string& line, size_t max_words) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < line.size() && out.size() + 1 < max_words) {
    size_t sp = line.find(' ', pos);
    if (sp == std::string::npos) break;
    out.push_back(line.substr(pos, sp - pos));
    pos = sp + 1;
  }
  if (pos <= line.size()) out.push_back(line.substr(pos));
  return out;
}

std::vector<std::string> peerArgv(uint16_t port, const H2PeerOptions& o) {
  std::vector<std::string> argv = {"/usr/bin/env", "PYTHONDONTWRITEBYTECODE=1", kPython, peerScript(),
                                   "--port", std::to_string(port), "--authority", o.authority,
                                   "--scenario", o.scenario, "--timeout-ms", std::to_string(o.timeout.count())};
  for (const auto& r : o.requests) {
    argv.push_back("--req");
    argv.push_back(r.toJson());
  }
  if (o.until_eof) argv.push_back("--until-eof");
  if (o.goaway_after_ms) argv.insert(argv.end(), {"--goaway-after-ms", std::to_string(*o.goaway_after_ms)});
  if (!o.kind.empty()) {
    argv.insert(argv.end(), {"--kind", o.kind, "--count", std::to_string(o.count), "--batch", std::to_string(o.batch)});
  }
  if (!o.mode.empty()) {
    argv.insert(argv.end(), {"--mode", o.mode, "--stall-ms", std::to_string(o.stall_ms)});
  }
  argv.insert(argv.end(), {"--path", o.path});
  return argv;
}

}  // namespace

std::string curlHttp2UnavailableReason() {
  std::string why = probe({kCurl, "--version"}, "apt-get install curl");
  if (!why.empty()) return why;
  CommandResult r;
  if (!runCommand({kCurl, "--version"}, &r) || r.stdout_text.find("HTTP2") == std::string::npos) {
    return "this curl has no HTTP2 feature (Debian's curl is built with nghttp2)";
  }
  return "";
}

std::string nghttpUnavailableReason() {
  std::string why = probe({kNghttp, "--version"}, "scripts/install-deps.sh installs nghttp2-client");
  if (!why.empty()) return why;
  return probe({kH2load, "--version"}, "scripts/install-deps.sh installs nghttp2-client");
}

std::string h2PeerUnavailableReason() {
  return probe({kPython, "-c", "import hpack, hyperframe"}, "scripts/install-deps.sh installs python3-h2");
}

// ---------------------------------------------------------------------------------------------
// curl

::testing::AssertionResult runCurl(uint16_t port, const CurlRequest& req, CurlResult* out, milliseconds timeout) {
  *out = CurlResult{};
  TempDir dir;
  const std::string p = std::to_string(port);
  const std::string head_path = dir.path() + "/head";
  const std::string body_path = dir.path() + "/body";
  std::vector<std::string> argv = {kCurl, "-sS", "-k", req.http2 ? "--http2" : "--http1.1",
                                   "--resolve", req.host + ":" + p + ":127.0.0.1",
                                   "-D", head_path, "-o", body_path, "-w", "%{http_version}",
                                   "--max-time", std::to_string(std::max<int64_t>(1, timeout.count() / 1000 - 1))};
  if (!req.method.empty()) argv.insert(argv.end(), {"-X", req.method});
  for (const auto& h : req.headers) argv.insert(argv.end(), {"-H", h});
  if (req.body) argv.insert(argv.end(), {"--data-binary", "@" + dir.writeFile("request-body", *req.body)});
  argv.insert(argv.end(), req.extra_args.begin(), req.extra_args.end());
  argv.push_back("https://" + req.host + ":" + p + req.path);

  CommandResult r;
  if (auto ran = runCommand(argv, &r, timeout); !ran) return ran;
  out->exit_code = r.exit_code;
  out->http_version = r.stdout_text;
  out->stderr_text = r.stderr_text;
  out->body = readFile(body_path);
  // The head file holds every head curl saw (1xx included): keep the last one.
  std::istringstream head(readFile(head_path));
  std::string line;
  while (std::getline(head, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    while (!line.empty() && line.back() == ' ') line.pop_back();  // curl prints "HTTP/2 200 "
    if (line.rfind("HTTP/", 0) == 0) {
      out->status_line = line;
      out->headers = HeaderList{};
      size_t sp = line.find(' ');
      out->status = sp == std::string::npos ? 0 : std::atoi(line.c_str() + sp + 1);
    } else if (size_t colon = line.find(':'); colon != std::string::npos) {
      size_t v = colon + 1;
      while (v < line.size() && line[v] == ' ') ++v;
      out->headers.entries.emplace_back(line.substr(0, colon), line.substr(v));
    }
  }
  return ::testing::AssertionSuccess();
}

// ---------------------------------------------------------------------------------------------
// nghttp and h2load

::testing::AssertionResult runH2load(uint16_t port, const std::string& path, int requests, int clients, int streams,
                                     H2loadResult* out, milliseconds timeout, const std::vector<std::string>& extra) {
  *out = H2loadResult{};
  CommandResult r;
  std::vector<std::string> argv = {kH2load, "-n", std::to_string(requests), "-c", std::to_string(clients), "-m",
                                   std::to_string(streams)};
  argv.insert(argv.end(), extra.begin(), extra.end());
  argv.push_back("https://127.0.0.1:" + std::to_string(port) + path);
  auto ran = runCommand(argv, &r, timeout);
  out->output = r.stdout_text + r.stderr_text;
  if (!ran) return ran;
  out->exit_code = r.exit_code;
  std::istringstream in(r.stdout_text);
  std::string line;
  bool parsed = false;
  while (std::getline(in, line)) {
    if (line.rfind("requests:", 0) == 0) {
      parsed = std::sscanf(line.c_str(),
                           "requests: %" SCNu64 " total, %" SCNu64 " started, %" SCNu64 " done, %" SCNu64
                           " succeeded, %" SCNu64 " failed, %" SCNu64 " errored, %" SCNu64 " timeout",
                           &out->total, &out->started, &out->done, &out->succeeded, &out->failed, &out->errored,
                           &out->timeout) == 7;
    } else if (line.rfind("status codes:", 0) == 0) {
      std::sscanf(line.c_str(), "status codes: %" SCNu64 " 2xx, %" SCNu64 " 3xx, %" SCNu64 " 4xx, %" SCNu64 " 5xx",
                  &out->status_2xx, &out->status_3xx, &out->status_4xx, &out->status_5xx);
    } else if (line.rfind("Application protocol:", 0) == 0) {
      out->protocol = line.substr(line.find(':') + 1);
      while (!out->protocol.empty() && out->protocol.front() == ' ') out->protocol.erase(0, 1);
    }
  }
  if (!parsed) return ::testing::AssertionFailure() << "no h2load summary in:\n" << out->output;
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult runNghttp(uint16_t port, const std::string& path, const std::vector<std::string>& args,
                                     CommandResult* out, milliseconds timeout) {
  std::vector<std::string> argv = {kNghttp};
  argv.insert(argv.end(), args.begin(), args.end());
  argv.push_back("https://127.0.0.1:" + std::to_string(port) + path);
  return runCommand(argv, out, timeout);
}

// ---------------------------------------------------------------------------------------------
// h2_peer.py

std::string H2Req::toJson() const {
  std::string j = "{";
  auto add = [&](const std::string& k, const std::string& v) { j += (j.size() > 1 ? "," : "") + jsonString(k) + ":" + v; };
  if (!fields.empty()) {
    add("fields", jsonPairs(fields));
  } else {
    add("method", jsonString(method));
    add("path", jsonString(path));
    if (!authority.empty()) add("authority", jsonString(authority));
    add("headers", jsonPairs(headers));
  }
  if (body) add("body", jsonString(*body));
  if (!content_length) add("cl", "false");
  if (content_length_value) add("content_length", std::to_string(*content_length_value));
  if (big_header) add("big_header", std::to_string(big_header));
  if (after_prev) add("after_prev", "true");
  if (after_ms) add("after_ms", std::to_string(after_ms));
  if (!trailers.empty()) add("trailers", jsonPairs(trailers));
  if (rst_after_ms) add("rst_after_ms", std::to_string(*rst_after_ms));
  return j + "}";
}

const H2Stream& H2PeerResult::stream(int32_t id) const {
  static const H2Stream kNone;
  auto it = streams.find(id);
  return it == streams.end() ? kNone : it->second;
}

::testing::AssertionResult H2PeerResult::ok() const {
  if (exit_code != 0 || !errors.empty()) {
    return ::testing::AssertionFailure() << "h2_peer.py exited " << exit_code << ":\n" << output;
  }
  if (alpn != "h2") return ::testing::AssertionFailure() << "ALPN chose \"" << alpn << "\", not h2:\n" << output;
  return ::testing::AssertionSuccess();
}

void parseH2PeerOutput(const std::string& text, H2PeerResult* out) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::string> w = splitWords(line, 2);
    if (w.empty()) continue;
    const std::string kind = w[0];  // a copy: w is re-split below
    if (kind == "alpn" && w.size() == 2) {
      out->alpn = w[1];
    } else if (kind == "settings") {
      std::istringstream s(w.size() > 1 ? w[1] : "");
      std::string kv;
      while (s >> kv) {
        size_t eq = kv.find('=');
        if (eq != std::string::npos) out->settings[kv.substr(0, eq)] = kv.substr(eq + 1);
      }
    } else if (kind == "response") {
      w = splitWords(line, 3);
      if (w.size() == 3) out->streams[std::atoi(w[1].c_str())].status = std::atoi(w[2].c_str());
    } else if (kind == "header") {
      w = splitWords(line, 4);
      if (w.size() == 4) out->streams[std::atoi(w[1].c_str())].headers.entries.emplace_back(w[2], w[3]);
    } else if (kind == "end") {
      w = splitWords(line, 4);
      if (w.size() == 4) {
        H2Stream& s = out->streams[std::atoi(w[1].c_str())];
        s.ended = true;
        s.end_ms = std::atoll(w[2].c_str());
        s.body_len = std::strtoull(w[3].c_str(), nullptr, 10);
      }
    } else if (kind == "body") {
      w = splitWords(line, 3);
      if (w.size() == 3) out->streams[std::atoi(w[1].c_str())].body = unhex(w[2]);
    } else if (kind == "data") {
      w = splitWords(line, 3);
      if (w.size() == 3) out->streams[std::atoi(w[1].c_str())].body_len = std::strtoull(w[2].c_str(), nullptr, 10);
    } else if (kind == "reset") {
      w = splitWords(line, 4);
      if (w.size() == 4) {
        H2Stream& s = out->streams[std::atoi(w[1].c_str())];
        s.reset = static_cast<uint32_t>(std::strtoul(w[2].c_str(), nullptr, 10));
        s.reset_ms = std::atoll(w[3].c_str());
      }
    } else if (kind == "goaway") {
      w = splitWords(line, 4);
      // The first GOAWAY: the one that tells why (a graceful close may send two).
      if (w.size() == 4 && !out->goaway_code) {
        out->goaway_code = static_cast<uint32_t>(std::strtoul(w[1].c_str(), nullptr, 10));
        out->goaway_last_stream = std::atoi(w[2].c_str());
        out->goaway_ms = std::atoll(w[3].c_str());
      }
    } else if (kind == "eof" && w.size() == 2) {
      out->eof_ms = std::atoll(w[1].c_str());
    } else if (kind == "timeout") {
      out->timed_out = true;
    } else if (kind == "mark" || kind == "value") {
      w = splitWords(line, 3);
      if (w.size() == 3) (kind == "mark" ? out->marks : out->values)[w[1]] = std::atoll(w[2].c_str());
    } else if (kind == "error") {
      out->errors.push_back(line);
    }
  }
}

H2Peer::~H2Peer() {
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    int status = 0;
    waitpid(pid_, &status, 0);
  }
}

::testing::AssertionResult H2Peer::start(uint16_t port, const H2PeerOptions& options) {
  if (pid_ > 0) return ::testing::AssertionFailure() << "h2_peer.py already running";
  std::string error;
  const std::string out_path = dir_.path() + "/stdout";
  const std::string err_path = dir_.path() + "/stderr";
  ::unlink(out_path.c_str());
  ::unlink(err_path.c_str());
  pid_ = spawnProcess(peerArgv(port, options), out_path, err_path, &error);
  if (pid_ < 0) return ::testing::AssertionFailure() << error;
  deadline_ = Clock::now() + options.timeout + milliseconds(5000);
  return ::testing::AssertionSuccess();
}

std::string H2Peer::outputSoFar() const { return readFile(dir_.path() + "/stdout"); }

::testing::AssertionResult H2Peer::wait(H2PeerResult* out) {
  *out = H2PeerResult{};
  if (pid_ <= 0) return ::testing::AssertionFailure() << "h2_peer.py not started";
  int status = 0;
  const auto left = std::chrono::duration_cast<milliseconds>(deadline_ - Clock::now());
  bool exited = pollUntil([&] { return waitpid(pid_, &status, WNOHANG) == pid_; }, std::max(left, milliseconds(0)));
  if (!exited) {
    kill(pid_, SIGKILL);
    waitpid(pid_, &status, 0);
  }
  pid_ = -1;
  const std::string stdout_text = readFile(dir_.path() + "/stdout");
  const std::string stderr_text = readFile(dir_.path() + "/stderr");
  parseH2PeerOutput(stdout_text, out);
  out->output = stdout_text + (stderr_text.empty() ? "" : "--- stderr ---\n" + stderr_text);
  out->exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  if (!exited) return ::testing::AssertionFailure() << "h2_peer.py outlived its deadline; killed:\n" << out->output;
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult H2Peer::run(uint16_t port, const H2PeerOptions& options, H2PeerResult* out) {
  H2Peer peer;
  if (auto started = peer.start(port, options); !started) return started;
  return peer.wait(out);
}

// ---------------------------------------------------------------------------------------------
// h2_ws_peer.py

namespace {

std::string wsPeerScript() { return std::string(PORTCULLIS_SOURCE_DIR) + "/tests/integration/apps/h2_ws_peer.py"; }

std::vector<std::string> wsPeerArgv(uint16_t port, const H2WsPeerOptions& o) {
  std::vector<std::string> argv = {"/usr/bin/env", "PYTHONDONTWRITEBYTECODE=1", kPython, wsPeerScript(),
                                   "--port", std::to_string(port), "--authority", o.authority,
                                   "--sni", o.sni, "--timeout-ms", std::to_string(o.timeout.count())};
  for (const auto& s : o.steps) argv.insert(argv.end(), {"--step", s});
  return argv;
}

}  // namespace

const H2Stream& H2WsPeerResult::stream(const std::string& name) const {
  auto it = sids.find(name);
  if (it == sids.end()) return h2.stream(-1);
  return h2.stream(it->second);
}

const std::vector<H2WsMessage>& H2WsPeerResult::got(const std::string& name) const {
  static const std::vector<H2WsMessage> kNone;
  auto it = received.find(name);
  return it == received.end() ? kNone : it->second;
}

::testing::AssertionResult H2WsPeerResult::ok() const {
  if (auto r = h2.ok(); !r) return r;
  if (h2.timed_out) {
    return ::testing::AssertionFailure() << "h2_ws_peer.py timed out after " << steps_done << " steps:\n" << output;
  }
  return ::testing::AssertionSuccess();
}

void parseH2WsPeerOutput(const std::string& text, H2WsPeerResult* out) {
  parseH2PeerOutput(text, &out->h2);
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream w(line);
    std::string kind, name;
    w >> kind >> name;
    if (kind == "stream") {
      int32_t sid = 0;
      if (w >> sid) out->sids[name] = sid;
    } else if (kind == "sent" || kind == "msg") {
      H2WsMessage m;
      std::string hex;
      if (!(w >> m.opcode >> m.length >> m.sha256)) continue;
      if (kind == "msg" && (w >> hex)) m.data = unhex(hex);
      (kind == "sent" ? out->sent : out->received)[name].push_back(std::move(m));
    } else if (kind == "mark" && name.rfind("step_", 0) == 0) {
      ++out->steps_done;
    }
  }
}

H2WsPeer::~H2WsPeer() {
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    int status = 0;
    waitpid(pid_, &status, 0);
  }
}

::testing::AssertionResult H2WsPeer::start(uint16_t port, const H2WsPeerOptions& options) {
  if (pid_ > 0) return ::testing::AssertionFailure() << "h2_ws_peer.py already running";
  std::string error;
  const std::string out_path = dir_.path() + "/stdout";
  const std::string err_path = dir_.path() + "/stderr";
  ::unlink(out_path.c_str());
  ::unlink(err_path.c_str());
  pid_ = spawnProcess(wsPeerArgv(port, options), out_path, err_path, &error);
  if (pid_ < 0) return ::testing::AssertionFailure() << error;
  deadline_ = Clock::now() + options.timeout + milliseconds(5000);
  return ::testing::AssertionSuccess();
}

std::string H2WsPeer::outputSoFar() const { return readFile(dir_.path() + "/stdout"); }

bool H2WsPeer::waitForOutput(const std::string& prefix, milliseconds timeout) const {
  return pollUntil([&] {
    const std::string text = outputSoFar();
    return text.rfind(prefix, 0) == 0 || text.find("\n" + prefix) != std::string::npos;
  }, timeout);
}

::testing::AssertionResult H2WsPeer::wait(H2WsPeerResult* out) {
  *out = H2WsPeerResult{};
  if (pid_ <= 0) return ::testing::AssertionFailure() << "h2_ws_peer.py not started";
  int status = 0;
  const auto left = std::chrono::duration_cast<milliseconds>(deadline_ - Clock::now());
  bool exited = pollUntil([&] { return waitpid(pid_, &status, WNOHANG) == pid_; }, std::max(left, milliseconds(0)));
  if (!exited) {
    kill(pid_, SIGKILL);
    waitpid(pid_, &status, 0);
  }
  pid_ = -1;
  const std::string stdout_text = readFile(dir_.path() + "/stdout");
  const std::string stderr_text = readFile(dir_.path() + "/stderr");
  parseH2WsPeerOutput(stdout_text, out);
  out->output = stdout_text + (stderr_text.empty() ? "" : "--- stderr ---\n" + stderr_text);
  out->h2.output = out->output;
  out->h2.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  if (!exited) return ::testing::AssertionFailure() << "h2_ws_peer.py outlived its deadline; killed:\n" << out->output;
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult H2WsPeer::run(uint16_t port, const H2WsPeerOptions& options, H2WsPeerResult* out) {
  H2WsPeer peer;
  if (auto started = peer.start(port, options); !started) return started;
  return peer.wait(out);
}

}  // namespace portcullis::integration
