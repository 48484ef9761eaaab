# Shared by tests/docker/*.sh: the Docker engine (scripts/docker-env.sh), the
# image build, and the checks on a built image. Each check prints
# "FAIL: <what was wrong>" and returns 1 when the image breaks it, so the
# callers report every failure, and tests/docker/checks-selftest.sh can show
# that each one fails on an image that breaks it.
# shellcheck shell=bash

podguard_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=scripts/docker-env.sh
source "$podguard_root/scripts/docker-env.sh"

failures=0
fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
  return 1
}
# A failure after which nothing else can be checked.
die() {
  echo "FAIL: $*" >&2
  exit 1
}

# Starts or finds the engine; exits 77 (ctest: skipped) only when none can run.
docker_up_or_skip() {
  local rc=0
  podguard_docker_up || rc=$?
  if [ "$rc" -eq 77 ]; then
    echo "$(basename "$0"): skipped: no Docker engine can run here (reason above)"
    exit 77
  fi
  [ "$rc" -eq 0 ] || die "could not start or reach a Docker engine (see above)"
  # What a run killed before its cleanup left behind (by ctest's timeout, say).
  local stale
  stale=$(docker ps -aq --filter name=podguard-verify- 2>/dev/null)
  [ -n "$stale" ] && docker rm -f $stale >/dev/null 2>&1
  stale=$(docker images -q --filter 'reference=podguard-selftest-*' 2>/dev/null | sort -u)
  [ -n "$stale" ] && docker rmi -f $stale >/dev/null 2>&1
  return 0
}

# BuildKit, as Docker 23+ uses by default: the Dockerfile is read by its
# built-in frontend (no `# syntax=` image to fetch). --progress=plain puts
# each step's cache decision (CACHED) in the output.
build() {
  local args=()
  mapfile -t args < <(podguard_build_args)
  DOCKER_BUILDKIT=1 docker build --progress=plain "${args[@]}" "$@"
}

# podguard's image from $1 (a build context) as $2, with the release
# metadata; the build's output goes to $3. Dies with its last lines on failure.
build_podguard_image() {
  local context=$1 tag=$2 log=$3 start=$SECONDS
  local revision
  revision=$(git -C "$podguard_root" rev-parse HEAD 2>/dev/null || echo unknown)
  if ! build -t "$tag" --build-arg VERSION="$podguard_version" --build-arg REVISION="$revision" \
      --build-arg CREATED="$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$context" >"$log" 2>&1; then
    tail -40 "$log" >&2
    cp "$log" "$PODGUARD_CACHE/failed-build.log" 2>/dev/null
    die "docker build of $context failed (the end of its output above; all of it in $PODGUARD_CACHE/failed-build.log)"
  fi
  echo "built $tag in $((SECONDS - start)) s ($(grep -c ' CACHED$' "$log") steps from the cache)"
}
podguard_version=$(sed -n 's/^project(podguard VERSION \([0-9.]*\).*/\1/p' "$podguard_root/CMakeLists.txt")

# A step of a BuildKit plain log: "reused" (CACHED), "ran" or "absent", for the
# first step whose "[stage n/m] INSTRUCTION" title matches the extended regex
# $2, e.g. 'build [0-9]+/[0-9]+\] RUN apt-get'.
step_number() {
  grep -E "^#[0-9]+ \[$2" "$1" | head -1 | sed 's/^#\([0-9]*\) .*/\1/'
}
step_state() {
  local n
  n=$(step_number "$1" "$2")
  if [ -z "$n" ]; then echo absent
  elif grep -qx "#$n CACHED" "$1"; then echo reused
  else echo ran
  fi
}

inspect() { docker image inspect -f "$2" "$1"; }
label() { docker image inspect -f "{{index .Config.Labels \"$2\"}}" "$1"; }

# The OCI labels: base.name, version, revision and source set (and equal to
# what the build was given when $2.. say so: base=... version=... revision=...).
check_labels() {
  local image=$1 ok=0 key value
  shift
  for key in base.name version revision source title; do
    value=$(label "$image" "org.opencontainers.image.$key")
    if [ -z "$value" ] || [ "$value" = "<no value>" ]; then
      fail "label org.opencontainers.image.$key is empty or missing"
      ok=1
    fi
  done
  local want
  for want in "$@"; do
    key=${want%%=*}
    value=$(label "$image" "org.opencontainers.image.$key")
    if [ "$value" != "${want#*=}" ]; then
      fail "label org.opencontainers.image.$key is '$value', expected '${want#*=}'"
      ok=1
    fi
  done
  return $ok
}

# USER is a numeric UID (and GID) other than 0: the kubelet can enforce
# runAsNonRoot only on a numeric USER.
check_user() {
  local user
  user=$(inspect "$1" '{{.Config.User}}')
  if ! [[ "$user" =~ ^[0-9]+(:[0-9]+)?$ ]]; then
    fail "USER is '${user:-<none, so root>}', not a numeric UID"
    return 1
  fi
  if [ "${user%%:*}" -eq 0 ]; then
    fail "USER is $user: root"
    return 1
  fi
}

