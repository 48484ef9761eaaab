#!/usr/bin/env bash
# Benchmark of `podguard serve` (not a test: it prints figures and checks the
# targets, it fails only when it cannot run). With wrk over TLS keep-alive it
# POSTs a realistic AdmissionReview (tests/bench/pod-review.json: a Pod a
# Deployment's ReplicaSet creates, allowed) to:
#   - podguard serve, contract profile;
#   - null_tls_server: cpp-httplib, tuned (TCP_NODELAY, long keep-alive, a
#     growing thread pool, backlog 1024), answering podguard's exact response
#     bytes; it reads the review but does no admission work (the baseline);
#   - nginx answering the same bytes from its config (a reference server);
# at 1 and 32 connections, then podguard at 128 connections, and prints
# reviews/s, p50, p99, the servers' CPU per review, podguard's RSS idle and
# under load, and each target with PASS/FAIL:
#   throughput >= 0.9x the null server's, p99 <= 0.5 ms at 1 connection and
#   <= 5 ms at 32, RSS <= 20 MiB idle and <= 64 MiB at 128 connections.
#
#   tests/bench/webhook_bench.sh [SECONDS=10] [WARMUP_SECONDS=3] [RUNS=3]
#
# Each figure is the best (highest throughput) of RUNS runs, taken in rounds
# that alternate the servers, since a shared machine only ever slows a run.
#
# Environment: PODGUARD=path benchmarks that podguard binary instead of
# build-bench's; QUIET_WAIT=seconds (default 120) bounds the wait, before
# each run, for the rest of the machine to go quiet (under 1/4 core busy).
#
# wrk runs with one thread (-t1), so on a 2-core machine one core is left to
# the server. Missing Debian packages (wrk, nginx, curl, jq) are installed
# with apt-get. Everything the script starts is stopped on exit.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
duration=${1:-10}
warmup=${2:-3}
runs=${3:-3}
build="$root/build-bench"
bench="$root/tests/bench"
die() { echo "webhook_bench: $*" >&2; exit 1; }

# --- tools ------------------------------------------------------------------
PATH=$PATH:/usr/sbin  # nginx
QUIET_WAIT=${QUIET_WAIT:-120}  # this script waits longer for quiet than lib.sh's default
# shellcheck source=tests/bench/lib.sh
. "$bench/lib.sh"  # install_missing, free_port, wait_tcp, rss_kib, hwm_kib, machine_busy_ticks, hz, wait_quiet
install_missing wrk nginx curl jq openssl  # each is also its Debian package's name
nginx_bin=$(command -v nginx) || die "nginx is not installed"

# --- build ------------------------------------------------------------------
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j "$(nproc)" --target podguard null_tls_server >/dev/null
podguard=${PODGUARD:-$build/webhook/podguard}  # PODGUARD=path benchmarks another build
null_server="$build/tests/null_tls_server"

