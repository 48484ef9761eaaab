#!/usr/bin/env bash
# Benchmark of image lookups at admission through `podguard serve` (not a
# test: it prints figures, it fails only when it cannot run). Two servers on
# the same machine: podguard with images.lookup on, against
# tests/bench/slow_registry (every request answered DELAY_MS late, plain
# HTTP on 127.0.0.1), and podguard with lookups off (today's).
#
#   cold:   AdmissionReviews of a pod with N = 1, 4, 8 containers whose
#           images are in no cache (each round new tags, each image its own
#           config), one at a time over TLS with curl; the server's time is
#           curl's time to first byte less its time to the end of the TLS
#           handshake. Each cold review is followed by the same review again
#           (now cached) and by the same review to the lookups-off server.
#           Target (issue 11 item 7): the lookups add about (round trips per
#           image) x DELAY_MS, the images looked up in parallel, not N times
#           that. Single-platform images (manifest GET + config GET), then
#           multi-platform ones (index GET first).
#   cached: wrk over TLS keep-alive, tests/bench/pod-review.json (its images
#           served by slow_registry as the mirror of their registries, and
#           cached after the first review) to both servers, 1 and 32
#           connections, best of RUNS runs of SECONDS: p50, p99, reviews/s,
#           and the server's CPU per review (the least of the runs).
#
#   tests/bench/lookup_bench.sh [DELAY_MS=20] [ROUNDS=15] [SECONDS=10] [RUNS=3]
#
# PODGUARD=path benchmarks another podguard binary (slow_registry still
# comes from build-bench); SERVE_ARGS adds options to both `podguard serve`
# (e.g. "--log-level warn": no decision log lines). Missing Debian packages (wrk, curl, jq) are
# installed with apt-get. Everything the script starts is stopped on exit.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
delay=${1:-20}
rounds=${2:-15}
duration=${3:-10}
runs=${4:-3}
build="$root/build-bench"
bench="$root/tests/bench"
die() { echo "lookup_bench: $*" >&2; exit 1; }

# shellcheck source=tests/bench/lib.sh
. "$bench/lib.sh"  # install_missing, free_port, wait_tcp, wait_quiet
install_missing wrk curl jq openssl

cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j "$(nproc)" --target podguard slow_registry >/dev/null
podguard=${PODGUARD:-$build/webhook/podguard}

work=$(mktemp -d /tmp/podguard-lookup-bench.XXXXXX)
pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"$root/certs/make-certs.sh" -o "$work/certs" >/dev/null 2>"$work/certs.log" ||
  die "certs/make-certs.sh failed: $(cat "$work/certs.log")"
ca="$work/certs/ca.crt"

# --- registries -------------------------------------------------------------
# start_registry NAME ARGS...: sets NAME_host; rounds for every N in turn.
start_registry() {
  local name=$1 i host=""
  shift
  "$build/tests/slow_registry" --delay-ms "$delay" --repos 8 --rounds $((3 * rounds)) "$@" \
    >"$work/$name.out" 2>"$work/$name.err" &
  pids+=($!)
  for i in $(seq 100); do
    host=$(head -n1 "$work/$name.out" 2>/dev/null || true)
    [ -z "$host" ] || break
    kill -0 "${pids[-1]}" 2>/dev/null || die "slow_registry did not start: $(cat "$work/$name.err")"
    sleep 0.1
  done
  [ -n "$host" ] || die "slow_registry did not start: $(cat "$work/$name.err")"
  printf -v "${name}_host" '%s' "$host"
  printf -v "${name}_pid" '%s' "${pids[-1]}"
}
start_registry single --review "$bench/pod-review.json" "$work/review.json"
start_registry multi --multi-platform

# --- servers ----------------------------------------------------------------
base='apiVersion: podguard.io/v1alpha1
kind: PolicyConfig
profile: contract
'
printf '%s' "$base" >"$work/off.yaml"
# pod-review.json's images come from registry.example.com and docker.io:
# slow_registry answers for both.
cat >"$work/on.yaml" <<EOF
${base}images:
  lookup: true
  timeoutSeconds: 5
  insecureRegistries: [$single_host, $multi_host]
  mirrors: {registry.example.com: $single_host, docker.io: $single_host}
  cache: {tagTtlSeconds: 86400}
EOF
# start_server NAME CONFIG: sets NAME_port.
start_server() {
  local port metrics
  port=$(free_port)
  metrics=$(free_port)
  GLIBC_TUNABLES=${GLIBC_TUNABLES:-glibc.malloc.tcache_count=1000} \
  "$podguard" serve --config "$2" --tls-cert "$work/certs/tls.crt" --tls-key "$work/certs/tls.key" \
    --addr "127.0.0.1:$port" --metrics-addr "127.0.0.1:$metrics" ${SERVE_ARGS:-} >/dev/null 2>"$work/$1.err" &
  pids+=($!)
  wait_tcp "$port" "${pids[-1]}" || die "podguard serve ($1) did not start: $(cat "$work/$1.err")"
  printf -v "${1}_port" '%s' "$port"
  printf -v "${1}_metrics" '%s' "$metrics"
  printf -v "${1}_pid" '%s' "${pids[-1]}"
}
start_server on "$work/on.yaml"
start_server off "$work/off.yaml"

