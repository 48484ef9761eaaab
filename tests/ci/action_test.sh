#!/usr/bin/env bash
# The GitHub Action, offline: action.yml's step runs scripts/github-action.sh
# with the action's inputs as INPUT_* variables; this runs that script as the
# runner would (GITHUB_WORKSPACE, GITHUB_OUTPUT, GITHUB_STEP_SUMMARY) with the
# podguard built here on PATH, on a workspace with a clean manifest and then a
# privileged pod, and checks exit codes, SARIF, annotations, outputs and the
# errors for bad inputs. Also checks that action.yml and the script agree on
# the inputs and outputs. The image mode (inputs.image) is run by
# tests/docker/ci-image.sh where dockerd runs.
#   tests/ci/action_test.sh PODGUARD_BINARY
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
podguard=${1:?usage: action_test.sh PODGUARD_BINARY}
[ -x "$podguard" ] || { echo "FAIL: $podguard is not an executable"; exit 1; }
script="$root/scripts/github-action.sh"
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/bin" "$work/ws/deploy"
ln -s "$(cd "$(dirname "$podguard")" && pwd)/$(basename "$podguard")" "$work/bin/podguard"
cp "$root/examples/reference-deployment.yaml" "$work/ws/deploy/app.yaml"

# run NAME [VAR=VALUE...]: the action's step with these inputs; sets rc, out.
run() {
  local name=$1
  shift
  : >"$work/$name.output"
  : >"$work/$name.summary"
  (cd / && env -i PATH="$work/bin:/usr/bin:/bin" HOME="$work" GITHUB_WORKSPACE="$work/ws" \
    GITHUB_OUTPUT="$work/$name.output" GITHUB_STEP_SUMMARY="$work/$name.summary" \
    GITHUB_ACTION_PATH="$root" "$@" bash "$script") >"$work/$name.log" 2>&1
  rc=$?
  out=$(cat "$work/$name.log")
}
output() { sed -n "s/^$2=//p" "$work/$1.output"; }

echo "== action.yml and the script agree"
/usr/bin/python3 - "$root/action.yml" "$script" <<'EOF' || fail "action.yml does not match scripts/github-action.sh (above)"
import re, sys, yaml
action = yaml.safe_load(open(sys.argv[1]))
script = open(sys.argv[2]).read()
problems = []
if action.get("runs", {}).get("using") != "composite":
    problems.append("runs.using is not composite")
steps = action["runs"]["steps"]
step = next((s for s in steps if s.get("id") == "check"), None)
if step is None:
    problems.append("no step with id check")
else:
    if "scripts/github-action.sh" not in step.get("run", "") or step.get("shell") != "bash":
        problems.append("the check step does not run scripts/github-action.sh with bash")
    env = step.get("env", {})
    for name in action["inputs"]:
        var = "INPUT_" + name.upper().replace("-", "_")
        if env.get(var) != "${{ inputs.%s }}" % name:
            problems.append(f"input {name} is not passed as {var}")
        if var not in script:
            problems.append(f"the script does not read {var}")
    for var in env:
        if var.startswith("INPUT_") and var[6:].lower().replace("_", "-") not in action["inputs"]:
            problems.append(f"{var} is not an input")
for name, spec in action.get("outputs", {}).items():
    if spec.get("value") != "${{ steps.check.outputs.%s }}" % name:
        problems.append(f"output {name} does not come from the check step")
    if not re.search(r'echo "%s=' % re.escape(name), script):
        problems.append(f"the script never writes output {name}")
for p in problems:
    print("FAIL:", p)
sys.exit(1 if problems else 0)
EOF

echo "== a clean workspace"
run clean
[ "$rc" -eq 0 ] || fail "exit $rc on a clean manifest: $out"
jq -e '.version == "2.1.0" and (.runs[0].results | length == 0)' "$work/ws/podguard.sarif" >/dev/null 2>&1 \
  || fail "no empty SARIF 2.1.0 report at podguard.sarif: $(head -c 300 "$work/ws/podguard.sarif" 2>&1)"
[ "$(output clean exit-code)" = 0 ] && [ "$(output clean findings)" = 0 ] && [ "$(output clean sarif-file)" = podguard.sarif ] \
  || fail "outputs on a clean workspace: $(cat "$work/clean.output")"
grep -q '1 checked' <<<"$out" || fail "the log lacks podguard's summary: $out"

