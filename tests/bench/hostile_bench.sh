#!/usr/bin/env bash
# Benchmark of `podguard serve` under hostile clients and rollouts (issue
# 10; DESIGN.md "Staying up on the critical path"). Not a test: it prints
# figures against the targets with PASS/FAIL, and fails only when it cannot
# run. Each scenario starts its own podguard (examples/policy.yaml, loopback
# ports) and drives it with tests/go/podguard-load, whose review client is
# Go's net/http as in the API server (HTTP/1.1 keep-alive, POST never
# retried):
#
#   A  1,500 TLS connections trickle a byte every 5 s at the HTTPS port for
#      30 s; after the ramp, a client (2 connections, 100 reviews/s) and two
#      kubelet-like probes of /healthz (HTTPS and metrics port) for 10 s.
#      Targets: >= 99% of the reviews answered, p99 < 100 ms, /healthz max
#      < 1000 ms on both ports. Prints podguard_http_* and process_* metrics.
#   B  64 plain connections trickle at the metrics port while /healthz and
#      /metrics there are probed for 10 s. Target: max < 1000 ms.
#   C  4 reviews of 6,000 violating containers one after another, then RSS
#      (target < 96 MiB); one review of as many containers as fit in 3 MiB
#      alone, podguard's CPU for it (utime+stime, target < 100 ms); then a
#      normal client (2 connections, 10 s) beside a loop of 3 MiB reviews:
#      its p99 < 100 ms and no timeouts.
#   D  32 keep-alive connections of reviews for 12 s; SIGTERM after 3 s
#      (podguard runs with --drain-delay 2 when it has the flag); /readyz
#      probed meanwhile. Targets: exit 0, no failed review other than a
#      refused connection, /readyz 503 while /validate still answers.
#
#   tests/bench/hostile_bench.sh [A] [B] [C] [D]     (default: all four)
#
# Environment: PODGUARD=path runs that binary (not built here) instead of
# build-bench's; QUIET_WAIT=seconds (default 10) bounds the wait, before
# each scenario, for the rest of the machine to go quiet (under 1/4 core
# busy).
#
# Needs go (Debian's golang-go), curl, jq and openssl; missing ones are
# installed with apt-get. Everything the script starts is stopped on exit.
# The four scenarios take about 2 minutes after the build (plus the waits
# for quiet).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build="$root/build-bench"
bench="$root/tests/bench"
die() { echo "hostile_bench: $*" >&2; exit 1; }

scenarios=()
for arg in "$@"; do
  case $arg in
    A | B | C | D) scenarios+=("$arg") ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown scenario '$arg' (A, B, C or D)" ;;
  esac