# post PORT BODY OUT: one review over a new TLS connection; prints the
# server's milliseconds (first byte less the end of the handshake).
post() {
  local t
  t=$(curl -sS --cacert "$ca" -o "$3" -w '%{http_code} %{time_pretransfer} %{time_starttransfer}' \
    -H 'Content-Type: application/json' --data-binary "@$2" "https://127.0.0.1:$1/validate") ||
    die "curl to port $1 failed"
  set -- $t "$3"
  [ "$1" = 200 ] || die "HTTP $1: $(cat "$4")"
  awk -v a="$2" -v b="$3" 'BEGIN { printf "%.2f", (b - a) * 1000 }'
}

# review_of N ROUND HOST: a pod of N containers, bench/img<k>:r<ROUND>.
review_of() {
  jq -cn --argjson n "$1" --arg round "r$2" --arg host "$3" '
    def container(k): {name: "app\(k)", image: "\($host)/bench/img\(k):\($round)",
      securityContext: {allowPrivilegeEscalation: false, readOnlyRootFilesystem: true,
                        capabilities: {drop: ["ALL"]}},
      resources: {requests: {cpu: "100m", memory: "64Mi"}, limits: {memory: "64Mi"}},
      livenessProbe: {httpGet: {path: "/healthz", port: 8080}},
      readinessProbe: {httpGet: {path: "/readyz", port: 8080}}};
    {apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview",
     request: {uid: "bench-\($n)-\($round)", kind: {group: "", version: "v1", kind: "Pod"},
       resource: {group: "", version: "v1", resource: "pods"}, namespace: "shop", operation: "CREATE",
       object: {apiVersion: "v1", kind: "Pod", metadata: {name: "api", namespace: "shop"},
         spec: {securityContext: {runAsNonRoot: true, seccompProfile: {type: "RuntimeDefault"}},
                containers: [range(0; $n) | container(.)]}}}}'
}

# stats FILE: "median max" of the numbers in FILE.
stats() { sort -n "$1" | awk '{ v[NR] = $1 } END { printf "%.1f %.1f", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2, v[NR] }'; }

load_start=$(cut -d' ' -f1-3 /proc/loadavg)
# --- cold -------------------------------------------------------------------
cold_rows=()
# cold KIND HOST N FIRST_ROUND
cold() {
  local kind=$1 host=$2 n=$3 first=$4 r f="$work/cold-$1-$3"
  : >"$f.cold"; : >"$f.cached"; : >"$f.off"; : >"$f.added"
  for ((r = first; r < first + rounds; r++)); do
    review_of "$n" "$r" "$host" >"$work/body.json"
    local c k o
    c=$(post "$on_port" "$work/body.json" "$work/answer.json")
    [ "$(jq -r '.response.auditAnnotations.images // ""' "$work/answer.json" | grep -o '@sha256:' | wc -l)" = "$n" ] ||
      die "the cold review did not resolve its $n images: $(cat "$work/answer.json")"
    jq -e '.response.allowed' "$work/answer.json" >/dev/null || die "not allowed: $(cat "$work/answer.json")"
    k=$(post "$on_port" "$work/body.json" "$work/answer.json")
    o=$(post "$off_port" "$work/body.json" "$work/answer.json")
    echo "$c" >>"$f.cold"; echo "$k" >>"$f.cached"; echo "$o" >>"$f.off"
    awk -v c="$c" -v o="$o" 'BEGIN { printf "%.2f\n", c - o }' >>"$f.added"
  done
  cold_rows+=("$(printf '  %-15s %2d %13s %13s %13s %15s' "$kind" "$n" "$(stats "$f.cold")" "$(stats "$f.cached")" \
    "$(stats "$f.off")" "$(stats "$f.added")")")
}
wait_quiet
round=0
for n in 1 4 8; do cold single "$single_host" "$n" "$round"; round=$((round + rounds)); done
round=0
for n in 1 8; do cold multi-platform "$multi_host" "$n" "$round"; round=$((round + rounds)); done

# --- cached, under wrk ------------------------------------------------------
to_ms() {
  awk -v v="$1" 'BEGIN {
    n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
    f = (u == "us") ? 0.001 : (u == "ms") ? 1 : (u == "s") ? 1000 : -1
    if (f < 0) exit 1
    printf "%.3f", n * f
  }'
}
post "$on_port" "$work/review.json" "$work/answer.json" >/dev/null  # fills the caches
jq -e '.response.allowed' "$work/answer.json" >/dev/null || die "pod-review.json not allowed: $(cat "$work/answer.json")"
# The tag reference resolved to a digest (the digest-pinned one is left out of the annotation).
jq -e '.response.auditAnnotations.images | test("^[^;@]+:[^;@]+@sha256:[0-9a-f]{64}$")' "$work/answer.json" >/dev/null ||
  die "pod-review.json's images were not looked up: $(cat "$work/answer.json")"
