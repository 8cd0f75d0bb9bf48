#!/usr/bin/env bash
# The set-up-and-run command: installs dependencies, builds Release, makes a self-signed dev
# certificate, starts two demo app servers on 127.0.0.1:8001 and :8002, and runs Portcullis in
# the foreground until Ctrl-C. The demo servers are stopped (by PID) when the proxy exits.
#
#   scripts/run-dev.sh [CONFIG] [portcullis options...]     CONFIG defaults to conf/portcullis.yaml
#
# Ports 80 and 443 need root or CAP_NET_BIND_SERVICE; see the hint printed when neither is there.
set -euo pipefail
caller_pwd="$PWD"
cd "$(dirname "$0")/.."

config="conf/portcullis.yaml"
case "${1:-}" in
  -h|--help) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  "" | -*) ;;
  *)
    config="$1"; shift
    # A relative path is taken from the caller's directory, else from the repository root.
    if [[ "$config" != /* && -e "$caller_pwd/$config" ]]; then config="$caller_pwd/$config"; fi
    ;;
esac
[ -f "$config" ] || { echo "run-dev: config file not found: $config" >&2; exit 64; }

scripts/install-deps.sh
scripts/build.sh release
bin="$PWD/build/portcullis"

[ -x scripts/gen-dev-cert.sh ] || { echo "run-dev: scripts/gen-dev-cert.sh is missing" >&2; exit 1; }
scripts/gen-dev-cert.sh certs

# --- Can we bind the configured ports? -------------------------------------------------------
listen_ports=()
while IFS= read -r line; do
  if [[ "$line" =~ ^[[:space:]]*(-[[:space:]]*)?address:[[:space:]]*[\"\']?[^[:space:]\"\'#]*:([0-9]+) ]]; then
    listen_ports+=("$((10#${BASH_REMATCH[2]}))")
  fi
done < "$config"
[ "${#listen_ports[@]}" -gt 0 ] || listen_ports=(80 443)   # what conf/portcullis.yaml uses
min_port=65536
for p in "${listen_ports[@]}"; do
  if [ "$p" -gt 0 ] && [ "$p" -lt "$min_port" ]; then min_port="$p"; fi
done
unpriv_start="$(cat /proc/sys/net/ipv4/ip_unprivileged_port_start 2>/dev/null || echo 1024)"

can_bind_low_ports() {
  [ "$(id -u)" -eq 0 ] && return 0
  # CAP_NET_BIND_SERVICE is capability bit 10, in this process or as a file capability of the binary.
  local capeff
  capeff="$(awk '/^CapEff:/ {print $2}' /proc/self/status 2>/dev/null || echo 0)"
  (( (16#${capeff:-0} >> 10) & 1 )) && return 0
  python3 -c 'import os, sys; os.getxattr(sys.argv[1], "security.capability")' "$bin" 2>/dev/null
}

privilege_hint() {
  cat >&2 <<HINT

run-dev: port $min_port is below $unpriv_start (/proc/sys/net/ipv4/ip_unprivileged_port_start),
run-dev: so binding it needs root or CAP_NET_BIND_SERVICE. Any one of these works:
  1. run as root:                  sudo scripts/run-dev.sh
  2. let the binary bind low ports (repeat after each rebuild that relinks it):
                                   sudo setcap cap_net_bind_service=+ep build/portcullis
  3. use high ports: cp conf/portcullis.yaml conf/portcullis-local.yaml, change the listener
     addresses' ports 80 -> 8080 and 443 -> 8443, set redirect_to_https: {port: 8443}, then:
                                   scripts/run-dev.sh conf/portcullis-local.yaml
HINT
}

if [ "$min_port" -lt "$unpriv_start" ] && ! can_bind_low_ports; then
  privilege_hint
  exit 1
fi

# --- Demo upstreams --------------------------------------------------------------------------
demo_pids=()
proxy_pid=""
# shellcheck disable=SC2317  # invoked by the EXIT trap
cleanup() {
  trap - EXIT INT TERM HUP
  if [ -n "$proxy_pid" ] && kill -0 "$proxy_pid" 2>/dev/null; then
    kill -TERM "$proxy_pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$proxy_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$proxy_pid" 2>/dev/null || true
  fi
  for pid in "${demo_pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${demo_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  [ "${#demo_pids[@]}" -eq 0 ] || echo "run-dev: stopped demo upstreams (pids ${demo_pids[*]})" >&2
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

start_demo() {
  local port="$1" name="$2" pid
  if port_open "$port"; then
    echo "run-dev: 127.0.0.1:$port is already in use; not starting $name there" >&2
    return 0
  fi
  python3 scripts/demo_upstream.py --port "$port" --name "$name" &
  pid=$!
  demo_pids+=("$pid")
  for _ in $(seq 50); do
    port_open "$port" && return 0
    kill -0 "$pid" 2>/dev/null || { echo "run-dev: $name failed to start" >&2; return 1; }
    sleep 0.1
  done
  echo "run-dev: $name did not open 127.0.0.1:$port within 5 s" >&2
  return 1
}
start_demo 8001 demo-1
start_demo 8002 demo-2

# --- The proxy -------------------------------------------------------------------------------
echo "run-dev: starting $bin -c $config${*:+ $*} (Ctrl-C to stop)"
for p in "${listen_ports[@]}"; do
  case "$p" in
    443)  echo "run-dev: try: curl -k https://localhost/" ;;
    *443) echo "run-dev: try: curl -k https://localhost:$p/" ;;
    80)   echo "run-dev: try: curl -i 'http://localhost/x?y=1'" ;;
    *)    echo "run-dev: try: curl -i 'http://localhost:$p/x?y=1'" ;;
  esac
done

# Run in the background and wait, so a TERM sent to this script reaches the proxy at once and the
# EXIT trap always stops the demo upstreams.
"$bin" -c "$config" "$@" &
proxy_pid=$!
rc=0
wait "$proxy_pid" || rc=$?
proxy_pid=""
if [ "$rc" -ne 0 ]; then
  echo "run-dev: portcullis exited with status $rc" >&2
  if [ "$min_port" -lt "$unpriv_start" ] && [ "$(id -u)" -ne 0 ]; then privilege_hint; fi
fi
exit "$rc"
