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

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  lx_install_deps
fi
