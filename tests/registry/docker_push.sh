#!/usr/bin/env bash
# docker build + docker push of a test image to the docker-registry that
# tests/registry/real_registry_test.cc runs on 127.0.0.1 (an insecure
# registry to any Docker engine by default).
#   docker_push.sh IMAGE CONTEXT_DIR
# Uses the running engine, or starts Debian's dockerd and stops it by PID
# (scripts/docker-env.sh). Exits 77, saying why on stderr, where no engine
# can run.
set -euo pipefail
image=$1
context=$2
root=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=scripts/docker-env.sh
source "$root/scripts/docker-env.sh"
podguard_docker_up || exit $?
trap 'docker rmi -f "$image" >/dev/null 2>&1 || true; podguard_docker_down' EXIT
docker build -q -t "$image" "$context"
docker push "$image"