echo "== a privileged pod"
cp "$root/tests/ci/privileged-pod.yaml" "$work/ws/deploy/debug.yaml"
run privileged
[ "$rc" -eq 1 ] || fail "exit $rc with a privileged pod (expected 1): $out"
grep -q 'deploy/debug.yaml:[0-9]*:[0-9]*: deny\[no-privileged\]' <<<"$out" || fail "the log does not show the finding: $out"
sarif="$work/ws/podguard.sarif"
jq -e '[.runs[0].results[] | select(.ruleId == "no-privileged" and .level == "error"
        and .locations[0].physicalLocation.artifactLocation.uri == "deploy/debug.yaml"
        and .locations[0].physicalLocation.region.startLine > 0)] | length == 1' "$sarif" >/dev/null 2>&1 \
  || fail "SARIF lacks the no-privileged result at deploy/debug.yaml (URIs relative, no ./): $(jq -c '[.runs[0].results[] | {ruleId, level, loc: .locations[0].physicalLocation}]' "$sarif" 2>&1 | head -c 600)"
grep -qE '^::error file=deploy/debug.yaml,line=[0-9]+,col=[0-9]+,title=podguard no-privileged::.*privileged: true gives' <<<"$out" \
  || fail "no ::error annotation for the finding: $out"
grep -qE '^::warning file=deploy/debug.yaml,.*title=podguard no-privilege-escalation::' <<<"$out" \
  || fail "no ::warning annotation for the warn finding: $out"
[ "$(output privileged exit-code)" = 1 ] && [ "$(output privileged findings)" = 2 ] \
  || fail "outputs with a privileged pod: $(cat "$work/privileged.output")"
grep -q 'findings: 2, exit status: 1' "$work/privileged.summary" || fail "job summary: $(cat "$work/privileged.summary")"

echo "== inputs"
run never INPUT_FAIL_ON=never INPUT_SARIF_FILE=reports/pg.sarif INPUT_ANNOTATIONS=false
[ "$rc" -eq 0 ] || fail "exit $rc with fail-on never: $out"
[ -s "$work/ws/reports/pg.sarif" ] || fail "sarif-file reports/pg.sarif not written"
grep -q '^::' <<<"$out" && fail "annotations printed with annotations: false: $out"
[ "$(output never findings)" = 2 ] || fail "findings with fail-on never: $(cat "$work/never.output")"
run warn INPUT_FAIL_ON=warn INPUT_PATHS="$(printf 'deploy/app.yaml\n')"
[ "$rc" -eq 0 ] || fail "exit $rc for the clean file alone (paths input): $out"
grep -q 'debug.yaml' <<<"$out" && fail "paths input ignored, debug.yaml checked: $out"
run paths INPUT_PATHS="deploy/app.yaml deploy/debug.yaml"
[ "$rc" -eq 1 ] || fail "exit $rc for two paths on one line: $out"
printf 'apiVersion: podguard.io/v1alpha1\nkind: PolicyConfig\nprofile: contract\nrules:\n  no-privileged: {action: warn}\n' >"$work/ws/policy.yaml"
run config INPUT_CONFIG=policy.yaml
[ "$rc" -eq 0 ] || fail "exit $rc with a config making no-privileged warn: $out"
grep -q '^::warning file=deploy/debug.yaml,.*title=podguard no-privileged::' <<<"$out" || fail "the config was not used: $out"

echo "== bad inputs are clear errors"
run badfail INPUT_FAIL_ON=sometimes
[ "$rc" -eq 2 ] && grep -q "fail-on must be deny, warn or never, not 'sometimes'" <<<"$out" \
  || fail "fail-on sometimes: exit $rc: $out"
run badann INPUT_ANNOTATIONS=yes
[ "$rc" -eq 2 ] && grep -q "annotations must be true or false" <<<"$out" || fail "annotations yes: exit $rc: $out"
run badconfig INPUT_CONFIG=missing.yaml
[ "$rc" -eq 2 ] && grep -q 'missing.yaml' <<<"$out" || fail "a missing config: exit $rc: $out"
run badpath INPUT_PATHS=nowhere.yaml
[ "$rc" -eq 2 ] && grep -q 'nowhere.yaml' <<<"$out" || fail "a missing path: exit $rc: $out"
jq -e '.runs[0].invocations[0].executionSuccessful == false' "$work/ws/podguard.sarif" >/dev/null 2>&1 \
  || fail "SARIF for a missing path does not say executionSuccessful false"
run imagepath INPUT_IMAGE=podguard:none INPUT_PATHS=/etc
[ "$rc" -eq 2 ] && grep -q 'paths must be inside the workspace and relative: /etc' <<<"$out" \
  || fail "an absolute path with an image: exit $rc: $out"
rm "$work/bin/podguard"
run nopodguard GITHUB_ACTION_PATH=/nonexistent
[ "$rc" -eq 2 ] && grep -q 'no podguard on PATH' <<<"$out" || fail "no podguard at all: exit $rc: $out"

if [ "$failures" -gt 0 ]; then
  echo "action_test: $failures failure(s)"
  exit 1
fi
echo "action_test: all checks passed"
