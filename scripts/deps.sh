# Installs the Debian packages podguard needs that are not there yet.
# Sourced by scripts/run and scripts/test; uses sudo when not root.
# Usage: install_deps [extra packages...]

PODGUARD_BUILD_PACKAGES=(
  cmake g++ make pkg-config
  libcpp-httplib-dev libssl-dev openssl zlib1g-dev libbrotli-dev
  nlohmann-json3-dev libyaml-cpp-dev libcli11-dev doctest-dev
  curl ca-certificates
)

install_deps() {
  local wanted=("${PODGUARD_BUILD_PACKAGES[@]}" "$@") missing=() pkg
  for pkg in "${wanted[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
      missing+=("$pkg")
    fi
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "podguard: need root or sudo to install: ${missing[*]}" >&2; return 1; }
    sudo=(sudo)
  fi
  echo "podguard: installing ${missing[*]}" >&2
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# Configures and builds into $1 with both (all) cores; extra args go to cmake.
build_podguard() {
  local dir=$1
  shift
  cmake -S "$PODGUARD_ROOT" -B "$dir" -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
  cmake --build "$dir" -j "$(nproc)"
}
