#!/usr/bin/env bash
# Portcullis benchmark: Portcullis vs nginx vs HAProxy, same machine, same run, reported as ratios.
# See benchmarks/README.md for what each scenario measures and the exact command lines.
#
#   benchmarks/run.sh                  full run (2 rounds x 5 s per proxy and timed scenario)
#   BENCH_QUICK=1 benchmarks/run.sh    quick check of the harness (1 round x 2 s, 500 idle conns)
#
# Environment (all optional):
#   BENCH_SECONDS=10        measured seconds per proxy, timed scenario and worker count, split
#                           over the rounds (quick: 2)
#   BENCH_ROUNDS=2          rounds per timed scenario (quick: 1); the proxies alternate round by
#                           round (P N H P N H), each round is BENCH_SECONDS / BENCH_ROUNDS long
#                           (whole seconds, at least 1); the report gives each proxy's median
#                           (2 rounds: mean) and the per-round ratios
#   BENCH_WORKERS="1 2"     worker/thread counts to run every proxy with
#   BENCH_PROXIES="portcullis nginx haproxy"
#   BENCH_SCENARIOS="keepalive full resume redirect big idle keepalive_log ws_idle ws_echo h2_small h2_large h2_idle static_small static_large gzip_html br_html"
#                           which scenarios to run, in that order (e.g. BENCH_SCENARIOS=keepalive_log
#                           runs the access-log variant alone; "ws_idle ws_echo" the WebSocket ones;
#                           "h2_small h2_large h2_idle" the HTTP/2 ones, h2load and tools/h2_tool.cc;
#                           "static_small static_large" static files, "gzip_html br_html" on-the-fly
#                           compression: Portcullis and nginx only, see README)
#   BENCH_LOG_WORKERS=1     worker counts for keepalive_log (the JSON access log variant; Portcullis
#                           and nginx only); a subset of BENCH_WORKERS
#   BENCH_IDLE_CONNS=5000   connections held open in the idle-memory scenario
#   BENCH_WS_IDLE_CONNS=5000  WebSockets held open in ws_idle (quick: 500)
#   BENCH_H2_IDLE_CONNS=5000  HTTP/2 connections held open in h2_idle (quick: 500)
#   BENCH_H2_LARGE_PER_SEC=1000  h2_large's request count per second of round (h2load -n, bounded
#                           in time by timeout(1) at 4 x the round + 20 s)
#   BENCH_MICRO=1           also build and run the Google Benchmark micro-benchmarks (0: skip)
#   BENCH_NO_BUILD=1        use the existing build/portcullis instead of building
#   BENCH_PORTCULLIS_BIN=PATH  benchmark this portcullis binary (no build; e.g. one built from
#                           another branch); "Versions" then names it instead of a commit
#   BENCH_SOURCE=head       benchmark the last commit (git archive HEAD, built in the temp dir)
#                           instead of the working tree (default: tree, the portcullis target in build/)
#   BENCH_KEEP=1            keep the temp dir (configs, logs, raw results) after the run
#   BENCH_PROFILE=1         afterwards, per proxy at 1 worker: syscalls per request (strace -c,
#                           BENCH_PROFILE_SECONDS=3 of keep-alive load) and user/system CPU per
#                           request, in a "Where the time goes" section (installs strace)
#   BENCH_PORT_OFFSET=0     added to every port below (to run beside another run.sh)
# Everything listens on 127.0.0.1 ports 19080-19443; every process started here is stopped by
# PID on exit. Results: benchmarks/results/<date>.md and .tsv (and .png with matplotlib).
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
bench="$root/benchmarks"
cd "$root"

run_start=$SECONDS
quick="${BENCH_QUICK:-0}"
if [ "$quick" = 1 ]; then
  secs="${BENCH_SECONDS:-2}"
  rounds="${BENCH_ROUNDS:-1}"
  idle_conns="${BENCH_IDLE_CONNS:-500}"
  ws_idle_conns="${BENCH_WS_IDLE_CONNS:-500}"
  h2_idle_conns="${BENCH_H2_IDLE_CONNS:-500}"
else
  secs="${BENCH_SECONDS:-10}"
  rounds="${BENCH_ROUNDS:-2}"
  idle_conns="${BENCH_IDLE_CONNS:-5000}"
  ws_idle_conns="${BENCH_WS_IDLE_CONNS:-5000}"
  h2_idle_conns="${BENCH_H2_IDLE_CONNS:-5000}"
fi
h2_large_per_sec="${BENCH_H2_LARGE_PER_SEC:-1000}"
[[ "$h2_large_per_sec" =~ ^[1-9][0-9]*$ ]] || { echo "run.sh: BENCH_H2_LARGE_PER_SEC must be a whole number" >&2; exit 64; }
[[ "$secs" =~ ^[1-9][0-9]*$ ]] || { echo "run.sh: BENCH_SECONDS must be a whole number of seconds" >&2; exit 64; }
[[ "$rounds" =~ ^[1-9][0-9]*$ ]] || { echo "run.sh: BENCH_ROUNDS must be 1 or more" >&2; exit 64; }
# Each round of a timed scenario is this long (wrk and tlsload take whole seconds).
round_secs=$((secs / rounds))
[ "$round_secs" -ge 1 ] || round_secs=1
profile="${BENCH_PROFILE:-0}"
profile_secs="${BENCH_PROFILE_SECONDS:-3}"
worker_counts="${BENCH_WORKERS:-1 2}"
proxies="${BENCH_PROXIES:-portcullis nginx haproxy}"
scenarios="${BENCH_SCENARIOS:-keepalive full resume redirect big idle keepalive_log ws_idle ws_echo h2_small h2_large h2_idle static_small static_large gzip_html br_html}"
for sc in $scenarios; do
  case "$sc" in
    keepalive|full|resume|redirect|big|idle|keepalive_log|ws_idle|ws_echo|h2_small|h2_large|h2_idle) ;;
    static_small|static_large|gzip_html|br_html) ;;
    *) echo "run.sh: unknown scenario '$sc' in BENCH_SCENARIOS" >&2; exit 64 ;;
  esac
done
log_workers="${BENCH_LOG_WORKERS:-1}"
micro="${BENCH_MICRO:-1}"

# BENCH_PORT_OFFSET=N moves every port up by N, so that a run can go on beside another
# engineer's run on this machine instead of colliding with it.
port_offset="${BENCH_PORT_OFFSET:-0}"
[[ "$port_offset" =~ ^[0-9]+$ ]] && [ "$port_offset" -le 40000 ] || { echo "run.sh: BENCH_PORT_OFFSET must be 0-40000" >&2; exit 64; }
HTTPS_PORT=$((19443 + port_offset))
HTTP_PORT=$((19080 + port_offset))
UP1_PORT=$((19101 + port_offset))
UP2_PORT=$((19102 + port_offset))
# The WebSocket scenarios' upstreams: two ws_tool echo servers (the proxies' templates are
# rendered with these in place of UP1_PORT/UP2_PORT).
WS1_PORT=$((19111 + port_offset))
WS2_PORT=$((19112 + port_offset))
ws_selected=0
[[ " $scenarios " == *" ws_"* ]] && ws_selected=1
h2_selected=0
[[ " $scenarios " == *" h2_"* ]] && h2_selected=1
# Static files (14, 15) and on-the-fly compression (16, 17): Portcullis and nginx only.
br_selected=0
[[ " $scenarios " == *" br_html "* ]] && br_selected=1
# nginx's brotli filter (Debian's libnginx-mod-http-brotli-filter, ngx_brotli), loaded by the
# br_html config only.
NGINX_BROTLI_SO=/usr/lib/nginx/modules/ngx_http_brotli_filter_module.so
LOAD_CPU=1        # wrk / tlsload / the idle client run on this CPU (taskset)
PY=/usr/bin/python3
[ -x "$PY" ] || PY="$(command -v python3)"

log() { printf '\n== %s\n' "$*" >&2; }
die() { printf 'run.sh: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------------------------- packages
need=(nginx haproxy wrk openssl curl python3 python3-matplotlib libssl-dev gcc util-linux)
[ "$micro" = 1 ] && need+=(libbenchmark-dev cmake g++)
[ "$profile" = 1 ] && need+=(strace)
# HTTP/2: h2load (scenarios 11 and 12) and nghttp2's headers for tools/h2_tool.cc (13).
[ "$h2_selected" = 1 ] && need+=(nghttp2-client libnghttp2-dev g++)
# br_html: nginx's brotli module, and python3-brotli for the pre-flight check's decoding.
[ "$br_selected" = 1 ] && need+=(libnginx-mod-http-brotli-filter python3-brotli)
missing=()
for p in "${need[@]}"; do
  if [ "$p" = nginx ]; then
    # Any nginx flavour with the ssl and proxy modules will do (nginx-light, nginx-core, ...).
    command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx)
    continue
  fi
  st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  [ "$st" = installed ] || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  log "installing ${missing[*]}"
  sudo_cmd=()
  [ "$(id -u)" -ne 0 ] && sudo_cmd=(sudo)
  "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update
  "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
fi
NGINX="$(command -v nginx || echo /usr/sbin/nginx)"
HAPROXY="$(command -v haproxy || echo /usr/sbin/haproxy)"

