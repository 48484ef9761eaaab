#!/usr/bin/env bash
# Benchmark of `podguard check` (not a test: it prints figures, it asserts
# nothing). Generates 10,000 mixed workload manifests, then times, best of
# RUNS runs each:
#   - a yaml-cpp parse-only pass over the YAML files (YAML::LoadAll): the floor
#   - podguard check on the YAML files, one thread (-j1) and all cores
#   - podguard check on the same objects as one `kubectl get -o json` List
# and prints objects/s and the ratios the targets are stated in.
#   tests/bench/check_bench.sh [OBJECTS] [RUNS]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
objects=${1:-10000}
runs=${2:-3}
build="$root/build-bench"
work=$(mktemp -d /tmp/podguard-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT

cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j "$(nproc)" --target podguard manifest_corpus >/dev/null
podguard="$build/webhook/podguard"
corpus="$build/tests/manifest_corpus"
"$corpus" generate "$work" "$objects" >/dev/null

# best_of CMD...: the fastest wall-clock time of $runs runs, in seconds.
best_of() {
  local best="" t0 t1 t
  for _ in $(seq "$runs"); do
    t0=$(date +%s.%N)
    "$@" >/dev/null 2>&1 || true
    t1=$(date +%s.%N)
    t=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", b - a }')
    if [ -z "$best" ] || awk -v t="$t" -v b="$best" 'BEGIN { exit !(t < b) }'; then best=$t; fi
  done
  echo "$best"
}

floor=$(best_of "$corpus" parse "$work")
yaml1=$(best_of "$podguard" check -j1 "$work/yaml")
yamln=$(best_of "$podguard" check "$work/yaml")
json1=$(best_of "$podguard" check -j1 "$work/list.json")

div() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.4f", a / b }'; }
rate() { printf "%8.0f objects/s" "$(div "$objects" "$1")"; }
printf "machine: %s, %s cores; %s objects, best of %s runs\n" "$(uname -m)" "$(nproc)" "$objects" "$runs"
printf "  yaml-cpp parse only (floor), 1 thread  %6.3f s  %s\n" "$floor" "$(rate "$floor")"
printf "  podguard check YAML, -j1               %6.3f s  %s  %.2fx the floor (target <= 1.3x)\n" \
  "$yaml1" "$(rate "$yaml1")" "$(div "$yaml1" "$floor")"
printf "  podguard check YAML, all cores         %6.3f s  %s\n" "$yamln" "$(rate "$yamln")"
printf "  podguard check JSON List, -j1          %6.3f s  %s  %.2fx faster than YAML -j1 (target >= 5x)\n" \
  "$json1" "$(rate "$json1")" "$(div "$yaml1" "$json1")"
printf "  JSON List against the yaml-cpp floor:  %.2fx faster\n" "$(div "$floor" "$json1")"
