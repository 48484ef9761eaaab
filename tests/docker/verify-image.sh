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
  [ -n "${build_pid:-}" ] && kill "$build_pid" 2>/dev/null
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
chown 1001:1001 "$work/tls"
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
# A copy of the build context with one source file changed, built with a new
# commit's build args. BuildKit decides each step's cache before running it.
# The runtime stage's dependencies (the runtime-base stage, built alone) must
# come from the cache. In the full build, once the compile step is running,
# the build stage's apt-get step must have come from the cache and the COPY
# of webhook/ must not; the build is stopped there (the main build above
# showed what the rest produces, and a second full compile costs minutes).
ctx="$work/context"
mkdir -p "$ctx"
cp -a "$podguard_root/Dockerfile" "$podguard_root/.dockerignore" "$podguard_root/CMakeLists.txt" "$ctx/"
cp -a "$podguard_root/webhook" "$ctx/"
source_file=$(cd "$ctx" && find webhook -name '*.cc' | sort | head -1)
printf '\n// changed by verify-image.sh to check the layer cache (%s)\n' "$(date +%s%N)" >>"$ctx/$source_file"
new_commit=(--build-arg VERSION=0.0.0-rebuild --build-arg REVISION="rebuild-$(date +%s)" --build-arg CREATED="$(date -u +%Y-%m-%dT%H:%M:%SZ)")
build --target runtime-base "${new_commit[@]}" "$ctx" >"$work/rebuild-runtime.log" 2>&1 \
  || fail "docker build --target runtime-base failed: $(tail -5 "$work/rebuild-runtime.log")"
build -t "$tag-rebuild" "${new_commit[@]}" "$ctx" >"$work/rebuild.log" 2>&1 &
build_pid=$!
compile='build [0-9]+/[0-9]+\] RUN cmake'
t0=$SECONDS
while kill -0 "$build_pid" 2>/dev/null && [ $((SECONDS - t0)) -lt 300 ]; do
  # Stop once the compile prints something: it runs.
  n=$(step_number "$work/rebuild.log" "$compile")
  [ -n "$n" ] && grep -qE "^#$n [0-9.]+ " "$work/rebuild.log" && break
  sleep 1
done
kill "$build_pid" 2>/dev/null
wait "$build_pid" 2>/dev/null
build_pid=""
for check in "build:$work/rebuild.log" "runtime-base:$work/rebuild-runtime.log"; do
  stage=${check%%:*}
  case $(step_state "${check#*:}" "$stage [0-9]+/[0-9]+\] RUN apt-get") in
    reused) echo "$stage stage's apt-get layer: CACHED" ;;
    ran) fail "the $stage stage's apt-get layer was rebuilt after changing only $source_file" ;;
    absent) fail "no $stage-stage apt-get step in the rebuild's output" ;;
  esac
done
state=$(step_state "$work/rebuild.log" 'build [0-9]+/[0-9]+\] COPY webhook/')
[ "$state" = ran ] || fail "COPY webhook/ did not pick up the change to $source_file ($state)"
state=$(step_state "$work/rebuild.log" "$compile")
[ "$state" = ran ] || fail "the compile step did not run after changing $source_file ($state)"
if [ "$failures" -gt 0 ]; then
  echo "-- the rebuilds' output:" >&2
  grep -hE '^#[0-9]+ (\[|CACHED|DONE|ERROR)' "$work/rebuild-runtime.log" "$work/rebuild.log" | head -60 >&2
fi

# Keep the engine's cache bounded: drop images no tag points at (earlier
# builds of this tag) and build cache beyond 3 GB (least recently used first;
# the toolchain layer is used on every run).
docker rmi "$tag-rebuild" >/dev/null 2>&1
docker image prune -f >/dev/null 2>&1
docker builder prune -f --keep-storage 3000000000 >/dev/null 2>&1

if [ "$failures" -gt 0 ]; then
  echo "verify-image: $failures check(s) failed for $tag ($((SECONDS - started)) s)"
  exit 1
fi
echo "verify-image: all checks passed for $tag ($((SECONDS - started)) s)"