done
[ ${#scenarios[@]} -gt 0 ] || scenarios=(A B C D)

# --- tools ------------------------------------------------------------------
# shellcheck source=tests/bench/lib.sh
. "$bench/lib.sh"  # install_missing, free_port, wait_tcp, stop_pid, rss_kib, hwm_kib, wait_quiet
install_missing go:golang-go curl jq openssl

# --- build ------------------------------------------------------------------
podguard=${PODGUARD:-$build/webhook/podguard}
if [ -z "${PODGUARD:-}" ]; then
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$build" -j "$(nproc)" --target podguard >/dev/null
fi
load="$build/podguard-load"
(cd "$root" && GO111MODULE=off GOPATH="$build/gopath" GOCACHE="$build/go-cache" GOFLAGS="" \
  go build -o "$load" ./tests/go/podguard-load) || die "cannot build tests/go/podguard-load"

# --- processes and cleanup --------------------------------------------------
work=$(mktemp -d /tmp/podguard-hostile-bench.XXXXXX)
pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# cpu_ms PID: user+system CPU of the process (all threads, living or not).
cpu_ms() {
  local stat
  stat=$(<"/proc/$1/stat")
  stat=${stat##*) }  # fields from 3 on; the command name may hold spaces
  # shellcheck disable=SC2086
  set -- $stat
  echo $(((${12} + ${13}) * 1000 / hz))
}
# sched_us PID: CPU time of the process's living threads, in microseconds
# (schedstat counts nanoseconds; utime+stime counts clock ticks).
sched_us() {
  cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{ s += $1 } END { printf "%d", s / 1000 }'
}

# --- inputs -----------------------------------------------------------------
"$root/certs/make-certs.sh" -o "$work/certs" >/dev/null 2>"$work/certs.log" ||
  die "certs/make-certs.sh failed: $(cat "$work/certs.log")"
cacert="$work/certs/ca.crt"
config="$root/examples/policy.yaml"
jq -c . "$bench/pod-review.json" >"$work/review.json"  # the API server sends compact JSON
"$load" bigreview -containers 6000 -uid big-6000 >"$work/big6000.json" 2>/dev/null
"$load" bigreview -fill 3145728 -uid big-3mib >"$work/big3mib.json" 2>"$work/big3mib.log"
big3mib_containers=$(awk '{ print $2 }' "$work/big3mib.log")
serve_help=$("$podguard" serve --help 2>&1 || true)
has_flag() { case $serve_help in *"$1"*) return 0 ;; *) return 1 ;; esac; }

# start_podguard NAME [FLAG...]: a new podguard serve on free loopback ports;
# sets pg_pid, pg_port, pg_metrics_port. Its stdout (the JSON log) goes to
# $pg_log (default /dev/null), stderr to $work/NAME.err.
start_podguard() {
  local name=$1
  shift
  pg_port=$(free_port)
  pg_metrics_port=$(free_port)
  # As the image, the chart and manifests/ run it (docs/serve.md).
  GLIBC_TUNABLES=${GLIBC_TUNABLES:-glibc.malloc.tcache_count=1000} \
  "$podguard" serve --config "$config" --tls-cert "$work/certs/tls.crt" --tls-key "$work/certs/tls.key" \
    --addr "127.0.0.1:$pg_port" --metrics-addr "127.0.0.1:$pg_metrics_port" "$@" \
    >"${pg_log:-/dev/null}" 2>"$work/$name.err" &
  pg_pid=$!
  pids+=("$pg_pid")
  wait_tcp "$pg_port" "$pg_pid" && wait_tcp "$pg_metrics_port" "$pg_pid" ||
    die "podguard serve did not start: $(cat "$work/$name.err")"
}

# run_load NAME ARGS...: podguard-load in the background; its summary goes
# to $work/NAME.json, its stderr to $work/NAME.err; sets last_pid.
run_load() {
  local name=$1
  shift
  "$load" "$@" >"$work/$name.json" 2>"$work/$name.err" &
  last_pid=$!
  pids+=("$last_pid")
}
# wait_load PID NAME: waits for it; dies when it failed or printed nothing.
wait_load() {
  wait "$1" || die "podguard-load $2 failed: $(cat "$work/$2.err")"
  [ -s "$work/$2.json" ] || die "podguard-load $2 printed no summary: $(cat "$work/$2.err")"
}
# js NAME FILTER: a figure from $work/NAME.json.
js() { jq -r "$2" "$work/$1.json"; }

# wait_ramp NAME SECONDS: until the trickle NAME has opened its connections.
wait_ramp() {
  local i
  for ((i = 0; i < $2 * 10; i++)); do
    grep -q 'ramp done' "$work/$1.err" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "hostile_bench: the trickle $1 did not finish its ramp in $2 s" >&2
}

# show_metrics PORT: the connection and process metrics, when /metrics answers.
show_metrics() {
  local out
  if out=$(curl -sS -m 3 "http://127.0.0.1:$1/metrics" 2>&1); then
    out=$(grep -E '^(podguard_http_|podguard_connections?_|process_)' <<<"$out" || true)
    if [ -n "$out" ]; then
      sed 's/^/    /' <<<"$out"
    else
      echo "    (no podguard_http_* or process_* metrics in this build)"
    fi
  else
    echo "    (/metrics did not answer within 3 s: $out)"
  fi
}

# --- verdicts ---------------------------------------------------------------
summary=()
failed=0
# verdict SCENARIO OK TEXT
verdict() {
  local word=FAIL
  [ "$2" = 1 ] && word=PASS
  [ "$2" = 1 ] || failed=1
  printf '  %s  %s\n' "$word" "$3"
  summary+=("$(printf '  %-2s %-4s  %s' "$1" "$word" "$3")")
}
lt() { awk -v a="$1" -v b="$2" 'BEGIN { print (a < b) ? 1 : 0 }'; }
ge() { awk -v a="$1" -v b="$2" 'BEGIN { print (a >= b) ? 1 : 0 }'; }
eq() { [ "$1" = "$2" ] && echo 1 || echo 0; }
pct() { awk -v a="$1" 'BEGIN { printf "%.1f", a * 100 }'; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
# lifetime NAME: how long the connections a trickle lost had lived.
lifetime() {
  [ "$(js "$1" .server_closes)" = 0 ] ||
    js "$1" '"; a closed connection had lived p50 \(.closed_conn_lifetime.p50_ms) ms, max \(.closed_conn_lifetime.max_ms) ms"'
}
failures() { js "$1" '(.failures // {}) | to_entries | map("\(.key) \(.value)") | join(", ") | if . == "" then "none" else . end'; }

# --- A: 1,500 trickling TLS connections -------------------------------------
scenario_A() {
  echo "== A: 1,500 TLS connections trickling a byte every 5 s at the HTTPS port"
  start_podguard a-podguard
  wait_quiet
  local trickle review ph pm
  run_load a-trickle trickle -addr "127.0.0.1:$pg_port" -tls -conns 1500 -interval 5s -duration 30s
  trickle=$last_pid
  wait_ramp a-trickle 15
  sleep 2
  run_load a-review review -url "https://127.0.0.1:$pg_port/validate" -cacert "$cacert" \
    -servername podguard.podguard.svc -conns 2 -rate 100 -duration 10s -timeout 5s -body "$work/review.json"
  review=$last_pid
  run_load a-probe-https probe -url "https://127.0.0.1:$pg_port/healthz" -cacert "$cacert" \
    -servername podguard.podguard.svc -interval 200ms -duration 10s
  ph=$last_pid
  run_load a-probe-metrics probe -url "http://127.0.0.1:$pg_metrics_port/healthz" -interval 200ms -duration 10s
  pm=$last_pid
  wait_load "$review" a-review
  wait_load "$ph" a-probe-https
  wait_load "$pm" a-probe-metrics
  echo "  metrics during the attack:"
  show_metrics "$pg_metrics_port"
  wait_load "$trickle" a-trickle
  stop_pid "$pg_pid" 30

  printf '  trickle: %s connects, %s closed by the server (%s with an answer), max %s open, %s dial and %s handshake errors%s\n' \
    "$(js a-trickle .connects)" "$(js a-trickle .server_closes)" "$(js a-trickle .answered_closes)" \
    "$(js a-trickle .max_open)" "$(js a-trickle .dial_errors)" "$(js a-trickle .handshake_errors)" "$(lifetime a-trickle)"
  printf '  review: %s sent, %s answered, failures: %s; p50 %s ms, p99 %s ms, max %s ms\n' \
    "$(js a-review .sent)" "$(js a-review .ok)" "$(failures a-review)" \
    "$(js a-review .latency.p50_ms)" "$(js a-review .latency.p99_ms)" "$(js a-review .latency.max_ms)"
  local ratio p99 hh hm
  ratio=$(js a-review .answered_ratio)
  p99=$(js a-review .latency.p99_ms)
  hh=$(js a-probe-https .latency.max_ms)
  hm=$(js a-probe-metrics .latency.max_ms)
  verdict A "$(ge "$ratio" 0.99)" "reviews answered during the attack: $(pct "$ratio")% (target >= 99%)"
  verdict A "$([ "$(js a-review .ok)" -gt 0 ] && lt "$p99" 100 || echo 0)" \
    "review p99 during the attack: $p99 ms (target < 100 ms)"
  verdict A "$([ "$(js a-probe-https .failed)" = 0 ] && lt "$hh" 1000 || echo 0)" \
    "HTTPS /healthz: $(js a-probe-https .ok)/$(js a-probe-https .probes) ok, max $hh ms (target: all answered, max < 1000 ms)"
  verdict A "$([ "$(js a-probe-metrics .failed)" = 0 ] && lt "$hm" 1000 || echo 0)" \
    "metrics-port /healthz: $(js a-probe-metrics .ok)/$(js a-probe-metrics .probes) ok, max $hm ms (target: all answered, max < 1000 ms)"
}

# --- B: 64 trickling connections at the metrics port -------------------------
scenario_B() {
  echo "== B: 64 plain connections trickling a byte every 5 s at the metrics port"
  start_podguard b-podguard
  wait_quiet
  local trickle ph pm
  run_load b-trickle trickle -addr "127.0.0.1:$pg_metrics_port" -conns 64 -interval 5s -duration 14s -method GET
  trickle=$last_pid
  wait_ramp b-trickle 10
  sleep 1
  run_load b-probe-healthz probe -url "http://127.0.0.1:$pg_metrics_port/healthz" -interval 200ms -duration 10s
  ph=$last_pid
  run_load b-probe-metrics probe -url "http://127.0.0.1:$pg_metrics_port/metrics" -interval 500ms -duration 10s
  pm=$last_pid
  wait_load "$ph" b-probe-healthz
  wait_load "$pm" b-probe-metrics
  wait_load "$trickle" b-trickle
  echo "  metrics after the attack:"
  show_metrics "$pg_metrics_port"
  stop_pid "$pg_pid" 30

  printf '  trickle: %s connects, %s closed by the server, max %s open%s\n' \
    "$(js b-trickle .connects)" "$(js b-trickle .server_closes)" "$(js b-trickle .max_open)" "$(lifetime b-trickle)"
  local name what
  for name in healthz metrics; do
    what=$(printf '/%s on the metrics port: %s/%s ok (%s), p99 %s ms, max %s ms (target: all answered, max < 1000 ms)' \
      "$name" "$(js "b-probe-$name" .ok)" "$(js "b-probe-$name" .probes)" \
      "$(js "b-probe-$name" '.results | to_entries | map("\(.key) \(.value)") | join(", ")')" \
      "$(js "b-probe-$name" .latency.p99_ms)" "$(js "b-probe-$name" .latency.max_ms)")
    verdict B "$([ "$(js "b-probe-$name" .failed)" = 0 ] && lt "$(js "b-probe-$name" .latency.max_ms)" 1000 || echo 0)" "$what"
  done
}

# --- C: huge reviews ---------------------------------------------------------
# big_review NAME FILE COUNT: COUNT reviews of FILE one after another.
big_review() {
  run_load "$1" review -url "https://127.0.0.1:$pg_port/validate" -cacert "$cacert" \
    -servername podguard.podguard.svc -conns 1 -max-requests "$3" -duration 60s -timeout 30s -body "$2"
  wait_load "$last_pid" "$1"
}

scenario_C() {
  echo "== C: reviews of thousands of violating containers"
  start_podguard c-podguard
  wait_quiet
  local rss_idle rss hwm cpu0 cpu1 s0 s1 cpu sched normal loop peak=0 r
  rss_idle=$(rss_kib "$pg_pid")
  big_review c-big6000 "$work/big6000.json" 4
  sleep 1
  rss=$(rss_kib "$pg_pid")
  hwm=$(hwm_kib "$pg_pid")
  printf '  4 reviews of 6,000 containers (%s bytes): %s answered (%s allowed, %s denied), failures: %s; each p50 %s ms, max %s ms\n' \
    "$(wc -c <"$work/big6000.json")" "$(js c-big6000 .ok)" "$(js c-big6000 .allowed)" "$(js c-big6000 .denied)" \
    "$(failures c-big6000)" "$(js c-big6000 .latency.p50_ms)" "$(js c-big6000 .latency.max_ms)"
  verdict C "$(lt "$rss" 98304)" \
    "RSS 1 s after 4 reviews of 6,000 containers: $(mib "$rss") MiB (idle $(mib "$rss_idle") MiB, peak VmHWM $(mib "$hwm") MiB; target < 96 MiB)"

  sleep 1
  cpu0=$(cpu_ms "$pg_pid")
  s0=$(sched_us "$pg_pid")
  big_review c-big3mib "$work/big3mib.json" 1
  cpu1=$(cpu_ms "$pg_pid")
  s1=$(sched_us "$pg_pid")
  cpu=$((cpu1 - cpu0))
  sched=$(awk -v a="$s0" -v b="$s1" 'BEGIN { printf "%.1f", (b - a) / 1000 }')
  printf '  one review of %s containers (%s bytes): %s, answered in %s ms\n' "$big3mib_containers" \
    "$(wc -c <"$work/big3mib.json")" "$( [ "$(js c-big3mib .ok)" = 1 ] && echo answered || echo "failed: $(failures c-big3mib)")" \
    "$(js c-big3mib .latency.max_ms)"
  verdict C "$([ "$(js c-big3mib .ok)" = 1 ] && lt "$cpu" 100 || echo 0)" \
    "CPU of podguard for one 3 MiB review: $cpu ms utime+stime ($sched ms by schedstat; target < 100 ms)"

  run_load c-loop review -url "https://127.0.0.1:$pg_port/validate" -cacert "$cacert" \
    -servername podguard.podguard.svc -conns 1 -duration 10s -timeout 30s -body "$work/big3mib.json"
  loop=$last_pid
  run_load c-normal review -url "https://127.0.0.1:$pg_port/validate" -cacert "$cacert" \
    -servername podguard.podguard.svc -conns 2 -duration 10s -timeout 5s -body "$work/review.json"
  normal=$last_pid
  while kill -0 "$normal" 2>/dev/null; do
    r=$(rss_kib "$pg_pid")
    [ "$r" -le "$peak" ] || peak=$r
    sleep 0.1
  done
  wait_load "$normal" c-normal
  wait_load "$loop" c-loop
  stop_pid "$pg_pid" 30
  printf '  beside it, a loop of 3 MiB reviews: %s answered, failures: %s, p50 %s ms; RSS peak %s MiB (sampled every 100 ms)\n' \
    "$(js c-loop .ok)" "$(failures c-loop)" "$(js c-loop .latency.p50_ms)" "$(mib "$peak")"
  printf '  normal client: %s sent, %s answered, failures: %s; p50 %s ms, p99 %s ms, max %s ms\n' \
    "$(js c-normal .sent)" "$(js c-normal .ok)" "$(failures c-normal)" \
    "$(js c-normal .latency.p50_ms)" "$(js c-normal .latency.p99_ms)" "$(js c-normal .latency.max_ms)"
  local timeouts p99
  timeouts=$(js c-normal '.failures.timeout // 0')
  p99=$(js c-normal .latency.p99_ms)
  verdict C "$([ "$timeouts" = 0 ] && [ "$(js c-normal .ok)" -gt 0 ] && lt "$p99" 100 || echo 0)" \
    "normal client beside 3 MiB reviews: p99 $p99 ms (max $(js c-normal .latency.max_ms) ms), $timeouts timeouts (target p99 < 100 ms, no timeouts)"
}

# --- D: rollout --------------------------------------------------------------
scenario_D() {
  echo "== D: SIGTERM under 32 keep-alive connections"
  local flags=() drain=0
  if has_flag --drain-delay; then
    flags=(--drain-delay 2)
    drain=2
  else
    echo "  note: this build has no --drain-delay; running without it"
  fi
  pg_log="$work/d-podguard.log" start_podguard d-podguard "${flags[@]}"
  wait_quiet
  local review ph pm t_term
  run_load d-review review -url "https://127.0.0.1:$pg_port/validate" -cacert "$cacert" \
    -servername podguard.podguard.svc -conns 32 -duration 12s -timeout 5s -stop-on-refused -body "$work/review.json"
  review=$last_pid
  run_load d-readyz probe -url "https://127.0.0.1:$pg_port/readyz" -cacert "$cacert" \
    -servername podguard.podguard.svc -interval 100ms -duration 12s
  ph=$last_pid
  run_load d-readyz-metrics probe -url "http://127.0.0.1:$pg_metrics_port/readyz" -interval 100ms -duration 12s
  pm=$last_pid
  sleep 3
  t_term=$(date +%s%3N)
  stop_pid "$pg_pid" 40
  wait_load "$review" d-review
  wait_load "$ph" d-readyz
  wait_load "$pm" d-readyz-metrics

  # Times relative to SIGTERM.
  local last_ok first_503 first_503_m
  rel() { [ "$1" = 0 ] || [ "$1" = null ] && echo "never" || echo "$(($1 - t_term)) ms"; }
  last_ok=$(js d-review .last_ok_unix_ms)
  first_503=$(js d-readyz '[.transitions[] | select(.result == "503")][0].unix_ms // 0')
  first_503_m=$(js d-readyz-metrics '[.transitions[] | select(.result == "503")][0].unix_ms // 0')
  printf '  podguard exited %s, %s ms after SIGTERM (drain delay %s s)\n' "$exit_code" "$stop_ms" "$drain"
  printf '  review: %s sent, %s answered, %s new connections, failures: %s; last answer %s after SIGTERM, first refusal %s\n' \
    "$(js d-review .sent)" "$(js d-review .ok)" "$(js d-review .new_connections)" "$(failures d-review)" \
    "$(rel "$last_ok")" "$(rel "$(js d-review .first_refused_unix_ms)")"
  printf '  /readyz (HTTPS): %s; first 503 %s after SIGTERM\n' \
    "$(js d-readyz '.transitions | map("\(.result)") | join(" -> ")')" "$(rel "$first_503")"
  printf '  /readyz (metrics port): %s; first 503 %s after SIGTERM\n' \
    "$(js d-readyz-metrics '.transitions | map("\(.result)") | join(" -> ")')" "$(rel "$first_503_m")"
  grep -v '"event":"admission"' "$work/d-podguard.log" | grep -E '"event":"(signal|draining|stopped|shutdown_timeout)"' |
    sed 's/^/    /' | head -8 || true
  verdict D "$(eq "$exit_code" 0)" "exit code after SIGTERM: $exit_code (target 0)"
  verdict D "$([ "$(js d-review .failed_not_refused)" = 0 ] && [ "$(js d-review .ok)" -gt 0 ] && echo 1 || echo 0)" \
    "failed reviews other than refused connections: $(js d-review .failed_not_refused) of $(js d-review .sent) ($(failures d-review); target 0)"
  verdict D "$([ "$first_503" -gt 0 ] && [ "$last_ok" -gt "$first_503" ] && echo 1 || echo 0)" \
    "/readyz 503 while /validate still answers: first 503 $(rel "$first_503"), last review answered $(rel "$last_ok") after SIGTERM (target: 503 first)"
}

# --- run --------------------------------------------------------------------
printf 'machine: %s, %s cores (%s); load average %s\n' "$(uname -m)" "$(nproc)" \
  "$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)" "$(cut -d' ' -f1-3 /proc/loadavg)"
printf '%s: %s%s\n' "$podguard" "$("$podguard" --version 2>&1 | head -1)" \
  "$([ -n "${PODGUARD:-}" ] || echo ", built from $(git -C "$root" describe --always --dirty 2>/dev/null || echo "?")")"
started=$SECONDS
for s in "${scenarios[@]}"; do "scenario_$s"; done

echo "summary (scenarios ${scenarios[*]} in $((SECONDS - started)) s, of which $waited_total s waiting for quiet):"
printf '%s\n' "${summary[@]}"
[ "$failed" = 0 ] && echo "all targets hold" || echo "some targets fail"
