# shellcheck shell=bash disable=SC2034  # exit_code, stop_ms, waited_total: read by the callers
# Helpers shared by the benchmark and server test scripts (sourced, bash):
# tools, loopback ports, waiting for a server, stopping it, reading /proc.

# install_missing TOOL[:PACKAGE]...: installs with apt-get the Debian package
# (default: the tool's name) of each tool not on PATH.
install_missing() {
  local spec missing=() sudo=""
  for spec in "$@"; do
    command -v "${spec%%:*}" >/dev/null 2>&1 || missing+=("${spec#*:}")
  done
  [ ${#missing[@]} -gt 0 ] || return 0
  [ "$(id -u)" = 0 ] || sudo=sudo
  echo "installing ${missing[*]} (apt-get)" >&2
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1 ||
    { $sudo apt-get update -qq >/dev/null && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null; }
}

used_ports=" "
# free_port: a loopback TCP port nothing listens on (and not handed out yet).
free_port() {
  local port
  while true; do
    port=$((20000 + RANDOM % 40000))
    case $used_ports in *" $port "*) continue ;; esac
    if command -v ss >/dev/null 2>&1; then
      ss -Htln "sport = :$port" 2>/dev/null | grep -q . && continue
    else
      (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && continue
    fi
    used_ports+="$port "
    echo "$port"
    return
  done
}

# wait_tcp PORT PID: until PORT accepts connections (PID must stay alive),
# 10 s at most.
wait_tcp() {
  local i
  for i in $(seq 100); do
    kill -0 "$2" 2>/dev/null || return 1
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

# stop_pid PID SECONDS: SIGTERM to a child of this shell, SIGKILL when it
# still runs after SECONDS; sets exit_code and stop_ms (SIGTERM to exit).
stop_pid() {
  local i t0
  t0=$(date +%s%3N)
  kill -TERM "$1" 2>/dev/null || true
  for ((i = 0; i < $2 * 10; i++)); do
    kill -0 "$1" 2>/dev/null || break
    sleep 0.1
  done
  stop_ms=$(($(date +%s%3N) - t0))
  kill -KILL "$1" 2>/dev/null || true
  exit_code=0
  wait "$1" 2>/dev/null || exit_code=$?
}

# rss_kib PID: VmRSS of PID in KiB (read without forking, to sample often).
rss_kib() {
  local key value _
  while read -r key value _; do
    if [ "$key" = VmRSS: ]; then echo "$value"; return; fi
  done <"/proc/$1/status"
}
hwm_kib() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status"; }
hz=$(getconf CLK_TCK)

# machine_busy_ticks: clock ticks every core spent not idle.
machine_busy_ticks() {
  local _cpu user nice system _idle _iowait irq softirq steal _rest
  read -r _cpu user nice system _idle _iowait irq softirq steal _rest </proc/stat
  echo $((user + nice + system + irq + softirq + steal))
}

# wait_quiet: until the rest of the machine uses under a quarter of a core
# for a second, at most $quiet_wait seconds; adds the wait to waited_total.
quiet_wait=${QUIET_WAIT:-10}
waited_total=0
wait_quiet() {
  local i b0 b1
  for ((i = 0; i < quiet_wait; i++)); do
    b0=$(machine_busy_ticks)
    sleep 1
    b1=$(machine_busy_ticks)
    if [ $((b1 - b0)) -lt $((hz / 4)) ]; then
      waited_total=$((waited_total + i))
      return 0
    fi
  done
  waited_total=$((waited_total + i))
  echo "the machine stayed busy for ${quiet_wait} s; measuring anyway" >&2
}
