#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan+UBSan) and runs each for
# SECONDS (default 60), seeded from the corpus kept in tests/fuzz/corpus,
# the test fixtures and the shared corpora. scripts/test runs it for 30 s a
# target on every CI run. What the fuzzer finds new goes to a temporary
# directory; a crash, a leak or a timeout leaves its input in
# build-fuzz/artifacts and fails the run.
#   tests/fuzz/run.sh [SECONDS]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
seconds=${1:-60}
build="$root/build-fuzz"
CXX=clang++ cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPODGUARD_FUZZ=ON \
  -DPODGUARD_BUILD_TESTS=OFF -DCMAKE_CXX_FLAGS="-fsanitize=fuzzer-no-link,address,undefined" >/dev/null
cmake --build "$build" -j "$(nproc)" --target fuzz_manifest_reader fuzz_admission fuzz_config fuzz_http_request \
  fuzz_dockerfile fuzz_image_archive >/dev/null
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/manifests" "$work/reviews" "$work/configs" "$work/http" "$work/dockerfiles" "$work/archives" \
  "$build/artifacts"
find "$root/tests/fixtures" "$root/examples" "$root/../shared/fixtures" -type f \( -name '*.yaml' -o -name '*.json' \) \
  -size -64k -exec cp -t "$work/manifests" {} + 2>/dev/null || true
# Dockerfiles: the rule and CLI fixtures (many are called Dockerfile) and podguard's own.
find "$root/tests/fixtures" -type f \( -name '*Dockerfile*' -o -name 'Containerfile' \) -size -64k \
  -exec cp --backup=numbered -t "$work/dockerfiles" {} + 2>/dev/null || true
cp "$root/Dockerfile" "$work/dockerfiles/podguard.Dockerfile"
# The kept corpus (HTTP requests: the first byte is the fuzzer's split step;
# archives: tars written by tests/fuzz/archive_seeds.cc).
for dir in manifests reviews configs http dockerfiles archives; do cp "$root/tests/fuzz/corpus/$dir/"* "$work/$dir/"; done
cp "$root/tests/fixtures/_cli/"*config*.yaml "$work/configs/"
for t in manifest_reader:manifests admission:reviews config:configs http_request:http dockerfile:dockerfiles \
  image_archive:archives; do
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
