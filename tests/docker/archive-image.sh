#!/usr/bin/env bash
# `podguard image --archive` on what a real Docker engine's `docker save`
# writes (Debian's docker.io 20.10: the legacy layout; an engine of 25 or
# later: an OCI layout in the tar): a FROM scratch image that meets the
# image rules (numeric USER, HEALTHCHECK, OCI labels) and one that breaks
# them, saved alone and together, plain and gzip-compressed.
#   archive-image.sh PODGUARD_BINARY
# Needs no base image or network (FROM scratch). Exits 77 (skipped) only
# when no Docker engine can start, saying why.
set -uo pipefail
podguard=$1
# shellcheck source=tests/docker/lib.sh
source "$(dirname "$0")/lib.sh"

docker_up_or_skip
work=$(mktemp -d)
prefix="podguard-selftest-archive-$$"
cleanup() {
  docker rmi -f "$prefix-good:1.0" "$prefix-bad:1.0" >/dev/null 2>&1
  rm -rf "$work"
  podguard_docker_down
}
trap cleanup EXIT
mkdir -p "$work/ctx"
printf 'not a real program\n' >"$work/ctx/app"

cat >"$work/good.Dockerfile" <<'DOCKERFILE'
FROM scratch
COPY app /app
LABEL org.opencontainers.image.source=https://example.com/app org.opencontainers.image.revision=0123abc org.opencontainers.image.version=1.0.0
USER 1001:1001
HEALTHCHECK CMD ["/app", "health"]
ENTRYPOINT ["/app"]
DOCKERFILE
cat >"$work/bad.Dockerfile" <<'DOCKERFILE'
FROM scratch
COPY app /app
ENV DB_PASSWORD=hunter2-in-docker-save
USER root
ENTRYPOINT ["/app"]
DOCKERFILE
for name in good bad; do
  build -t "$prefix-$name:1.0" -f "$work/$name.Dockerfile" "$work/ctx" >"$work/$name.log" 2>&1 \
    || die "could not build the $name image: $(tail -5 "$work/$name.log")"
done
docker save -o "$work/good.tar" "$prefix-good:1.0" || die "docker save of the good image failed"
docker save -o "$work/both.tar" "$prefix-good:1.0" "$prefix-bad:1.0" || die "docker save of both images failed"
if tar -tf "$work/good.tar" | grep -qx 'index.json'; then
  echo "docker save wrote an OCI layout (Docker $(docker version -f '{{.Server.Version}}'))"
else
  echo "docker save wrote the legacy layout (Docker $(docker version -f '{{.Server.Version}}'))"
fi

# run NAME EXPECTED_EXIT ARGS...: runs podguard, keeps its output in $out.
run() {
  local name=$1 want=$2 rc
  shift 2
  out=$("$podguard" image "$@" 2>&1)
  rc=$?
  if [ "$rc" -ne "$want" ]; then
    fail "$name: exit $rc, expected $want: $out"
  else
    echo "ok: $name (exit $rc)"
  fi
}
expect() {  # expect NAME TEXT: $out holds TEXT
  grep -qF -- "$2" <<<"$out" || fail "$1: the output does not hold '$2': $out"
}
refuse() {  # refuse NAME TEXT: $out does not hold TEXT
  if grep -qF -- "$2" <<<"$out"; then fail "$1: the output holds '$2': $out"; fi
}

run "the compliant image" 0 --archive "$work/good.tar"
expect "the compliant image" "1 object (1 checked, 0 skipped): 0 denied, 0 warned"
refuse "the compliant image" "[image-"

run "both images" 1 --archive "$work/both.tar"
expect "both images" "2 objects (2 checked, 0 skipped): 1 denied"
expect "both images" "$prefix-bad:1.0: warn[image-user]"
expect "both images" "deny[image-secrets]"
expect "both images" "DB_PASSWORD"
refuse "both images" "hunter2-in-docker-save"
expect "both images" "warn[image-healthcheck]"
expect "both images" "audit[image-labels]"
refuse "both images" "$prefix-good:1.0: "

gzip -c "$work/both.tar" >"$work/both.tar.gz"
run "gzip-compressed, JSON" 1 -o json --archive "$work/both.tar.gz"
expect "gzip-compressed, JSON" "\"image-secrets\""

run "standard input, --fail-on never" 0 --fail-on never --archive - <"$work/both.tar"
run "two archives, --fail-on warn" 1 --fail-on warn --archive "$work/good.tar" --archive "$work/both.tar"

head -c $(($(stat -c %s "$work/both.tar") / 2)) "$work/both.tar" >"$work/cut.tar"
run "a truncated archive" 2 --archive "$work/cut.tar"
expect "a truncated archive" "$work/cut.tar: error: "

if [ "$failures" -gt 0 ]; then
  echo "archive-image: $failures failure(s)"
  exit 1
fi
echo "archive-image: all checks passed"
