#include "harness/fake_upstream.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>

namespace portcullis::integration {
namespace {

// Bound on one response write: a proxy that stops reading for this long is stuck, and the
// connection thread must not outlive the test.
constexpr milliseconds kSendBound{30000};
// poll() wakes at least this often to re-check the stop flag (the eventfd normally wakes it).
constexpr int kPollSliceMs = 1000;

std::string reasonFor(int status) {
  switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 301: return "Moved Permanently";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Whatever";
  }
}

bool wantsContinue(const Request& req) {
  auto expect = req.headers.get("expect");
  return expect && equalsIgnoreCase(*expect, "100-continue");
}

}  // namespace

FakeUpstream::FakeUpstream(std::string name) : FakeUpstream(std::move(name), "127.0.0.1", 0) {}

FakeUpstream::FakeUpstream(std::string name, const std::string& ip, uint16_t port)
    : name_(std::move(name)), ip_(ip) {
  listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  if (inet_pton(AF_INET, ip.c_str(), &addr.sin_addr) != 1) {
    ADD_FAILURE() << "FakeUpstream " << name_ << ": not an IPv4 address: " << ip;
    return;
  }
  int one = 1;
  setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  socklen_t len = sizeof addr;
  if (listen_fd_ < 0 || wake_fd_ < 0 ||
      bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      listen(listen_fd_, 128) != 0 ||
      getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ADD_FAILURE() << "FakeUpstream " << name_ << ": cannot listen: " << std::strerror(errno);
    return;
  }
  port_ = ntohs(addr.sin_port);
  accept_thread_ = std::thread([this] { acceptLoop(); });
}

FakeUpstream::~FakeUpstream() {
  {
    // Under the lock, so a connection thread in waitWhileHeld() cannot miss the wake-up.
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (wake_fd_ >= 0) {
    uint64_t one = 1;
    [[maybe_unused]] ssize_t n = write(wake_fd_, &one, sizeof one);
  }
  if (accept_thread_.joinable()) accept_thread_.join();
  std::vector<std::thread> threads;
  {
    std::lock_guard<std::mutex> lock(mu_);
    threads.swap(connection_threads_);
  }
  for (auto& t : threads) t.join();
  if (listen_fd_ >= 0) close(listen_fd_);
  if (wake_fd_ >= 0) close(wake_fd_);
}

void FakeUpstream::setResponder(Responder responder) {
  std::lock_guard<std::mutex> lock(mu_);
  responder_ = std::move(responder);
}

void FakeUpstream::setReply(const Reply& reply) {
  setResponder([reply](const RecordedRequest&) { return reply; });
}

Reply FakeUpstream::defaultReply() const {
  Reply r;
  r.headers.emplace_back("X-Upstream-Name", name_);
  return r;
}

size_t FakeUpstream::requestCount() const {
  std::lock_guard<std::mutex> lock(mu_);
  return requests_.size();
}

std::vector<RecordedRequest> FakeUpstream::requests() const {
  std::lock_guard<std::mutex> lock(mu_);
  return requests_;
}

std::vector<std::string> FakeUpstream::protocolErrors() const {
  std::lock_guard<std::mutex> lock(mu_);
  return protocol_errors_;
}

::testing::AssertionResult FakeUpstream::waitForRequests(size_t n, milliseconds timeout) const {
  std::unique_lock<std::mutex> lock(mu_);
  if (cv_.wait_for(lock, timeout, [&] { return requests_.size() >= n; })) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure() << "upstream " << name_ << ": " << requests_.size()
                                       << " requests after " << timeout.count() << " ms, wanted " << n;
}

::testing::AssertionResult FakeUpstream::waitForRequest(size_t index, RecordedRequest* out,
                                                        milliseconds timeout) const {
  auto ok = waitForRequests(index + 1, timeout);
  if (!ok) return ok;
  std::lock_guard<std::mutex> lock(mu_);
  *out = requests_[index];
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult FakeUpstream::waitForConnections(size_t n, milliseconds timeout) const {
  std::unique_lock<std::mutex> lock(mu_);
  if (cv_.wait_for(lock, timeout, [&] { return accepted_.load() >= n; })) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure() << "upstream " << name_ << ": " << accepted_.load()
                                       << " connections after " << timeout.count() << " ms, wanted " << n;
}

::testing::AssertionResult FakeUpstream::waitForResponsesSent(size_t n, milliseconds timeout) const {
  std::unique_lock<std::mutex> lock(mu_);
  if (cv_.wait_for(lock, timeout, [&] { return responses_sent_.load() >= n; })) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure() << "upstream " << name_ << ": " << responses_sent_.load()
                                       << " responses sent in full after " << timeout.count()
                                       << " ms, wanted " << n;
}

::testing::AssertionResult FakeUpstream::waitForClosedConnections(size_t n, milliseconds timeout) const {
  std::unique_lock<std::mutex> lock(mu_);
  if (cv_.wait_for(lock, timeout, [&] { return closed_.load() >= n; })) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure() << "upstream " << name_ << ": " << closed_.load()
                                       << " connections closed after " << timeout.count()
                                       << " ms, wanted " << n;
}

void FakeUpstream::holdRequestBodies() {
  std::lock_guard<std::mutex> lock(mu_);
  hold_bodies_ = true;
}

void FakeUpstream::releaseRequestBodies() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    hold_bodies_ = false;
  }
  cv_.notify_all();
}

