#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan+UBSan) and runs each for
# SECONDS (default 60), seeded from the test fixtures and the shared corpora.
#   tests/fuzz/run.sh [SECONDS]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
seconds=${1:-60}
build="$root/build-fuzz"
CXX=clang++ cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPODGUARD_FUZZ=ON \
  -DPODGUARD_BUILD_TESTS=OFF -DCMAKE_CXX_FLAGS="-fsanitize=fuzzer-no-link,address,undefined" >/dev/null
cmake --build "$build" -j "$(nproc)" --target fuzz_manifest_reader fuzz_admission fuzz_config >/dev/null
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/manifests" "$work/reviews" "$work/configs" "$build/artifacts"
find "$root/tests/fixtures" "$root/examples" "$root/../shared/fixtures" -type f \( -name '*.yaml' -o -name '*.json' \) \
  -size -64k -exec cp -t "$work/manifests" {} + 2>/dev/null || true
cp "$root/examples/admission-review.json" "$work/reviews/"
for dir in reviews manifests; do cp "$root/tests/bench/pod-review.json" "$work/$dir/"; done
cp "$root/examples/policy.yaml" "$root/tests/fixtures/_cli/"*config*.yaml "$work/configs/"
for t in manifest_reader:manifests admission:reviews config:configs; do
  name=${t%%:*}
  corpus=${t##*:}
  echo "== fuzz_$name for ${seconds}s"
  "$build/tests/fuzz/fuzz_$name" -max_total_time="$seconds" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$build/artifacts/$name-" "$work/$corpus" 2>&1 | grep -E "^(stat::|==|SUMMARY|Done)" || true
done
if ls "$build/artifacts/"* >/dev/null 2>&1; then
  echo "findings (reproduce with the fuzz binary and the file):"
  ls -l "$build/artifacts/"
  exit 1
fi
