#!/usr/bin/env bash
# Makes a self-signed development certificate for Portcullis:
#   ECDSA P-256, SAN DNS:localhost + IP:127.0.0.1 + IP:::1, valid 365 days.
# Usage: scripts/gen-dev-cert.sh [--force] [--name DNS]... [DIR]   (DIR defaults to <repo>/certs)
# Each --name adds a DNS subjectAltName (e.g. --name example.com --name '*.example.com').
# Writes DIR/dev-cert.pem and DIR/dev-key.pem (mode 600), only when they are not both there
# already; --force regenerates them. Uses the openssl command-line tool (Debian package
# `openssl`), which is only a key generator here: the proxy itself links BoringSSL, never OpenSSL.
set -euo pipefail

force=0
dir=""
extra_sans=""
while [ $# -gt 0 ]; do
  arg="$1"
  shift
  case "$arg" in
    --force) force=1 ;;
    --name)
      [ $# -gt 0 ] || { echo "gen-dev-cert: --name needs a DNS name" >&2; exit 2; }
      extra_sans="$extra_sans,DNS:$1"
      shift ;;
    -h|--help) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "gen-dev-cert: unknown option $arg" >&2; exit 2 ;;
    *)
      if [ -n "$dir" ]; then echo "gen-dev-cert: more than one directory given" >&2; exit 2; fi
      dir="$arg" ;;
  esac
done
if [ -z "$dir" ]; then
  dir="$(cd "$(dirname "$0")/.." && pwd)/certs"
fi

command -v openssl >/dev/null 2>&1 || {
  echo "gen-dev-cert: the openssl tool is missing (apt-get install openssl)" >&2
  exit 1
}

cert="$dir/dev-cert.pem"
key="$dir/dev-key.pem"
if [ "$force" = 0 ] && [ -s "$cert" ] && [ -s "$key" ]; then
  echo "gen-dev-cert: $cert and $key already exist (use --force to regenerate)"
  exit 0
fi

mkdir -p "$dir"
# Write to temporary names in the same directory and rename, so a reader never sees a half
# written pair and a failed run leaves any previous pair untouched. umask 077: the key is never
# readable by others, not even for an instant.
umask 077
tmp_cert="$(mktemp "$dir/.dev-cert.XXXXXX")"
tmp_key="$(mktemp "$dir/.dev-key.XXXXXX")"
trap 'rm -f "$tmp_cert" "$tmp_key"' EXIT

# -x509 keeps OpenSSL's default v3_ca extensions (CA:TRUE, subject/authority key ids), so the
# same file works as its own trust anchor: curl --cacert certs/dev-cert.pem https://localhost/.
openssl req -x509 -new -nodes \
  -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
  -keyout "$tmp_key" -out "$tmp_cert" \
  -days 365 -subj "/CN=localhost" \
  -addext "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1$extra_sans" \
  -addext "extendedKeyUsage=serverAuth" \
  2>/dev/null || {
  echo "gen-dev-cert: openssl failed to make the certificate" >&2
  exit 1
}
chmod 600 "$tmp_key"
chmod 644 "$tmp_cert"
mv -f "$tmp_key" "$key"
mv -f "$tmp_cert" "$cert"
trap - EXIT

echo "gen-dev-cert: wrote $cert and $key (ECDSA P-256, localhost/127.0.0.1/::1, 365 days)"