# Portcullis's own build dependencies (libuv, BoringSSL, yaml-cpp, cmake, ...), for a fresh
# machine; returns at once when they are installed.
if [ "${BENCH_NO_BUILD:-0}" != 1 ] && [ -z "${BENCH_PORTCULLIS_BIN:-}" ]; then
  "$root/scripts/install-deps.sh" >&2 || die "scripts/install-deps.sh failed"
fi

# ------------------------------------------------------------------------- temp dir + cleanup
tmp="$(mktemp -d /tmp/portcullis-bench.XXXXXX)"
# nginx workers run as "nobody" and must read the 1 MiB file; keys stay 600 (read as root).
chmod 755 "$tmp"
pids=()
cleanup() {
  local rc=$?
  set +e
  for pid in "${pids[@]}"; do
    kill -0 "$pid" 2>/dev/null && kill -TERM "$pid" 2>/dev/null
  done
  for pid in "${pids[@]}"; do
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  done
  if [ "${BENCH_KEEP:-0}" = 1 ] || [ "$rc" -ne 0 ]; then
    echo "run.sh: temp dir kept: $tmp" >&2
  else
    rm -rf "$tmp"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Starts a background process, remembers its PID for cleanup. Usage: start NAME cmd...
start() {
  local name="$1"; shift
  "$@" >"$tmp/$name.out" 2>"$tmp/$name.err" &
  pids+=($!)
  last_pid=$!
}
# Stops one process we started, by PID: SIGTERM, then SIGKILL after 15 s. A process that has
# already exited is only reaped (and forgotten, so cleanup never signals a reused PID).
stop() {
  local pid="$1"
  if kill -TERM "$pid" 2>/dev/null; then
    for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
      echo "run.sh: PID $pid did not stop within 15 s of SIGTERM; killing it" >&2
      kill -KILL "$pid" 2>/dev/null
    fi
  fi
  wait "$pid" 2>/dev/null || true
  local keep=()
  for p in "${pids[@]}"; do [ "$p" != "$pid" ] && keep+=("$p"); done
  pids=("${keep[@]}")
}

# 5,000 idle connections need that many descriptors in the client and in the proxy.
hard="$(ulimit -Hn)"
if [ "$hard" = unlimited ] || [ "$hard" -gt 65536 ]; then hard=65536; fi
ulimit -n "$hard" || true
[ "$(ulimit -n)" -ge $((idle_conns * 2 + 1000)) ] ||
  echo "run.sh: warning: ulimit -n is $(ulimit -n); the idle scenario may run out of descriptors" >&2
# An idle WebSocket costs the proxy two descriptors (client and upstream side) for good.
[ "$ws_selected" = 0 ] || [ "$(ulimit -n)" -ge $((ws_idle_conns * 2 + 1000)) ] ||
  echo "run.sh: warning: ulimit -n is $(ulimit -n); ws_idle may run out of descriptors" >&2
[[ " $scenarios " != *" h2_idle "* ]] || [ "$(ulimit -n)" -ge $((h2_idle_conns * 2 + 1000)) ] ||
  echo "run.sh: warning: ulimit -n is $(ulimit -n); h2_idle may run out of descriptors" >&2

# --------------------------------------------------------------------------------- build
src_root="$root"
bench_build="$root/build-bench"
commit="$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)"
if [ -n "${BENCH_PORTCULLIS_BIN:-}" ]; then
  [ -x "$BENCH_PORTCULLIS_BIN" ] || die "BENCH_PORTCULLIS_BIN=$BENCH_PORTCULLIS_BIN is not an executable"
  log "using $BENCH_PORTCULLIS_BIN (no build)"
elif [ "${BENCH_SOURCE:-tree}" = head ]; then
  # The last commit, not the working tree (which others may be editing): git archive HEAD into
  # the temp dir and build just the binary there, without the tests.
  src_root="$tmp/src"
  bench_build="$tmp/build-bench"
  mkdir -p "$src_root"
  git -C "$root" archive "$commit" | tar -x -C "$src_root"
  log "building Portcullis $commit (Release, from git HEAD)"
  { cmake -S "$src_root" -B "$src_root/build" -DCMAKE_BUILD_TYPE=Release -DPORTCULLIS_TESTS=OFF &&
    cmake --build "$src_root/build" --target portcullis -j "$(nproc)"; } >"$tmp/build.log" 2>&1 ||
    { tail -40 "$tmp/build.log" >&2; die "build failed"; }
  "$root/scripts/check-no-openssl.sh" "$src_root/build/portcullis" || die "portcullis links OpenSSL, not BoringSSL"
elif [ "${BENCH_NO_BUILD:-0}" != 1 ]; then
  # Only the binary (the tests are scripts/test.sh's business): from a clean checkout on 2
  # cores this is ~1.5 min instead of ~5 with every test target. build/ keeps its settings.
  log "building Portcullis (Release, the portcullis target in build/)"
  { cmake -S "$root" -B "$root/build" -DCMAKE_BUILD_TYPE=Release &&
    cmake --build "$root/build" --target portcullis -j "$(nproc)"; } >"$tmp/build.log" 2>&1 ||
    { tail -40 "$tmp/build.log" >&2; die "build failed"; }
  "$root/scripts/check-no-openssl.sh" "$root/build/portcullis" || die "portcullis links OpenSSL, not BoringSSL"
fi
bin="${BENCH_PORTCULLIS_BIN:-$src_root/build/portcullis}"
[ -x "$bin" ] || die "$bin is missing"
build_secs=$((SECONDS - run_start))
# A private copy: others may rebuild build/ while the benchmark runs.
cp "$bin" "$tmp/portcullis"
if [ -n "${BENCH_PORTCULLIS_BIN:-}" ]; then
  commit="$BENCH_PORTCULLIS_BIN"
elif [ "${BENCH_SOURCE:-tree}" != head ] &&
   [ -n "$(git -C "$root" status --porcelain -- src CMakeLists.txt 2>/dev/null)" ]; then
  commit="$commit + uncommitted changes in src/"
fi

log "building benchmarks/tools/tlsload.c"
gcc -O2 -Wall -o "$tmp/tlsload" "$bench/tools/tlsload.c" -lssl -lcrypto
if [ "$ws_selected" = 1 ]; then
  log "building benchmarks/tools/ws_tool.cc"
  # Like tlsload: a standalone OpenSSL client (the same TLS library as wrk), not part of the
  # CMake build of Portcullis or its CI.
  g++ -O2 -std=c++20 -Wall -o "$tmp/ws_tool" "$bench/tools/ws_tool.cc" -lssl -lcrypto
fi
if [ "$h2_selected" = 1 ]; then
  log "building benchmarks/tools/h2_tool.cc"
  # The HTTP/2 probe and idle-connection holder: nghttp2 (framing, HPACK) over OpenSSL, like
  # h2load; standalone, not part of the CMake build of Portcullis or its CI.
  g++ -O2 -std=c++20 -Wall -o "$tmp/h2_tool" "$bench/tools/h2_tool.cc" -lnghttp2 -lssl -lcrypto
fi

# ------------------------------------------------------------------------- certificate, files
scripts/gen-dev-cert.sh "$tmp/cert" >/dev/null
CERT="$tmp/cert/dev-cert.pem"
KEY="$tmp/cert/dev-key.pem"
(umask 077; cat "$CERT" "$KEY" >"$tmp/haproxy.pem")
mkdir -p "$tmp/www"
head -c $((1 << 20)) /dev/urandom >"$tmp/www/1m"
chmod 755 "$tmp/www"; chmod 644 "$tmp/www/1m"
# (16, 17) the page the proxies compress, served by the upstream nginx as text/html: 100 KiB of
# generated HTML that gzip -6 brings to ~22 % (bench.py html: the same bytes every run).
PAGE_BYTES=102400
"$PY" "$bench/tools/bench.py" html "$tmp/www/page.html" --size "$PAGE_BYTES"
chmod 644 "$tmp/www/page.html"
# (14, 15) the static files, in a directory the upstreams do not serve (a proxy that forwarded
# /static/ instead of reading the file fails the pre-flight check). Random bytes: nothing here
# compresses them, and their content type is application/octet-stream (.bin) for both proxies.
STATIC_SMALL_BYTES=10240 STATIC_LARGE_BYTES=$((1 << 20))
mkdir -p "$tmp/static-root"
head -c "$STATIC_SMALL_BYTES" /dev/urandom >"$tmp/static-root/10k.bin"
head -c "$STATIC_LARGE_BYTES" /dev/urandom >"$tmp/static-root/1m.bin"
chmod 755 "$tmp/static-root"; chmod 644 "$tmp/static-root"/*.bin

render() {  # render TEMPLATE OUT WORKERS [UP_PORT]
  sed -e "s|@TMP@|$tmp|g" -e "s|@CERT@|$CERT|g" -e "s|@KEY@|$KEY|g" \
      -e "s|@WORKERS@|$3|g" -e "s|@HTTPS_PORT@|$HTTPS_PORT|g" -e "s|@HTTP_PORT@|$HTTP_PORT|g" \
      -e "s|@UP1_PORT@|$UP1_PORT|g" -e "s|@UP2_PORT@|$UP2_PORT|g" -e "s|@UP_PORT@|${4:-}|g" \
      "$bench/configs/$1" >"$2"
}

results="$tmp/results.jsonl"
: >"$results"
record() { echo "$1" >>"$results"; }

# ----------------------------------------------------------------------------------- upstreams
for port in "$UP1_PORT" "$UP2_PORT"; do
  render upstream-nginx.conf.in "$tmp/upstream-$port.conf" 1 "$port"
  start "upstream-$port" "$NGINX" -p "$tmp" -c "$tmp/upstream-$port.conf" -e "$tmp/upstream-$port-error.log"
  "$PY" "$bench/tools/bench.py" waitport "$port" 10 || die "upstream nginx on $port did not start"
done

# The WebSocket scenarios' upstreams, one thread each like the upstream nginx, not pinned.
if [ "$ws_selected" = 1 ]; then
  for port in "$WS1_PORT" "$WS2_PORT"; do
    start "ws-echo-$port" "$tmp/ws_tool" echo-server --port "$port"
    "$PY" "$bench/tools/bench.py" waitport "$port" 10 || die "ws_tool echo-server on $port did not start"
  done
fi

# CPU time (clock ticks) of this shell's finished children: wrk and tlsload run in the
# foreground, so the difference around one run is that load generator's own CPU time.
children_ticks() { awk '{print $16 + $17}' "/proc/$$/stat"; }
# The load generator's share of its one pinned CPU over a run: near 1.0 means the client, not
# the proxy, set the pace (the ratios of such a scenario say little about the proxies).
client_share() { "$PY" -c "print(round(($2 - $1) / $(getconf CLK_TCK) / $3, 3))"; }

# Runs a command (run_wrk/run_tlsload ...) and adds the proxy's CPU seconds (user, system)
# during it to the result line that command recorded.
with_proxy_cpu() {
  local u0 s0 u1 s1 cpu_j
  read -r u0 s0 <<<"$("$PY" "$bench/tools/bench.py" cpu --split "$proxy_pid")"
  "$@"
  read -r u1 s1 <<<"$("$PY" "$bench/tools/bench.py" cpu --split "$proxy_pid")"
  cpu_j="$("$PY" -c "u, s = $u1 - $u0, $s1 - $s0; print(f'\"cpu_seconds\":{u + s:.3f},\"cpu_user_seconds\":{u:.3f},\"cpu_sys_seconds\":{s:.3f}')")"
  sed -i '$ s/}$/,'"$cpu_j"'}/' "$results"
}

# Adds fields to the result line the last command recorded.   annotate '"key":value,...'
annotate() { sed -i '$ s/}$/,'"$1"'}/' "$results"; }

# Runs tlsload for $dur seconds (a new TLS connection per request; resumed with "resume") and
# appends a result line.   run_tlsload WORKERS PROXY full|resume
run_tlsload() {
  local w="$1" proxy="$2" sc="$3" flag="" c0 c1 j
  [ "$sc" = resume ] && flag="-r"
  c0="$(children_ticks)"
  j="$(taskset -c "$LOAD_CPU" "$tmp/tlsload" -p "$HTTPS_PORT" -c 64 -d "$dur" -H localhost $flag)"
  c1="$(children_ticks)"
  j="${j%\}},\"client_cpu\":$(client_share "$c0" "$c1" "$dur")}"
  record "${j%\}},\"workers\":$w,\"proxy\":\"$proxy\",\"scenario\":\"$sc\",\"round\":$round}"
  echo "  $proxy w=$w r=$round $sc: $j" >&2
}

# Runs wrk for $dur seconds with the JSON-printing script and appends a result line (with the
# round number $round).   run_wrk WORKERS PROXY SCENARIO CONNS URL [extra wrk args...]
run_wrk() {
  local w="$1" proxy="$2" sc="$3" conns="$4" url="$5"; shift 5
  local out="$tmp/wrk-$w-$proxy-$sc-r$round.txt"
  local c0 c1
  c0="$(children_ticks)"
  taskset -c "$LOAD_CPU" wrk -t1 -c"$conns" -d"${dur}s" --latency --timeout 5s \
    -s "$bench/tools/report.lua" "$@" "$url" >"$out" 2>&1 || true
  c1="$(children_ticks)"
  local j
  j="$(sed -n 's/^WRKJSON //p' "$out")"
  [ -n "$j" ] || { cat "$out" >&2; die "wrk printed no result for $proxy $sc"; }
  j="${j%\}},\"client_cpu\":$(client_share "$c0" "$c1" "$dur")}"
  # wrk's own summary lines about errors, kept verbatim for the report.
  grep -E 'Non-2xx|Socket errors' "$out" | sed "s/^/  wrk $proxy $sc (workers=$w, round $round): /" >&2 || true
  record "${j%\}},\"workers\":$w,\"proxy\":\"$proxy\",\"scenario\":\"$sc\",\"round\":$round}"
  printf '  %-10s w=%s r=%s %-9s %s\n' "$proxy" "$w" "$round" "$sc" "$(grep -E 'Requests/sec|Transfer/sec' "$out" | tr -s ' ' | tr '\n' ' ')" >&2
}

# Runs ws_tool load (64 WebSockets, a 32-byte message each, echo, repeat) for $dur seconds and
# appends a result line.   run_wsload WORKERS PROXY SCENARIO URL
run_wsload() {
  local w="$1" proxy="$2" sc="$3" url="$4" c0 c1 j
  c0="$(children_ticks)"
  # Exit status 2 (the upgrade failed) is in the JSON too; the probe has ruled it out already.
  j="$(taskset -c "$LOAD_CPU" "$tmp/ws_tool" load --url "$url" --connections 64 --seconds "$dur")" || true
  c1="$(children_ticks)"
  [ -n "$j" ] || die "ws_tool load printed no result for $proxy $sc"
  j="${j%\}},\"client_cpu\":$(client_share "$c0" "$c1" "$dur")}"
  record "${j%\}},\"workers\":$w,\"proxy\":\"$proxy\",\"scenario\":\"$sc\",\"round\":$round}"
  echo "  $proxy w=$w r=$round $sc: $j" >&2
}

# Runs h2load over HTTP/2 (ALPN offers only h2: no HTTP/1.1 fallback) and appends a result line.
#   run_h2load WORKERS PROXY SCENARIO URL h2load-args...
# h2_small: timed (-D $dur, like wrk -d), with a per-request log for the latency percentiles;
# h2_large: counted (-n in the args). Either way timeout(1) bounds the run (4 x the round + 20 s:
# h2_large's count at a tenth of the expected rate still fits), and a run it had to stop is
# recorded as such. h2load's exit status is not trusted for errors: its counts are.
run_h2load() {
  local w="$1" proxy="$2" sc="$3" url="$4"; shift 4
  local out="$tmp/h2load-$w-$proxy-$sc-r$round.txt" lat="" c0 c1 rc=0 limit=$((dur * 4 + 20)) j
  [ "$sc" = h2_small ] && lat="$tmp/h2load-$w-$proxy-$sc-r$round.log"
  c0="$(children_ticks)"
  timeout -k 5 "$limit" taskset -c "$LOAD_CPU" h2load -t1 --npn-list=h2 -H ':authority: localhost' \
    ${lat:+--log-file="$lat"} "$@" "$url" >"$out" 2>&1 || rc=$?
  c1="$(children_ticks)"
  j="$("$PY" "$bench/tools/bench.py" h2loadjson "$out" ${lat:+--log "$lat"} --rc "$rc" --limit "$limit")"
  # The client's CPU share over the time h2load itself measured (h2_large's length varies).
  local secs
  secs="$("$PY" -c 'import json,sys; print(json.loads(sys.argv[1]).get("seconds") or sys.argv[2])' "$j" "$dur")"
  j="${j%\}},\"client_cpu\":$(client_share "$c0" "$c1" "$secs")}"
  record "${j%\}},\"workers\":$w,\"proxy\":\"$proxy\",\"scenario\":\"$sc\",\"round\":$round}"
  rm -f "$lat"  # ~20 bytes per request: tens of MB per round
  printf '  %-10s w=%s r=%s %-9s %s\n' "$proxy" "$w" "$round" "$sc" \
    "$(grep -E '^(finished in|requests:|status codes:)' "$out" | tr -s ' ' | tr '\n' ' ')" >&2
  [ "$rc" = 0 ] || echo "  h2load exit status $rc (124: stopped by timeout after $limit s); last lines:" >&2
  [ "$rc" = 0 ] || tail -3 "$out" | sed 's/^/    /' >&2
}

# ----------------------------------------------------------------------- (1) direct, the ceiling
log "(1) direct to upstream nginx, no proxy: the ceiling"
curl -fsS -o /dev/null "http://127.0.0.1:$UP1_PORT/" || die "upstream does not answer"
taskset -c "$LOAD_CPU" wrk -t1 -c64 -d1s "http://127.0.0.1:$UP1_PORT/" >/dev/null 2>&1 || true
# One run each (informational; not compared round by round), as long as one round.
dur="$round_secs" round=1 run_wrk 1 direct direct_small 64 "http://127.0.0.1:$UP1_PORT/" -H "Host: localhost"
dur="$round_secs" round=1 run_wrk 1 direct direct_big 16 "http://127.0.0.1:$UP1_PORT/1m" -H "Host: localhost"
if [[ " $scenarios " == *" ws_echo "* ]]; then
  # (10)'s ceiling: the same load straight to one echo server, plain TCP (no TLS, no proxy).
  dur="$round_secs" round=1 run_wsload 1 direct direct_ws "ws://127.0.0.1:$WS1_PORT/echo"
fi

# --------------------------------------------------------------------------------- proxies
proxy_pid=""
# The proxies' configs; with "log", the access-log variant: Portcullis gets the access_log
# section appended (top level), nginx's "access_log off;" becomes an include of the log format.
render_portcullis() {  # render_portcullis WORKERS [log|static|gzip|br]
  render portcullis.yaml.in "$tmp/portcullis.yaml" "$1"
  if [ "${2:-}" = log ]; then
    render portcullis-access-log.yaml.in "$tmp/portcullis-access-log.yaml" "$1"
    { echo; cat "$tmp/portcullis-access-log.yaml"; } >>"$tmp/portcullis.yaml"
  fi
  if [ "${2:-}" = static ]; then
    # (14, 15) the /static/ route inserted first under "routes:" (the longest prefix wins, so
    # the order does not matter; "/" still proxies everything else).
    render portcullis-static.yaml.in "$tmp/portcullis-static.yaml" "$1"
    grep -q '^routes:$' "$tmp/portcullis.yaml" || die "portcullis.yaml.in has no 'routes:' line to add the static route to"
    sed -i "/^routes:\$/r $tmp/portcullis-static.yaml" "$tmp/portcullis.yaml"
  fi
  if [ "${2:-}" = gzip ] || [ "${2:-}" = br ]; then
    # (16, 17) compress: on the "/" route, after its buffering line (the same config for both:
    # the request's Accept-Encoding picks gzip or br).
    render portcullis-compress.yaml.in "$tmp/portcullis-compress.yaml" "$1"
    grep -q '^    buffering: { memory: 512k, max_file: 0 }$' "$tmp/portcullis.yaml" ||
      die "portcullis.yaml.in has no '    buffering: { memory: 512k, max_file: 0 }' line to add compress after"
    sed -i "/^    buffering: { memory: 512k, max_file: 0 }\$/r $tmp/portcullis-compress.yaml" "$tmp/portcullis.yaml"
  fi
}
# The HTTP/2 configs' upstream pool: 64 connections x 10 streams are 640 requests in flight,
# each on an upstream HTTP/1.1 connection of its own, so (2)'s pool of 128 idle connections
# (sized for 64 client connections) would make nginx and Portcullis close and reopen most
# upstream connections on every request, while HAProxy's pool is not capped. 1024 covers the
# 640, as 128 covers (2)'s 64 (nginx: keepalive per worker; Portcullis: max_idle per worker and
# server; HAProxy: unchanged, http-reuse always with no pool limit).
h2_pool() {  # h2_pool NAME FILE SED_FROM SED_TO
  grep -q "$3" "$2" || die "$1's template has no upstream pool line matching '$3' to resize for HTTP/2"
  sed -i "s|$3|$4|" "$2"
}
render_nginx() {  # render_nginx WORKERS [log|h2|static|gzip|br]
  render nginx.conf.in "$tmp/nginx.conf" "$1"
  case "${2:-}" in
    static|gzip|br)
      # (14)-(17): the variant's directives included in the TLS server, after its ssl_* lines
      # (static: a "location /static/"; gzip/br: server-level compression of what "/" proxies).
      local inc
      case "$2" in static) inc=nginx-static.conf.in ;; gzip) inc=nginx-gzip.conf.in ;; br) inc=nginx-brotli.conf.in ;; esac
      render "$inc" "$tmp/nginx-$2.conf" "$1"
      grep -q '^ *ssl_session_timeout 12h;$' "$tmp/nginx.conf" ||
        die "nginx.conf.in has no 'ssl_session_timeout 12h;' line to include $inc after"
      sed -i "s|^\( *\)ssl_session_timeout 12h;\$|&\n\1include $tmp/nginx-$2.conf;|" "$tmp/nginx.conf"
      # br: ngx_brotli is a dynamic module (Debian's libnginx-mod-http-brotli-filter); our
      # nginx.conf does not include /etc/nginx/modules-enabled, so it is loaded here.
      if [ "$2" = br ]; then sed -i "1i load_module $NGINX_BROTLI_SO;" "$tmp/nginx.conf"; fi
      ;;
  esac
  if [ "${2:-}" = h2 ]; then
    # HTTP/2 (scenarios 11-13): nginx.conf.in with "http2" on its TLS listener (nginx 1.22's
    # syntax; nginx then offers h2 and http/1.1 by ALPN). Everything else is the same config.
    grep -q "^ *listen 127.0.0.1:$HTTPS_PORT ssl reuseport;" "$tmp/nginx.conf" ||
      die "nginx.conf.in has no 'listen 127.0.0.1:@HTTPS_PORT@ ssl reuseport;' line to add http2 to"
    sed -i "s|^\( *listen 127.0.0.1:$HTTPS_PORT ssl\) reuseport;|\1 http2 reuseport;|" "$tmp/nginx.conf"
    h2_pool nginx "$tmp/nginx.conf" '^\( *keepalive\) 128;' '\1 1024;'
  fi
  if [ "${2:-}" = log ]; then
    render nginx-access-log.conf.in "$tmp/nginx-access-log.conf" "$1"
    grep -q '^ *access_log off;' "$tmp/nginx.conf" || die "nginx.conf.in has no 'access_log off;' line to replace"
    sed -i "s|^\( *\)access_log off;|\1include $tmp/nginx-access-log.conf;|" "$tmp/nginx.conf"
  fi
}
# Whether this Portcullis build has the access log: `portcullis -t` on the variant's config (a
# build without it rejects the unknown top-level key). Recorded once per worker count; the row
# then says "n/a" for Portcullis instead of stopping the run.
log_supported() {  # log_supported WORKERS -> 0 if supported
  local w="$1" out
  render_portcullis "$w" log
  if out="$("$tmp/portcullis" -t -c "$tmp/portcullis.yaml" 2>&1)"; then return 0; fi
  echo "  portcullis: no access log in this build (portcullis -t: ${out##*$'\n'}); keepalive_log is n/a" >&2
  record "{\"workers\":$w,\"proxy\":\"portcullis\",\"scenario\":\"unsupported\",\"sc\":\"keepalive_log\",\"detail\":$(printf '%s' "${out##*$'\n'}" | "$PY" -c 'import json,sys; print(json.dumps(sys.stdin.read()[-300:]))')}"
  return 1
}
# HTTP/2 (scenarios 11-13): haproxy.cfg.in with "alpn h2,http/1.1" on its TLS bind line (HAProxy
# 2.6 then speaks h2 to clients that select it; the backend stays HTTP/1.1, as for the others).
render_haproxy() {  # render_haproxy WORKERS [h2]
  render haproxy.cfg.in "$tmp/haproxy.cfg" "$1"
  if [ "${2:-}" = h2 ]; then
    grep -q "^ *bind 127.0.0.1:$HTTPS_PORT ssl crt [^ ]*\$" "$tmp/haproxy.cfg" ||
      die "haproxy.cfg.in has no 'bind 127.0.0.1:@HTTPS_PORT@ ssl crt FILE' line to add alpn to"
    sed -i "s|^\( *bind 127.0.0.1:$HTTPS_PORT ssl crt [^ ]*\)\$|\1 alpn h2,http/1.1|" "$tmp/haproxy.cfg"
  fi
}
start_proxy() {  # start_proxy NAME WORKERS [log|ws|h2|static|gzip|br]   (log: with the JSON access log to a file)
  local name="$1" w="$2" variant="${3:-}"
  # ws: the WebSocket scenarios. Same templates for Portcullis (it tunnels an upgrade on any
  # route), the WebSocket ones for nginx and HAProxy, and the two echo servers as upstreams.
  local UP1_PORT="$UP1_PORT" UP2_PORT="$UP2_PORT"
  [ "$variant" = ws ] && UP1_PORT="$WS1_PORT" UP2_PORT="$WS2_PORT"
  # static/gzip/br (14-17): Portcullis and nginx get the variant's additions (render_*); HAProxy
  # is not run in those rows.
  case "$name" in
    portcullis)
      # h2: the same config; Portcullis's TLS listeners offer h2 by ALPN by default (the
      # listener key "protocols: [h2, http/1.1]" is the default). A build without the HTTP/2
      # codec fails the h2 probe and its h2 cells say n/a.
      local pv="$variant"; [ "$pv" = h2 ] && pv=""
      render_portcullis "$w" "$pv"
      [ "$variant" = h2 ] && h2_pool portcullis "$tmp/portcullis.yaml" '^\( *max_idle:\) 128$' '\1 1024'
      start portcullis "$tmp/portcullis" -c "$tmp/portcullis.yaml" --log-level warn ;;
    nginx)
      mkdir -p "$tmp"/nginx-{body,proxy,fastcgi,uwsgi,scgi}
      if [ "$variant" = ws ]; then render nginx-websocket.conf.in "$tmp/nginx.conf" "$w"
      else render_nginx "$w" "$variant"; fi
      start nginx "$NGINX" -p "$tmp" -c "$tmp/nginx.conf" -e "$tmp/nginx-error.log" ;;
    haproxy)
      if [ "$variant" = ws ]; then render haproxy-websocket.cfg.in "$tmp/haproxy.cfg" "$w"
      else render_haproxy "$w" "$variant"; fi
      start haproxy "$HAPROXY" -db -f "$tmp/haproxy.cfg" ;;
  esac
  proxy_pid="$last_pid"
  if ! "$PY" "$bench/tools/bench.py" waitport "$HTTPS_PORT" 15 ||
     ! "$PY" "$bench/tools/bench.py" waitport "$HTTP_PORT" 5; then
    cat "$tmp/$name.err" >&2
    die "$name did not start"
  fi
}

# Pre-flight: status codes, body sizes, redirect Location, what reached the upstream, TLS params.
check_proxy() {  # check_proxy NAME WORKERS [h2]
  # h2: the proxy runs its HTTP/2 config; curl (HTTP/2 via nghttp2) then negotiates h2 by ALPN,
  # so the same checks run over HTTP/2, and the negotiated version must be 2.
  local name="$1" w="$2" problems=() c
  local curl_tls=(curl -sk --tlsv1.3 --resolve "localhost:$HTTPS_PORT:127.0.0.1")
  c="$("${curl_tls[@]}" -o /dev/null -w '%{http_code}' "https://localhost:$HTTPS_PORT/")" || true
  [ "$c" = 200 ] || problems+=("GET / answered $c, not 200")
  c="$("${curl_tls[@]}" -o /dev/null -w '%{http_code} %{size_download}' "https://localhost:$HTTPS_PORT/1m")" || true
  [ "$c" = "200 1048576" ] || problems+=("GET /1m answered '$c', not '200 1048576'")
  local echo_body
  echo_body="$("${curl_tls[@]}" -H 'X-Forwarded-Proto: http' "https://localhost:$HTTPS_PORT/echo" | tr -d '\n"')" || true
  [[ "$echo_body" == *"host=localhost:$HTTPS_PORT "* ]] || problems+=("upstream did not get the client's Host")
  [[ "$echo_body" == *"xff=127.0.0.1 "* ]] || problems+=("upstream did not get X-Forwarded-For: 127.0.0.1")
  [[ "$echo_body" == *"xfp=https "* ]] || problems+=("upstream did not get X-Forwarded-Proto: https")
  # Via names the protocol the proxy received (RFC 9110 §7.6.3): "1.1", or over HTTP/2 "2", which
  # Portcullis sends while nginx and HAProxy write a fixed "1.1" from their configs.
  local via_ver="1.1"
  [ "${3:-}" = h2 ] && [[ "$echo_body" == *" via=2 "* ]] && via_ver=2
  [[ "$echo_body" == *"xfh=localhost:$HTTPS_PORT xfport=$HTTPS_PORT realip=127.0.0.1 forwarded=for=127.0.0.1;proto=https via=$via_ver "* ]] ||
    problems+=("upstream did not get the same X-Forwarded-Host/-Port, X-Real-IP, Forwarded and Via as from the others")
  local red
  red="$(curl -s -o /dev/null -w '%{http_code} %{redirect_url}' -H 'Host: localhost' "http://127.0.0.1:$HTTP_PORT/a/b?c=1")" || true
  [ "$red" = "301 https://localhost/a/b?c=1" ] || problems+=("redirect answered '$red', not '301 https://localhost/a/b?c=1'")
  local tls
  tls="$(openssl s_client -connect "127.0.0.1:$HTTPS_PORT" -servername localhost -brief </dev/null 2>&1 |
         grep -E 'Protocol version|Ciphersuite|temp key' | sed 's/^[^:]*: *//' | tr '\n' ' ')" || true
  [[ "$tls" == *TLSv1.3* ]] || problems+=("TLS 1.3 was not negotiated: $tls")
  local detail="upstream saw: $echo_body; redirect: $red; TLS: $tls"
  if [ "${3:-}" = h2 ]; then
    local ver
    ver="$("${curl_tls[@]}" --http2 -o /dev/null -w '%{http_version}' "https://localhost:$HTTPS_PORT/")" || true
    [ "$ver" = 2 ] || problems+=("HTTP/2 config: curl --http2 negotiated HTTP/$ver, not HTTP/2")
    detail="HTTP/2 config, checks over HTTP/$ver; $detail"
  fi
  echo "  check $name: $detail" >&2
  local pj="" p
  for p in "${problems[@]}"; do pj+="${pj:+,}\"${p//\"/\'}\""; echo "  PROBLEM: $name: $p" >&2; done
  record "{\"workers\":$w,\"proxy\":\"$name\",\"scenario\":\"check\",\"problems\":[$pj],\"detail\":\"${detail//\"/\'}\"}"
}

