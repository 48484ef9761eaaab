#!/usr/bin/env bash
# podguard's image as a CI image, where dockerd runs: builds it (from the
# build cache when verify-image.sh built it first), then on a small
# repository with a clean manifest, then a privileged pod, then a broken file:
#  - `docker run --rm -v "$PWD":/src:ro IMAGE check /src`: exit 0, 1, 2 and
#    the findings, as docs/ci.md promises (also SARIF and JUnit to stdout);
#  - the GitLab CI job of docs/ci.md: its script, run in the image with the
#    entrypoint reset as GitLab does, writes the JUnit report and sets the
#    job's status;
#  - the GitHub Action's script with the image input;
#  - the pre-commit hook of docs/ci.md that runs the image (docker_image);
#  - podguard's own Dockerfile passes with no deny or warn findings, once
#    podguard check judges Dockerfiles.
# Every failure prints "FAIL: what was wrong"; exits 77 (skipped) only when no
# Docker engine can start, saying why.
#   tests/docker/ci-image.sh [IMAGE_TAG]      (default podguard:ci)
set -uo pipefail
# shellcheck source=tests/docker/lib.sh
source "$(dirname "$0")/lib.sh"
tag=${1:-podguard:ci}

docker_up_or_skip
work=$(mktemp -d)
chmod 755 "$work"
cleanup() {
  rm -rf "$work"
  podguard_docker_down
}
trap cleanup EXIT
started=$SECONDS
podguard_base_image || die "no base image (above)"
build_podguard_image "$podguard_root" "$tag" "$work/build.log"

repo="$work/repo"
mkdir -p "$repo/deploy"
cp "$podguard_root/examples/reference-deployment.yaml" "$repo/deploy/app.yaml"
printf 'name: ci\non: [push]\njobs: {}\n' >"$repo/ci.yml"
chmod -R a+rX "$repo"
# run_ci: the command of docs/ci.md, from the repository; sets rc and out.
run_ci() {
  out=$(cd "$repo" && docker run --rm -v "$PWD":/src:ro "$tag" check "$@" 2>&1)
  rc=$?
}

echo "== docker run --rm -v \"\$PWD\":/src:ro $tag check /src"
run_ci /src
[ "$rc" -eq 0 ] || fail "exit $rc on a clean repository: $out"
grep -q '2 objects (1 checked, 1 skipped)' <<<"$out" || fail "unexpected summary on a clean repository: $out"
cp "$podguard_root/tests/ci/privileged-pod.yaml" "$repo/deploy/debug.yaml"
chmod a+r "$repo/deploy/debug.yaml"
run_ci /src
[ "$rc" -eq 1 ] || fail "exit $rc with a privileged pod (expected 1): $out"
grep -qE '^/src/deploy/debug.yaml:[0-9]+:[0-9]+: deny\[no-privileged\] Pod shop/debug-shell' <<<"$out" \
  || fail "the finding is not shown: $out"
run_ci /src --fail-on never
[ "$rc" -eq 0 ] || fail "exit $rc with --fail-on never: $out"
out=$(cd "$repo" && docker run --rm -v "$PWD":/src:ro -w /src "$tag" check -o sarif . 2>/dev/null)
jq -e '.version == "2.1.0" and ([.runs[0].results[] | select(.ruleId == "no-privileged")] | length == 1)' <<<"$out" >/dev/null 2>&1 \
  || fail "SARIF on stdout lacks the no-privileged result: $(head -c 300 <<<"$out")"
