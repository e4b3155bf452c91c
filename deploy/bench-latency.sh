#!/usr/bin/env bash
# One-node acknowledgement latency next to a bare ZeroMQ round trip. Starts
# one multi-node (leader, --fsync on) on a free loopback port with a fresh
# data folder, drives it with test-client at LATENCY_RATE single NEW_ORDERs
# per second, and prints p50/p99 against lx-bench-zmq's DEALER/ROUTER round
# trip measured in the same run. Two data folders: one on disk (fdatasync
# costs what the disk costs) and one on tmpfs (fdatasync is nearly free, so
# the figure is the node's own path). Each figure is the median of RUNS runs.
# See docs/multi-node.md#performance.
#
#   ./deploy/bench-latency.sh
#   RUNS=5 LATENCY_RATE=5000 DURATION=5s BIN_DIR=build/rel/bin ./deploy/bench-latency.sh
#   ./deploy/bench-latency.sh --help
set -uo pipefail

usage() {
    cat <<'EOF'
usage: [VARIABLE=value ...] deploy/bench-latency.sh [--help]

One node's acknowledgement latency (single NEW_ORDERs) beside a bare ZeroMQ
round trip measured in the same run, with the data on disk and on tmpfs.

  RUNS              3           runs of each; the figures are medians
  LATENCY_RATE      10000       orders/s
  DURATION          10s         per run
  LATENCY_POLL      busy        busy: test-client --busy-poll (one core at 100 %)
                                and the round trip with lx-bench-zmq --busy-poll;
                                sleep: both sleep until a reply comes
  BASE_PORT         47100       loopback ports
  BIN_DIR           bin/        multi-node, test-client, lx-bench-zmq
  DISK_DIR          data/       where the on-disk data folder goes
  TMPFS_DIR         /dev/shm    where the tmpfs data folder goes
EOF
}
START_DIR=$PWD
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=deploy/deps.sh
. "$ROOT/deploy/deps.sh"
lx_args bench-latency "$@"
abspath() {
    case "$1" in
    /*) printf '%s\n' "$1" ;;
    *) printf '%s\n' "$START_DIR/$1" ;;
    esac
}

RUNS=${RUNS:-3}
LATENCY_RATE=${LATENCY_RATE:-10000}
DURATION=${DURATION:-10s}
LATENCY_POLL=${LATENCY_POLL:-busy}
case "$LATENCY_POLL" in
busy) POLL_ARG=--busy-poll ;;
sleep) POLL_ARG= ;;
*)
    echo "bench-latency: LATENCY_POLL=$LATENCY_POLL: busy or sleep" >&2
    exit 2
    ;;
esac
BASE_PORT=${BASE_PORT:-47100}
if [ -n "${BIN_DIR:-}" ]; then BIN_DIR=$(abspath "$BIN_DIR"); else BIN_DIR=$ROOT/bin; fi
if [ -n "${DISK_DIR:-}" ]; then DISK_DIR=$(abspath "$DISK_DIR"); else DISK_DIR=$ROOT/data; fi
TMPFS_DIR=${TMPFS_DIR:-/dev/shm}

for b in multi-node test-client lx-bench-zmq; do
    if [ ! -x "$BIN_DIR/$b" ]; then
        echo "bench-latency: $BIN_DIR/$b not found; build first or set BIN_DIR" >&2
        exit 2
    fi
done
mkdir -p "$DISK_DIR" || exit 2

PIDS=()
DIRS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
    for d in "${DIRS[@]}"; do rm -rf "$d"; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port_free() {
    ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# The first base port from $1 with it and the next three free.
free_base() {
    local p=$1
    while [ "$p" -lt 65000 ]; do
        if port_free "$p" && port_free $((p + 1)) && port_free $((p + 2)) &&
            port_free $((p + 3)); then
            echo "$p"
            return 0
        fi
        p=$((p + 10))
    done
    return 1
}

# json FIELD...: prints the fields of the JSON object on stdin, space-separated.
json() {
    python3 -c '
import json, sys
j = json.loads(sys.stdin.readline())
out = []
for f in sys.argv[1:]:
    v = j
    for k in f.split("."):
        v = v[k]
    out.append(str(v))
print(" ".join(out))' "$@"
}

median() {
    printf '%s\n' "$@" | sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'
}

stop_last() {
    local p=${PIDS[-1]}
    kill "$p" 2>/dev/null
    wait "$p" 2>/dev/null
    unset 'PIDS[-1]'
}

# One node, one run: prints "p50 p99 acked".
run_node() {
    local parent=$1 base dir
    base=$(free_base "$BASE_PORT") || return 1
    dir=$(mktemp -d "$parent/lx-bench-latency.XXXXXX") || return 1
    DIRS+=("$dir")
    "$BIN_DIR/multi-node" --node bench0 --port "$base" --leader --dev-faucet --fsync on \
        --data-dir "$dir/node" --metrics-interval 600s 2>"$dir/node.log" &
    PIDS+=($!)
    if ! "$BIN_DIR/test-client" --nodes "tcp://127.0.0.1:$((base + 2))" --wait-ready 10 \
        --duration 0 --quiet >/dev/null; then
        echo "bench-latency: the node did not start:" >&2
        cat "$dir/node.log" >&2
        stop_last
        return 1
    fi
    local out
    out=$("$BIN_DIR/test-client" --nodes "tcp://127.0.0.1:$((base + 2))" --rate "$LATENCY_RATE" \
        $POLL_ARG --duration "$DURATION" --quiet --json)
    stop_last
    rm -rf "$dir"
    printf '%s\n' "$out" | json latency_us.p50 latency_us.p99 acked send_lag_us.p50
}

# The same client against lx-bench-zmq's sink, which answers at once: the
# client's and the machine's own share of the latency at this rate.
run_sink() {
    local base
    base=$(free_base "$BASE_PORT") || return 1
    "$BIN_DIR/lx-bench-zmq" --sink "tcp://127.0.0.1:$base" 2>/dev/null &
    PIDS+=($!)
    "$BIN_DIR/test-client" --nodes "tcp://127.0.0.1:$base" --wait-ready 10 --duration 0 \
        --quiet >/dev/null || { stop_last; return 1; }
    local out
    out=$("$BIN_DIR/test-client" --nodes "tcp://127.0.0.1:$base" --rate "$LATENCY_RATE" \
        $POLL_ARG --duration "$DURATION" --quiet --json)
    stop_last
    printf '%s\n' "$out" | json latency_us.p50 latency_us.p99 acked send_lag_us.p50
}

RES=$(mktemp "${TMPDIR:-/tmp}/lx-bench-latency.XXXXXX") || exit 1
DIRS+=("$RES")
declare -a zp50 zp99 dp50 dp99 tp50 tp99 sp50 sp99 dlag tlag slag
# The runs write to $RES rather than through a pipe, so that they run in
# this shell and the EXIT trap knows every process and folder they start.
for r in $(seq 1 "$RUNS"); do
    echo "bench-latency: run $r of $RUNS" >&2
    zport=$(free_base "$BASE_PORT") || exit 1
    read -r a b < <("$BIN_DIR/lx-bench-zmq" --mode latency --runs 1 --port "$zport" $POLL_ARG --json |
        json latency.round_trip_us.p50 latency.round_trip_us.p99)
    zp50+=("$a") zp99+=("$b")
    run_sink >"$RES" || exit 1
    read -r a b n l <"$RES"
    sp50+=("$a") sp99+=("$b") slag+=("$l")
    run_node "$DISK_DIR" >"$RES" || exit 1
    read -r a b n l <"$RES"
    dp50+=("$a") dp99+=("$b") dlag+=("$l")
    run_node "$TMPFS_DIR" >"$RES" || exit 1
    read -r a b n l <"$RES"
    tp50+=("$a") tp99+=("$b") tlag+=("$l")
done

Z50=$(median "${zp50[@]}")
Z99=$(median "${zp99[@]}")
ratio() { awk -v a="$1" -v b="$Z50" 'BEGIN {printf "%.1f", a / b}'; }
row() {
    local p50 p99 lag
    p50=$(median "${@:2:$RUNS}")
    p99=$(median "${@:$((RUNS + 2)):$RUNS}")
    lag=$(median "${@:$((2 * RUNS + 2)):$RUNS}")
    printf "%-44s %10s %10s %10s %10s\n" "$1" "$p50" "$p99" "$(ratio "$p50")x" "$lag"
}
echo
echo "one node, test-client at $LATENCY_RATE orders/s for $DURATION, batch 1, medians of $RUNS runs;"
if [ -n "$POLL_ARG" ]; then
    echo "the client and the bare round trip busy-poll for replies (LATENCY_POLL=busy)"
else
    echo "the client and the bare round trip sleep until a reply comes (LATENCY_POLL=sleep)"
fi
echo "latency from each order's intended send time to its ACK, in microseconds;"
echo "lag: how late test-client itself sent (send_lag_us p50), part of the latency"
printf '%-44s %10s %10s %10s %10s\n' "" p50 p99 "p50/zmq" "lag"
printf '%-44s %10s %10s %10s %10s\n' "bare ZeroMQ round trip (lx-bench-zmq)" "$Z50" "$Z99" "1.0x" "-"
row "test-client -> sink (answers at once)" "${sp50[@]}" "${sp99[@]}" "${slag[@]}"
row "node, --fsync on, data on disk" "${dp50[@]}" "${dp99[@]}" "${dlag[@]}"
row "node, --fsync on, data on tmpfs" "${tp50[@]}" "${tp99[@]}" "${tlag[@]}"
echo "(disk: a folder under $DISK_DIR; tmpfs: under $TMPFS_DIR)"
