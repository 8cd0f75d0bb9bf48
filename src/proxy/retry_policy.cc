#include "proxy/retry_policy.h"

namespace portcullis::proxy {

RetryDecision decideRetry(const AttemptFacts& f) {
  if (f.response_started) return RetryDecision::Fail;  // the client has bytes: only a cut is honest
  // Nothing was sent on a connect that failed, so any method may go elsewhere, and it costs the
  // budget nothing: a refused connect is answered at once and loads nobody.
  if (f.connect_failed) return RetryDecision::OtherHostFree;
  // Past this point the request (or part of it) may have reached the upstream: repeat it only
  // if it is idempotent and its body can be sent again.
  bool repeatable = f.before_response && f.body_replayable && f.idempotent;
  // A timeout is never repeated: the upstream may still be working on it.
  if (!repeatable || f.kind == ErrorKind::UpstreamTimeout) return RetryDecision::Fail;
  // A reused keep-alive connection the upstream closed just as we sent on it: the request was
  // most likely never seen. Once per request, to the same host on a fresh connection.
  if (f.holds_host && f.reused_connection && !f.upstream_sent_bytes && !f.stale_retry_done)
    return RetryDecision::SameHostFresh;
  if (f.holds_host && f.retries_done < f.retries_allowed) return RetryDecision::OtherHost;
  return RetryDecision::Fail;
}

}  // namespace portcullis::proxy
