# A Docker engine for podguard's image tests, and the base image they build on.
# Sourced by tests/docker/*.sh (bash):
#
#   source scripts/docker-env.sh
#   podguard_docker_up || exit $?     # 77 (skip) only when no engine can start; says why
#   trap podguard_docker_down EXIT    # stops the dockerd it started, by PID
#   podguard_base_image               # makes debian:bookworm-slim when missing
#   docker build ...                  # `docker` is the client that matches the engine
#
# The engine: the one at $DOCKER_HOST or /var/run/docker.sock when it answers
# (left running); otherwise a plain `dockerd` (Debian's docker.io) started
# here with its own data root, exec root, pidfile and socket, and stopped by
# PID in podguard_docker_down. Its data root lives in the cache folder
# ($PODGUARD_CACHE, default ~/.cache/podguard/docker), so the base image and
# the build cache (the toolchain layer above all) are kept between runs. One
# script at a time uses that engine (flock on $PODGUARD_CACHE/docker.lock). A
# data root grown past $PODGUARD_DOCKER_MAX_GB (default 8) is started afresh.
#
# The base image: the machine reaches Debian's archive but no image
# registry, so debian:bookworm-slim is made with `debootstrap --variant=minbase
# bookworm` (trimmed like the official slim image: no docs, man pages,
# locales or package lists, the same apt sources) and `docker import`; the
# root filesystem is kept as $PODGUARD_CACHE/debian-bookworm-slim.tar.gz, so
# a lost data root costs an import, not a debootstrap.
#
# Knobs (environment):
#   PODGUARD_CACHE           cache folder (default ${XDG_CACHE_HOME:-~/.cache}/podguard)
#   PODGUARD_DEBIAN_MIRROR   Debian mirror for debootstrap and the image's
#                            sources (default http://deb.debian.org/debian)
#   PODGUARD_DOCKER          docker client to use (default: Debian's for the
#                            engine started here, else `docker` on PATH)
#   PODGUARD_BUILD_NETWORK   network of `docker build`'s RUN steps (default:
#                            the engine's bridge; `host` where containers cannot
#                            reach the mirror but the host can)
#   http_proxy, https_proxy, no_proxy  passed to builds when set (Docker's
#                            predefined build args: kept out of the history)

