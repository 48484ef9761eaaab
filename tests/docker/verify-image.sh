#!/usr/bin/env bash
# Builds the production image and checks it the way an operator would: the
# build (BuildKit, offline but for Debian's archive), the image's metadata
# (OCI labels with base.name, numeric non-root USER, HEALTHCHECK, exec-form
# ENTRYPOINT, no compilers or -dev packages, no secrets in its history), then
# a container with a read-only root filesystem: healthy within 30 s, serving
# as UID 1001, JSON logs on stdout, a review over TLS answered, SIGTERM with a
# review in flight answered and exit 0 within 30 s, no start without a
# config; last, that a source-only change reuses the dependency layers.
# Every failure prints "FAIL: what was wrong"; exit 1 if any.
#
# Starts its own dockerd when none answers (scripts/docker-env.sh) and stops
# it at the end; exits 77 (skipped) only when no engine can start, saying why.
#   tests/docker/verify-image.sh [IMAGE_TAG]      (default podguard:verify)
set -uo pipefail
# shellcheck source=tests/docker/lib.sh
source "$(dirname "$0")/lib.sh"
tag=${1:-podguard:verify}
base=debian:bookworm-slim
revision=$(git -C "$podguard_root" rev-parse HEAD 2>/dev/null || echo unknown)

docker_up_or_skip
work=$(mktemp -d)
chmod 755 "$work"
name="podguard-verify-$$"
cleanup() {
  [ -n "${curl_pid:-}" ] && kill "$curl_pid" 2>/dev/null
  docker rm -f "$name" >/dev/null 2>&1
  rm -rf "$work"
  podguard_docker_down
}
trap cleanup EXIT
started=$SECONDS

echo "== base image ($base)"
podguard_base_image "$base" || die "no $base image (above)"

echo "== build"
build_podguard_image "$podguard_root" "$tag" "$work/build.log"
grep -q 'load metadata for docker.io/docker/dockerfile' "$work/build.log" \
  && fail "the build fetched a Dockerfile frontend image (a '# syntax=' line): builds offline fail"

echo "== image configuration"
check_labels "$tag" "base.name=$base" "version=$podguard_version" "revision=$revision"
check_user "$tag"
[ "$(inspect "$tag" '{{.Config.User}}')" = 1001:1001 ] || fail "USER is $(inspect "$tag" '{{.Config.User}}'), not 1001:1001 (the chart's runAsUser)"
check_runtime_config "$tag"
check_no_build_tools "$tag"
check_no_secrets "$tag"

echo "== serve with a read-only root filesystem"
# Certificates from the image's own certgen (as the chart's Job makes them),
# written as UID 1001 into a folder it owns.
mkdir -p "$work/tls" "$work/config"
chown 1001:1001 "$work/tls" 2>/dev/null || chmod 777 "$work/tls"  # not root: an engine of the docker group
docker run --rm --read-only --cap-drop ALL -v "$work/tls:/out" "$tag" \
  certgen --service podguard --namespace podguard --out-dir /out >"$work/certgen.out" 2>&1 \
  || die "podguard certgen in the image failed: $(cat "$work/certgen.out")"
for f in ca.crt tls.crt tls.key; do [ -s "$work/tls/$f" ] || die "certgen wrote no $f"; done
printf 'apiVersion: podguard.io/v1alpha1\nkind: PolicyConfig\nprofile: contract\n' >"$work/config/policy.yaml"
chmod 644 "$work/config/policy.yaml"
docker run -d --name "$name" --read-only --cap-drop ALL --security-opt no-new-privileges \
  -v "$work/config:/etc/podguard/config:ro" -v "$work/tls:/etc/podguard/tls:ro" \
  -p 127.0.0.1::8443 "$tag" >/dev/null || die "docker run of $tag failed"
t0=$SECONDS
status=none
while [ $((SECONDS - t0)) -le 30 ]; do
  status=$(docker inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{end}}' "$name")
  [ "$status" = healthy ] && break
  [ "$(docker inspect -f '{{.State.Running}}' "$name")" = true ] \
    || die "the container exited ($(docker inspect -f '{{.State.ExitCode}}' "$name")): $(docker logs "$name" 2>&1 | tail -5)"
  sleep 1
done
if [ "$status" = healthy ]; then
  echo "healthy after $((SECONDS - t0)) s"
else
  die "not healthy within 30 s (health: ${status:-none}; last probe: $(docker inspect -f '{{with .State.Health}}{{range .Log}}{{.ExitCode}} {{.Output}}{{end}}{{end}}' "$name" | tail -2))"
