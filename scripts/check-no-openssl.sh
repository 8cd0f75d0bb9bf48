#!/usr/bin/env bash
# Fails when the given binary links OpenSSL's libssl.so.3 instead of BoringSSL (same symbol
# names, different ABI). Used by scripts/build.sh and benchmarks/run.sh.
#   scripts/check-no-openssl.sh BINARY
set -euo pipefail
bin="${1:?usage: check-no-openssl.sh BINARY}"
# Captured first: `ldd | grep -q` under pipefail can fail on SIGPIPE when grep exits early.
libs="$(ldd "$bin" 2>&1 || true)"
if grep -q 'libssl\.so\.3' <<<"$libs"; then
  echo "$bin links OpenSSL's libssl.so.3 instead of BoringSSL:" >&2
  grep -E 'libssl|libcrypto' <<<"$libs" >&2 || true
  exit 1
fi