PODGUARD_CACHE=${PODGUARD_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/podguard}
PODGUARD_DEBIAN_MIRROR=${PODGUARD_DEBIAN_MIRROR:-http://deb.debian.org/debian}
_podguard_dockerd_pid=""
_podguard_docker_client=""

# The client: a function, so the scripts read `docker ...` whatever binary it is.
docker() { command "${_podguard_docker_client:-docker}" "$@"; }

_podguard_docker_answers() { docker info >/dev/null 2>&1; }

# Starts or finds an engine; exports DOCKER_HOST. Returns 77 with the reason on
# stderr when none can run here, 1 on other errors.
podguard_docker_up() {
  _podguard_docker_client=${PODGUARD_DOCKER:-docker}
  if type -P "$_podguard_docker_client" >/dev/null && _podguard_docker_answers; then
    echo "docker-env: using the running engine at ${DOCKER_HOST:-the default socket}"
    return 0
  fi
  local dockerd
  dockerd=$(command -v dockerd || true)
  [ -n "$dockerd" ] || dockerd=/usr/sbin/dockerd
  if [ ! -x "$dockerd" ]; then
    echo "docker-env: skipped: no Docker engine answers and dockerd is not installed (Debian's docker.io; scripts/test installs it)" >&2
    return 77
  fi
  if [ "$(id -u)" -ne 0 ]; then
    echo "docker-env: skipped: no Docker engine answers and dockerd needs root (running as uid $(id -u))" >&2
    return 77
  fi
  # The client from the same package as the engine (Debian's), when there is one.
  if [ -z "${PODGUARD_DOCKER:-}" ] && [ -x "$(dirname "$dockerd")/../bin/docker" ]; then
    _podguard_docker_client=$(cd "$(dirname "$dockerd")/../bin" && pwd)/docker
  fi
  type -P "$_podguard_docker_client" >/dev/null || {
    echo "docker-env: skipped: dockerd is installed but no docker client ($_podguard_docker_client)" >&2
    return 77
  }

  local data="$PODGUARD_CACHE/docker"
  # Short: containerd's sockets live under the exec root (108-byte limit); one
  # per data root.
  local run
  run=/run/podguard-docker-$(printf %s "$data" | md5sum | cut -c1-8)
  mkdir -p "$data" "$run" || return 1
  # One user of this engine at a time; wait for the other (a parallel ctest job
  # or a run by hand) rather than fight over the data root.
  exec {_podguard_docker_lock}>"$PODGUARD_CACHE/docker.lock"
  if ! flock -w 1500 "$_podguard_docker_lock"; then
    echo "docker-env: FAIL: $PODGUARD_CACHE/docker.lock held by another run for 25 min" >&2
    return 1
  fi
  export DOCKER_HOST="unix://$run/docker.sock"

  # A dockerd left by a run that was killed before its trap: ours (same pidfile),
  # so it is adopted and stopped at the end like one started here.
  local old
  old=$(cat "$run/dockerd.pid" 2>/dev/null || true)
  if [ -n "$old" ] && kill -0 "$old" 2>/dev/null && _podguard_docker_answers; then
    echo "docker-env: adopting dockerd $old left by an earlier run"
    _podguard_dockerd_pid=$old
    return 0
  fi
  rm -f "$run/docker.sock" "$run/dockerd.pid"
  # The build cache is pruned after each run (tests/docker/lib.sh), but
  # BuildKit 0.8 (Docker 20.10) sometimes cannot prune a record it has lost
  # track of; a data root grown past the limit starts afresh (the base image
  # comes back from its tarball in seconds, the apt layers in a minute).
  local max_gb=${PODGUARD_DOCKER_MAX_GB:-8} used_kb
  used_kb=$(du -sk "$data" 2>/dev/null | cut -f1)
  if [ "${used_kb:-0}" -gt $((max_gb * 1024 * 1024)) ]; then
    echo "docker-env: the data root $data holds $((used_kb / 1024 / 1024)) GB, over $max_gb GB: starting afresh"
    rm -rf "$data" && mkdir -p "$data" || return 1
  fi

  local log="$PODGUARD_CACHE/dockerd.log"
  echo "docker-env: starting $dockerd (data root $data)"
  "$dockerd" --data-root "$data" --exec-root "$run" --pidfile "$run/dockerd.pid" \
    --host "$DOCKER_HOST" --log-level warn >"$log" 2>&1 </dev/null {_podguard_docker_lock}>&- &
  _podguard_dockerd_pid=$!
  local i
  for i in $(seq 1 120); do
    if ! kill -0 "$_podguard_dockerd_pid" 2>/dev/null; then
      _podguard_dockerd_pid=""
      echo "docker-env: skipped: dockerd exited at start; its log ($log) ends with:" >&2
      tail -15 "$log" >&2
      return 77
    fi
    _podguard_docker_answers && { echo "docker-env: dockerd $_podguard_dockerd_pid answers after $((i / 2)) s"; return 0; }
    sleep 0.5
  done
  echo "docker-env: skipped: dockerd started but did not answer within 60 s; its log ($log) ends with:" >&2
  tail -15 "$log" >&2
  podguard_docker_down
  return 77
}

# Stops the dockerd that podguard_docker_up started (by its PID; SIGKILL after
# 30 s), and lets go of the lock. Safe to call twice.
podguard_docker_down() {
  local pid=$_podguard_dockerd_pid
  _podguard_dockerd_pid=""
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    local i
    for i in $(seq 1 60); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.5
    done
    if kill -0 "$pid" 2>/dev/null; then
      echo "docker-env: dockerd $pid still running 30 s after SIGTERM; killing it" >&2
      kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
  fi
  if [ -n "${_podguard_docker_lock:-}" ]; then
    exec {_podguard_docker_lock}>&-
    unset _podguard_docker_lock
  fi
}

# Arguments every image build of the tests passes: the host's proxy settings
# (none here) and the build network.
podguard_build_args() {
  local v
  for v in http_proxy https_proxy no_proxy HTTP_PROXY HTTPS_PROXY NO_PROXY; do
    [ -n "${!v:-}" ] && printf '%s\n' --build-arg "$v=${!v}"
  done
  [ -n "${PODGUARD_BUILD_NETWORK:-}" ] && printf '%s\n' --network "$PODGUARD_BUILD_NETWORK"
  return 0
}

# Makes $1 (default debian:bookworm-slim) when the engine does not have it.
podguard_base_image() {
  local tag=${1:-debian:bookworm-slim}
  docker image inspect "$tag" >/dev/null 2>&1 && return 0
  local tarball="$PODGUARD_CACHE/debian-bookworm-slim.tar.gz"
  if [ ! -s "$tarball" ]; then
    command -v debootstrap >/dev/null || {
      echo "docker-env: FAIL: $tag is missing and debootstrap is not installed (scripts/test installs it)" >&2
      return 1
    }
    local root="$PODGUARD_CACHE/rootfs.tmp"
    rm -rf "$root"
    echo "docker-env: making $tag with debootstrap from $PODGUARD_DEBIAN_MIRROR (about a minute)"
    if ! debootstrap --variant=minbase bookworm "$root" "$PODGUARD_DEBIAN_MIRROR" >"$PODGUARD_CACHE/debootstrap.log" 2>&1; then
      echo "docker-env: FAIL: debootstrap failed; $PODGUARD_CACHE/debootstrap.log ends with:" >&2
      tail -15 "$PODGUARD_CACHE/debootstrap.log" >&2
      return 1
    fi
    # What the official slim image does: no docs, man pages or locales now or
    # later, no package lists or .debs, apt cleaning after itself, and the same
    # sources (bookworm, -updates, -security).
    rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/cache/apt/*.bin "$root"/var/lib/apt/lists/* \
      "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/var/log/*.log
    find "$root/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +
    cat >"$root/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
EOF
    cat >"$root/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
    printf 'APT::Install-Recommends "false";\n' >"$root/etc/apt/apt.conf.d/docker-no-recommends"
    rm -f "$root/etc/apt/sources.list"
    cat >"$root/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $PODGUARD_DEBIAN_MIRROR
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: ${PODGUARD_DEBIAN_MIRROR%/debian}/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
    tar --numeric-owner -C "$root" -czf "$tarball.tmp" . && mv "$tarball.tmp" "$tarball"
    rm -rf "$root"
  fi
  echo "docker-env: importing $tag from $tarball"
  docker import -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    -c 'CMD ["bash"]' "$tarball" "$tag" >/dev/null || {
    echo "docker-env: FAIL: docker import of $tarball failed" >&2
    return 1
  }
}