::testing::AssertionResult FakeUpstream::waitForHeldRequests(size_t n, milliseconds timeout) const {
  std::unique_lock<std::mutex> lock(mu_);
  if (cv_.wait_for(lock, timeout, [&] { return held_.load() >= n; })) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure() << "upstream " << name_ << ": " << held_.load()
                                       << " request bodies held after " << timeout.count()
                                       << " ms, wanted " << n;
}

bool FakeUpstream::waitWhileHeld() {
  std::unique_lock<std::mutex> lock(mu_);
  if (!hold_bodies_ || stopping_) return false;
  ++held_;
  cv_.notify_all();
  // Bounded by the test: releaseRequestBodies() or the destructor (stopping_) ends it.
  cv_.wait(lock, [&] { return !hold_bodies_ || stopping_.load(); });
  return true;
}

void FakeUpstream::noteResponseSent() {
  std::lock_guard<std::mutex> lock(mu_);
  ++responses_sent_;
  cv_.notify_all();
}

void FakeUpstream::record(RecordedRequest r) {
  std::lock_guard<std::mutex> lock(mu_);
  requests_.push_back(std::move(r));
  cv_.notify_all();
}

void FakeUpstream::acceptLoop() {
  // Bounded by the stop flag: the destructor sets it and wakes this poll.
  while (!stopping_) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
    if (poll(fds, 2, kPollSliceMs) <= 0) continue;
    if (fds[1].revents) break;
    int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) continue;
    std::lock_guard<std::mutex> lock(mu_);
    int id = static_cast<int>(++accepted_);
    connection_threads_.emplace_back([this, fd, id] { serveConnection(fd, id); });
    cv_.notify_all();
  }
}

bool FakeUpstream::sleepUnlessStopped(milliseconds d) {
  if (d.count() <= 0) return !stopping_;
  pollfd fd{wake_fd_, POLLIN, 0};
  poll(&fd, 1, static_cast<int>(d.count()));
  return !stopping_;
}

bool FakeUpstream::sendAll(int fd, std::string_view data, size_t head_bytes) {
  const auto deadline = Clock::now() + kSendBound;
  size_t offset = 0;  // into the original data, to tell head bytes from body bytes
  while (!data.empty()) {
    if (stopping_ || Clock::now() >= deadline) return false;
    ssize_t n = send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n > 0) {
      size_t sent = static_cast<size_t>(n);
      size_t end = offset + sent;
      if (end > head_bytes) body_bytes_sent_ += end - std::max(offset, head_bytes);
      offset = end;
      data.remove_prefix(sent);
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
      pollfd fds[2] = {{fd, POLLOUT, 0}, {wake_fd_, POLLIN, 0}};
      poll(fds, 2, kPollSliceMs);
      continue;
    }
    return false;  // peer gone
  }
  return true;
}

