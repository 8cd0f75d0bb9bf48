#!/usr/bin/env bash
# Syscalls per plain-HTTP redirect, scenario 5's request, for Portcullis, nginx and
# HAProxy side by side: the kernel's read and send are ~70 % of a redirect's CPU, so the number
# and kind of syscalls per request matter more than user-space instructions.
#
#   benchmarks/tools/syscalls_redirect.sh [BINARY] [SECONDS]     (default build/portcullis, 5)
#   PROXIES="portcullis nginx haproxy" (default all three); MIN_PER_REQ=0.01: the smallest rate listed
#
# Each proxy runs alone with 1 worker, plain listener on 127.0.0.1:19180 (the configs of run.sh,
# on this script's own ports: run.sh's are not touched), wrk -t1 -c64 keep-alive, pinned to CPU
# 1 as in run.sh. After a 1 s warm-up, `perf stat` counts the syscall tracepoints of the proxy's
# serving process(es) during a SECONDS-long wrk run; counts are divided by the requests wrk
# completed. Tracepoint counters cost far less than strace (which stops the process on every
# call and so changes how many events each epoll_wait returns), so the batching seen here is
# close to the unobserved one. Needs perf (tracefs), wrk, nginx, haproxy.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
bin="${1:-$root/build/portcullis}"
secs="${2:-5}"
proxies="${PROXIES:-portcullis nginx haproxy}"
tmp="$(mktemp -d /tmp/portcullis-sc.XXXXXX)"
chmod 755 "$tmp"
pid=""
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -TERM "$pid"; wait "$pid" || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
"$root/scripts/gen-dev-cert.sh" "$tmp/cert" >/dev/null
(umask 077; cat "$tmp/cert/dev-cert.pem" "$tmp/cert/dev-key.pem" >"$tmp/haproxy.pem")
mkdir -p "$tmp"/nginx-{body,proxy,fastcgi,uwsgi,scgi}
render() {
  sed -e "s|@TMP@|$tmp|g; s|@CERT@|$tmp/cert/dev-cert.pem|g; s|@KEY@|$tmp/cert/dev-key.pem|g" \
      -e "s|@WORKERS@|1|g; s|@HTTPS_PORT@|19543|g; s|@HTTP_PORT@|19180|g" \
      -e "s|@UP1_PORT@|19201|g; s|@UP2_PORT@|19202|g" "$root/benchmarks/configs/$1" >"$2"
}
url='http://127.0.0.1:19180/some/page?q=1'
# No CPU time here: with every syscall traced it is inflated, and on this shared machine too noisy
# to mean anything; run.sh measures it.
printf '%-10s %8s %9s  %s\n' proxy requests "sys/req" "per request (syscalls seen at least MIN_PER_REQ times a request)"
for name in $proxies; do
  case "$name" in
    portcullis)
      render portcullis.yaml.in "$tmp/p.yaml"
      "$bin" -c "$tmp/p.yaml" --log-level warn >"$tmp/$name.log" 2>&1 & ;;
    nginx)
      render nginx.conf.in "$tmp/nginx.conf"
      nginx -p "$tmp" -c "$tmp/nginx.conf" -e "$tmp/nginx-error.log" >"$tmp/$name.log" 2>&1 & ;;
    haproxy)
      render haproxy.cfg.in "$tmp/haproxy.cfg"
      haproxy -db -f "$tmp/haproxy.cfg" >"$tmp/$name.log" 2>&1 & ;;
    *) echo "unknown proxy $name" >&2; exit 64 ;;
  esac
  pid=$!
  python3 "$root/benchmarks/tools/bench.py" waitport 19180 30 || { cat "$tmp/$name.log" >&2; exit 1; }
  # nginx serves from its worker (a child of the master we started); the others from themselves.
  targets="$pid"
  if [ "$name" = nginx ]; then
    sleep 0.5
    targets="$(pgrep -P "$pid" | paste -sd, -)"
  fi
  taskset -c 1 wrk -t1 -c64 -d1s -H 'Host: localhost' "$url" >/dev/null 2>&1 || true
  perf stat -x, -e 'syscalls:sys_enter_*' -p "$targets" -o "$tmp/perf.txt" &
  perf_pid=$!
  sleep 0.3
  taskset -c 1 timeout $((secs + 10)) wrk -t1 -c64 -d"${secs}s" -H 'Host: localhost' "$url" >"$tmp/wrk.txt" 2>&1
  kill -INT "$perf_pid"; wait "$perf_pid" || true
  reqs="$(awk '/requests in/{print $1}' "$tmp/wrk.txt")"
  python3 - "$tmp/perf.txt" "$reqs" "$name" <<'PY'
import os, sys
path, reqs, name = sys.argv[1], int(sys.argv[2]), sys.argv[3]
counts = {}
for line in open(path):
    parts = line.strip().split(",")
    if len(parts) < 3 or not parts[0].strip().isdigit():
        continue
    ev = parts[2]
    if ev.startswith("syscalls:sys_enter_"):
        counts[ev[len("syscalls:sys_enter_"):]] = int(parts[0])
total = sum(counts.values())
cells = [f"{k} {v / reqs:.2f}" for k, v in sorted(counts.items(), key=lambda kv: -kv[1]) if v / reqs >= float(os.environ.get("MIN_PER_REQ", "0.01"))]
print(f"{name:10s} {reqs:8d} {total / reqs:9.2f}  " + ", ".join(cells))
PY
  kill -TERM "$pid"; wait "$pid" || true; pid=""
  sleep 0.5
done
