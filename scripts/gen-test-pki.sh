#!/usr/bin/env bash
# Makes a throwaway PKI for the tls unit tests (never for production):
#   ca.pem / ca-key.pem              "Portcullis Test CA" (ECDSA P-256, CA:TRUE)
#   other-ca.pem / other-ca-key.pem  a second, unrelated CA (for "wrong CA" tests)
#   default.pem     ECDSA  DNS:default.test                         CN=default
#   a-ecdsa.pem     ECDSA  DNS:a.example.com, DNS:alt.example.net   CN=a-ecdsa
#   a-rsa.pem       RSA    DNS:a.example.com, DNS:alt.example.net   CN=a-rsa
#   wildcard.pem    ECDSA  DNS:*.example.com                        CN=wildcard
#   localhost.pem   ECDSA  DNS:localhost, IP:127.0.0.1              CN=localhost
#   client.pem      ECDSA  clientAuth           subject C=DE, O=Portcullis Tests, CN=client one
#   rogue-client.pem ECDSA clientAuth, signed by other-ca           CN=rogue client
# Each NAME.pem has its key in NAME-key.pem; leaves are signed by ca.pem unless said otherwise
# and are valid DAYS days (env PKI_DAYS, default 365).
# Usage: scripts/gen-test-pki.sh DIR    (DIR is created; existing files are overwritten)
# Uses the openssl command-line tool only as a generator; the proxy links BoringSSL.
set -euo pipefail

if [ $# -ne 1 ] || [ "${1#-}" != "$1" ]; then
  sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
fi
dir="$1"
days="${PKI_DAYS:-365}"
command -v openssl >/dev/null 2>&1 || { echo "gen-test-pki: openssl tool missing" >&2; exit 1; }
mkdir -p "$dir"
cd "$dir"
umask 077

keyopts() {
  case "$1" in
    ec) echo "-newkey ec -pkeyopt ec_paramgen_curve:P-256" ;;
    rsa) echo "-newkey rsa:2048" ;;
    *) echo "gen-test-pki: unknown key type $1" >&2; exit 2 ;;
  esac
}

# ca NAME SUBJECT
ca() {
  # shellcheck disable=SC2046
  openssl req -x509 -new -nodes $(keyopts ec) -keyout "$1-key.pem" -out "$1.pem" \
    -days 3650 -subj "$2" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
}

# leaf NAME ISSUER KEYTYPE SUBJECT EXTENSIONS...   (extensions: one "key=value" per argument)
leaf() {
  local name="$1" issuer="$2" type="$3" subj="$4"
  shift 4
  # shellcheck disable=SC2046
  openssl req -new -nodes $(keyopts "$type") -keyout "$name-key.pem" -out "$name.csr" \
    -subj "$subj" 2>/dev/null
  printf '%s\n' "basicConstraints=critical,CA:FALSE" "$@" >"$name.ext"
  openssl x509 -req -in "$name.csr" -CA "$issuer.pem" -CAkey "$issuer-key.pem" \
    -set_serial "0x$(openssl rand -hex 12)" -days "$days" -sha256 \
    -extfile "$name.ext" -out "$name.pem" 2>/dev/null
  rm -f "$name.csr" "$name.ext"
}

server_eku="extendedKeyUsage=serverAuth"
client_eku="extendedKeyUsage=clientAuth"

ca ca "/O=Portcullis Tests/CN=Portcullis Test CA"
ca other-ca "/O=Portcullis Tests/CN=Portcullis Other CA"
leaf default ca ec "/CN=default" "subjectAltName=DNS:default.test" "$server_eku"
leaf a-ecdsa ca ec "/CN=a-ecdsa" "subjectAltName=DNS:a.example.com,DNS:alt.example.net" "$server_eku"
leaf a-rsa ca rsa "/CN=a-rsa" "subjectAltName=DNS:a.example.com,DNS:alt.example.net" "$server_eku"
leaf wildcard ca ec "/CN=wildcard" "subjectAltName=DNS:*.example.com" "$server_eku"
leaf localhost ca ec "/CN=localhost" "subjectAltName=DNS:localhost,IP:127.0.0.1" "$server_eku"
leaf client ca ec "/C=DE/O=Portcullis Tests/CN=client one" "$client_eku"
leaf rogue-client other-ca ec "/CN=rogue client" "$client_eku"
chmod 644 ./*.pem
chmod 600 ./*-key.pem
echo "gen-test-pki: wrote test PKI to $dir"
