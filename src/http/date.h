#pragma once
// IMF-fixdate for the Date header (RFC 9110 §5.6.7), e.g. "Sun, 06 Nov 1994 08:49:37 GMT".
// Formatted at most once per second per thread: the result is cached in thread-local storage,
// so workers share nothing and a response costs one time() call (vDSO, no syscall).
#include <string_view>

namespace portcullis::http {

// View valid until the next call on the same thread.
std::string_view httpDateNow();

}  // namespace portcullis::http
