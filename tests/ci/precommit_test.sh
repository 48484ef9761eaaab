#!/usr/bin/env bash
# podguard's pre-commit hook (.pre-commit-hooks.yaml) with Debian's
# pre-commit, offline: a temporary clone of this repository (with the hooks
# file as it is in the work tree) is the hook repository, and a temporary
# project uses it from its .pre-commit-config.yaml, as a team would.
#  1. The hook's file selection: which files it passes to podguard (a stub
#     podguard that prints its arguments).
#  2. With the podguard built here: a commit with a clean manifest (and
#     other YAML and JSON, and a Helm template) passes; a commit that adds a
#     privileged pod is refused, showing the finding; with a config that
#     makes that rule warn, it passes. Once podguard check judges
#     Dockerfiles, a commit adding one FROM an unpinned image is refused too.
#   tests/ci/precommit_test.sh PODGUARD_BINARY
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
podguard=${1:?usage: precommit_test.sh PODGUARD_BINARY}
[ -x "$podguard" ] || { echo "FAIL: $podguard is not an executable"; exit 1; }
podguard=$(cd "$(dirname "$podguard")" && pwd)/$(basename "$podguard")
command -v pre-commit >/dev/null || { echo "FAIL: pre-commit is not installed (Debian's pre-commit; scripts/test installs it)"; exit 1; }
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/home" "$work/bin-stub" "$work/bin"
# A clean environment: no user or system git config, pre-commit's cache here.
export HOME="$work/home" GIT_CONFIG_NOSYSTEM=1 PRE_COMMIT_HOME="$work/pre-commit-cache" \
  GIT_AUTHOR_NAME=test GIT_AUTHOR_EMAIL=test@example.com GIT_COMMITTER_NAME=test GIT_COMMITTER_EMAIL=test@example.com
unset GIT_DIR GIT_WORK_TREE GIT_INDEX_FILE
path0="/usr/local/bin:/usr/bin:/bin"

echo "== the hook repository: a clone of this one"
hooks="$work/podguard"
git clone -q --shared "$root" "$hooks" 2>"$work/clone.err" || { echo "FAIL: cannot clone $root: $(cat "$work/clone.err")"; exit 1; }
cp "$root/.pre-commit-hooks.yaml" "$hooks/.pre-commit-hooks.yaml"
git -C "$hooks" add .pre-commit-hooks.yaml
git -C "$hooks" diff --cached --quiet || git -C "$hooks" commit -q -m "the work tree's .pre-commit-hooks.yaml"
rev=$(git -C "$hooks" rev-parse HEAD)

# project NAME [HOOK ARGS YAML]: a new git repository using the hook.
project() {
  local dir="$work/$1"
  git init -q "$dir"
  cat >"$dir/.pre-commit-config.yaml" <<EOF
repos:
  - repo: $hooks
    rev: $rev
    hooks:
      - id: podguard
${2:-}
EOF
  git -C "$dir" add .pre-commit-config.yaml
  echo "$dir"
}
# commit DIR MESSAGE: git commit through the installed hook; sets rc and out.
commit() {
  out=$(cd "$1" && git add -A && PATH="$work/bin:$path0" git commit -m "$2" 2>&1)
  rc=$?
}

echo "== 1. the files the hook passes to podguard"
cat >"$work/bin-stub/podguard" <<'EOF'
#!/bin/sh
for a in "$@"; do echo "podguard-arg: $a"; done
EOF
chmod 755 "$work/bin-stub/podguard"
sel=$(project selection)
for f in deploy/app.yaml deploy/app.yml kustomize/list.json Dockerfile Containerfile svc/Dockerfile \
         svc/build.Dockerfile svc/Dockerfile.prod svc/Containerfile.dev svc/app.Containerfile lower/dockerfile \
         README.md src/main.cc Dockerfiles/notes.txt svc/xDockerfile svc/Dockerfile.d/notes \
         svc/Dockerfile.dockerignore charts/app/templates/deployment.yaml charts/app/Chart.yaml; do
  mkdir -p "$sel/$(dirname "$f")"
  echo "# $f" >"$sel/$f"
done
git -C "$sel" add -A
out=$(cd "$sel" && PATH="$work/bin-stub:$path0" pre-commit run podguard --all-files --verbose 2>&1)
rc=$?
[ "$rc" -eq 0 ] || fail "pre-commit run with the stub podguard: exit $rc: $out"
grep -q '^podguard-arg: check$' <<<"$out" || fail "the hook does not run 'podguard check': $out"
for f in .pre-commit-config.yaml deploy/app.yaml deploy/app.yml kustomize/list.json Dockerfile Containerfile \
         svc/Dockerfile svc/build.Dockerfile svc/Dockerfile.prod svc/Containerfile.dev svc/app.Containerfile \
         lower/dockerfile charts/app/Chart.yaml; do
  grep -qx "podguard-arg: $f" <<<"$out" || fail "the hook does not check $f"
