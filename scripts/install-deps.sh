#!/usr/bin/env bash
# Installs every build and test dependency of Portcullis from Debian 12 (bookworm) packages.
# Idempotent: when every package is already installed it exits at once without touching apt.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  build-essential cmake pkg-config g++
  libuv1-dev android-libboringssl-dev libyaml-cpp-dev
  googletest libgtest-dev libgmock-dev libnghttp2-dev
  libbrotli-dev libzstd-dev zlib1g-dev
  openssl curl python3 ca-certificates
  prometheus python3-prometheus-client
  python3-uvicorn python3-websockets python3-daphne
  nghttp2-client python3-h2 chromium
  mariadb-server python3-django gunicorn python3-mysqldb
  # scripts/check-package.sh: dpkg-shlibdeps, systemd-analyze, logrotate -d
  dpkg-dev systemd logrotate
  media-types
)

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  [ "$status" = "installed" ] || missing+=("$p")
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages already installed"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-deps: apt-get not found; Portcullis expects Debian 12 (bookworm)." >&2
  echo "install-deps: install these packages by hand: ${missing[*]}" >&2
  exit 1
fi

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    sudo_cmd=(sudo)
  else
    echo "install-deps: not root and sudo is not available; run as root, or install: ${missing[*]}" >&2
    exit 1
  fi
fi

export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update
"${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
echo "install-deps: done"
