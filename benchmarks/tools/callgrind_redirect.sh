#!/usr/bin/env bash
# Instructions per plain-HTTP redirect (scenario 5's request), or with MODE=proxy per proxied
# keep-alive request over TLS (scenario 2's, against one upstream nginx), counted by callgrind: on a shared
# 2-core machine CPU time per request moves by 20-40 % from run to run, an instruction count
# does not (two runs of one binary agree within 1 %). User space only: the kernel's share (the
# read and the send, ~70 % of the CPU per redirect) is not in it.
#
#   benchmarks/tools/callgrind_redirect.sh [BINARY] [SECONDS]     (default build/portcullis, 5)
#
# One worker, plain listener on 127.0.0.1:19180 (TLS one on 19543, unused; run.sh's ports are
# not touched), wrk -c64 keep-alive. Counters are zeroed after a 2 s warm-up, dumped after the
# measured run; the total is divided by the requests wrk completed. Prints the total and the 25
# functions (TOP=N: N) with the most inclusive instructions per request. Needs valgrind and wrk.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
bin="${1:-$root/build/portcullis}"
secs="${2:-5}"
tmp="$(mktemp -d /tmp/portcullis-cg.XXXXXX)"
pid=""
up_pids=()
cleanup() {
  for p in "${up_pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -TERM "$pid"; wait "$pid" || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
"$root/scripts/gen-dev-cert.sh" "$tmp/cert" >/dev/null
sed -e "s|@CERT@|$tmp/cert/dev-cert.pem|; s|@KEY@|$tmp/cert/dev-key.pem|; s|@WORKERS@|1|" \
    -e "s|@HTTPS_PORT@|19543|; s|@HTTP_PORT@|19180|; s|@UP1_PORT@|19201|; s|@UP2_PORT@|19202|" \
    "$root/benchmarks/configs/portcullis.yaml.in" >"$tmp/p.yaml"
valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.out" --dump-instr=no \
  "$bin" -c "$tmp/p.yaml" --log-level warn >"$tmp/vg.log" 2>&1 &
pid=$!
python3 "$root/benchmarks/tools/bench.py" waitport 19180 60 || { cat "$tmp/vg.log" >&2; exit 1; }
url='http://127.0.0.1:19180/some/page?q=1'
if [ "${MODE:-redirect}" = proxy ]; then
  # Scenario 2: the upstream nginx of run.sh's config, on this script's own upstream ports.
  for port in 19201 19202; do
    mkdir -p "$tmp/up$port" "$tmp/www"
    sed -e "s|@UP_PORT@|$port|g; s|@TMP@|$tmp/up$port|g" \
        "$root/benchmarks/configs/upstream-nginx.conf.in" >"$tmp/up$port/nginx.conf"
    nginx -c "$tmp/up$port/nginx.conf" -p "$tmp/up$port" &  # daemon off: ours to stop by PID
    up_pids+=("$!")
  done
  for port in 19201 19202; do python3 "$root/benchmarks/tools/bench.py" waitport "$port" 10; done
  url='https://127.0.0.1:19543/'
fi
timeout 30 wrk -t1 -c64 -d2s -H 'Host: localhost' "$url" >/dev/null 2>&1 || true
callgrind_control -z "$pid" >/dev/null
timeout $((secs + 30)) wrk -t1 -c64 -d"${secs}s" -H 'Host: localhost' "$url" >"$tmp/wrk.txt" 2>&1
callgrind_control -d "$pid" >/dev/null
kill -TERM "$pid"; wait "$pid" || true; pid=""
reqs="$(awk '/requests in/{print $1}' "$tmp/wrk.txt")"
python3 - "$tmp/cg.out.1" "$reqs" <<'PY'
import collections, os, re, sys
names, self_ir, incl, calls = {}, collections.Counter(), collections.Counter(), collections.Counter()
cur = cfn = None
pending = None
def name(s):
    m = re.match(r'\((\d+)\)(?: (.*))?', s)
    if not m:
        return s
    if m.group(2):
        names[m.group(1)] = m.group(2)
    return names.get(m.group(1), m.group(1))
for line in open(sys.argv[1], errors="replace"):
    line = line.rstrip("\n")
    if line.startswith("fn="):
        cur = name(line[3:])
    elif line.startswith("cfn="):
        cfn = name(line[4:])
    elif line.startswith("calls="):
        pending = int(line[6:].split()[0])
    elif line and (line[0].isdigit() or line[0] in "+-*"):
        parts = line.split()
        if len(parts) < 2:
            continue
        if pending is not None:
            calls[cfn] += pending
            incl[cfn] += int(parts[1])
            pending = None
        else:
            self_ir[cur] += int(parts[1])
n = int(sys.argv[2])
total = sum(self_ir.values())
print(f"requests {n}, instructions {total:,}, per request {total / n:,.0f}")
# Inclusive (own + callees) where the function was called; the loop's root keeps its own.
rows = sorted(((incl[f] or self_ir[f]) / n, calls[f] / n, f) for f in set(incl) | set(self_ir))
top = int(os.environ.get("TOP", "25"))
for ir, c, f in reversed(rows[-top:]):
    print(f"{ir:9.0f}  calls/req {c:5.2f}  {f[:110]}")
PY