fi

# The daemon wants a PID column in `docker top`'s ps options.
top=$(docker top "$name" -o pid,uid,args 2>&1) || fail "docker top failed: $top"
uid=$(awk 'NR > 1 && /podguard/ {print $2; exit}' <<<"$top")
if [ -z "$uid" ]; then
  fail "no podguard process in docker top: $top"
elif [ "$uid" = 0 ] || ! [[ "$uid" =~ ^[0-9]+$ ]]; then
  fail "podguard runs as UID '$uid', not a numeric non-root UID"
elif [ "$uid" != 1001 ]; then
  fail "podguard runs as UID $uid, not 1001"
else
  echo "podguard runs as UID $uid"
fi

port=$(docker port "$name" 8443/tcp | head -1 | sed 's/.*://')
[ -n "$port" ] || die "no published port for 8443"
https="https://podguard.podguard.svc:$port"
curl_tls=(--cacert "$work/tls/ca.crt" --resolve "podguard.podguard.svc:$port:127.0.0.1")
answer=$(curl -sS --max-time 10 "${curl_tls[@]}" -H 'Content-Type: application/json' \
  --data @"$podguard_root/examples/admission-review.json" "$https/validate" 2>&1)
jq -e '.response.allowed == false and .response.uid == "0b5a1c2e-5f0d-4c2a-9a47-1d2f8c3b7e10"' <<<"$answer" >/dev/null 2>&1 \
  || fail "the review was not answered with a denial over TLS: $answer"

echo "== SIGTERM with a review in flight"
# The request's head and half its body before SIGTERM, the rest 2 s after:
# serving goes on during the drain delay, so it must be answered.
review="$podguard_root/examples/admission-review.json"
size=$(wc -c <"$review")
{ head -c $((size / 2)) "$review"; sleep 3; tail -c +$((size / 2 + 1)) "$review"; } |
  curl -sS --max-time 40 "${curl_tls[@]}" -H 'Content-Type: application/json' -H 'Expect:' \
    -X POST -T - -o "$work/inflight.json" -w '%{http_code}\n' "$https/validate" >"$work/inflight.code" 2>&1 &
curl_pid=$!
sleep 1
t0=$(date +%s%N)
docker stop --time 30 "$name" >/dev/null || fail "docker stop failed"
stop_ms=$((($(date +%s%N) - t0) / 1000000))
wait "$curl_pid"
curl_rc=$?
curl_pid=""
code=$(docker inspect -f '{{.State.ExitCode}}' "$name")
[ "$code" = 0 ] || fail "exit code after SIGTERM is $code, not 0"
[ "$stop_ms" -lt 30000 ] || fail "took ${stop_ms} ms to stop after SIGTERM (over 30 s: killed, not drained)"
echo "exited $code ${stop_ms} ms after SIGTERM"
if [ "$curl_rc" -ne 0 ] || [ "$(head -1 "$work/inflight.code")" != 200 ] \
   || ! jq -e '.response.allowed == false' "$work/inflight.json" >/dev/null 2>&1; then
  fail "the review in flight at SIGTERM was not answered (curl $curl_rc, HTTP $(cat "$work/inflight.code"), body $(head -c 300 "$work/inflight.json" 2>/dev/null))"
fi

echo "== logs: JSON lines on stdout"
docker logs "$name" >"$work/stdout.log" 2>"$work/stderr.log"
lines=$(grep -c . "$work/stdout.log")
bad=$(jq -R 'fromjson? | objects | 1' "$work/stdout.log" 2>/dev/null | grep -c . || true)
if [ "$lines" -eq 0 ]; then
  fail "nothing logged on stdout (stderr: $(head -c 300 "$work/stderr.log"))"
elif [ "$bad" -ne "$lines" ]; then
  fail "$((lines - bad)) of $lines stdout lines are not JSON objects: $(jq -R -r 'select((fromjson? | objects) == null)' "$work/stdout.log" | head -3)"
fi
events=$(jq -R -r 'fromjson? | objects | .event // empty' "$work/stdout.log" 2>/dev/null)
for event in config_loaded certificate_loaded listening signal draining listener_closed stopped; do
  grep -qx "$event" <<<"$events" || fail "no \"$event\" event in the stdout log (events: $(sort -u <<<"$events" | tr '\n' ' '))"