# What the proxy logged at warn and above since the last call (nginx: its error log), recorded
# for the report; the log is then emptied.   collect_log NAME WORKERS SCENARIO ROUND
collect_log() {
  local name="$1" w="$2" sc="$3" r="$4" errlog n
  errlog="$tmp/$name.err"; [ "$name" = nginx ] && errlog="$tmp/nginx-error.log"
  [ -s "$errlog" ] || return 0
  n="$(wc -l <"$errlog")"
  echo "  $name logged $n line(s) on stderr/error log; last 3:" >&2
  tail -3 "$errlog" | cut -c1-300 | sed 's/^/    /' >&2
  record "{\"workers\":$w,\"proxy\":\"$name\",\"scenario\":\"log\",\"sc\":\"$sc\",\"round\":$r,\"lines\":$n,\"last\":$("$PY" -c 'import json,sys; print(json.dumps(sys.stdin.read()[-300:]))' <"$errlog")}"
  cp "$errlog" "$tmp/log-$w-$name-$sc-r$r.txt"
  : >"$errlog"
}

# Whether the running proxy tunnels a WebSocket: one upgrade and one echo round trip (ws_tool
# probe, 5 s at most). Once per proxy and worker count, before its first WebSocket round. A
# proxy that answers the upgrade with an ordinary response (Portcullis before its WebSocket
# support) is recorded as unsupported: its (9)/(10) cells say n/a and the run goes on.
ws_probe() {  # ws_probe NAME WORKERS -> 0 if the echo came back
  local name="$1" w="$2" out rc=0
  out="$("$tmp/ws_tool" probe --url "wss://127.0.0.1:$HTTPS_PORT/echo")" || rc=$?
  [ "$rc" = 0 ] && return 0
  local detail
  detail="$("$PY" -c 'import json,sys; print(json.loads(sys.stdin.read() or "{}").get("detail", ""))' <<<"$out" 2>/dev/null || true)"
  echo "  $name: no WebSocket support (ws_tool probe exit $rc: ${detail:-$out})" >&2
  record "{\"workers\":$w,\"proxy\":\"$name\",\"scenario\":\"unsupported\",\"sc\":\"$sc\",\"detail\":$(printf '%s' "${detail:-$out}" | "$PY" -c 'import json,sys; print(json.dumps(sys.stdin.read()[-300:]))')}"
  return 1
}

