#!/usr/bin/env bash
# Failover time and the cost of the majority acknowledgement, as figures:
# TRIALS runs of deploy/fault-test.sh SCENARIO=kill-leader (each failover time
# from the kill to the new leader's first acknowledgement, then p50/p90/max),
# then deploy/run-multi-node.sh at 3 nodes with --ack-quorum majority and with
# --ack-quorum local, and the throughput ratio.
#
#   ./deploy/bench-failover.sh
#   TRIALS=3 THROUGHPUT=false ./deploy/bench-failover.sh
#   ./deploy/bench-failover.sh --help
#
# Exit status: 0 when every trial produced a failover time (and both
# throughput runs a figure), 1 otherwise, 2 for a bad setting.
set -uo pipefail

usage() {
    cat <<'EOF'
usage: [VARIABLE=value ...] deploy/bench-failover.sh [--help]

  TRIALS            10          kill-leader trials (deploy/fault-test.sh)
  NODES             3           nodes in every run
  ORDERS_PER_SEC    1000        load of each trial
  TEST_DURATION     10s         length of each trial's load
  FAULT_FOR         3s          the killed leader is restarted this long after
  SEED              random      the trials' kill moments (FAULT_AT 3.0 to 5.0 s
                                into the load) come from it; printed
  THROUGHPUT        true        false: skip the majority / local comparison
  TP_DURATION       10s         length of each throughput run
  TP_RATE           300000      target rate of the throughput runs, above what
                                the cluster sustains
  TP_CLIENT_ARGS    --batch 64  test-client options of the throughput runs
  FSYNC             on          the nodes' --fsync in every run
  BASE_PORT         5000        node i uses BASE_PORT+100*i .. +3
  DATA_ROOT         data/bench-failover
  LOG_DIR           logs/bench-failover  each run's logs in a folder of its own
  BIN_DIR           bin/        a Release build (built when needed, BUILD=auto)
  BUILD, DEPS       auto        as for run-multi-node.sh