done
[ "$(grep -cx admission <<<"$events")" -ge 2 ] || fail "expected an admission log line for each of the 2 reviews"
# The review in flight was decided after the signal, before the listener closed.
order=$(grep -nxE 'signal|admission|listener_closed' <<<"$events" | cut -d: -f2 | tr '\n' ' ')
[[ "$order" == *"signal admission "*"listener_closed"* ]] \
  || fail "the review in flight was not answered between SIGTERM and the listener's close (events: $order)"
echo "$lines JSON lines on stdout, $(grep -c . "$work/stderr.log") on stderr"

echo "== a missing config fails fast with a clear message"
out=$(timeout 30 docker run --rm --read-only "$tag" serve 2>&1)
code=$?
[ "$code" -ne 0 ] || fail "podguard serve started without a config (exit 0)"
[ "$code" -ne 124 ] || fail "podguard serve without a config did not exit within 30 s"
grep -q "cannot read /etc/podguard/config/policy.yaml" <<<"$out" || fail "unclear message without a config (exit $code): $out"

echo "== a source-only change reuses the dependency layers"
# A copy of the build context with a change under webhook/, built with a new
# commit's build args. The runtime stage's dependencies (the runtime-base
# stage, built alone) must come from the cache. In the full build, the build
# stage's apt-get step must come from the cache, and the COPY of webhook/ and
# the compile step must run on the changed tree: the change is a line that
# stops CMake's configure with a marker message, so the compile step shows
# the marker and the build ends there, in seconds (the main build above
# showed what the rest produces; a second full compile would cost minutes,
# and cancelling a build leaves BuildKit 0.8's cache with records it cannot
# prune).
ctx="$work/context"
mkdir -p "$ctx"
cp -a "$podguard_root/Dockerfile" "$podguard_root/.dockerignore" "$podguard_root/CMakeLists.txt" "$ctx/"
cp -a "$podguard_root/webhook" "$ctx/"
marker="verify-image: source-only rebuild check $(date +%s%N)"
printf '\nmessage(FATAL_ERROR "%s")\n' "$marker" >>"$ctx/webhook/CMakeLists.txt"
new_commit=(--build-arg VERSION=0.0.0-rebuild --build-arg REVISION="rebuild-$(date +%s)" --build-arg CREATED="$(date -u +%Y-%m-%dT%H:%M:%SZ)")
build --target runtime-base "${new_commit[@]}" "$ctx" >"$work/rebuild-runtime.log" 2>&1 \
  || fail "docker build --target runtime-base failed: $(tail -5 "$work/rebuild-runtime.log")"
build -t "$tag-rebuild" "${new_commit[@]}" "$ctx" >"$work/rebuild.log" 2>&1 \
  && fail "the rebuild of the changed tree did not stop at the marker (did its compile step run?)"
for check in "build:$work/rebuild.log" "runtime-base:$work/rebuild-runtime.log"; do
  stage=${check%%:*}
  case $(step_state "${check#*:}" "$stage [0-9]+/[0-9]+\] RUN apt-get") in
    reused) echo "$stage stage's apt-get layer: CACHED" ;;
    ran) fail "the $stage stage's apt-get layer was rebuilt after a change under webhook/ only" ;;
    absent) fail "no $stage-stage apt-get step in the rebuild's output" ;;
  esac
done
state=$(step_state "$work/rebuild.log" 'build [0-9]+/[0-9]+\] COPY webhook/')
[ "$state" = ran ] || fail "COPY webhook/ did not pick up the change under webhook/ ($state)"
compile=$(step_number "$work/rebuild.log" 'build [0-9]+/[0-9]+\] RUN cmake')
if [ -z "$compile" ] || ! grep -qF "$marker" <(grep "^#$compile " "$work/rebuild.log"); then
  fail "the compile step did not run on the changed tree (no marker in its output)"
else
  echo "the compile step ran on the changed tree"
fi
if [ "$failures" -gt 0 ]; then
  echo "-- the rebuilds' output:" >&2
  grep -hE '^#[0-9]+ (\[|CACHED|DONE|ERROR)' "$work/rebuild-runtime.log" "$work/rebuild.log" | head -60 >&2
fi

docker rmi "$tag-rebuild" >/dev/null 2>&1
prune_cache

if [ "$failures" -gt 0 ]; then
  echo "verify-image: $failures check(s) failed for $tag ($((SECONDS - started)) s)"
  exit 1
fi
echo "verify-image: all checks passed for $tag ($((SECONDS - started)) s)"