# Whether the running proxy speaks HTTP/2: one connection offering only h2 by ALPN, the preface
# and SETTINGS exchange, one GET / answered 200 (h2_tool probe, 5 s at most). Once per proxy and
# worker count, before its first HTTP/2 round. A proxy that does not select h2 (Portcullis before
# its HTTP/2 codec) or fails the exchange is recorded as unsupported: its (11)-(13) cells say n/a,
# the reason is listed under "Errors and checks", and the run goes on.
h2_probe() {  # h2_probe NAME WORKERS -> 0 if the exchange completed
  local name="$1" w="$2" out rc=0 detail
  out="$(timeout -k 2 15 "$tmp/h2_tool" probe --url "https://127.0.0.1:$HTTPS_PORT/")" || rc=$?
  [ "$rc" = 0 ] && return 0
  detail="$("$PY" -c 'import json,sys; print(json.loads(sys.stdin.read() or "{}").get("detail", ""))' <<<"$out" 2>/dev/null || true)"
  echo "  $name: no HTTP/2 support (h2_tool probe exit $rc: ${detail:-$out})" >&2
  record "{\"workers\":$w,\"proxy\":\"$name\",\"scenario\":\"unsupported\",\"sc\":\"$sc\",\"detail\":$(printf '%s' "${detail:-$out}" | "$PY" -c 'import json,sys; print(json.dumps(sys.stdin.read()[-300:]))')}"
  return 1
}