# cpu_ticks PID: user+system clock ticks of the process (all threads).
cpu_ticks() {
  local stat
  stat=$(<"/proc/$1/stat")
  stat=${stat##*) }  # fields from 3 on
  set -- $stat
  echo $((${12} + ${13}))
}
declare -A best cpu_best
# wrk_run NAME CONNS SECONDS: keeps the fastest run's figures, and the
# least server CPU per review of all runs (less disturbed by neighbours
# than throughput is).
wrk_run() {
  local port pid out="$work/wrk-$1-$2.txt" rate l50 l99 ticks requests us
  port=$([ "$1" = on ] && echo "$on_port" || echo "$off_port")
  pid=$([ "$1" = on ] && echo "$on_pid" || echo "$off_pid")
  wait_quiet
  ticks=$(cpu_ticks "$pid")
  WRK_BODY="$work/review.json" wrk -t1 -c"$2" -d"${3}s" --timeout 5s --latency -s "$bench/wrk-post.lua" \
    "https://127.0.0.1:$port/validate" >"$out" 2>&1 || die "wrk failed: $(cat "$out")"
  ! grep -q 'Non-2xx\|Socket errors' "$out" || die "errors under wrk: $(cat "$out")"
  [ "$3" = "$duration" ] || return 0
  ticks=$(($(cpu_ticks "$pid") - ticks))
  requests=$(awk '/ requests in / { print $1 }' "$out")
  us=$(awk -v t="$ticks" -v hz="$hz" -v n="$requests" 'BEGIN { printf "%.1f", t / hz / n * 1e6 }')
  if [ -z "${cpu_best[$1-$2]:-}" ] || awk -v a="$us" -v b="${cpu_best[$1-$2]}" 'BEGIN { exit !(a < b) }'; then
    cpu_best[$1-$2]=$us
  fi
  rate=$(awk '/^Requests\/sec:/ { print $2 }' "$out")
  l50=$(to_ms "$(awk '$1 == "50%" { print $2 }' "$out")")
  l99=$(to_ms "$(awk '$1 == "99%" { print $2 }' "$out")")
  if [ -z "${best[$1-$2]:-}" ] || awk -v a="$rate" -v b="${best[$1-$2]%% *}" 'BEGIN { exit !(a > b) }'; then
    best[$1-$2]="$rate $l50 $l99"
  fi
}
for name in on off; do wrk_run "$name" 32 3; done
for ((i = 1; i <= runs; i++)); do
  for name in on off; do
    wrk_run "$name" 1 "$duration"
    wrk_run "$name" 32 "$duration"
  done
done
load_end=$(cut -d' ' -f1-3 /proc/loadavg)
hits=$(curl -s "http://127.0.0.1:$on_metrics/metrics" | awk '/^podguard_image_reviews_total/' | tr '\n' ' ')

# --- report -----------------------------------------------------------------
for name in single multi; do
  pid_var="${name}_pid"
  kill -TERM "${!pid_var}"
  wait "${!pid_var}" 2>/dev/null || true
done
printf 'machine: %s, %s cores (%s), shared; load average %s at start, %s at end; waited %s s for quiet\n' \
  "$(uname -m)" "$(nproc)" "$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)" "$load_start" "$load_end" \
  "$waited_total"
printf 'registry: slow_registry on 127.0.0.1, plain HTTP, every request answered %s ms late\n' "$delay"
printf 'cold: %s reviews per row, one at a time, a new TLS connection each (curl); ms from the end of the\n' "$rounds"
printf '      handshake to the first byte of the answer, "median max"; added = cold less lookups off, same review\n'
printf '  %-15s %2s %13s %13s %13s %15s\n' images N "cold" "cached" "lookups off" "added by cold"
printf '%s\n' "${cold_rows[@]}"
printf '  registry requests: single-platform: %s\n' "$(sed 's/^slow_registry: answered //' "$work/single.err" | tail -n1)"
printf '                     multi-platform:  %s\n' "$(sed 's/^slow_registry: answered //' "$work/multi.err" | tail -n1)"
printf 'cached: wrk -t1 --latency, keep-alive TLS, tests/bench/pod-review.json (%s bytes, 2 images, cached);\n' \
  "$(wc -c <"$work/review.json")"
printf '        best of %s runs of %s s after a 3 s warm-up\n' "$runs" "$duration"
printf '  %-22s %5s %11s %9s %9s %10s\n' server conns reviews/s "p50 ms" "p99 ms" "srv us/rev"
for conns in 1 32; do
  for name in on off; do
    read -r rate l50 l99 <<<"${best[$name-$conns]}"
    label=$([ "$name" = on ] && echo "lookups on, cached" || echo "lookups off")
    printf '  %-22s %5d %11.0f %9.3f %9.3f %10s\n' "$label" "$conns" "$rate" "$l50" "$l99" "${cpu_best[$name-$conns]}"
  done
done
printf '  (srv us/rev: the server'"'"'s CPU per review, the least of the runs)\n'
printf '  %s\n' "$hits"
