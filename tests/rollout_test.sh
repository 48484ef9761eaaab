#!/usr/bin/env bash
# Rollout test of `podguard serve` (issue 10, DESIGN.md "Staying up on the
# critical path"): under 32 keep-alive connections of an API-server-like
# client (tests/go/podguard-load review: Go's net/http, HTTP/1.1, POST
# never retried), SIGTERM with --drain-delay 1 --shutdown-timeout 10 must
# give exit 0, no failed review other than a refused connection after the
# listener closed, some reviews answered, and /readyz 503 on both ports
# while /validate still answers.
#
#   tests/rollout_test.sh PODGUARD_BINARY WORK_DIR
#
# Builds tests/go/podguard-load into WORK_DIR with `go` from PATH; exits 77
# (skipped) with a message when go or openssl is missing. Takes about 15 s,
# at most about 45 s; every process it starts is stopped on exit.
set -euo pipefail
[ $# = 2 ] || { echo "usage: $0 PODGUARD_BINARY WORK_DIR" >&2; exit 2; }
root=$(cd "$(dirname "$0")/.." && pwd)
podguard=$1
work=$2
for tool in go openssl; do
  command -v "$tool" >/dev/null 2>&1 || { echo "skipped: $tool is not on PATH (Debian package golang-go / openssl)"; exit 77; }
done
[ -x "$podguard" ] || { echo "FAIL: $podguard is not an executable" >&2; exit 1; }
fail() { echo "FAIL: $*" >&2; exit 1; }

mkdir -p "$work"
run=$(mktemp -d "$work/rollout.XXXXXX")
pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$run"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

load="$work/podguard-load"
(cd "$root" && GO111MODULE=off GOPATH="$work/gopath" GOCACHE="$work/go-cache" GOFLAGS="" \
  go build -o "$load" ./tests/go/podguard-load) || fail "cannot build tests/go/podguard-load"
"$root/certs/make-certs.sh" -o "$run/certs" >/dev/null 2>"$run/certs.log" ||
  fail "certs/make-certs.sh: $(cat "$run/certs.log")"

# shellcheck source=tests/bench/lib.sh
. "$root/tests/bench/lib.sh"  # free_port, wait_tcp, stop_pid
port=$(free_port)
metrics_port=$(free_port)

GLIBC_TUNABLES=glibc.malloc.tcache_count=1000 \
"$podguard" serve --config "$root/examples/policy.yaml" \
  --tls-cert "$run/certs/tls.crt" --tls-key "$run/certs/tls.key" \
  --addr "127.0.0.1:$port" --metrics-addr "127.0.0.1:$metrics_port" \
  --drain-delay 1 --shutdown-timeout 10 >"$run/podguard.log" 2>&1 &
pg=$!
pids+=("$pg")
wait_tcp "$port" "$pg" && wait_tcp "$metrics_port" "$pg" ||
  fail "podguard serve did not start: $(cat "$run/podguard.log")"

tls=(-cacert "$run/certs/ca.crt" -servername podguard.podguard.svc)
"$load" review -url "https://127.0.0.1:$port/validate" "${tls[@]}" -conns 32 -duration 8s \
  -timeout 5s -stop-on-refused -body "$root/tests/bench/pod-review.json" >"$run/review.json" 2>"$run/review.err" &
review=$!
pids+=("$review")
"$load" probe -url "https://127.0.0.1:$port/readyz" "${tls[@]}" -interval 100ms -duration 8s \
  >"$run/readyz.json" 2>"$run/readyz.err" &
readyz=$!
pids+=("$readyz")
"$load" probe -url "http://127.0.0.1:$metrics_port/readyz" -interval 100ms -duration 8s \
  >"$run/readyz-metrics.json" 2>"$run/readyz-metrics.err" &
readyz_metrics=$!
pids+=("$readyz_metrics")

sleep 2
term_ms=$(date +%s%3N)
stop_pid "$pg" 20  # past --shutdown-timeout
code=$exit_code
wait "$review" || fail "the review client failed: $(cat "$run/review.err")"
wait "$readyz" || fail "the probe failed: $(cat "$run/readyz.err")"
wait "$readyz_metrics" || fail "the probe failed: $(cat "$run/readyz-metrics.err")"

# number FILE NAME: a top-level integer of a summary line.
number() { sed -n "s/.*\"$2\":\([0-9]*\).*/\1/p" "$1"; }
# first_503 FILE: when the probe first saw 503 (Unix ms), or 0.
first_503() {
  local t
  t=$(grep -o '"unix_ms":[0-9]*,"result":"503"' "$1" | head -1 | sed 's/[^0-9]*\([0-9]*\).*/\1/') || true
  echo "${t:-0}"
}

ok=$(number "$run/review.json" ok)
sent=$(number "$run/review.json" sent)
bad=$(number "$run/review.json" failed_not_refused)
last_ok=$(number "$run/review.json" last_ok_unix_ms)
r503=$(first_503 "$run/readyz.json")
m503=$(first_503 "$run/readyz-metrics.json")
echo "podguard exited $code $stop_ms ms after SIGTERM"
echo "review: $(cat "$run/review.json")"
echo "readyz (https): $(cat "$run/readyz.json")"
echo "readyz (metrics): $(cat "$run/readyz-metrics.json")"
echo "SIGTERM at $term_ms; first 503: https ${r503}, metrics ${m503}; last review answered at ${last_ok:-0}"

errors=()
[ "$code" = 0 ] || errors+=("exit code $code, not 0: $(tail -5 "$run/podguard.log")")
[ "${ok:-0}" -gt 0 ] || errors+=("no review was answered")
[ "${bad:-1}" = 0 ] || errors+=("$bad of $sent reviews failed other than by a refused connection")
[ "$r503" -gt 0 ] || errors+=("/readyz on the HTTPS port never answered 503")
[ "$m503" -gt 0 ] || errors+=("/readyz on the metrics port never answered 503")
[ "$r503" -gt 0 ] && [ "${last_ok:-0}" -gt "$r503" ] ||
  errors+=("no review was answered after /readyz turned 503 (the drain delay did not serve)")
if [ ${#errors[@]} -gt 0 ]; then
  printf 'FAIL: %s\n' "${errors[@]}" >&2
  exit 1
fi
echo "PASS: exit 0, $ok of $sent reviews answered, none failed but refused ones, /readyz 503 during the drain delay"
