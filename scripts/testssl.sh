#!/usr/bin/env bash
# Optional TLS audit (not part of scripts/test.sh): runs testssl.sh against a local Portcullis.
#
#   scripts/testssl.sh [PORTCULLIS_BINARY]      default: build/portcullis (scripts/build.sh release)
#
# Installs Debian's `testssl.sh` package if it is missing (needs root or sudo), makes a throwaway
# dev certificate, starts one demo upstream (scripts/demo_upstream.py) and Portcullis on
# 127.0.0.1 only (ephemeral ports), runs testssl.sh against it under a time bound (env
# TESTSSL_TIMEOUT, default 300 s), prints the rating (testssl.sh >= 3.1 only), key results and
# every finding worse than OK/INFO, and stops everything it started, by PID. Exits 0 when the
# scan completed, whatever it found; the full JSON report is kept when env TESTSSL_KEEP is set
# (its path is printed).
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$PWD"

case "${1:-}" in
  -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
esac
bin="${1:-build/portcullis}"
[[ "$bin" == /* ]] || bin="$repo/$bin"
[ -x "$bin" ] || { echo "testssl: $bin is not an executable; build it first (scripts/build.sh release)" >&2; exit 1; }
limit="${TESTSSL_TIMEOUT:-300}"

# --- testssl.sh itself (Debian installs it as /usr/bin/testssl) ------------------------------
find_testssl() { command -v testssl || command -v testssl.sh || true; }
testssl_bin="$(find_testssl)"
if [ -z "$testssl_bin" ]; then
  echo "testssl: installing Debian package testssl.sh"
  if [ "$(id -u)" -eq 0 ]; then sudo_cmd=(); else sudo_cmd=(sudo); fi
  "${sudo_cmd[@]}" apt-get install -y --no-install-recommends testssl.sh >/dev/null ||
    { "${sudo_cmd[@]}" apt-get update >/dev/null && "${sudo_cmd[@]}" apt-get install -y --no-install-recommends testssl.sh >/dev/null; }
  testssl_bin="$(find_testssl)"
  [ -n "$testssl_bin" ] || { echo "testssl: testssl.sh is still not installed" >&2; exit 1; }
fi

# --- Everything we start, stopped by PID on any exit ------------------------------------------
work="$(mktemp -d "${TMPDIR:-/tmp}/portcullis-testssl-XXXXXX")"
pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do
    # Up to 5 s for a clean exit, then SIGKILL that PID only.
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  if [ -n "${TESTSSL_KEEP:-}" ]; then echo "testssl: kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Waits up to $2 seconds for command $1 to succeed.
wait_for() {
  local i
  for ((i = 0; i < $2 * 10; i++)); do
    if eval "$1"; then return 0; fi
    sleep 0.1
  done
  return 1
}

scripts/gen-dev-cert.sh "$work" >/dev/null

# A free loopback port for the demo upstream (it needs a fixed one).
app_port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
python3 scripts/demo_upstream.py --port "$app_port" --name testssl-demo >"$work/app.log" 2>&1 &
pids+=("$!")
wait_for "python3 -c 'import socket,sys; socket.create_connection((\"127.0.0.1\", $app_port), 1)' 2>/dev/null" 10 ||
  { echo "testssl: demo upstream did not start:" >&2; cat "$work/app.log" >&2; exit 1; }

cat >"$work/portcullis.yaml" <<YAML
workers: 2
listeners:
  - name: https
    address: 127.0.0.1:0
    tls:
      certificate: $work/dev-cert.pem
      key: $work/dev-key.pem
    hsts: {max_age: 365d}
upstreams:
  app:
    servers: [127.0.0.1:$app_port]
routes:
  - path: /
    upstream: app
timeouts: {shutdown_grace: 2s}
YAML
"$bin" -c "$work/portcullis.yaml" --ready-file "$work/ready" >"$work/portcullis.log" 2>&1 &
pids+=("$!")
wait_for "[ -s '$work/ready' ]" 10 ||
  { echo "testssl: portcullis did not become ready:" >&2; cat "$work/portcullis.log" >&2; exit 1; }
https="$(awk '$1 == "https" {print $2}' "$work/ready")"
port="${https##*:}"
echo "testssl: portcullis $bin on 127.0.0.1:$port, demo upstream on 127.0.0.1:$app_port"

# --- The scan ----------------------------------------------------------------------------------
# --ip pins the address so "localhost" (the certificate's name) never resolves to anything else;
# --warnings batch: never stop to ask; a time bound because a full scan can run for minutes.
echo "testssl: running $testssl_bin (at most ${limit}s)"
rc=0
timeout "$limit" "$testssl_bin" --quiet --color 0 --warnings batch --ip 127.0.0.1 \
  --jsonfile "$work/report.json" --logfile "$work/report.log" "localhost:$port" >/dev/null 2>&1 || rc=$?
if [ "$rc" -eq 124 ]; then
  echo "testssl: scan did not finish within ${limit}s (TESTSSL_TIMEOUT)" >&2
  exit 1
fi
[ -s "$work/report.json" ] || { echo "testssl: no report (exit $rc); log:" >&2; cat "$work/report.log" >&2 || true; exit 1; }

# --- Summary: the rating, then every finding above OK/INFO -------------------------------------
python3 - "$work/report.json" <<'PY'
import json, sys
with open(sys.argv[1]) as f:
    findings = json.load(f)
if isinstance(findings, dict):  # --jsonfile-pretty layout
    findings = [f for s in findings.get("scanResult", []) for v in s.values() if isinstance(v, list) for f in v]
by_id = {f.get("id"): f for f in findings}
print()
print("==== testssl.sh summary")
for key in ("overall_grade", "final_score", "grade_cap_reason_1", "grade_cap_reason_2"):
    if key in by_id:
        print(f"  {key}: {by_id[key].get('finding')}")
protocols = [k for k in ("SSLv2", "SSLv3", "TLS1", "TLS1_1", "TLS1_2", "TLS1_3")
             if k in by_id and by_id[k].get("finding", "").startswith("offered")]
print(f"  protocols offered: {' '.join(protocols) or '(none)'}")
for key in ("HSTS_time", "cipher_order", "PFS", "PFS_ECDHE_curves", "sessionresumption_ticket",
            "cert_keySize", "cert_signatureAlgorithm"):
    if key in by_id:
        print(f"  {key}: {by_id[key].get('finding')}")
vulns = [f for f in findings if f.get("id") in ("heartbleed", "CCS", "ticketbleed", "ROBOT",
         "secure_renego", "secure_client_renego", "CRIME_TLS", "BREACH", "POODLE_SSL",
         "fallback_SCSV", "SWEET32", "FREAK", "DROWN", "LOGJAM", "BEAST", "LUCKY13", "RC4")]
not_ok = [f"{f['id']}={f['severity']}" for f in vulns if f.get("severity") not in ("OK", "INFO")]
print(f"  vulnerability checks: {len(vulns)} run, not OK: {' '.join(not_ok) or 'none'}")
order = {"CRITICAL": 0, "HIGH": 1, "MEDIUM": 2, "LOW": 3, "WARN": 4}
bad = [f for f in findings if f.get("severity") in order]
bad.sort(key=lambda f: order[f["severity"]])
if not bad:
    print("  no findings above OK/INFO")
for f in bad:
    print(f"  {f['severity']:<8} {f.get('id')}: {f.get('finding')}")
PY
echo "testssl: scan finished (testssl.sh exit $rc)"