# --- processes and cleanup --------------------------------------------------
work=$(mktemp -d /tmp/podguard-webhook-bench.XXXXXX)
pids=()
wrk_pid=""
cleanup() {
  local pid
  [ -z "$wrk_pid" ] || kill "$wrk_pid" 2>/dev/null || true
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# cpu_ticks PID...: user+system clock ticks of the processes (all threads).
cpu_ticks() {
  local total=0 pid stat
  for pid in "$@"; do
    stat=$(<"/proc/$pid/stat") || continue
    stat=${stat##*) }  # fields from 3 on; the command name may hold spaces
    set -- $stat
    total=$((total + ${12} + ${13}))
  done
  echo "$total"
}
# children_ticks VAR: user+system clock ticks of this shell's finished
# children (the wrk runs, mostly), from the `times` builtin, which must run
# in this shell, not in a $(...) subshell.
children_ticks() {
  times >"$work/times"
  printf -v "$1" '%s' "$(awk -v hz="$hz" 'END {
    s = 0
    for (i = 1; i <= 2; i++) { split($i, p, "m"); s += p[1] * 60 + p[2] }
    printf "%d", s * hz + 0.5
  }' "$work/times")"
}
# --- inputs -----------------------------------------------------------------
"$root/certs/make-certs.sh" -o "$work/certs" >/dev/null 2>"$work/certs.log" ||
  die "certs/make-certs.sh failed: $(cat "$work/certs.log")"
cert="$work/certs/tls.crt"
key="$work/certs/tls.key"
ca="$work/certs/ca.crt"
printf 'apiVersion: podguard.io/v1alpha1\nkind: PolicyConfig\nprofile: contract\n' >"$work/config.yaml"
# The API server sends compact JSON.
jq -c . "$bench/pod-review.json" >"$work/review.json"

# --- podguard ---------------------------------------------------------------
pg_port=$(free_port)
pg_metrics_port=$(free_port)
# As the image, the chart and manifests/ run it (GLIBC_TUNABLES, docs/serve.md).
GLIBC_TUNABLES=${GLIBC_TUNABLES:-glibc.malloc.tcache_count=1000} \
"$podguard" serve --config "$work/config.yaml" --tls-cert "$cert" --tls-key "$key" \
  --addr "127.0.0.1:$pg_port" --metrics-addr "127.0.0.1:$pg_metrics_port" >/dev/null 2>"$work/podguard.err" &
pg_pid=$!
pids+=("$pg_pid")
wait_tcp "$pg_port" "$pg_pid" || die "podguard serve did not start: $(cat "$work/podguard.err")"
sleep 1
rss_start=$(rss_kib "$pg_pid")

post() {  # post PORT OUT: one review over TLS; prints the HTTP status
  curl -sS --cacert "$ca" -o "$2" -w '%{http_code}' -H 'Content-Type: application/json' \
    --data-binary "@$work/review.json" "https://127.0.0.1:$1/validate"
}
status=$(post "$pg_port" "$work/response.json")
[ "$status" = 200 ] || die "podguard answered HTTP $status: $(cat "$work/response.json")"
grep -q '"allowed":true' "$work/response.json" || die "the review is not allowed: $(cat "$work/response.json")"

# --- null server ------------------------------------------------------------
null_port=$(free_port)
"$null_server" "$cert" "$key" "$null_port" "$work/response.json" >/dev/null 2>"$work/null.err" &
null_pid=$!
pids+=("$null_pid")
wait_tcp "$null_port" "$null_pid" || die "null_tls_server did not start: $(cat "$work/null.err")"

# --- nginx ------------------------------------------------------------------
nginx_port=$(free_port)
mkdir -p "$work/nginx"
response=$(<"$work/response.json")
case $response in *'$'*) die "the response holds a \$, which nginx's return would expand" ;; esac
response=${response//\\/\\\\}
response=${response//\'/\\\'}
cat >"$work/nginx/nginx.conf" <<EOF
worker_processes $(nproc);
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $work/nginx/body;
  proxy_temp_path $work/nginx/proxy;
  fastcgi_temp_path $work/nginx/fastcgi;
  uwsgi_temp_path $work/nginx/uwsgi;
  scgi_temp_path $work/nginx/scgi;
  keepalive_requests 1000000;
  keepalive_timeout 5s;
  tcp_nodelay on;
  client_max_body_size 3m;
  client_body_buffer_size 64k;
  server {
    listen 127.0.0.1:$nginx_port ssl;
    ssl_certificate $cert;
    ssl_certificate_key $key;
    ssl_protocols TLSv1.2 TLSv1.3;
    location = /validate {
      default_type application/json;
      return 200 '$response';
    }
  }
}
EOF
"$nginx_bin" -p "$work/nginx" -e "$work/nginx/error.log" -c "$work/nginx/nginx.conf" -g 'daemon off;' \
  >/dev/null 2>"$work/nginx.err" &
nginx_pid=$!
pids+=("$nginx_pid")
wait_tcp "$nginx_port" "$nginx_pid" || die "nginx did not start: $(cat "$work/nginx.err" "$work/nginx/error.log" 2>/dev/null)"

# Every server must answer the same bytes.
for port in "$null_port" "$nginx_port"; do
  status=$(post "$port" "$work/check.json")
  [ "$status" = 200 ] && cmp -s "$work/check.json" "$work/response.json" ||
    die "the server on port $port answered HTTP $status and not podguard's response"
done
tls=$(openssl s_client -connect "127.0.0.1:$pg_port" -CAfile "$ca" </dev/null 2>/dev/null |
  awk '/^New, / { sub(/,$/, "", $2); print $2 " " $NF; exit }')

# --- runs -------------------------------------------------------------------
server_pids() {  # the processes doing the server's work (nginx: master and workers)
  local stat line fields
  case $1 in
    podguard) echo "$pg_pid" ;;
    null) echo "$null_pid" ;;
    nginx)
      echo "$nginx_pid"
      for stat in /proc/[0-9]*/stat; do
        read -r line <"$stat" 2>/dev/null || continue
        read -r -a fields <<<"${line##*) }"
        if [ "${fields[1]}" = "$nginx_pid" ]; then
          stat=${stat#/proc/}
          echo "${stat%/stat}"
        fi
      done
      ;;
  esac
}
server_port() {
  case $1 in podguard) echo "$pg_port" ;; null) echo "$null_port" ;; nginx) echo "$nginx_port" ;; esac
}