printf 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: [broken\n' >"$repo/deploy/broken.yaml"
chmod a+r "$repo/deploy/broken.yaml"
run_ci /src
[ "$rc" -eq 2 ] || fail "exit $rc with an unparseable file (expected 2): $out"
grep -qE '^/src/deploy/broken.yaml:[0-9]+:[0-9]+: error: ' <<<"$out" || fail "no file:line error for the broken file: $out"
grep -q 'deny\[no-privileged\]' <<<"$out" || fail "the other files were not checked next to the broken one: $out"
echo "exit codes pass through: 0 clean, 1 with deny[no-privileged], 2 with a broken file"
rm "$repo/deploy/broken.yaml"

# The YAML block after a marker line in docs/ci.md, as JSON.
doc_block() {
  awk -v marker="$1" 'index($0, marker) {found = 1; next}
    found && /^```yaml/ {inside = 1; next}
    inside && /^```/ {exit}
    inside {print}' "$podguard_root/docs/ci.md" \
  | /usr/bin/python3 -c 'import json, sys, yaml; print(json.dumps(yaml.safe_load(sys.stdin)))'
}

echo "== the GitLab CI job of docs/ci.md"
job=$(doc_block 'runs the script of the job below in the image') || die "no GitLab job after the marker in docs/ci.md"
[ "$(jq -c '.podguard.image.entrypoint' <<<"$job")" = '[""]' ] || fail "the job does not reset the image's entrypoint: $job"
report=$(jq -r '.podguard.artifacts.reports.junit' <<<"$job")
[ "$(jq -r '.podguard.artifacts.when' <<<"$job")" = always ] || fail "the job's report is not kept when it fails"
jq -r '.podguard.script[]' <<<"$job" >"$work/job.sh" || die "the job has no script"
# gitlab_job DIR: the script in the image, in a checkout at GitLab's path,
# writable by all as GitLab's Docker executor leaves it (umask 0000).
gitlab_job() {
  chmod 777 "$1"
  out=$(docker run --rm --entrypoint "" -v "$1:/builds/team/app" -v "$work/job.sh:/job.sh:ro" \
    -w /builds/team/app "$tag" sh -e /job.sh 2>&1)
  rc=$?
}
gitlab_job "$repo"
[ "$rc" -eq 1 ] || fail "the GitLab job's exit status is $rc with a privileged pod (expected 1): $out"
grep -qE 'deploy/debug.yaml:[0-9]+:[0-9]+: deny\[no-privileged\]' <<<"$out" || fail "the GitLab job's log lacks the finding: $out"
/usr/bin/python3 - "$repo/$report" <<'EOF' || fail "the GitLab job's JUnit report is wrong (above)"
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
failed = [c.get("name") for c in root.iter("testcase") if c.find("failure") is not None]
if failed != ["Pod shop/debug-shell"]:
    print("FAIL: JUnit failures:", failed)
    sys.exit(1)
EOF
echo "privileged pod: job failed (exit 1), $report names the failing Pod"
rm "$repo/deploy/debug.yaml" "$repo/$report"
gitlab_job "$repo"
[ "$rc" -eq 0 ] || fail "the GitLab job fails on a clean repository (exit $rc): $out"
grep -q 'failures="0"' "$repo/$report" 2>/dev/null || fail "no JUnit report without failures on a clean repository"
echo "clean repository: job passed, $report without failures"
rm -f "$repo/$report"
chmod 755 "$repo"

echo "== the GitHub Action with the image input"
cp "$podguard_root/tests/ci/privileged-pod.yaml" "$repo/deploy/debug.yaml"
chmod a+r "$repo/deploy/debug.yaml"
client_dir=$(dirname "$(type -P "${_podguard_docker_client:-docker}")")
out=$(cd / && env -i PATH="$client_dir:/usr/bin:/bin" HOME="$work" DOCKER_HOST="${DOCKER_HOST:-}" \
  GITHUB_WORKSPACE="$repo" GITHUB_OUTPUT="$work/gh.output" INPUT_IMAGE="$tag" INPUT_PATHS=deploy \
  bash "$podguard_root/scripts/github-action.sh" 2>&1)
rc=$?
[ "$rc" -eq 1 ] || fail "the action with the image input: exit $rc (expected 1): $out"
jq -e '[.runs[0].results[] | select(.ruleId == "no-privileged"
        and .locations[0].physicalLocation.artifactLocation.uri == "deploy/debug.yaml")] | length == 1' \
  "$repo/podguard.sarif" >/dev/null 2>&1 || fail "the action's SARIF (image input) lacks the finding at deploy/debug.yaml"
grep -q '^::error file=deploy/debug.yaml' <<<"$out" || fail "the action (image input) printed no annotation: $out"
echo "exit $rc, SARIF and annotations at deploy/debug.yaml"
rm -f "$repo/podguard.sarif"

echo "== the pre-commit hook of docs/ci.md that runs the image"
if command -v pre-commit >/dev/null; then
  hook=$(doc_block 'runs this hook with the image it builds') || die "no pre-commit config after the marker in docs/ci.md"
  jq --arg tag "$tag" '.repos[0].hooks[0].entry |= sub("^[^ ]+"; $tag)' <<<"$hook" >"$repo/.pre-commit-config.yaml"
  out=$(cd "$repo" && git init -q . && git add -A \
        && env HOME="$work" PRE_COMMIT_HOME="$work/pre-commit" PATH="$client_dir:$PATH" \
           pre-commit run --all-files 2>&1)
  rc=$?
  [ "$rc" -eq 1 ] || fail "the image hook: exit $rc with a privileged pod (expected 1): $out"
  grep -qE 'deploy/debug.yaml:[0-9]+:[0-9]+: deny\[no-privileged\]' <<<"$out" || fail "the image hook does not show the finding: $out"
  echo "exit $rc with deny[no-privileged]"
  rm -rf "$repo/.git" "$repo/.pre-commit-config.yaml"
else
  fail "pre-commit is not installed (Debian's pre-commit; scripts/test installs it)"
fi

echo "== podguard's own Dockerfile"
# Whether `podguard check` judges Dockerfiles yet (their rules came before the
# CLI reads them): a Dockerfile it reads is a checked object.
own=(docker run --rm -v "$podguard_root/Dockerfile:/src/Dockerfile:ro" -w /src "$tag" check)
if [ "$("${own[@]}" -o json --fail-on never Dockerfile 2>/dev/null | jq '.summary.checked')" = 0 ]; then
  echo "note: podguard check does not judge Dockerfiles yet (the Dockerfile is no checked object); its own is not judged"
else
  out=$("${own[@]}" --fail-on warn Dockerfile 2>&1)
  rc=$?
  [ "$rc" -eq 0 ] || fail "podguard's Dockerfile has deny or warn findings (exit $rc): $out"
  grep -qE '[1-9][0-9]* checked' <<<"$out" || fail "podguard's Dockerfile was not checked: $out"
  echo "no deny or warn findings: $(tail -1 <<<"$out")"
fi

prune_cache
if [ "$failures" -gt 0 ]; then
  echo "ci-image: $failures check(s) failed for $tag ($((SECONDS - started)) s)"
  exit 1
fi
echo "ci-image: all checks passed for $tag ($((SECONDS - started)) s)"