# Static files and compression (14-17). What each scenario fetches: its config variant, URL path,
# wrk connections, Accept-Encoding ("" = none), and the file its bodies must be (decoded).
file_sc() {  # file_sc SCENARIO -> sets fs_variant fs_path fs_conns fs_ae fs_expect fs_bytes
  case "$1" in
    static_small) fs_variant=static fs_path=/static/10k.bin fs_conns=64 fs_ae="" fs_expect="$tmp/static-root/10k.bin" fs_bytes=$STATIC_SMALL_BYTES ;;
    static_large) fs_variant=static fs_path=/static/1m.bin fs_conns=16 fs_ae="" fs_expect="$tmp/static-root/1m.bin" fs_bytes=$STATIC_LARGE_BYTES ;;
    gzip_html) fs_variant=gzip fs_path=/page.html fs_conns=16 fs_ae=gzip fs_expect="$tmp/www/page.html" fs_bytes=$PAGE_BYTES ;;
    br_html) fs_variant=br fs_path=/page.html fs_conns=16 fs_ae=br fs_expect="$tmp/www/page.html" fs_bytes=$PAGE_BYTES ;;
  esac
}
# Records that NAME cannot run scenario $sc at worker count W (its cells say n/a, with DETAIL
# under "Errors and checks"), and says so loudly in the log.
file_unsupported() {  # file_unsupported NAME WORKERS DETAIL
  echo "  PROBLEM: $1: $sc is n/a at $2 worker(s): $3" >&2
  record "{\"workers\":$2,\"proxy\":\"$1\",\"scenario\":\"unsupported\",\"sc\":\"$sc\",\"detail\":$(printf '%s' "$3" | "$PY" -c 'import json,sys; print(json.dumps(sys.stdin.read()[-400:]))')}"
}
# Before the first round of a static/compression scenario for a proxy and worker count: can it
# be started with the variant's config at all? Portcullis: `portcullis -t` (a build that does
# not know static:/compress: rejects the config). nginx with br: its brotli module must exist.
file_startable() {  # file_startable NAME WORKERS VARIANT -> 0 if it can be started
  local name="$1" w="$2" v="$3" out
  if [ "$name" = portcullis ]; then
    render_portcullis "$w" "$v"
    if ! out="$("$tmp/portcullis" -t -c "$tmp/portcullis.yaml" 2>&1)"; then
      file_unsupported "$name" "$w" "portcullis -t rejects the $v config: ${out##*$'\n'}"
      return 1
    fi
  elif [ "$name" = nginx ] && [ "$v" = br ] && [ ! -f "$NGINX_BROTLI_SO" ]; then
    file_unsupported "$name" "$w" "no brotli module for nginx ($NGINX_BROTLI_SO; Debian package libnginx-mod-http-brotli-filter)"
    return 1
  fi
  return 0
}
# The pre-flight check of a static/compression scenario, on the freshly started proxy: one curl
# over TLS 1.3 and HTTP/1.1 (what wrk speaks) with the scenario's Accept-Encoding, the bytes as
# sent (no --compressed), checked by bench.py bodycheck: 200; static: no Content-Encoding and
# the body byte for byte the file (the upstreams do not have it, so a proxied request fails);
# gzip/br: Content-Encoding gzip/br, under half the page's size, and decoding to exactly the
# page. Then a second request with curl --compressed (as a browser would), which must decode to
# the same page. A failure makes the proxy's cells n/a for the scenario (the run goes on).
file_check() {  # file_check NAME WORKERS -> 0 if the proxy serves the scenario right
  local name="$1" w="$2" out rc=0 detail problems
  local curl_tls=(curl -sk --tlsv1.3 --http1.1 --max-time 10 --resolve "localhost:$HTTPS_PORT:127.0.0.1")
  local hdr="$tmp/check-$name-$sc.hdr" body="$tmp/check-$name-$sc.body"
  rm -f "$hdr" "$body"
  "${curl_tls[@]}" ${fs_ae:+-H "Accept-Encoding: $fs_ae"} -D "$hdr" -o "$body" "https://localhost:$HTTPS_PORT$fs_path" || true
  out="$("$PY" "$bench/tools/bench.py" bodycheck --headers "$hdr" --body "$body" --expect "$fs_expect" \
         --encoding "${fs_ae:-identity}" --what "GET $fs_path${fs_ae:+ (Accept-Encoding: $fs_ae)}")" || rc=$?
  detail="$("$PY" -c 'import json,sys; print(json.loads(sys.stdin.read()).get("detail", ""))' <<<"$out" 2>/dev/null || echo "$out")"
  problems="$("$PY" -c 'import json,sys; print("; ".join(json.loads(sys.stdin.read()).get("problems", [])))' <<<"$out" 2>/dev/null || echo "bodycheck failed: $out")"
  if [ "$rc" = 0 ] && [ -n "$fs_ae" ]; then
    # What a browser-like client gets: curl asks for its encodings and decodes.
    local dec="$tmp/check-$name-$sc.dec" enc
    enc="$("${curl_tls[@]}" --compressed -o "$dec" -D - "https://localhost:$HTTPS_PORT$fs_path" |
           tr -d '\r' | sed -n 's/^[Cc]ontent-[Ee]ncoding: *//p' | tail -1)" || true
    if ! cmp -s "$dec" "$fs_expect"; then
      rc=1 problems="curl --compressed (Content-Encoding: ${enc:-none}) did not decode to the page"
    fi
    detail+="; curl --compressed got Content-Encoding ${enc:-none}"
    rm -f "$dec"
  fi
  rm -f "$hdr" "$body"
  echo "  check $name $sc: $detail" >&2
  record "{\"workers\":$w,\"proxy\":\"$name\",\"scenario\":\"check\",\"problems\":[],\"detail\":$(printf '%s' "$sc: $detail" | "$PY" -c 'import json,sys; print(json.dumps(sys.stdin.read()))')}"
  [ "$rc" = 0 ] && return 0
  file_unsupported "$name" "$w" "$problems ($detail)"
  return 1
}