# to_ms VALUE: a wrk duration (850.00us, 1.20ms, 2.00s, 1.00m) in milliseconds.
to_ms() {
  awk -v v="$1" 'BEGIN {
    n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
    f = (u == "us") ? 0.001 : (u == "ms") ? 1 : (u == "s") ? 1000 : (u == "m") ? 60000 : (u == "h") ? 3600000 : -1
    if (f < 0) exit 1
    printf "%.3f", n * f
  }'
}

keys=()
declare -A rps p50 p99 row peak_rss
# bench NAME CONNECTIONS SECONDS [sample]: one wrk run; keeps its figures
# when it is the fastest run of NAME at CONNECTIONS so far (with "sample",
# podguard's peak RSS too, sampled every 100 ms, the highest of all runs).
bench() {
  local name=$1 conns=$2 secs=$3 sample=${4:-} out="$work/wrk-$1-$2.txt"
  local port spids cpu0 busy0 wrk0 cpu1 busy1 wrk1 peak=0 rss
  port=$(server_port "$name")
  spids=$(server_pids "$name")
  wait_quiet
  cpu0=$(cpu_ticks $spids)
  children_ticks wrk0
  busy0=$(machine_busy_ticks)
  WRK_BODY="$work/review.json" wrk -t1 -c"$conns" -d"${secs}s" --timeout 5s --latency \
    -s "$bench/wrk-post.lua" "https://127.0.0.1:$port/validate" >"$out" 2>&1 &
  wrk_pid=$!
  if [ -n "$sample" ]; then
    while kill -0 "$wrk_pid" 2>/dev/null; do
      rss=$(rss_kib "$pg_pid")
      if [ "$rss" -gt "$peak" ]; then peak=$rss; fi
      sleep 0.1
    done
  fi
  wait "$wrk_pid" || die "wrk failed against $name: $(cat "$out")"
  wrk_pid=""
  busy1=$(machine_busy_ticks)
  cpu1=$(cpu_ticks $spids)
  children_ticks wrk1
  if [ -n "$sample" ] && [ "$peak" -gt "${peak_rss[$name-$conns]:-0}" ]; then peak_rss[$name-$conns]=$peak; fi

  local requests rate l50 l99 errors non2xx
  requests=$(awk '/ requests in / { print $1 }' "$out")
  rate=$(awk '/^Requests\/sec:/ { print $2 }' "$out")
  l50=$(awk '$1 == "50%" { print $2 }' "$out")
  l99=$(awk '$1 == "99%" { print $2 }' "$out")
  errors=$(awk '/Socket errors:/ { gsub(/,/, ""); print $4 + $6 + $8 + $10 }' "$out")
  non2xx=$(awk '/Non-2xx or 3xx responses:/ { print $NF }' "$out")
  [ -n "$requests" ] && [ -n "$rate" ] && [ -n "$l50" ] && [ -n "$l99" ] ||
    die "cannot read wrk's output for $name at $conns connections: $(cat "$out")"
  [ "${errors:-0}" = 0 ] && [ "${non2xx:-0}" = 0 ] ||
    die "$name at $conns connections: ${errors:-0} socket errors, ${non2xx:-0} non-2xx responses: $(cat "$out")"
  [ "$secs" = "$duration" ] || return 0  # a warm-up

  local key=$name-$conns ms50 ms99
  ms50=$(to_ms "$l50") || die "unknown wrk latency unit in $l50"
  ms99=$(to_ms "$l99") || die "unknown wrk latency unit in $l99"
  if [ -z "${rps[$key]:-}" ]; then
    keys+=("$key")
  elif [ "$(awk -v a="$rate" -v b="${rps[$key]}" 'BEGIN { print (a > b) ? 1 : 0 }')" = 0 ]; then
    return 0
  fi
  rps[$key]=$rate
  p50[$key]=$ms50
  p99[$key]=$ms99
  row[$key]=$(awk -v n="$name" -v c="$conns" -v r="$rate" -v a="$ms50" -v b="$ms99" \
    -v cpu=$((cpu1 - cpu0)) -v wrk=$((wrk1 - wrk0)) -v busy=$((busy1 - busy0)) -v req="$requests" -v hz="$hz" \
    -v s="$secs" 'BEGIN {
      other = (busy - cpu - wrk) / hz / s; if (other < 0) other = 0
      printf "  %-9s %5d %11.0f %9.3f %9.3f %8.2f %9.1f %8.2f %8.2f",
        n, c, r, a, b, cpu / hz / s, cpu / hz / req * 1e6, wrk / hz / s, other
    }')
}

