#!/usr/bin/env bash
# Installs the Debian packages lxdex needs, only those that are missing.
# Sourced by the other deploy scripts; also runnable on its own.
LX_DEB_PACKAGES=(
  build-essential cmake pkg-config
  libzmq3-dev libsecp256k1-dev libcurl4-openssl-dev libjansson-dev libcmocka-dev
  libmicrohttpd-dev libssl-dev
  iproute2 iptables procps psmisc curl jq
)

lx_install_deps() {
  local missing=() p
  for p in "${LX_DEB_PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
      missing+=("$p")
    fi
  done
  # The oracle test needs node and npm. Debian splits them into two packages;
  # other node builds ship npm inside nodejs, so ask for them by command.
  command -v node >/dev/null 2>&1 || missing+=(nodejs)
  command -v npm >/dev/null 2>&1 || missing+=(npm)
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "lxdex: installing missing packages: ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

LX_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# lx_args NAME ARG...: the deploy scripts take their settings from
# variables. --help runs the caller's usage and exits 0; any other argument
# is refused with exit status 2 before anything starts.
lx_args() {
  local name=$1 a
  shift
  for a in "$@"; do
    case "$a" in
    -h | --help) usage; exit 0 ;;
    *) printf '%s: unknown argument %s (settings are variables; see --help)\n' "$name" "$a" >&2; exit 2 ;;
    esac
  done
}

# lx_build_needed BIN_DIR BUILD: 0 if a build is due. BUILD always: yes;
# never: no; auto: when a binary is missing or a source is newer than
# BIN_DIR/multi-node.
lx_build_needed() {
  local bin=$1 b
  [ "$2" = always ] && return 0
  [ "$2" = never ] && return 1
  for b in multi-node test-client lx-journal; do
    [ -x "$bin/$b" ] || return 0
  done
  [ -n "$(cd "$LX_ROOT" && find plugin settlement bridge node cmake CMakeLists.txt \
    \( -name '*.c' -o -name '*.h' -o -name 'CMakeLists.txt' -o -name '*.cmake' \) \
    -newer "$bin/multi-node" -print -quit 2>/dev/null)" ]
}

# lx_deps_missing BIN_DIR BUILD: 0 if a tool the scripts use is missing, or a
# build is due and a compiler, CMake or a library is missing.
lx_deps_missing() {
  local c
  for c in jq ss; do
    command -v "$c" >/dev/null 2>&1 || return 0
  done
  if lx_build_needed "$1" "$2"; then
    for c in cmake cc pkg-config; do
      command -v "$c" >/dev/null 2>&1 || return 0
    done
    pkg-config --exists libzmq jansson libcurl libsecp256k1 libcrypto cmocka libmicrohttpd ||
      return 0
  fi
  return 1
}

# lx_build_release BIN_DIR: a Release build in build/, binaries in BIN_DIR.
lx_build_release() {
  local jobs
  jobs=$(nproc 2>/dev/null || echo 2)
  cmake -S "$LX_ROOT" -B "$LX_ROOT/build" -DCMAKE_BUILD_TYPE=Release -DLX_BIN_DIR="$1" >/dev/null &&
    cmake --build "$LX_ROOT/build" -j"$jobs"
}

# lx_prepare BIN_DIR BUILD DEPS: what the scripts do before they run
# anything. Installs the missing packages (DEPS auto: when something is
# missing; always; never), checks for jq, and builds Release into BIN_DIR
# when BUILD asks for it. Reports through the caller's say; on failure says
# why and returns 1.
lx_prepare() {
  if [ "$3" != never ] && { [ "$3" = always ] || lx_deps_missing "$1" "$2"; }; then
    if command -v dpkg-query >/dev/null 2>&1; then
      say "installing missing packages (deploy/deps.sh)"
      lx_install_deps || { say "error: installing the packages failed; see deploy/deps.sh for the list" >&2; return 1; }
    else
      say "warning: not a Debian system; install the packages of deploy/deps.sh yourself"
    fi
  fi
  command -v jq >/dev/null 2>&1 || { say "error: jq is missing (it is in deploy/deps.sh)" >&2; return 1; }
  if lx_build_needed "$1" "$2"; then
    say "building (Release) into $1"
    lx_build_release "$1" || { say "error: the build failed" >&2; return 1; }
  fi
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  lx_install_deps
fi
