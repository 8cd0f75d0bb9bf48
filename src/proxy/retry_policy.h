#pragma once
// When a failed upstream attempt may be tried again, and how: the one rule, as a pure function
// over the facts of the attempt (Pingora keeps its retry decision in one visible place too).
// The caller (the session today, the exchange later) gathers the facts and carries out the
// decision; the retry budget is a shared resource, so taking a slot from it stays with the
// caller: RetryOtherHost means "if the budget allows".
#include <cstdint>

#include "proxy/error_map.h"

namespace portcullis::proxy {

struct AttemptFacts {
  ErrorKind kind = ErrorKind::UpstreamConnect;
  bool connect_failed = false;      // the connection never came up: nothing was sent
  bool before_response = true;      // no response head from the upstream yet
  bool response_started = false;    // the client has part of a response (ours or the upstream's)
  bool holds_host = false;          // the attempt holds a host slot (it got as far as a host)
  bool reused_connection = false;   // the attempt ran on a pooled keep-alive connection
  bool upstream_sent_bytes = false; // any response byte arrived on this attempt
  bool stale_retry_done = false;    // this request already had its stale-connection retry
  bool body_replayable = false;     // no body, or the proxy holds all of it
  bool idempotent = false;          // RFC 9110 §9.2.2
  uint32_t retries_done = 0;        // retries on other hosts so far
  uint32_t retries_allowed = 0;     // the cluster's `retries`
};

enum class RetryDecision : uint8_t {
  SameHostFresh,  // a stale pooled connection: once more to the same host on a new connection
  OtherHostFree,  // a failed connect: another host, costing no retry and no budget
  OtherHost,      // another host, counted as a retry, if the cluster's retry budget allows
  Fail,           // answer the client (or cut the connection if a response has started)
};

RetryDecision decideRetry(const AttemptFacts& f);

}  // namespace portcullis::proxy
