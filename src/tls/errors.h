#pragma once
// Turns BoringSSL's thread-local error queue into base::Error.
//
// Why every failure path must call one of these: the ERR queue belongs to the *thread*, not to
// the SSL object. A worker serves thousands of connections on one thread, so an error left in
// the queue by connection A would be reported by the next failing call on connection B
// (the classic OpenSSL "stale error" bug; Node clears it in a scope guard, ClearErrorOnReturn).
#include <cstdint>
#include <string>
#include <string_view>

#include "base/result.h"

namespace portcullis::tls {

// Pops the whole queue and returns its oldest entry (usually the root cause: a system error
// under a PEM error under an SSL error) as "library: REASON", e.g. "PEM routines:
// NO_START_LINE"; system errors read as strerror ("No such file or directory"). Returns
// `fallback` when the queue is empty. Always leaves the queue empty.
std::string takeErrorText(std::string_view fallback = "unknown error");

// Returns "<what>: <takeErrorText()>" as an Error. Leaves the queue empty.
base::Error takeError(std::string_view what);

// Returns the oldest packed error code without removing anything (0 when empty). Lets a caller
// pick a clearer message for a known reason before taking the queue.
uint32_t peekFirstError();

// Empties the queue; for paths that fail with their own message.
void clearErrors();

// clearErrors(), then `message` as an Error: a failure we describe ourselves.
base::Error failWith(std::string message);

}  // namespace portcullis::tls
