#!/usr/bin/env bash
# Cluster benchmark: runs deploy/run-multi-node.sh for 3, 5 and 10 nodes in
# leader mode with batched order frames, each at its goal's rate, and a
# one-node latency run at a moderate rate, next to a bare ZeroMQ round trip
# (lx-bench-zmq); BENCH_REPEAT rounds of all of them (3 by default), and
# prints the medians with whether each goal was met. Writes
# LOG_DIR/bench-cluster.json. See docs/cluster.md.
#
#   ./deploy/bench-cluster.sh
#   TEST_DURATION=10s BENCH_NODES="3 5" BENCH_FSYNC=off ./deploy/bench-cluster.sh
#   BENCH_CURVE=both BENCH_NODES=3 ./deploy/bench-cluster.sh   # CURVE's cost
#   BENCH_REPEAT=1 ./deploy/bench-cluster.sh                  # one round
#   ./deploy/bench-cluster.sh --help
set -uo pipefail

usage() {
    cat <<'EOF'
usage: [VARIABLE=value ...] deploy/bench-cluster.sh [--help]

  BENCH_NODES       3 5 10      the cluster sizes (leader mode, batch frames)
  BENCH_RATE        each goal   orders/s of every cluster run; unset: 250000 for
                                3 nodes, 100000 for 5, 200000 for 10, else 300000
  BENCH_BATCH       256         orders per batch frame
  BENCH_REPEAT      3           rounds of every run; the table shows medians
  TEST_DURATION     30s         per run
  LATENCY_RATE      10000       single orders/s of the one-node run and the
                                client-against-a-sink floor
  FLOOR_DURATION    10s         the client-against-a-sink floor run
  LATENCY_POLL      busy        how the one-node run's client and the sink floor's
                                wait for replies: busy (test-client --busy-poll,
                                one core at 100 %) or sleep; the one-node goal is
                                judged against the round trip measured the same
                                way (lx-bench-zmq with or without --busy-poll)
  BENCH_FSYNC       on          the nodes' --fsync
  BENCH_CURVE       off         on, or both (each size plain and with CURVE)
  BENCH_SETTLE      false       true: each run also settles on lx-devnet
  BENCH_CLIENT_ARGS             extra test-client options for every run
  BASE_PORT         5000        node i uses BASE_PORT+100*i .. +3
  SINK_PORT         BASE_PORT+1099
  DATA_ROOT         data/bench  (DATA_ROOT=/dev/shm/lxbench: tmpfs, no disk)
  BENCH_KEEP_DATA   false       true: keep each run's DATA_ROOT/<run>/; false removes
                                it once the run's figures are in (a 10-node run's
                                journals take 2.5 GB, and on tmpfs that is memory)
  LOG_DIR           logs/       each run's logs in LOG_DIR/bench-<run>/
  BIN_DIR           bin/        a Release build (built when needed)

