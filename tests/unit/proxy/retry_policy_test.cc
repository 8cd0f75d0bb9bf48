// The retry rule as a table: each row is one situation an upstream attempt can fail in, and the
// decision the proxy must take (retry_policy.h).
#include "proxy/retry_policy.h"

#include <gtest/gtest.h>

namespace portcullis::proxy {
namespace {

// A GET with no body on a fresh connection that failed before any response byte: the baseline
// each row changes one or two facts of.
AttemptFacts baseline() {
  AttemptFacts f;
  f.kind = ErrorKind::UpstreamProtocol;
  f.before_response = true;
  f.holds_host = true;
  f.body_replayable = true;
  f.idempotent = true;
  f.retries_allowed = 1;
  return f;
}

struct Row {
  const char* name;
  void (*change)(AttemptFacts&);
  RetryDecision expected;
};

TEST(RetryPolicy, DecisionTable) {
  const Row kRows[] = {
      {"idempotent, replayable, retries left: another host", [](AttemptFacts&) {}, RetryDecision::OtherHost},
      {"connect failed: another host for free, even a POST",
       [](AttemptFacts& f) { f.connect_failed = true; f.idempotent = false; f.body_replayable = false;
                             f.kind = ErrorKind::UpstreamConnect; },
       RetryDecision::OtherHostFree},
      {"connect failed after retries ran out: still free (selectHost ends it when all are tried)",
       [](AttemptFacts& f) { f.connect_failed = true; f.retries_done = 1; }, RetryDecision::OtherHostFree},
      {"stale pooled connection, nothing came back: same host, fresh connection",
       [](AttemptFacts& f) { f.reused_connection = true; }, RetryDecision::SameHostFresh},
      {"stale retry only once: then another host",
       [](AttemptFacts& f) { f.reused_connection = true; f.stale_retry_done = true; }, RetryDecision::OtherHost},
      {"reused connection but the upstream sent bytes: not stale",
       [](AttemptFacts& f) { f.reused_connection = true; f.upstream_sent_bytes = true; }, RetryDecision::OtherHost},
      {"stale connection, POST: never repeated",
       [](AttemptFacts& f) { f.reused_connection = true; f.idempotent = false; }, RetryDecision::Fail},
      {"not idempotent (POST)", [](AttemptFacts& f) { f.idempotent = false; }, RetryDecision::Fail},
      {"streamed body the proxy no longer holds", [](AttemptFacts& f) { f.body_replayable = false; },
       RetryDecision::Fail},
      {"timeout: the upstream may still be working on it",
       [](AttemptFacts& f) { f.kind = ErrorKind::UpstreamTimeout; }, RetryDecision::Fail},
      {"timeout on a reused connection: not a stale one either",
       [](AttemptFacts& f) { f.kind = ErrorKind::UpstreamTimeout; f.reused_connection = true; }, RetryDecision::Fail},
      {"after the response head", [](AttemptFacts& f) { f.before_response = false; }, RetryDecision::Fail},
      {"client already has bytes", [](AttemptFacts& f) { f.response_started = true; }, RetryDecision::Fail},
      {"client has bytes, even for a failed connect",
       [](AttemptFacts& f) { f.response_started = true; f.connect_failed = true; }, RetryDecision::Fail},
      {"retries used up", [](AttemptFacts& f) { f.retries_done = 1; }, RetryDecision::Fail},
      {"retries: 0 in the config", [](AttemptFacts& f) { f.retries_allowed = 0; }, RetryDecision::Fail},
      {"no host held (every host tried): answer", [](AttemptFacts& f) { f.holds_host = false; },
       RetryDecision::Fail},
  };
  for (const Row& row : kRows) {
    AttemptFacts f = baseline();
    row.change(f);
    EXPECT_EQ(decideRetry(f), row.expected) << row.name;
  }
}

}  // namespace
}  // namespace portcullis::proxy