warm_up() {  # Warm-up (TLS context, upstream pools, allocator), not measured.
  taskset -c "$LOAD_CPU" wrk -t1 -c64 -d1s -H "Host: localhost" "https://127.0.0.1:$HTTPS_PORT/" >/dev/null 2>&1 || true
}
# The static/compression scenarios' warm-up: one second of the scenario's own requests (the
# open-file cache, the compressor's state), not measured.   warm_up_url CONNS URL [wrk args...]
warm_up_url() {
  local conns="$1" url="$2"; shift 2
  taskset -c "$LOAD_CPU" wrk -t1 -c"$conns" -d1s "$@" "$url" >/dev/null 2>&1 || true
}
# The HTTP/2 scenarios' warm-up: the same second of small responses, over h2 (h2load, 64
# connections x 10 streams), not measured.
warm_up_h2() {
  timeout -k 5 20 taskset -c "$LOAD_CPU" h2load -t1 -c64 -m10 -D 1 --npn-list=h2 -H ':authority: localhost' \
    "https://127.0.0.1:$HTTPS_PORT/" >/dev/null 2>&1 || true
}
# The same warm-up, with its request count kept in $warm_requests (the access log has its lines).
warm_up_counted() {
  local out
  out="$(taskset -c "$LOAD_CPU" wrk -t1 -c64 -d1s -s "$bench/tools/report.lua" -H "Host: localhost" \
         "https://127.0.0.1:$HTTPS_PORT/" 2>&1)" || true
  warm_requests="$(sed -n 's/^WRKJSON //p' <<<"$out" | "$PY" -c 'import json,sys; print(json.loads(sys.stdin.read() or "{}").get("requests", 0))')"
}
# After a keepalive_log round (the proxy stopped, so its buffered lines are written): the log
# must hold a line per request (warm-up + measured; wrk's count misses the up to 64 requests in
# flight when it stops, so fewer lines than that is a proxy that logged less), and its last line
# must parse as JSON. Adds log_lines, log_bytes, log_expected to the round's result line, then
# deletes the log (~30 MB per round).
log_check() {  # log_check NAME
  local f="$tmp/access-$1.log" j
  j="$("$PY" - "$f" "$warm_requests" "$results" <<'PYEOF'
import json, sys
path, warm, results = sys.argv[1], int(sys.argv[2] or 0), sys.argv[3]
last = json.loads(open(results).read().strip().splitlines()[-1])
lines = size = 0
tail = b""
try:
    with open(path, "rb") as f:
        for line in f:
            lines += 1
            size += len(line)
            tail = line
except OSError:
    pass
try:
    json.loads(tail)
    ok = True
except ValueError:
    ok = False
print(json.dumps({"log_lines": lines, "log_bytes": size, "log_expected": warm + last.get("requests", 0),
                  "log_json_ok": ok}))
PYEOF
)"
  sed -i '$ s/}$/,'"${j#\{}"'/' "$results"
  echo "  $1 access log: $j" >&2
  rm -f "$f"
}