bool FakeUpstream::sendReply(int fd, const Request& req, const Reply& reply) {
  using Action = Reply::Action;
  using BodyFraming = Reply::BodyFraming;
  if (reply.action == Action::kCloseWithoutResponse) return false;
  if (reply.action == Action::kNeverRespond) {
    // Silent until the proxy gives up (closes) or the test ends. Requests that follow are read
    // and dropped so the proxy's writes never block.
    char tmp[4096];
    while (!stopping_) {
      pollfd fds[2] = {{fd, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
      if (poll(fds, 2, kPollSliceMs) <= 0) continue;
      if (fds[1].revents) break;
      ssize_t n = recv(fd, tmp, sizeof tmp, 0);
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) break;
    }
    return false;
  }
  if (!sleepUnlessStopped(reply.delay)) return false;
  if (reply.action == Action::kRaw) {
    if (!sendAll(fd, reply.raw)) return false;
    noteResponseSent();
    return !reply.close_connection;
  }

  const bool no_body = req.method == "HEAD" || (reply.status >= 100 && reply.status < 200) ||
                       reply.status == 204 || reply.status == 304;
  bool has_length = false;
  for (const auto& [n, v] : reply.headers) has_length |= equalsIgnoreCase(n, "content-length");

  std::string head = "HTTP/1.1 " + std::to_string(reply.status) + " " +
                     (reply.reason.empty() ? reasonFor(reply.status) : reply.reason) + "\r\n";
  for (const auto& [n, v] : reply.headers) head += n + ": " + v + "\r\n";
  std::string body;
  switch (reply.framing) {
    case BodyFraming::kContentLength:
      if (!has_length && reply.status != 204 && reply.status >= 200) {
        head += "Content-Length: " + std::to_string(reply.body.size()) + "\r\n";
      }
      if (!no_body) body = reply.body;
      break;
    case BodyFraming::kChunked:
      head += "Transfer-Encoding: chunked\r\n";
      if (!no_body) {
        const size_t step = reply.chunk_size ? reply.chunk_size : 8192;
        for (size_t pos = 0; pos < reply.body.size(); pos += step) {
          size_t n = std::min(step, reply.body.size() - pos);
          char size_line[32];
          snprintf(size_line, sizeof size_line, "%zx\r\n", n);
          body += size_line;
          body.append(reply.body, pos, n);
          body += "\r\n";
        }
        body += "0\r\n\r\n";
      }
      break;
    case BodyFraming::kCloseDelimited:
      if (!no_body) body = reply.body;
      break;
  }
  const bool close_after = reply.close_connection || reply.framing == BodyFraming::kCloseDelimited;
  if (close_after) head += "Connection: close\r\n";
  head += "\r\n";

  if (reply.action == Action::kCloseMidBody) {
    sendAll(fd, head + body.substr(0, std::min(reply.close_after_body_bytes, body.size())), head.size());
    return false;
  }
  if (reply.body_delay.count() > 0 && !body.empty()) {
    if (!sendAll(fd, head, head.size()) || !sleepUnlessStopped(reply.body_delay)) return false;
    if (!sendAll(fd, body, 0)) return false;
  } else if (!sendAll(fd, head + body, head.size())) {
    return false;
  }
  noteResponseSent();
  return !close_after;
}

void FakeUpstream::serveConnection(int fd, int id) {
  std::string buf;
  bool sent_continue = false;
  bool held = false;  // this request's body was held once already
  bool open = true;
  // Set by the last reply's close_on_next_request / close_when_idle_after.
  bool close_on_next = false;
  // A plain time_point plus a flag rather than std::optional: GCC 12 at -O2 wrongly reports
  // the optional's payload as maybe-uninitialized under -Werror.
  bool idle_close_armed = false;
  Clock::time_point idle_close_at{};
  Clock::time_point first_byte_at{};  // of the request at the front of `buf`
  std::vector<char> tmp(64 * 1024);
  while (open && !stopping_) {
    // Answer every complete request in the buffer (pipelined ones too), in order.
    for (int guard = 0; guard < 10000 && open; ++guard) {
      if (close_on_next && !buf.empty()) {  // pipelined behind the last response
        ++dropped_;
        open = false;
        break;
      }
      Request req;
      ParseResult r = parseRequest(buf, &req);
      if (r.status == ParseStatus::kError) {
        std::lock_guard<std::mutex> lock(mu_);
        protocol_errors_.push_back("connection " + std::to_string(id) + ": " + r.error);
        open = false;
        break;
      }
      if (r.status == ParseStatus::kIncomplete) {
        // A real server (gunicorn, nginx) answers Expect: 100-continue before reading the body;
        // a proxy that forwards Expect waits for this.
        if (r.head_complete && !sent_continue && wantsContinue(req)) {
          sent_continue = true;
          if (!sendAll(fd, "HTTP/1.1 100 Continue\r\n\r\n")) open = false;
        }
        if (r.head_complete && !held && open) held = waitWhileHeld();
        break;
      }
      buf.erase(0, r.consumed);
      sent_continue = false;
      held = false;
      RecordedRequest rec{std::move(req), id, first_byte_at, Clock::now()};
      first_byte_at = Clock::now();  // a pipelined request behind this one: close enough
      size_t working = ++working_;
      for (size_t peak = max_working_.load(); working > peak && !max_working_.compare_exchange_weak(peak, working);) {
      }
      Responder responder;
      {
        std::lock_guard<std::mutex> lock(mu_);
        responder = responder_;
      }
      Reply reply = responder ? responder(rec) : defaultReply();
      record(rec);
      // The delay is the work: the request stops counting as worked on just before the first
      // response byte (see concurrentRequests()). These two actions never send a byte and
      // never waited for the delay.
      const bool answers = reply.action != Reply::Action::kNeverRespond &&
                           reply.action != Reply::Action::kCloseWithoutResponse;
      if (answers) {
        sleepUnlessStopped(reply.delay);
        reply.delay = milliseconds(0);
        --working_;
      }
      open = sendReply(fd, rec.request, reply);
      if (!answers) --working_;
      close_on_next = open && reply.close_on_next_request;
      idle_close_armed = false;
      if (open && reply.close_when_idle_after.count() > 0) {
        idle_close_at = Clock::now() + reply.close_when_idle_after;
        idle_close_armed = true;
      }
    }
    if (!open) break;
    int slice_ms = kPollSliceMs;
    if (idle_close_armed) {
      auto left = std::chrono::duration_cast<milliseconds>(idle_close_at - Clock::now()).count();
      if (left <= 0) break;  // idle for close_when_idle_after: close, as if on a keep-alive timeout
      slice_ms = static_cast<int>(std::min<long long>(left, kPollSliceMs));
    }
    pollfd fds[2] = {{fd, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
    if (poll(fds, 2, slice_ms) <= 0) continue;
    if (fds[1].revents) break;
    if (close_on_next) {
      // Peek: request bytes mean "drop the connection unread"; EOF is an ordinary close.
      char peek = 0;
      ssize_t p = recv(fd, &peek, 1, MSG_PEEK);
      if (p > 0) {
        ++dropped_;
        break;
      }
    }
    ssize_t n = recv(fd, tmp.data(), tmp.size(), 0);
    if (n > 0) {
      if (buf.empty()) first_byte_at = Clock::now();
      buf.append(tmp.data(), static_cast<size_t>(n));
      idle_close_armed = false;
    } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
      break;
    }
  }
  close(fd);
  std::lock_guard<std::mutex> lock(mu_);
  ++closed_;
  cv_.notify_all();
}

}  // namespace portcullis::integration