load_start=$(cut -d' ' -f1-3 /proc/loadavg)
for name in podguard null nginx; do
  bench "$name" 32 "$warmup"
  if [ "$name" = podguard ]; then
    sleep 1
    rss_warm=$(rss_kib "$pg_pid")
  fi
done
for ((round = 1; round <= runs; round++)); do
  for name in podguard null nginx; do
    bench "$name" 1 "$duration"
    bench "$name" 32 "$duration"
  done
  bench podguard 128 "$duration" sample
done
rss_hwm=$(hwm_kib "$pg_pid")
load_end=$(cut -d' ' -f1-3 /proc/loadavg)

# --- report -----------------------------------------------------------------
printf 'machine: %s, %s cores (%s), shared; load average %s at start, %s at end; waited %s s for quiet\n' \
  "$(uname -m)" "$(nproc)" "$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)" "$load_start" "$load_end" \
  "$waited_total"
printf 'wrk -t1 --latency, keep-alive over %s; best of %s runs of %s s after a %s s warm-up\n' \
  "${tls:-TLS}" "$runs" "$duration" "$warmup"
printf 'review %s bytes (tests/bench/pod-review.json, compact), response %s bytes (allowed)\n' \
  "$(wc -c <"$work/review.json")" "$(wc -c <"$work/response.json")"
printf '  %-9s %5s %11s %9s %9s %8s %9s %8s %8s\n' server conns reviews/s "p50 ms" "p99 ms" "srv CPU" "us/review" "wrk CPU" "others"
for key in "${keys[@]}"; do printf '%s\n' "${row[$key]}"; done
echo "  (srv CPU, wrk CPU, others: cores used during the run by the server, by wrk, by everything else)"

failed=0
verdict() {  # verdict OK TEXT
  if [ "$1" = 1 ]; then printf '  PASS  %s\n' "$2"; else printf '  FAIL  %s\n' "$2"; failed=1; fi
}
cmp_le() { awk -v a="$1" -v b="$2" 'BEGIN { print (a <= b) ? 1 : 0 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
echo "targets:"
for c in 1 32; do
  r=$(ratio "${rps[podguard-$c]}" "${rps[null-$c]}")
  rn=$(ratio "${rps[podguard-$c]}" "${rps[nginx-$c]}")
  conn_text="$c connections"
  [ "$c" = 1 ] && conn_text="1 connection"
  verdict "$(cmp_le 0.9 "$r")" "throughput at $conn_text: ${r}x the null server (target >= 0.9x); ${rn}x nginx"
done
verdict "$(cmp_le "${p99[podguard-1]}" 0.5)" "p99 at 1 connection: ${p99[podguard-1]} ms (target <= 0.5 ms)"
verdict "$(cmp_le "${p99[podguard-32]}" 5)" "p99 at 32 connections: ${p99[podguard-32]} ms (target <= 5 ms)"
verdict "$(cmp_le "$rss_start" 20480)" "RSS idle 1 s after start: $(mib "$rss_start") MiB (target <= 20 MiB)"
verdict "$(cmp_le "$rss_warm" 20480)" "RSS idle after the 32-connection warm-up: $(mib "$rss_warm") MiB (target <= 20 MiB)"
verdict "$(cmp_le "${peak_rss[podguard-128]}" 65536)" \
  "RSS peak at 128 connections: $(mib "${peak_rss[podguard-128]}") MiB sampled every 100 ms, VmHWM $(mib "$rss_hwm") MiB (target <= 64 MiB)"
[ "$failed" = 0 ] && echo "all targets hold" || echo "some targets fail"
