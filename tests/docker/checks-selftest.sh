#!/usr/bin/env bash
# Shows that the image checks of tests/docker/lib.sh (used by
# verify-image.sh) can fail: each must print FAIL naming the problem on a
# small image built to break it, and pass on one built to meet it. The images
# are metadata and a few files on debian:bookworm-slim: seconds to build.
# Exits 77 (skipped) only when no Docker engine can start, saying why.
set -uo pipefail
# shellcheck source=tests/docker/lib.sh
source "$(dirname "$0")/lib.sh"

docker_up_or_skip
work=$(mktemp -d)
prefix="podguard-selftest-$$"
cleanup() {
  docker rmi -f $(docker images -q --filter "reference=$prefix*" 2>/dev/null) >/dev/null 2>&1
  rm -rf "$work"
  podguard_docker_down
}
trap cleanup EXIT
podguard_base_image || die "no base image (above)"

# image NAME: builds $work/NAME.Dockerfile (read from stdin) as $prefix-NAME.
image() {
  cat >"$work/$1.Dockerfile"
  build -t "$prefix-$1" -f "$work/$1.Dockerfile" "$work/ctx" >"$work/$1.log" 2>&1 \
    || die "could not build the $1 test image: $(tail -5 "$work/$1.log")"
}
mkdir -p "$work/ctx"

# expect_fail CHECK IMAGE TEXT: CHECK must return 1 and print FAIL with TEXT.
expect_fail() {
  local out rc
  out=$("$1" "$prefix-$2" 2>&1)
  rc=$?
  if [ "$rc" -ne 1 ] || ! grep -q '^FAIL: ' <<<"$out"; then
    fail "$1 on $2 did not fail (exit $rc): $out"
  elif ! grep -qF -- "$3" <<<"$out"; then
    fail "$1 on $2 failed without naming '$3': $out"
  else
    echo "ok: $1 fails on $2: $(grep -F -- "$3" <<<"$out" | head -1)"
  fi
}
expect_pass() {
  local out
  out=$("$1" "$prefix-$2" 2>&1) || fail "$1 on $2 failed: $out"
}

labels='LABEL org.opencontainers.image.base.name=debian:bookworm-slim org.opencontainers.image.version=1.0.0 org.opencontainers.image.revision=0123abc org.opencontainers.image.source=https://example.com/app org.opencontainers.image.title=app'

echo "== an image that meets every check"
image good <<EOF
FROM debian:bookworm-slim
ENV APP_TLS_KEY=/etc/app/tls.key APP_CONFIG=/etc/app/config.yaml
$labels
USER 1001:1001
HEALTHCHECK CMD ["/bin/true"]
ENTRYPOINT ["/bin/true"]
EOF
for check in check_labels check_user check_runtime_config check_no_build_tools check_no_secrets; do
  expect_pass "$check" good
done

echo "== images that break them"
# The secrets are made here, so that no key or password sits in the repository.
key_header="-----BEGIN RSA PRIVATE"" KEY-----"
password="hunter2-$(date +%s)"
image bad <<EOF
FROM debian:bookworm-slim
ENV DB_PASSWORD=$password
RUN echo "$key_header" >/dev/null \\
 && printf '#!/bin/sh\n' >/usr/bin/x86_64-linux-gnu-gcc-12 && chmod 755 /usr/bin/x86_64-linux-gnu-gcc-12 \\
 && printf '#!/bin/sh\n' >/usr/local/bin/cmake && chmod 755 /usr/local/bin/cmake \\
 && printf 'Package: libfake-dev\nStatus: install ok installed\nVersion: 1\n\n' >>/var/lib/dpkg/status
LABEL org.opencontainers.image.base.name="" org.opencontainers.image.version=2.0.0
CMD /bin/true
EOF
expect_fail check_labels bad "org.opencontainers.image.base.name is empty"
expect_fail check_labels bad "org.opencontainers.image.revision is empty"
expect_fail check_user bad "not a numeric UID"
expect_fail check_runtime_config bad "no HEALTHCHECK"
expect_fail check_runtime_config bad "ENTRYPOINT"
expect_fail check_no_build_tools bad "usr/bin/x86_64-linux-gnu-gcc-12"
expect_fail check_no_build_tools bad "usr/local/bin/cmake"
expect_fail check_no_build_tools bad "libfake-dev"
expect_fail check_no_secrets bad "DB_PASSWORD=<value>"
expect_fail check_no_secrets bad "a PEM private key"
out=$(check_no_secrets "$prefix-bad" 2>&1)
grep -qF "$password" <<<"$out" && fail "check_no_secrets printed the secret's value: $out"
out=$(check_labels "$prefix-good" "version=9.9.9" 2>&1) && fail "check_labels accepted version 1.0.0 for an expected 9.9.9"
grep -q "expected '9.9.9'" <<<"$out" || fail "check_labels did not name the expected version: $out"

image root <<EOF
FROM $prefix-good
USER 0:0
HEALTHCHECK NONE
ENTRYPOINT ["/bin/sh", "-c", "exec /bin/true"]
EOF
expect_fail check_user root "root"
expect_fail check_runtime_config root "no HEALTHCHECK"
expect_fail check_runtime_config root "a shell would be PID 1"
image named-user <<EOF
FROM $prefix-good
USER nobody
EOF
expect_fail check_user named-user "'nobody', not a numeric UID"

if [ "$failures" -gt 0 ]; then
  echo "checks-selftest: $failures problem(s) with the image checks"
  exit 1
fi
echo "checks-selftest: every image check fails on the image that breaks it and passes on the one that meets it"