done
for f in README.md src/main.cc Dockerfiles/notes.txt svc/xDockerfile svc/Dockerfile.d/notes \
         svc/Dockerfile.dockerignore charts/app/templates/deployment.yaml; do
  grep -qx "podguard-arg: $f" <<<"$out" && fail "the hook checks $f, which is neither a manifest nor a Dockerfile (or is a Helm template or a .dockerignore)"
done

echo "== 2. commits checked by the podguard built here"
ln -s "$podguard" "$work/bin/podguard"
proj=$(project team)
(cd "$proj" && PATH="$work/bin:$path0" pre-commit install) >"$work/install.log" 2>&1 \
  || fail "pre-commit install: $(cat "$work/install.log")"
mkdir -p "$proj/deploy" "$proj/charts/app/templates" "$proj/.github/workflows"
cp "$root/examples/reference-deployment.yaml" "$proj/deploy/app.yaml"
printf 'name: ci\non: [push]\njobs: {}\n' >"$proj/.github/workflows/ci.yml"
printf '{"name": "app", "version": "1.0.0"}\n' >"$proj/package.json"
printf 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-config\n' >"$proj/charts/app/templates/configmap.yaml"
commit "$proj" "a clean manifest"
if [ "$rc" -ne 0 ]; then
  fail "the commit with a clean manifest was refused (exit $rc): $out"
else
  grep -qE '^podguard \(production container contract\)\.+Passed' <<<"$out" || fail "the hook did not run or pass: $out"
  echo "clean commit: passed"
fi

cp "$root/tests/ci/privileged-pod.yaml" "$proj/deploy/debug.yaml"
head_before=$(git -C "$proj" rev-parse HEAD)
commit "$proj" "a privileged pod"
if [ "$rc" -eq 0 ]; then
  fail "the commit with a privileged pod went through: $out"
else
  grep -qE '^podguard \(production container contract\)\.+Failed' <<<"$out" || fail "the hook's failure is not reported: $out"
  grep -qE 'deploy/debug.yaml:[0-9]+:[0-9]+: deny\[no-privileged\] Pod shop/debug-shell container "shell"' <<<"$out" \
    || fail "the finding is not shown: $out"
  [ "$(git -C "$proj" rev-parse HEAD)" = "$head_before" ] || fail "a commit was made despite the failure"
  echo "privileged pod: refused with deny[no-privileged]"
fi

# The team's config, passed with args (and changing which rule denies).
printf 'apiVersion: podguard.io/v1alpha1\nkind: PolicyConfig\nprofile: contract\nrules:\n  no-privileged: {action: warn}\n' >"$proj/policy.yaml"
cat >"$proj/.pre-commit-config.yaml" <<EOF
repos:
  - repo: $hooks
    rev: $rev
    hooks:
      - id: podguard
        args: [--config, policy.yaml]
EOF
commit "$proj" "a privileged pod, allowed with a warning by the team's config"
[ "$rc" -eq 0 ] || fail "the commit with the config making no-privileged warn was refused (exit $rc): $out"

# Whether `podguard check` judges Dockerfiles yet (their rules came before
# the CLI reads them): a Dockerfile it reads is a checked object.
dockerfile='FROM debian:latest\nUSER 1001\nHEALTHCHECK CMD ["true"]\nCMD ["true"]\n'
printf "$dockerfile" >"$work/probe.Dockerfile"
if [ "$("$podguard" check -o json --fail-on never "$work/probe.Dockerfile" 2>/dev/null | jq '.summary.checked')" = 0 ]; then
  echo "note: podguard check does not judge Dockerfiles yet (a Dockerfile is no checked object); their commit is not tried"
else
  printf "$dockerfile" >"$proj/build.Dockerfile"
  commit "$proj" "a Dockerfile FROM an unpinned image"
  [ "$rc" -ne 0 ] && grep -qE 'build.Dockerfile:1:[0-9]+: deny\[image-pinned\]' <<<"$out" \
    || fail "the commit of a Dockerfile FROM debian:latest was not refused with deny[image-pinned] (exit $rc): $out"
  [ "$rc" -ne 0 ] && echo "Dockerfile FROM debian:latest: refused with deny[image-pinned]"
fi

if [ "$failures" -gt 0 ]; then
  echo "precommit_test: $failures failure(s)"
  exit 1
fi
echo "precommit_test: all checks passed"