# Scenario by scenario, and within a scenario round by round, the proxies alternate (Portcullis,
# nginx, HAProxy, Portcullis, nginx, HAProxy, ...), each round on a freshly started, warmed-up
# proxy (start-up and warm-up are outside the timed window). Background load on a shared machine
# drifts over minutes; alternating short rounds spreads that drift over all three proxies, and
# the per-round ratios in the report show how much it moved them. A fresh proxy per round makes
# every round the same procedure (and the idle scenario needs one anyway).
checked=" "
ws_checked=" " ws_bad=" "
h2_checked=" " h2_bad=" "
file_checked=" " file_bad=" "
for w in $worker_counts; do
  for sc in $scenarios; do
    # Idle memory is close to deterministic: one round, at the full connection count.
    n_rounds="$rounds"; [ "$sc" = idle ] && n_rounds=1
    [ "$sc" = ws_idle ] && n_rounds=1  # as idle: one round
    [ "$sc" = h2_idle ] && n_rounds=1  # as idle: one round
    sc_proxies="$proxies" variant=""
    [[ "$sc" == ws_* ]] && variant=ws
    [[ "$sc" == h2_* ]] && variant=h2
    case "$sc" in
      static_small|static_large|gzip_html|br_html)
        # (14)-(17): Portcullis and nginx only. HAProxy serves no files, and Debian's HAProxy
        # 2.6 compresses with libslz (deflate without levels), not zlib at level 6 (README).
        file_sc "$sc"
        variant="$fs_variant" sc_proxies=""
        for name in $proxies; do [ "$name" = haproxy ] || sc_proxies+=" $name"; done ;;
    esac
    if [ "$sc" = keepalive_log ]; then
      # The access-log variant: only at BENCH_LOG_WORKERS (default 1: the CPU-per-request target
      # is about the code, and this keeps the full run ~25 s longer, not ~50), only Portcullis
      # and nginx (HAProxy logs to syslog or stdout, not to a file of its own; see README), and
      # Portcullis only if this build has the access log.
      [[ " $log_workers " == *" $w "* ]] || continue
      variant=log sc_proxies=""
      for name in $proxies; do
        case "$name" in
          haproxy) ;;
          portcullis) log_supported "$w" && sc_proxies+=" portcullis" ;;
          *) sc_proxies+=" $name" ;;
        esac
      done
    fi
    for round in $(seq 1 "$n_rounds"); do
      for name in $sc_proxies; do
        # A proxy that failed the WebSocket probe at this worker count is not started again.
        [[ "$variant" = ws && "$ws_bad" == *" $name-$w "* ]] && continue
        # The same for the HTTP/2 probe.
        [[ "$variant" = h2 && "$h2_bad" == *" $name-$w "* ]] && continue
        # The same for a failed static/compression check (per scenario).
        [[ "$file_bad" == *" $name-$w-$sc "* ]] && continue
        if [[ "$sc" =~ ^(static_small|static_large|gzip_html|br_html)$ && "$file_checked" != *" $name-$w-$sc "* ]] &&
           ! file_startable "$name" "$w" "$variant"; then
          file_checked+="$name-$w-$sc " file_bad+="$name-$w-$sc "
          continue
        fi
        log "$name, $w worker(s): $sc, round $round of $n_rounds"
        start_proxy "$name" "$w" "$variant"
        if [ "$variant" = ws ]; then
          # The pre-flight checks need the HTTP upstreams; the WebSocket config has the echo
          # servers instead, so its check is the probe.
          if [[ "$ws_checked" != *" $name-$w "* ]]; then
            ws_checked+="$name-$w "
            if ! ws_probe "$name" "$w"; then
              ws_bad+="$name-$w "
              stop "$proxy_pid"
              collect_log "$name" "$w" "$sc" "$round"
              continue
            fi
          fi
        elif [ "$variant" = h2 ]; then
          # HTTP/2: the probe first (a proxy without h2 is not run again for these rows), then
          # the pre-flight checks once more with the HTTP/2 config (curl negotiates h2).
          if [[ "$h2_checked" != *" $name-$w "* ]]; then
            h2_checked+="$name-$w "
            if ! h2_probe "$name" "$w"; then
              h2_bad+="$name-$w "
              stop "$proxy_pid"
              collect_log "$name" "$w" "$sc" "$round"
              continue
            fi
            check_proxy "$name" "$w" h2
          fi
        elif [[ "$sc" =~ ^(static_small|static_large|gzip_html|br_html)$ ]]; then
          # The scenario's own check (the plain scenarios' check_proxy is about proxying).
          if [[ "$file_checked" != *" $name-$w-$sc "* ]]; then
            file_checked+="$name-$w-$sc "
            if ! file_check "$name" "$w"; then
              file_bad+="$name-$w-$sc "
              stop "$proxy_pid"
              collect_log "$name" "$w" "$sc" "$round"
              continue
            fi
          fi
        elif [[ "$checked" != *" $name-$w "* ]]; then
          check_proxy "$name" "$w"
          checked+="$name-$w "
        fi
        if [ "$sc" = keepalive_log ]; then
          warm_up_counted  # counted: every request, warm-up included, must reach the log
        elif [ "$sc" = ws_echo ]; then
          # The same warm-up as the others' (1 s, 64 connections), as WebSocket round trips.
          taskset -c "$LOAD_CPU" "$tmp/ws_tool" load --url "wss://127.0.0.1:$HTTPS_PORT/echo" \
            --connections 64 --seconds 1 >/dev/null 2>&1 || true
        elif [ "$sc" = h2_small ] || [ "$sc" = h2_large ]; then
          warm_up_h2
        elif [[ "$sc" =~ ^(static_small|static_large|gzip_html|br_html)$ ]]; then
          warm_up_url "$fs_conns" "https://127.0.0.1:$HTTPS_PORT$fs_path" -H "Host: localhost" ${fs_ae:+-H "Accept-Encoding: $fs_ae"}
        elif [ "$sc" != idle ] && [ "$sc" != ws_idle ] && [ "$sc" != h2_idle ]; then
          warm_up
        fi
        dur="$round_secs"
        case "$sc" in
          keepalive)
            # (2) + (8): keep-alive small responses; proxy CPU time (user, system) read around
            # the run.
            with_proxy_cpu run_wrk "$w" "$name" keepalive 64 "https://127.0.0.1:$HTTPS_PORT/" -H "Host: localhost" ;;
          full|resume)
            # (3) full handshakes, (4) resumed handshakes: a new TLS connection per request.
            with_proxy_cpu run_tlsload "$w" "$name" "$sc" ;;
          keepalive_log)
            # (2L) + (8L): (2) with the JSON access log on (Portcullis and nginx), the same wrk
            # command; the log's lines are counted after the proxy has stopped (log_check).
            with_proxy_cpu run_wrk "$w" "$name" keepalive_log 64 "https://127.0.0.1:$HTTPS_PORT/" -H "Host: localhost" ;;
          redirect)
            # (5) plain-HTTP redirects (with the proxy's CPU time, shown next to (8)).
            with_proxy_cpu run_wrk "$w" "$name" redirect 64 "http://127.0.0.1:$HTTP_PORT/some/page?q=1" -H "Host: localhost" ;;
          big)
            # (6) 1 MiB responses over TLS.
            run_wrk "$w" "$name" big 16 "https://127.0.0.1:$HTTPS_PORT/1m" -H "Host: localhost" ;;
          idle)
            # (7) memory per idle TLS connection, on the fresh proxy (earlier load would leave
            # the allocator's free lists full and make the delta look smaller).
            j="$(taskset -c "$LOAD_CPU" "$PY" "$bench/tools/bench.py" idle --pid "$proxy_pid" --port "$HTTPS_PORT" --conns "$idle_conns")"
            record "${j%\}},\"workers\":$w,\"proxy\":\"$name\",\"scenario\":\"idle\",\"round\":$round}"
            echo "  $name w=$w idle: $j" >&2 ;;
          ws_idle)
            # (9) memory per idle WebSocket: (7)'s method (fresh proxy, 20 warm-up WebSockets,
            # baseline RSS, open N, 2.5 s, RSS again, summed over the process tree), with
            # ws_tool holding the WebSockets (TLS 1.3, upgrade, one echo round trip each).
            j="$(taskset -c "$LOAD_CPU" "$PY" "$bench/tools/bench.py" wsidle --pid "$proxy_pid" \
                 --tool "$tmp/ws_tool" --url "wss://127.0.0.1:$HTTPS_PORT/echo" --conns "$ws_idle_conns")"
            if [[ "$j" == *'"unsupported": true'* ]]; then
              # The probe passed but the warm-up's upgrades failed: same n/a as a failed probe.
              echo "  $name: no WebSocket support (ws_idle warm-up: $j)" >&2
              record "{\"workers\":$w,\"proxy\":\"$name\",\"scenario\":\"unsupported\",\"sc\":\"ws_idle\",\"detail\":$(printf '%s' "$j" | "$PY" -c 'import json,sys; print(json.dumps(sys.stdin.read()[-300:]))')}"
            else
              record "${j%\}},\"workers\":$w,\"proxy\":\"$name\",\"scenario\":\"ws_idle\",\"round\":$round}"
            fi
            echo "  $name w=$w ws_idle: $j" >&2 ;;
          ws_echo)
            # (10) WebSocket echo round trips over 64 WebSockets, with the proxy's CPU time.
            with_proxy_cpu run_wsload "$w" "$name" ws_echo "wss://127.0.0.1:$HTTPS_PORT/echo" ;;
          h2_small)
            # (11) HTTP/2, small responses: 64 connections x 10 concurrent streams for the
            # round, requests/s, p99 from h2load's per-request log, proxy CPU per request as (8).
            with_proxy_cpu run_h2load "$w" "$name" h2_small "https://127.0.0.1:$HTTPS_PORT/" -c64 -m10 -D "$dur" ;;
          h2_large)
            # (12) HTTP/2, 1 MiB responses: 4 connections x 4 streams (16 responses in flight,
            # as (6)'s 16 connections), a fixed count of requests (bounded in time by
            # run_h2load's timeout), MiB/s of response data.
            with_proxy_cpu run_h2load "$w" "$name" h2_large "https://127.0.0.1:$HTTPS_PORT/1m" -c4 -m4 -n "$((h2_large_per_sec * dur))" ;;
          h2_idle)
            # (13) memory per idle HTTP/2 connection: (9)'s method (fresh proxy, 20 warm-up
            # connections, baseline RSS, open N, 2.5 s, RSS again, summed over the process
            # tree), with h2_tool holding the connections (TLS 1.3, ALPN h2, preface + SETTINGS
            # both ways, one GET / each).
            j="$(taskset -c "$LOAD_CPU" "$PY" "$bench/tools/bench.py" h2idle --pid "$proxy_pid" \
                 --tool "$tmp/h2_tool" --url "https://127.0.0.1:$HTTPS_PORT/" --conns "$h2_idle_conns")"
            if [[ "$j" == *'"unsupported": true'* ]]; then
              echo "  $name: no HTTP/2 support (h2_idle warm-up: $j)" >&2
              record "{\"workers\":$w,\"proxy\":\"$name\",\"scenario\":\"unsupported\",\"sc\":\"h2_idle\",\"detail\":$(printf '%s' "$j" | "$PY" -c 'import json,sys; print(json.dumps(sys.stdin.read()[-300:]))')}"
            else
              record "${j%\}},\"workers\":$w,\"proxy\":\"$name\",\"scenario\":\"h2_idle\",\"round\":$round}"
            fi
            echo "  $name w=$w h2_idle: $j" >&2 ;;
          static_small|static_large)
            # (14) 10 KiB and (15) 1 MiB files from disk over TLS, keep-alive (64 and 16
            # connections, as (2) and (6)): requests/s, MiB/s, and the proxy's CPU per request
            # as (8). body_bytes: bench.py flags (and gives no figure for) a round whose
            # responses carried fewer bytes than the file.
            with_proxy_cpu run_wrk "$w" "$name" "$sc" "$fs_conns" "https://127.0.0.1:$HTTPS_PORT$fs_path" -H "Host: localhost"
            annotate "\"body_bytes\":$fs_bytes" ;;
          gzip_html|br_html)
            # (16) gzip and (17) brotli of the proxied 100 KiB HTML page, 16 connections, the
            # request asking for that one coding: requests/s and the proxy's CPU per response.
            # page_bytes: bench.py flags (and gives no figure for) a round that received more
            # than half the page per response: that traffic was not compressed.
            with_proxy_cpu run_wrk "$w" "$name" "$sc" "$fs_conns" "https://127.0.0.1:$HTTPS_PORT$fs_path" \
              -H "Host: localhost" -H "Accept-Encoding: $fs_ae"
            annotate "\"page_bytes\":$fs_bytes" ;;
        esac
        if ! kill -0 "$proxy_pid" 2>/dev/null; then
          # The proxy exited (crashed) during the round: its figures for it are not to be
          # trusted (its CPU time is lost with it), and the report says so.
          st=0; wait "$proxy_pid" 2>/dev/null || st=$?
          echo "  PROBLEM: $name exited during $sc round $round (exit status $st)" >&2
          record "{\"workers\":$w,\"proxy\":\"$name\",\"scenario\":\"check\",\"problems\":[\"$name exited during $sc round $round (exit status $st)\"],\"detail\":\"exited during $sc round $round\"}"
        fi
        stop "$proxy_pid"
        if [ "$sc" = keepalive_log ]; then log_check "$name"; fi  # before collect_log's record
        collect_log "$name" "$w" "$sc" "$round"
      done
    done
  done
