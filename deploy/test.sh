#!/usr/bin/env bash
# The whole test suite: installs what is missing, builds with warnings as
# errors under AddressSanitizer and UndefinedBehaviorSanitizer, runs ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
. deploy/deps.sh
lx_install_deps

build=build/test
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLX_WERROR=ON \
  -DLX_SANITIZE=address,undefined -DLX_BIN_DIR="$PWD/$build/bin" >/dev/null
cmake --build "$build" -j"$(nproc)"

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
cd "$build"
ctest --output-on-failure -j"$(nproc)" "$@"
