#!/usr/bin/env bash
# The test command: every test (unit + integration) in a Release build and in an ASan/UBSan build,
# plus the layer-rule check. Runs every step even after a failure, prints a summary, and exits
# non-zero if anything failed.
set -euo pipefail
cd "$(dirname "$0")/.."

jobs="$(nproc 2>/dev/null || echo 2)"
names=()
results=()
failed=0

# step NAME COMMAND...: runs COMMAND, records PASS/FAIL and its duration. Returns COMMAND's status.
step() {
  local name="$1"; shift
  local start=$SECONDS rc=0
  echo
  echo "==== $name"
  "$@" || rc=$?
  names+=("$name")
  if [ "$rc" -eq 0 ]; then
    results+=("PASS  $((SECONDS - start))s")
  else
    results+=("FAIL  $((SECONDS - start))s (exit $rc)")
    failed=1
  fi
  return "$rc"
}
skip() { names+=("$1"); results+=("SKIP  ($2)"); failed=1; }

# Unit tests (and anything else not labelled integration) run in parallel; the integration test
# starts proxy and upstream processes of its own, so it runs alone.
# layer_rules is a ctest too (for developers running ctest); here it is its own step below.
unit_tests()        { ctest --test-dir "$1" --output-on-failure -LE integration -E '^layer_rules$' -j "$jobs"; }
integration_tests() { ctest --test-dir "$1" --output-on-failure -L integration; }

run_suite() {
  local mode="$1" dir="$2"
  if step "build $mode" scripts/build.sh "$mode"; then
    step "unit tests ($mode)" unit_tests "$dir" || true
    step "integration tests ($mode)" integration_tests "$dir" || true
  else
    skip "unit tests ($mode)" "build failed"
    skip "integration tests ($mode)" "build failed"
  fi
}

total_start=$SECONDS
if step "install deps" scripts/install-deps.sh; then
  run_suite release build
  # Read only by sanitizer runtimes, so exporting them for the rest of the run is harmless.
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  run_suite asan build-asan
else
  skip "builds and tests" "dependencies could not be installed"
fi
step "layer rules" scripts/check-layers.sh || true

echo
echo "==== summary ($((SECONDS - total_start))s)"
for i in "${!names[@]}"; do
  printf '  %-34s %s\n' "${names[$i]}" "${results[$i]}"
done
if [ "$failed" -ne 0 ]; then
  echo "test: FAILED"
  exit 1
fi
echo "test: all passed"