done
scenario_secs=$((SECONDS - run_start - build_secs))

# ---------------------------------------------------------------- profile (BENCH_PROFILE=1)
# Not timed and not in the table: per proxy, 1 worker, a fresh warmed-up proxy, strace -c
# attached to every process of it for one keep-alive wrk run of $profile_secs seconds. strace is
# started and stopped by PID (SIGINT makes it detach and write its summary), bounded in time.
profile_time=0
if [ "$profile" = 1 ]; then
  p_start=$SECONDS
  for name in $proxies; do
    log "profile: $name, 1 worker: syscalls per request (strace -c, ${profile_secs} s keep-alive)"
    start_proxy "$name" 1
    warm_up
    st_args=()
    for p in $("$PY" "$bench/tools/bench.py" pids "$proxy_pid"); do st_args+=(-p "$p"); done
    start "strace-$name" strace -c -f -o "$tmp/strace-$name.txt" "${st_args[@]}"
    st_pid="$last_pid"
    # Wait (at most 5 s) until strace has attached to every process (it reports each thread).
    for _ in $(seq 1 50); do
      [ "$(grep -c 'attached' "$tmp/strace-$name.err" 2>/dev/null || true)" -ge "$((${#st_args[@]} / 2))" ] && break
      sleep 0.1
    done
    dur="$profile_secs" round=0 run_wrk 1 "$name" profile 64 "https://127.0.0.1:$HTTPS_PORT/" -H "Host: localhost"
    kill -INT "$st_pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$st_pid" 2>/dev/null || break; sleep 0.1; done
    stop "$st_pid"  # only if it is still there after 10 s: SIGTERM, then SIGKILL
    if [ -s "$tmp/strace-$name.txt" ]; then
      st_j="$("$PY" "$bench/tools/bench.py" stracejson "$tmp/strace-$name.txt")"
      sed -i '$ s/}$/,"strace":'"${st_j//\//\\/}"'}/' "$results"
    else
      echo "  strace wrote no summary for $name:" >&2
      tail -3 "$tmp/strace-$name.err" >&2
    fi
    stop "$proxy_pid"
    collect_log "$name" 1 profile 0
  done
  profile_time=$((SECONDS - p_start))
fi

# --------------------------------------------------------------------------- micro-benchmarks
micro_json=""
if [ "$micro" = 1 ]; then
  log "micro-benchmarks (Google Benchmark)"
  if cmake -S "$bench" -B "$bench_build" -DCMAKE_BUILD_TYPE=Release \
       -DPORTCULLIS_SOURCE_DIR="$src_root" >"$tmp/micro-build.log" 2>&1 &&
     cmake --build "$bench_build" --target portcullis_micro -j "$(nproc)" >>"$tmp/micro-build.log" 2>&1; then
    micro_json="$tmp/micro.json"
    mt=0.5; [ "$quick" = 1 ] && mt=0.1
    taskset -c "$LOAD_CPU" "$bench_build/portcullis_micro" --benchmark_min_time="$mt" \
      --benchmark_out="$micro_json" --benchmark_out_format=json >&2 || micro_json=""
  else
    tail -20 "$tmp/micro-build.log" >&2
    echo "run.sh: micro-benchmarks did not build; skipped" >&2
  fi
fi

# ----------------------------------------------------------------------------------- report
micro_secs=$((SECONDS - run_start - build_secs - scenario_secs - profile_time))
total_secs=$((SECONDS - run_start))
if [ "$rounds" -gt 1 ]; then
  per_sc="$rounds rounds of ${round_secs} s per proxy and timed scenario (proxies alternating round by round)"
else
  per_sc="one ${round_secs} s run per proxy and timed scenario"
fi
{
  echo "Run: $(date -u '+%Y-%m-%d %H:%M UTC'), $per_sc, ${idle_conns} idle connections (one run)."
  echo
  echo "Wall time: $((total_secs / 60)) min $((total_secs % 60)) s (build and set-up ${build_secs} s," \
       "scenarios ${scenario_secs} s$([ "$profile" = 1 ] && echo ", profile ${profile_time} s")," \
       "micro-benchmarks ${micro_secs} s)."
  echo
  echo "Machine: $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'))," \
       "Linux $(uname -r), shared with other work: compare ratios, not absolute numbers."
  echo
  echo "Versions: Portcullis $commit (BoringSSL: Debian android-libboringssl)," \
       "$("$NGINX" -v 2>&1 | sed 's/^nginx version: //') ($("$NGINX" -V 2>&1 | grep -o 'running with OpenSSL [0-9.]*' | sed 's/running with //' || true))," \
       "HAProxy $("$HAPROXY" -v | head -1 | awk '{print $3}') ($("$HAPROXY" -vv | grep -m1 'Running on OpenSSL' | sed 's/.*: //'))," \
       "$(wrk -v 2>&1 | head -1 | awk '{print $1, $2}'),$([ "$h2_selected" = 1 ] && echo " h2load $(h2load --version 2>&1 | awk '{print $2}'),")" \
       "$(openssl version | awk '{print "OpenSSL", $2}') (wrk, tlsload, ws_tool$([ "$h2_selected" = 1 ] && echo ", h2load, h2_tool"))."
  echo
  echo "Load generators run on CPU $LOAD_CPU (taskset), one thread; proxies and the two upstream nginx (1 worker each) are not pinned."
} >"$tmp/machine.txt"

mkdir -p "$bench/results"
stamp="$(date -u +%Y-%m-%d-%H%M)"
[ "$quick" = 1 ] && stamp="$stamp-quick"
qflag=(); [ "$quick" = 1 ] && qflag=(--quick)
[ "$profile" = 1 ] && qflag+=(--profile-seconds "$profile_secs")
cp "$results" "$bench/results/$stamp.jsonl"
"$PY" "$bench/tools/bench.py" report "$results" "$bench/results/$stamp" --machine "$tmp/machine.txt" \
  ${micro_json:+--micro "$micro_json"} "${qflag[@]}"
log "results: benchmarks/results/$stamp.md, .tsv, .jsonl (raw)"