Prints each trial's failover time, their p50/p90/max, the throughput with
each --ack-quorum and their ratio; the figures also go to
LOG_DIR/bench-failover.json.
EOF
}
START_DIR=$PWD
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=deploy/deps.sh
. "$ROOT/deploy/deps.sh"
lx_args bench-failover "$@"
abspath() {
    case "$1" in
    /*) printf '%s\n' "$1" ;;
    *) printf '%s\n' "$START_DIR/$1" ;;
    esac
}
TRIALS=${TRIALS:-10}
NODES=${NODES:-3}
ORDERS_PER_SEC=${ORDERS_PER_SEC:-1000}
TEST_DURATION=${TEST_DURATION:-10s}
FAULT_FOR=${FAULT_FOR:-3s}
SEED=${SEED:-$((RANDOM * 32768 + RANDOM))}
THROUGHPUT=${THROUGHPUT:-true}
TP_DURATION=${TP_DURATION:-10s}
TP_RATE=${TP_RATE:-300000}
TP_CLIENT_ARGS=${TP_CLIENT_ARGS:---batch 64}
FSYNC=${FSYNC:-on}
BASE_PORT=${BASE_PORT:-5000}
BUILD=${BUILD:-auto}
DEPS=${DEPS:-auto}
if [ -n "${DATA_ROOT:-}" ]; then DATA_ROOT=$(abspath "$DATA_ROOT"); else DATA_ROOT=$ROOT/data/bench-failover; fi
if [ -n "${LOG_DIR:-}" ]; then LOG_DIR=$(abspath "$LOG_DIR"); else LOG_DIR=$ROOT/logs/bench-failover; fi
if [ -n "${BIN_DIR:-}" ]; then BIN_DIR=$(abspath "$BIN_DIR"); else BIN_DIR=$ROOT/bin; fi

say() { printf '[bench-failover] %s\n' "$*"; }
die() {
    printf '[bench-failover] error: %s\n' "$1" >&2
    exit "${2:-1}"
}
is_uint() { case "$1" in '' | *[!0-9]*) return 1 ;; *) return 0 ;; esac }
is_uint "$TRIALS" && [ "$TRIALS" -ge 1 ] || die "TRIALS=$TRIALS: a positive number" 2
is_uint "$SEED" || die "SEED=$SEED: a number" 2
case "$THROUGHPUT" in true | false) ;; *) die "THROUGHPUT=$THROUGHPUT: true or false" 2 ;; esac

cd "$ROOT" || die "cannot enter $ROOT"
lx_prepare "$BIN_DIR" "$BUILD" "$DEPS" || exit 1
mkdir -p "$LOG_DIR" || die "cannot create $LOG_DIR"
# The runs below must not rebuild or install anything.
export BIN_DIR BASE_PORT FSYNC NODES BUILD=never DEPS=never

# ---- failover trials ------------------------------------------------------
RANDOM=$SEED
say "$TRIALS kill-leader trials: $NODES nodes, $ORDERS_PER_SEC orders/s for $TEST_DURATION, seed $SEED"
: >"$LOG_DIR/failover-ms.txt"
trials_json=()
for ((k = 1; k <= TRIALS; k++)); do
    at=$((3000 + RANDOM % 2001))
    dir=$LOG_DIR/trial-$k
    SCENARIO=kill-leader ORDERS_PER_SEC=$ORDERS_PER_SEC TEST_DURATION=$TEST_DURATION \
        FAULT_AT=${at}ms FAULT_FOR=$FAULT_FOR LOG_DIR=$dir DATA_ROOT=$DATA_ROOT/trial-$k \
        "$ROOT/deploy/fault-test.sh" >"$dir.out" 2>&1
    rc=$?
    ms=$(jq -r '.failover_ms // empty' "$dir/fault.json" 2>/dev/null)
    line=$(jq -r '"new leader \(.new_leader // "none") term \(.new_term // "-"), acked \(.acked), converged \(.converged)"' "$dir/fault.json" 2>/dev/null)
    if is_uint "$ms"; then
        echo "$ms" >>"$LOG_DIR/failover-ms.txt"
        printf 'trial %2d  kill at %4d ms  failover %6s ms  %s%s\n' "$k" "$at" "$ms" "$line" \
            "$([ "$rc" -eq 0 ] || echo "  (fault-test exit $rc, see $dir.out)")"
    else
        printf 'trial %2d  kill at %4d ms  no failover time  %s (fault-test exit %s, see %s.out)\n' \
            "$k" "$at" "${line:-no fault.json}" "$rc" "$dir"
    fi
    trials_json+=("$(jq -cn --argjson k "$k" --argjson at "$at" --argjson rc "$rc" --arg ms "$ms" \
        '{trial: $k, fault_at_ms: $at, failover_ms: (if $ms == "" then null else ($ms | tonumber) end), exit: $rc}')")
done
n=$(grep -c . "$LOG_DIR/failover-ms.txt")
# Nearest-rank percentiles over the measured trials.
read -r p50 p90 max < <(sort -n "$LOG_DIR/failover-ms.txt" | awk '{v[NR] = $1}
    END {
        if (NR == 0) { print "- - -"; exit }
        i50 = int(0.5 * NR + 0.999999); i90 = int(0.9 * NR + 0.999999)
        print v[i50], v[i90], v[NR]
    }')
echo
echo "failover (kill -9 of the leader -> first acknowledgement of the new term), $n of $TRIALS trials measured:"
echo "  p50 $p50 ms   p90 $p90 ms   max $max ms"

# ---- majority vs local acknowledgement ------------------------------------
tp_majority=null
tp_local=null
el_majority=null
el_local=null
if [ "$THROUGHPUT" = true ]; then
    for q in majority local; do
        say "throughput, --ack-quorum $q: 3 nodes, $TP_RATE orders/s for $TP_DURATION ($TP_CLIENT_ARGS)"
        NODES=3 SETTLE=false ORDERS_PER_SEC=$TP_RATE TEST_DURATION=$TP_DURATION \
            CLIENT_ARGS="$TP_CLIENT_ARGS --error-threshold 1" NODE_ARGS="--ack-quorum $q" \
            LOG_DIR=$LOG_DIR/tp-$q DATA_ROOT=$DATA_ROOT/tp-$q \
            "$ROOT/deploy/run-multi-node.sh" >"$LOG_DIR/tp-$q.out" 2>&1
        rc=$?
        t=$(jq -r '.throughput // empty' "$LOG_DIR/tp-$q/summary.json" 2>/dev/null)
        [ -n "$t" ] || t=null
        # An overloaded leader may miss heartbeats long enough for an
        # election; the figure then includes that failover.
        el=$(cat "$LOG_DIR/tp-$q"/node*.log 2>/dev/null | grep -c ' elected leader of term ')
        if [ "$q" = majority ]; then tp_majority=$t el_majority=$el; else tp_local=$t el_local=$el; fi
        printf '  %-9s %s orders/s acknowledged, %s election(s) during the run (run-multi-node exit %s, see %s)\n' \
            "$q" "$t" "$el" "$rc" "$LOG_DIR/tp-$q.out"
    done
    if [ "$tp_majority" != null ] && [ "$tp_local" != null ]; then
        awk -v m="$tp_majority" -v l="$tp_local" 'BEGIN {
            if (l <= 0) { print "  local throughput is 0: no ratio"; exit }
            printf "  majority / local = %.3f: majority costs %.1f %% of the throughput (target <= 30 %%)\n", m / l, 100 * (1 - m / l)
        }'
    fi
fi

jq -n --argjson trials "$(printf '%s\n' "${trials_json[@]}" | jq -cs .)" --argjson n "$n" \
    --argjson want "$TRIALS" --arg seed "$SEED" --arg p50 "$p50" --arg p90 "$p90" --arg max "$max" \
    --argjson tpm "$tp_majority" --argjson tpl "$tp_local" \
    --argjson elm "$el_majority" --argjson ell "$el_local" '
    def num: if . == "-" then null else tonumber end;
    {seed: $seed, trials: $trials, measured: $n, wanted: $want,
     failover_ms: {p50: ($p50 | num), p90: ($p90 | num), max: ($max | num)},
     throughput: {majority: $tpm, local: $tpl, elections_majority: $elm, elections_local: $ell,
                  ratio: (if $tpm != null and $tpl != null and $tpl > 0 then $tpm / $tpl else null end)}}' \
    >"$LOG_DIR/bench-failover.json"
echo "figures: $LOG_DIR/bench-failover.json"

[ "$n" -eq "$TRIALS" ] || die "only $n of $TRIALS trials produced a failover time"
if [ "$THROUGHPUT" = true ] && { [ "$tp_majority" = null ] || [ "$tp_local" = null ]; }; then
    die "a throughput run produced no figure"
fi
