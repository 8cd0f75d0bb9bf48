#!/usr/bin/env bash
# Configures and builds Portcullis.
#   scripts/build.sh [release]   -> build/       (CMAKE_BUILD_TYPE=Release)
#   scripts/build.sh asan        -> build-asan/  (RelWithDebInfo + ASan/UBSan)
# Extra arguments after the mode are passed to the CMake configure step (e.g. -DBORINGSSL_ROOT=DIR).
set -euo pipefail
cd "$(dirname "$0")/.."

mode="${1:-release}"
[ "$#" -gt 0 ] && shift
case "$mode" in
  release) dir=build;      cmake_args=(-DCMAKE_BUILD_TYPE=Release) ;;
  asan)    dir=build-asan; cmake_args=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DPORTCULLIS_SANITIZE=ON) ;;
  *) echo "usage: $0 [release|asan] [cmake args...]" >&2; exit 64 ;;
esac

jobs="$(nproc 2>/dev/null || echo 2)"
cmake -S . -B "$dir" "${cmake_args[@]}" "$@"
cmake --build "$dir" -j "$jobs"

bin="$PWD/$dir/portcullis"
[ -x "$bin" ] || { echo "build: $bin was not produced" >&2; exit 1; }

if [ "$mode" = release ]; then
  scripts/check-no-openssl.sh "$bin" || { echo "build: ERROR: see above" >&2; exit 1; }
fi
echo "build: $bin"
