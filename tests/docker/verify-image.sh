#!/usr/bin/env bash
# Builds the production image and checks it the way an operator would: it
# becomes healthy with no extra tools, runs as a numeric non-root UID with a
# read-only root filesystem, answers a review over TLS, exits 0 on SIGTERM,
# and refuses to start without a config, saying why.
# Needs a Docker engine; prints a line and exits 77 (skipped) without one.
#   tests/docker/verify-image.sh [IMAGE_TAG]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
tag=${1:-podguard:verify}

if ! command -v docker >/dev/null 2>&1 || ! docker info >/dev/null 2>&1; then
  echo "verify-image: skipped: no Docker engine on this machine (docker info failed)"
  exit 77
fi

work=$(mktemp -d)
name="podguard-verify-$$"
cleanup() { docker rm -f "$name" >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT
fail() { echo "verify-image: FAIL: $*" >&2; docker logs "$name" 2>&1 | tail -20 >&2 || true; exit 1; }

echo "== build"
docker build -t "$tag" --build-arg REVISION="$(git -C "$root" rev-parse HEAD 2>/dev/null || echo unknown)" "$root"

echo "== no compilers in the runtime image"
if docker run --rm --entrypoint /bin/sh "$tag" -c 'command -v g++ || command -v cc || command -v cmake' >/dev/null 2>&1; then
  fail "the runtime image contains a compiler"
fi

echo "== labels and user"
[ "$(docker inspect -f '{{.Config.User}}' "$tag")" = "1001:1001" ] || fail "USER is not 1001:1001"
docker inspect -f '{{index .Config.Labels "org.opencontainers.image.title"}}' "$tag" | grep -qx podguard \
  || fail "OCI title label missing"

echo "== serve with a read-only root filesystem"
"$root/certs/make-certs.sh" -o "$work/tls" >/dev/null 2>&1
chmod 644 "$work/tls/"*  # readable by UID 1001 inside the container
mkdir -p "$work/config"
printf 'apiVersion: podguard.io/v1alpha1\nkind: PolicyConfig\nprofile: contract\n' > "$work/config/policy.yaml"
docker run -d --name "$name" --read-only --cap-drop ALL --security-opt no-new-privileges \
  -v "$work/config:/etc/podguard/config:ro" -v "$work/tls:/etc/podguard/tls:ro" -p 127.0.0.1::8443 "$tag" >/dev/null
for _ in $(seq 1 60); do
  status=$(docker inspect -f '{{.State.Health.Status}}' "$name")
  [ "$status" = healthy ] && break
  [ "$(docker inspect -f '{{.State.Running}}' "$name")" = true ] || fail "the container exited"
  sleep 1
done
[ "$status" = healthy ] || fail "the container did not become healthy (status: $status)"
uid=$(docker top "$name" -eo uid | awk 'NR==2 {print $1}')
[ "$uid" = 1001 ] || fail "podguard runs as UID $uid, not 1001"
port=$(docker port "$name" 8443/tcp | head -1 | sed 's/.*://')
curl -sf --cacert "$work/tls/ca.crt" --resolve "podguard.podguard.svc:$port:127.0.0.1" \
  -H 'Content-Type: application/json' --data @"$root/examples/admission-review.json" \
  "https://podguard.podguard.svc:$port/validate" | grep -q '"allowed":false' || fail "the review was not answered"
docker logs "$name" | grep -q '"event":"admission"' || fail "no JSON decision log on stdout"

echo "== SIGTERM exits 0"
docker stop --time 30 "$name" >/dev/null
[ "$(docker inspect -f '{{.State.ExitCode}}' "$name")" = 0 ] || fail "exit code after SIGTERM is not 0"
docker logs "$name" | grep -q '"event":"stopped"' || fail "no stopped event"

echo "== a missing config fails fast with a clear message"
set +e
out=$(docker run --rm --read-only "$tag" serve 2>&1)
code=$?
set -e
[ "$code" -ne 0 ] || fail "podguard started without a config"
echo "$out" | grep -q "cannot read /etc/podguard/config/policy.yaml" || fail "unclear message: $out"

echo "verify-image: all checks passed for $tag"