Prints a table of the medians, each size's goal and in how many rounds it
was met, the bare ZeroMQ baseline and the floors under the goals; the
figures also go to LOG_DIR/bench-cluster.json (docs/cluster.md). Exits 1 if
any run failed.
EOF
}
START_DIR=$PWD
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=deploy/deps.sh
. "$ROOT/deploy/deps.sh"
lx_args bench-cluster "$@"
abspath() {
    case "$1" in
    /*) printf '%s\n' "$1" ;;
    *) printf '%s\n' "$START_DIR/$1" ;;
    esac
}

BENCH_NODES=${BENCH_NODES:-3 5 10}
# Unset: each size runs at its goal's rate (goal_of below), 300000 when it has
# none. Set: every size runs at BENCH_RATE.
BENCH_RATE=${BENCH_RATE:-}
BENCH_BATCH=${BENCH_BATCH:-256}
BENCH_FSYNC=${BENCH_FSYNC:-on}
LATENCY_RATE=${LATENCY_RATE:-10000}
FLOOR_DURATION=${FLOOR_DURATION:-10s}
LATENCY_POLL=${LATENCY_POLL:-busy}
TEST_DURATION=${TEST_DURATION:-30s}
BASE_PORT=${BASE_PORT:-5000}
BENCH_CLIENT_ARGS=${BENCH_CLIENT_ARGS:-}
BENCH_CURVE=${BENCH_CURVE:-off}
BENCH_SETTLE=${BENCH_SETTLE:-false}
BENCH_REPEAT=${BENCH_REPEAT:-3}
BENCH_KEEP_DATA=${BENCH_KEEP_DATA:-false}
if [ -n "${LOG_DIR:-}" ]; then LOG_DIR=$(abspath "$LOG_DIR"); else LOG_DIR=$ROOT/logs; fi
if [ -n "${DATA_ROOT:-}" ]; then DATA_ROOT=$(abspath "$DATA_ROOT"); else DATA_ROOT=$ROOT/data/bench; fi
if [ -n "${BIN_DIR:-}" ]; then BIN_DIR=$(abspath "$BIN_DIR"); else BIN_DIR=$ROOT/bin; fi
export BIN_DIR

say() { printf '[bench-cluster] %s\n' "$*"; }

# goal_of NODES: "rate p99_us" the cluster must sustain at that size (p99_us
# "-" for no latency goal), or nothing. These are lxdex's performance goals
# (docs/cluster.md#bench-clustersh).
goal_of() {
    case "$1" in
    3) echo "250000 10000" ;;
    5) echo "100000 -" ;;
    10) echo "200000 -" ;;
    esac
}
rate_of() {
    local g
    if [ -n "$BENCH_RATE" ]; then
        echo "$BENCH_RATE"
    elif g=$(goal_of "$1") && [ -n "$g" ]; then
        echo "${g%% *}"
    else
        echo 300000
    fi
}
die() {
    printf '[bench-cluster] error: %s\n' "$*" >&2
    exit 1
}
case "$BENCH_FSYNC" in on | off) ;; *) die "BENCH_FSYNC=$BENCH_FSYNC: on or off" ;; esac
case "$BENCH_RATE" in '' | *[!0-9]* | 0*) [ -z "$BENCH_RATE" ] || die "BENCH_RATE=$BENCH_RATE: a positive number of orders/s" ;; esac
case "$BENCH_CURVE" in off | on | both) ;; *) die "BENCH_CURVE=$BENCH_CURVE: off, on or both" ;; esac
case "$BENCH_REPEAT" in [1-9] | [1-9][0-9]) ;; *) die "BENCH_REPEAT=$BENCH_REPEAT: rounds of every run, 1 to 99" ;; esac
case "$BENCH_KEEP_DATA" in true | false) ;; *) die "BENCH_KEEP_DATA=$BENCH_KEEP_DATA: true or false" ;; esac
case "$LATENCY_POLL" in busy | sleep) ;; *) die "LATENCY_POLL=$LATENCY_POLL: busy or sleep" ;; esac
POLL_ARG=
[ "$LATENCY_POLL" = busy ] && POLL_ARG=--busy-poll
command -v jq >/dev/null 2>&1 || die "jq is missing (it is in deploy/deps.sh)"
mkdir -p "$LOG_DIR" || die "cannot create $LOG_DIR"

RUN=$ROOT/deploy/run-multi-node.sh
RUN_PID=
trap '[ -n "$RUN_PID" ] && kill -TERM "$RUN_PID" 2>/dev/null && wait "$RUN_PID"' EXIT
trap 'say "interrupted"; exit 130' INT
trap 'say "terminated"; exit 143' TERM

say "journal fsync: $BENCH_FSYNC (BENCH_FSYNC=on|off; on is the daemon's default)"
say "CURVE: $BENCH_CURVE (BENCH_CURVE=off|on|both; both runs each size plain and with CURVE, one client account each)"
say "settlement: $BENCH_SETTLE (BENCH_SETTLE=true also starts lx-devnet and settles every run's fills)"
plan=
for n in $BENCH_NODES; do plan="$plan, $n nodes at $(rate_of "$n")"; done
say "runs:${plan#,} orders/s in batches of $BENCH_BATCH, plus 1 node at $LATENCY_RATE orders/s; $TEST_DURATION each"
say "one-node client: $LATENCY_POLL (LATENCY_POLL=busy|sleep: busy-polls for replies, or sleeps until one comes; its goal is judged against the round trip measured the same way)"
say "rounds: $BENCH_REPEAT (BENCH_REPEAT), each of every run above and the ZeroMQ baseline, the sizes taking turns; the table shows the medians"

# run NAME NODES RATE CLIENT_ARGS [CURVE]: one cluster run; its summary lands
# in LOG_DIR/bench-NAME/summary.json. Builds the binaries on the first run if
# they are missing or stale.
run() {
    local name=$1 n=$2 rate=$3 cargs=$4 curve=${5:-false}
    say "---- $name: $n node(s), $rate orders/s${cargs:+, $cargs}, CURVE $curve"
    SETTLE=$BENCH_SETTLE CURVE=$curve NODES=$n ORDERS_PER_SEC=$rate TEST_DURATION=$TEST_DURATION CONSENSUS=leader \
        CLIENT_ARGS="$cargs" FSYNC=$BENCH_FSYNC BASE_PORT=$BASE_PORT KEEP_ALIVE=false \
        LOG_DIR="$LOG_DIR/bench-$name" DATA_ROOT="$DATA_ROOT/$name" \
        "$RUN" >"$LOG_DIR/bench-$name.out" 2>&1 &
    RUN_PID=$!
    wait "$RUN_PID"
    local rc=$?
    RUN_PID=
    if [ "$rc" -ne 0 ]; then
        say "$name: run-multi-node.sh exited $rc; end of $LOG_DIR/bench-$name.out:"
        tail -n 25 "$LOG_DIR/bench-$name.out" | sed 's/^/    /'
    fi
    jq -r --arg name "$name" '"[bench-cluster] \($name): " +
        (if .throughput == null then "no client figures (client exit \(.client_exit))"
         else "\(.throughput) orders/s acked, \(.errors) errors, p50 \(.latency_us.p50) us, p99 \(.latency_us.p99) us" end)
        + ", converged \(.converged)"' \
        "$LOG_DIR/bench-$name/summary.json" 2>/dev/null
    # Three rounds at the default sizes left 11 GB of journals, which on
    # tmpfs is memory the later runs no longer had.
    [ "$BENCH_KEEP_DATA" = true ] || rm -rf "${DATA_ROOT:?}/$name"
    return 0
}

# zmq_baseline K: one bare ZeroMQ measurement into LOG_DIR/bench-zmq-K.json.
zmq_baseline() {
    if [ ! -x "$BIN_DIR/lx-bench-zmq" ]; then
        say "$BIN_DIR/lx-bench-zmq is missing: no baseline"
        return
    fi
    say "---- zmq-$1: bare ZeroMQ DEALER/ROUTER round trip (lx-bench-zmq)"
    "$BIN_DIR/lx-bench-zmq" --mode all --batch "$BENCH_BATCH" --json \
        >"$LOG_DIR/bench-zmq-$1.json" 2>"$LOG_DIR/bench-zmq-$1.err" ||
        say "lx-bench-zmq failed; see $LOG_DIR/bench-zmq-$1.err"
    # The round trip with the initiator busy-polling, like the one-node
    # client with LATENCY_POLL=busy.
    "$BIN_DIR/lx-bench-zmq" --mode latency --busy-poll --json \
        >"$LOG_DIR/bench-zmq-$1-busy.json" 2>>"$LOG_DIR/bench-zmq-$1.err" ||
        say "lx-bench-zmq --busy-poll failed; see $LOG_DIR/bench-zmq-$1.err"
}

# The first run builds if needed; lx-bench-zmq comes from the same build.
# Every round runs every size, the one-node run and the baseline, so that a
# slow spell of this shared machine falls on all of them alike.
nruns=0
# A CURVE client key acts for one account, and run-multi-node.sh gives the
# client one key per node: when CURVE is measured every run of N nodes trades
# from N accounts, so the plain and CURVE rows differ only in CURVE.
RUN_NAMES=()
lat_curve=false
LAT_ARGS=
[ "$BENCH_CURVE" != off ] && LAT_ARGS="--accounts 1"
[ "$BENCH_CURVE" = on ] && lat_curve=true
LAT_ARGS="$LAT_ARGS${POLL_ARG:+ $POLL_ARG}${BENCH_CLIENT_ARGS:+ $BENCH_CLIENT_ARGS}"
for ((k = 1; k <= BENCH_REPEAT; k++)); do
    [ "$BENCH_REPEAT" -gt 1 ] && say "==== round $k of $BENCH_REPEAT"
    for n in $BENCH_NODES; do
        CURVE_ARGS=
        [ "$BENCH_CURVE" != off ] && CURVE_ARGS=" --accounts $n"
        # Above capacity the nodes push back (ERROR overloaded) and requests
        # time out; those are counted and shown, not a failed run.
        cargs="--batch $BENCH_BATCH --error-threshold 1$CURVE_ARGS${BENCH_CLIENT_ARGS:+ $BENCH_CLIENT_ARGS}"
        if [ "$BENCH_CURVE" != on ]; then
            run "n$n-$k" "$n" "$(rate_of "$n")" "$cargs" false
            RUN_NAMES+=("n$n-$k")
            nruns=$((nruns + 1))
        fi
        if [ "$BENCH_CURVE" != off ]; then
            run "n$n-curve-$k" "$n" "$(rate_of "$n")" "$cargs" true
            RUN_NAMES+=("n$n-curve-$k")
            nruns=$((nruns + 1))
        fi
    done
    run "latency-$k" 1 "$LATENCY_RATE" "${LAT_ARGS# }" "$lat_curve"
    zmq_baseline "$k"
done

# BASES: each round's baseline ({round, p50, p99, p999, orders_per_s, batch,
# window, busy_poll: {p50, p99, p999}}; latency: one NEW_ORDER-sized round
# trip, the initiator sleeping in recv or busy-polling; throughput: batch
# frames of BENCH_BATCH orders with several in flight).
BASES=$(for ((k = 1; k <= BENCH_REPEAT; k++)); do
    busy=$(jq -c 'select(.latency.round_trip_us.p50 != null) | .latency.round_trip_us
        | {p50, p99, p999}' "$LOG_DIR/bench-zmq-$k-busy.json" 2>/dev/null)
    jq -c --argjson k "$k" --argjson busy "${busy:-null}" 'select(.latency.round_trip_us.p50 != null) | {round: $k,
        p50: .latency.round_trip_us.p50, p99: .latency.round_trip_us.p99,
        p999: .latency.round_trip_us.p999, orders_per_s: .throughput.orders_per_s,
        batch: .throughput.batch, window: .throughput.window, busy_poll: $busy}' "$LOG_DIR/bench-zmq-$k.json" 2>/dev/null
done | jq -cs .)
[ -n "$BASES" ] || BASES='[]'

# The floors under the goals, measured on this machine in this run: the test
# client at the one-node rate against a sink that answers at once (no node,
# so the client and ZeroMQ alone), and the journal's sync on DATA_ROOT's disk
# (one sync per block, so a durable acknowledgement waits for at least one).
SINK_JSON=null
SINK_PORT=${SINK_PORT:-$((BASE_PORT + 1099))}
if [ -x "$BIN_DIR/lx-bench-zmq" ] && [ -x "$BIN_DIR/test-client" ]; then
    say "---- test-client against a bare ZeroMQ sink on port $SINK_PORT, $LATENCY_RATE orders/s, $FLOOR_DURATION, client $LATENCY_POLL"
    "$BIN_DIR/lx-bench-zmq" --sink "tcp://127.0.0.1:$SINK_PORT" 2>"$LOG_DIR/bench-sink.err" &
    RUN_PID=$!
    if "$BIN_DIR/test-client" --nodes "tcp://127.0.0.1:$SINK_PORT" --rate "$LATENCY_RATE" $POLL_ARG \
        --duration "$FLOOR_DURATION" --json >"$LOG_DIR/bench-sink.json" 2>>"$LOG_DIR/bench-sink.err"; then
        SINK_JSON=$(jq -c '{rate: .target_rate, throughput, p50: .latency_us.p50, p99: .latency_us.p99,
            p999: .latency_us.p999, send_lag_p50: .send_lag_us.p50}' "$LOG_DIR/bench-sink.json" 2>/dev/null)
        [ -n "$SINK_JSON" ] || SINK_JSON=null
    else
        say "the client against the sink failed; see $LOG_DIR/bench-sink.err"
    fi
    kill -TERM "$RUN_PID" 2>/dev/null
    wait "$RUN_PID" 2>/dev/null
    RUN_PID=
fi
# journal_sync BLOCK_SIZE BLOCKS: {"block_size","p50","p99","max","stalls"} (times
# in us; stalls: the watcher thread's count, total_ms, percent, longest_ms,
# and the seconds it watched), or null.
journal_sync() {
    local d out sync stall p50 p99 max sc st sp sl ss
    d=$(mktemp -d "$DATA_ROOT/sync-XXXXXX") || { echo null; return; }
    out=$("$BIN_DIR/lx-bench-journal" --fsync on --stalls --block-size "$1" --blocks "$2" \
        --data-dir "$d/j" 2>>"$LOG_DIR/bench-journal.err")
    rm -rf "$d"
    printf '%s\n' "$out" >>"$LOG_DIR/bench-journal.out"
    sync=$(sed -n 's/^fsync=on .* sync p50 \([0-9.]*\) us  p99 \([0-9.]*\) us  max \([0-9.]*\) us$/\1 \2 \3/p' <<<"$out")
    stall=$(sed -n 's/^ *stalls: \([0-9]*\) of 1 ms or more, \([0-9.]*\) ms in all (\([0-9.]*\) % of \([0-9.]*\) s), longest \([0-9.]*\) ms$/\1 \2 \3 \5 \4/p' <<<"$out")
    if [ -z "$sync" ] || [ -z "$stall" ]; then
        echo null
        return
    fi
    read -r p50 p99 max <<<"$sync"
    read -r sc st sp sl ss <<<"$stall"
    echo "{\"block_size\":$1,\"p50\":$p50,\"p99\":$p99,\"max\":$max,\"stalls\":{\"count\":$sc,\"total_ms\":$st,\"percent\":$sp,\"longest_ms\":$sl,\"seconds\":$ss}}"
}
SYNC_JSON=null
if [ -x "$BIN_DIR/lx-bench-journal" ] && mkdir -p "$DATA_ROOT"; then
    say "---- journal fdatasync on $DATA_ROOT (lx-bench-journal)"
    : >"$LOG_DIR/bench-journal.out"
    SYNC_JSON=$(printf '%s\n' "$(journal_sync 1 5000)" "$(journal_sync 256 2000)" | jq -cs 'if all(. != null) then . else null end')
fi

# summary_of NAME: the run's summary.json, or null.
summary_of() {
    local f=$LOG_DIR/bench-$1/summary.json
    local j
    j=$(jq -c 'select(type == "object")' "$f" 2>/dev/null | tail -n 1)
    echo "${j:-null}"
}
runs=()
for name in "${RUN_NAMES[@]}"; do
    j=$(summary_of "$name")
    n=${name#n}
    n=${n%%-*}
    c=false
    case "$name" in *-curve-*) c=true ;; esac
    # A run that ended before writing its summary still gets a row.
    [ "$j" = null ] && j="{\"nodes\":$n,\"curve\":$c,\"target_rate\":$(rate_of "$n"),\"converged\":false,\"ok\":false,\"latency_us\":{}}"
    j=$(jq -c --arg name "$name" '. + {run: $name}' <<<"$j")
    # The size's goal, and whether this run met it: the goal's rate offered,
    # at least 99% of it acknowledged, no errors, p99 under its bound.
    g=$(goal_of "$n")
    if [ -n "$g" ]; then
        gp=${g#* }
        [ "$gp" = - ] && gp=null
        j=$(jq -c --argjson rate "${g%% *}" --argjson p99 "$gp" '. + {goal: {rate: $rate, p99_us: $p99,
            met: (.target_rate == $rate and (.throughput // 0) >= 0.99 * $rate and .errors == 0
                  and .converged == true and ($p99 == null or (.latency_us.p99 // 1e18) < $p99))}}' <<<"$j")
    fi
    runs+=("$j")
done
lats=()
for ((k = 1; k <= BENCH_REPEAT; k++)); do
    j=$(summary_of "latency-$k")
    [ "$j" = null ] && j='{"nodes":1,"converged":false,"ok":false,"latency_us":{}}'
    lats+=("$(jq -c --argjson k "$k" '. + {round: $k}' <<<"$j")")
done
RUNS_JSON=$(printf '%s\n' "${runs[@]}" | jq -cs .)
LATS_JSON=$(printf '%s\n' "${lats[@]}" | jq -cs .)

# A row is the median of its rounds (of each figure on its own); its goal is
# met when those medians meet it, and runs_met says in how many rounds one
# run did.
jq -n --argjson runs "$RUNS_JSON" --argjson lats "$LATS_JSON" --argjson bases "$BASES" \
    --argjson sink "$SINK_JSON" --argjson sync "$SYNC_JSON" --argjson rounds "$BENCH_REPEAT" \
    --arg fsync "$BENCH_FSYNC" --arg dur "$TEST_DURATION" --argjson batch "$BENCH_BATCH" \
    --arg poll "$LATENCY_POLL" '
    def median: map(select(. != null)) | sort
        | if length == 0 then null elif length % 2 == 1 then .[length / 2 | floor]
          else (.[length / 2 - 1] + .[length / 2]) / 2 * 10 | round / 10 end;
    def one: {run, throughput, errors, p50: .latency_us.p50, p99: .latency_us.p99,
              p999: .latency_us.p999, converged};
    def row: {nodes: .[0].nodes, curve: (.[0].curve // false), target_rate: .[0].target_rate,
              throughput: map(.throughput) | median, acked: map(.acked) | median,
              errors: map(.errors) | median, client_exit: (map(.client_exit // 0) | max),
              p50: map(.latency_us.p50) | median, p99: map(.latency_us.p99) | median,
              p999: map(.latency_us.p999) | median,
              converged: map(.converged == true) | all, ok: map(.ok == true) | all,
              rounds: [.[] | one + {goal_met: .goal.met}],
              goal: (if .[0].goal == null then null
                     else .[0].goal + {runs_met: map(select(.goal.met)) | length} end)}
        | . as $r | .goal |= (if . == null then null else . + {met: ($r.target_rate == .rate
            and ($r.throughput // 0) >= 0.99 * .rate and $r.errors == 0 and $r.converged
            and (.p99_us == null or ($r.p99 // 1e18) < .p99_us))} end);
    # the round trip the one-node run is judged against: measured the way
    # its client waits for replies
    def rt: if $poll == "busy" then (.busy_poll.p50 // null) else .p50 end;
    ($bases | if length == 0 then null else {p50: map(.p50) | median, p99: map(.p99) | median,
        p999: map(.p999) | median, orders_per_s: map(.orders_per_s) | median,
        batch: .[0].batch, window: .[0].window,
        busy_poll: (map(.busy_poll // empty) | if length == 0 then null else {p50: map(.p50) | median,
            p99: map(.p99) | median, p999: map(.p999) | median} end),
        rounds: .} end) as $base
    | [$runs | group_by([.nodes, (.curve // false)])[] | row] as $rows
    | {fsync: $fsync, duration: $dur, batch: $batch, rounds: $rounds,
     baseline_zmq: $base,
     floors: {client_sink: (if $sink == null then null else $sink + {poll: $poll,
                 p50_vs_zmq: (if $base != null and ($base | rt // 0) > 0 and $sink.p50 != null
                              then ($sink.p50 / ($base | rt)) else null end)} end),
              journal_sync_us: $sync},
     cluster: $rows,
     curve_vs_plain: [$rows[] | select(.curve == true) | . as $c
        | ([$rows[] | select(.curve == false and .nodes == $c.nodes)][0]) as $p
        | select($p != null)
        | {nodes: $c.nodes, plain: $p.throughput, curve: $c.throughput,
           ratio: (if ($p.throughput // 0) > 0 and $c.throughput != null
                   then $c.throughput / $p.throughput else null end)}],
     one_node_latency: (
        # each round against the same round'"'"'s baseline
        [$lats[] | . as $l | ([$bases[] | select(.round == $l.round)][0]) as $b
         | . + {p50_vs_zmq: (if $b != null and ($b | rt // 0) > 0 and $l.latency_us.p50 != null
                             then $l.latency_us.p50 / ($b | rt) else null end),
                p50_vs_zmq_sleep: (if $b != null and ($b.p50 // 0) > 0 and $l.latency_us.p50 != null
                             then $l.latency_us.p50 / $b.p50 else null end)}
         | . + {goal_met: (.p50_vs_zmq != null and .p50_vs_zmq <= 2
                           and (.latency_us.p99 // 1e18) <= 1000 and .converged == true)}] as $ls
        | ($ls | row) + {poll: $poll, p50_vs_zmq: ($ls | map(.p50_vs_zmq) | median),
                         p50_vs_zmq_sleep: ($ls | map(.p50_vs_zmq_sleep) | median),
                         rounds: [$ls[] | one + {p50_vs_zmq, p50_vs_zmq_sleep, goal_met}]}
        | . + {goal: {p50_vs_zmq: 2, p99_us: 1000,
                      runs_met: ($ls | map(select(.goal_met)) | length),
                      met: (.p50_vs_zmq != null and .p50_vs_zmq <= 2 and (.p99 // 1e18) <= 1000
                            and .converged)}})}' \
    >"$LOG_DIR/bench-cluster.json" || die "could not write $LOG_DIR/bench-cluster.json"

fmt() {
    local prog=${!#}
    jq -r "${@:1:$#-1}" "$prog" "$LOG_DIR/bench-cluster.json"
}
echo
echo "lxdex cluster benchmark: leader mode, fsync $BENCH_FSYNC, $TEST_DURATION per run, batch frames of $BENCH_BATCH orders;"
echo "medians of $BENCH_REPEAT round(s); a goal is met when the medians meet it (in brackets: the rounds whose run met it)"
ROW='%-8s %10s %12s %10s %11s %11s %11s  %-9s %s\n'
# shellcheck disable=SC2059
printf "$ROW" nodes "target/s" "achieved/s" errors "p50 us" "p99 us" "p99.9 us" converged goal
fmt 'def s: if . == null then "-" else tostring end;
     .cluster[] | [((.nodes|s) + (if .curve then " curve" else "" end)), (.target_rate|s),
      (if .throughput == null then "-" else (.throughput|floor|tostring) end), (.errors|s),
      (.p50|s), (.p99|s), (.p999|s),
      (if .converged then "yes" elif .throughput == null then "FAILED" else "NO" end)
      + (if .client_exit != null and .client_exit != 0 then " (client exit \(.client_exit))" else "" end),
      (if .goal == null then "-"
       else "\(.goal.rate)/s\(if .goal.p99_us == null then "" else ", p99 < \(.goal.p99_us) us" end): \(if .goal.met then "met" else "NOT met" end) (\(.goal.runs_met) of \(.rounds | length))" end)]
     | @tsv' |
    while IFS=$'\t' read -r a b c d e f g h i; do
        # shellcheck disable=SC2059
        printf "$ROW" "$a" "$b" "$c" "$d" "$e" "$f" "$g" "$h" "$i"
    done
fmt '.baseline_zmq | if . == null then empty else
      ["zmq", "-", (.orders_per_s|floor|tostring), "-", (.p50|tostring), (.p99|tostring), (.p999|tostring), "-", "-"],
      (.busy_poll | if . == null then empty else ["zmq busy", "-", "-", "-", (.p50|tostring), (.p99|tostring), (.p999|tostring), "-", "-"] end)
      | @tsv end' |
    while IFS=$'\t' read -r a b c d e f g h i; do
        # shellcheck disable=SC2059
        printf "$ROW" "$a" "$b" "$c" "$d" "$e" "$f" "$g" "$h" "$i"
    done
fmt 'if .baseline_zmq == null then "zmq: bare ZeroMQ baseline not measured (lx-bench-zmq missing or failed)"
     else "zmq: bare ZeroMQ DEALER/ROUTER on this machine (lx-bench-zmq, median of the rounds): achieved = frames of \(.baseline_zmq.batch) orders, \(.baseline_zmq.window) in flight; latency = one 59-byte round trip\(if .baseline_zmq.busy_poll == null then "" else ", the initiator sleeping in recv (zmq) or busy-polling (zmq busy)" end)" end'
fmt 'def s: if . == null then "-" else tostring end;
     if .rounds < 2 then empty else .cluster[] | "  \(.nodes)\(if .curve then " curve" else "" end) by round: achieved/s " +
      ([.rounds[] | .throughput // null | if . == null then "-" else floor | tostring end] | join(", ")) +
      "; p99 us " + ([.rounds[] | .p99 | s] | join(", ")) + "; errors " + ([.rounds[] | .errors | s] | join(", ")) end'
fmt '.curve_vs_plain[] | "CURVE at \(.nodes) nodes: \(if .ratio == null then "no ratio (a run failed)"
      else "\(.ratio * 1000 | round / 10) % of the plain throughput (\(.curve | floor) vs \(.plain | floor) orders/s), a cost of \((1 - .ratio) * 1000 | round / 10) %" end)"'
echo
fmt 'if .one_node_latency == null then "one node: the run failed"
     elif .one_node_latency.throughput == null then "one node: no client figures (client exit \(.one_node_latency.client_exit))"
     else .one_node_latency | "one node, \(.target_rate) orders/s, single orders, client \(if .poll == "busy" then "busy-polling" else "sleeping" end): achieved \(.throughput // 0 | floor)/s, p50 \(.p50) us, p99 \(.p99) us, p99.9 \(.p999) us, converged \(if .converged then "yes" else "NO" end)" end'
fmt 'def s: if . == null then "-" else tostring end;
     if .rounds < 2 or .one_node_latency == null then empty else .one_node_latency
     | "  by round: p50 us " + ([.rounds[] | .p50 | s] | join(", ")) + "; p99 us " + ([.rounds[] | .p99 | s] | join(", "))
       + "; p50 / that round'"'"'s round trip " + ([.rounds[] | .p50_vs_zmq | if . == null then "-" else (. * 100 | round / 100 | tostring) end] | join(", ")) end'
fmt 'if .one_node_latency.p50_vs_zmq == null then empty
     else .one_node_latency | "  p50 is \(.p50_vs_zmq * 100 | round / 100) x the bare ZeroMQ round trip of the same round (median), \(if .poll == "busy" then "busy-polling" else "sleeping in recv" end) like the client\(if .poll == "busy" and .p50_vs_zmq_sleep != null then "; \(.p50_vs_zmq_sleep * 100 | round / 100) x the round trip sleeping in recv" else "" end)" end'
fmt 'if .one_node_latency.goal == null then empty
     else "  goal p50 <= 2 x the round trip and p99 <= 1000 us: \(if .one_node_latency.goal.met then "met" else "NOT met" end) (\(.one_node_latency.goal.runs_met) of \(.rounds))" end'
echo
fmt '.floors.client_sink | if . == null then "floor: the client against a bare ZeroMQ sink was not measured"
     else "floor: test-client against a sink that answers at once (no node), \(.rate) orders/s, client \(if .poll == "busy" then "busy-polling" else "sleeping" end): p50 \(.p50) us, p99 \(.p99) us, p99.9 \(.p999) us\(if .p50_vs_zmq == null then "" else " (p50 \(.p50_vs_zmq * 10 | round / 10) x the round trip)" end)" end'
fmt '.floors.journal_sync_us | if . == null then "floor: the journal sync was not measured"
     else "floor: journal fdatasync on the data disk (lx-bench-journal): " +
          ([.[] | "\(.block_size)-order blocks p50 \(.p50) us, p99 \(.p99) us, max \(.max) us"] | join("; ")) end'
fmt '.floors.journal_sync_us // [] | .[] | "  while syncing \(.block_size)-order blocks for \(.stalls.seconds) s, a spinning thread was stopped \(.stalls.count) times for 1 ms or more: \(.stalls.percent) % of the time, longest \(.stalls.longest_ms) ms"'
# A pause or two in a run of a few milliseconds (tmpfs) says nothing.
fmt --arg fsync "$BENCH_FSYNC" 'if $fsync == "on" and ([.floors.journal_sync_us // [] | .[]
        | select(.stalls.seconds >= 0.5 and .stalls.count >= 3) | .stalls.percent] | max // 0) >= 1
     then "  the syncs on this disk pause the whole machine: with fsync on, the p99 figures above are mostly the disk'"'"'s;\n  DATA_ROOT=/dev/shm/lxbench measures the nodes without it (their data is lost at a reboot)" else empty end'
echo
echo "JSON: $LOG_DIR/bench-cluster.json; per-run logs: $LOG_DIR/bench-<run>/ and $LOG_DIR/bench-<run>.out"

# Fail if any run failed, so a broken cluster is not hidden by a table.
fmt --argjson n "$nruns" '([.cluster[] | .rounds | length] | add) == $n and
    (([.cluster[] | .ok] + [.one_node_latency.ok // false]) | all)' | grep -q true