# A HEALTHCHECK that runs something (not NONE), and an exec-form ENTRYPOINT,
# so the app is PID 1 and gets SIGTERM.
check_runtime_config() {
  local image=$1 ok=0 test entry
  test=$(inspect "$image" '{{if .Config.Healthcheck}}{{json .Config.Healthcheck.Test}}{{end}}')
  case "$test" in
    '' | '["NONE"]') fail "no HEALTHCHECK (Healthcheck.Test: ${test:-unset})"; ok=1 ;;
  esac
  entry=$(inspect "$image" '{{json .Config.Entrypoint}}')
  if [[ "$entry" == 'null' || "$entry" == '["/bin/sh","-c"'* ]]; then
    fail "ENTRYPOINT is $entry: not the app in exec form (a shell would be PID 1 and SIGTERM would not reach the app)"
    ok=1
  fi
  return $ok
}

# No compiler, build tool or -dev package in the image's filesystem (read from
# `docker export`, so it works without a shell in the image).
check_no_build_tools() {
  local image=$1 ok=0 id found
  id=$(docker create "$image") || { fail "docker create $image failed"; return 1; }
  local list status
  list=$(mktemp)
  status=$(mktemp)
  docker export "$id" | tar -t >"$list" 2>/dev/null
  docker cp "$id:/var/lib/dpkg/status" "$status" >/dev/null 2>&1 || : >"$status"
  docker rm "$id" >/dev/null
  if [ ! -s "$list" ]; then
    fail "could not list the files of $image"
    rm -f "$list" "$status"
    return 1
  fi
  # cc gcc g++ c++ cpp clang clang++ make gmake cmake ld as, with versions and
  # target prefixes (gcc-12, x86_64-linux-gnu-g++-12, clang-14), and gcc's cc1.
  found=$(grep -E '^(\./)?(usr/(local/)?)?s?bin/([a-z0-9_]+-linux-gnu-)?(cc|gcc|g\+\+|c\+\+|cpp|clang|clang\+\+|make|gmake|cmake|ld|as)(-[0-9.]+)?$|/cc1(plus)?$' "$list" || true)
  if [ -n "$found" ]; then
    fail "compilers or build tools in the image: $(echo "$found" | tr '\n' ' ')"
    ok=1
  fi
  found=$(awk '/^Package: /{p=$2} /^Status: .* installed$/{if (p ~ /-dev$/) print p}' "$status" | tr '\n' ' ')
  if [ -n "$found" ]; then
    fail "-dev packages installed in the image: $found"
    ok=1
  fi
  rm -f "$list" "$status"
  return $ok
}

# No literal secret in the layer history (RUN lines, ENV, ARG values used in
# RUN), the Env or the labels. Names that say secret with a literal value, and
# the shapes of private keys and common tokens. A value that is an absolute
# path (a mounted secret file, the Docker secrets convention) is not a secret.
check_no_secrets() {
  local image=$1 text found=() names
  text=$(docker history --no-trunc --format '{{.CreatedBy}}' "$image"
         inspect "$image" '{{range .Config.Env}}{{println .}}{{end}}{{range $k, $v := .Config.Labels}}{{$k}}={{$v}}{{println}}{{end}}')
  # Named: print the name, never the value.
  names=$(grep -E -o -i '[A-Z0-9_.-]*(PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|ACCESS_?KEY|PRIVATE_?KEY|CREDENTIALS?)[A-Z0-9_.-]*=[^/$[:space:]"'"'"'{][^[:space:]"'"'"']*' <<<"$text" \
          | sed 's/=.*/=<value>/' | sort -u | tr '\n' ' ')
  [ -n "$names" ] && found+=("$names")
  grep -qE -e '-----BEGIN [A-Z ]*PRIVATE KEY-----' <<<"$text" && found+=("a PEM private key")
  grep -qE -e 'AKIA[0-9A-Z]{16}' <<<"$text" && found+=("an AWS access key id")
  grep -qE -e 'gh[pousr]_[A-Za-z0-9]{30,}' <<<"$text" && found+=("a GitHub token")
  grep -qE -e 'xox[abprs]-[A-Za-z0-9-]{10,}' <<<"$text" && found+=("a Slack token")
  grep -qE -e 'eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}' <<<"$text" && found+=("a JSON web token")
  if [ ${#found[@]} -gt 0 ]; then
    fail "literal secrets in the image's history, Env or labels: ${found[*]}"
    return 1
  fi
}

# Keeps the engine's cache bounded: images no tag points at (earlier builds of
# a tag) and build cache beyond 3 GB, least recently used first (the toolchain
# layer is used on every run). BuildKit 0.8 (Docker 20.10) sometimes keeps a
# record whose snapshot is gone ("failed to get usage ... snapshot ... not
# found"; a build cancelled mid-step left one here) and then cannot prune by
# size. Pruning everything would clear it but make the next build compile
# from scratch, so it is left to the data root's size limit in
# scripts/docker-env.sh (a run adds a few tens of MB to the cache).
prune_cache() {
  docker image prune -f >/dev/null 2>&1
  local err
  err=$(docker builder prune -f --keep-storage 3000000000 2>&1 >/dev/null) \
    || echo "note: docker builder prune failed, the data root's size limit will clear it: $err"
}
