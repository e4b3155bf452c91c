#!/usr/bin/env bash
# Runs a local lxdex cluster on loopback, drives it with the test client and
# checks that every node ends with the same log position and state hash.
#
#   ./deploy/run-multi-node.sh
#   NODES=5 ORDERS_PER_SEC=5000 TEST_DURATION=60s ./deploy/run-multi-node.sh
#   KEEP_ALIVE=true ./deploy/run-multi-node.sh
#
# Every variable, what the script prints and logs/summary.json are described
# in docs/cluster.md. Exit status: 0 when the client succeeded and all nodes
# converged, 1 when the run failed, 2 for a bad setting or a port in use.
set -uo pipefail

START_DIR=$PWD
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# A relative path given by the user is taken from where the script was
# started; the defaults live in the source tree.
abspath() {
    case "$1" in
    /*) printf '%s\n' "$1" ;;
    *) printf '%s\n' "$START_DIR/$1" ;;
    esac
}

NODES=${NODES:-3}
ORDERS_PER_SEC=${ORDERS_PER_SEC:-1000}
TEST_DURATION=${TEST_DURATION:-30s}
KEEP_ALIVE=${KEEP_ALIVE:-false}
BASE_PORT=${BASE_PORT:-5000}
CONSENSUS=${CONSENSUS:-leader}
CLIENT_ARGS=${CLIENT_ARGS:-}
NODE_ARGS=${NODE_ARGS:-}
FSYNC=${FSYNC:-on}
KEEP_DATA=${KEEP_DATA:-false}
SKIP_BUILD=${SKIP_BUILD:-false}
BUILD=${BUILD:-auto}
DEPS=${DEPS:-auto}
READY_TIMEOUT=${READY_TIMEOUT:-30}
CONVERGE_TIMEOUT=${CONVERGE_TIMEOUT:-10}
STOP_TIMEOUT=${STOP_TIMEOUT:-10}
if [ -n "${DATA_ROOT:-}" ]; then DATA_ROOT=$(abspath "$DATA_ROOT"); else DATA_ROOT=$ROOT/data; fi
if [ -n "${LOG_DIR:-}" ]; then LOG_DIR=$(abspath "$LOG_DIR"); else LOG_DIR=$ROOT/logs; fi
if [ -n "${BIN_DIR:-}" ]; then BIN_DIR=$(abspath "$BIN_DIR"); else BIN_DIR=$ROOT/bin; fi

# The daemon reads its settings from variables too (a flag wins). The script
# sets these per node itself, so a value left in the caller's shell must not
# reach the nodes. Others (MARKETS, BLOCK_MAX_ORDERS, BLOCK_MAX_US, HWM,
# HEARTBEAT_MS, SNAPSHOT_EVERY) pass through on purpose.
unset NODE_ID PEERS IS_LEADER DATA_DIR LOG_FILE

say() { printf '[run-multi-node] %s\n' "$*"; }
# die MESSAGE [STATUS]
die() {
    printf '[run-multi-node] error: %s\n' "$1" >&2
    exit "${2:-1}"
}
is_true() {
    case "$1" in
    1 | true | TRUE | True | yes | on) return 0 ;;
    *) return 1 ;;
    esac
}
is_uint() { case "$1" in '' | *[!0-9]*) return 1 ;; *) return 0 ;; esac }

# Seconds in a duration as the test client takes it: 30s, 500ms, 2m, 30.
duration_secs() {
    local d=$1 n
    case "$d" in
    *ms) n=${d%ms} && is_uint "$n" && echo $(((n + 999) / 1000)) && return 0 ;;
    *us) n=${d%us} && is_uint "$n" && echo 1 && return 0 ;;
    *s) n=${d%s} && is_uint "$n" && echo "$n" && return 0 ;;
    *m) n=${d%m} && is_uint "$n" && echo $((n * 60)) && return 0 ;;
    *) is_uint "$d" && echo "$d" && return 0 ;;
    esac
    return 1
}

# ---- settings -------------------------------------------------------------
is_uint "$NODES" && [ "$NODES" -ge 1 ] && [ "$NODES" -le 16 ] ||
    die "NODES=$NODES: a number from 1 to 16" 2
is_uint "$ORDERS_PER_SEC" && [ "$ORDERS_PER_SEC" -ge 1 ] ||
    die "ORDERS_PER_SEC=$ORDERS_PER_SEC: a positive number" 2
DURATION_S=$(duration_secs "$TEST_DURATION") ||
    die "TEST_DURATION=$TEST_DURATION: e.g. 30s, 500ms, 2m or 30" 2
is_uint "$BASE_PORT" && [ "$BASE_PORT" -ge 1 ] && [ $((BASE_PORT + 100 * (NODES - 1) + 3)) -le 65535 ] ||
    die "BASE_PORT=$BASE_PORT: the ports BASE_PORT+100*i+0..3 must fit in 1..65535" 2
# A metrics line every 5 s, or every second for short runs so that the
# summary has one from each node.
if [ -z "${METRICS_INTERVAL:-}" ]; then
    if [ "$DURATION_S" -lt 20 ]; then METRICS_INTERVAL=1s; else METRICS_INTERVAL=5s; fi
fi
for v in READY_TIMEOUT CONVERGE_TIMEOUT STOP_TIMEOUT; do
    is_uint "${!v}" || die "$v=${!v}: a number of seconds" 2
done
case "$FSYNC" in on | off | true | false | 1 | 0) ;; *) die "FSYNC=$FSYNC: on or off" 2 ;; esac
is_true "$SKIP_BUILD" && BUILD=never
case "$BUILD" in auto | always | never | true | false) ;; *) die "BUILD=$BUILD: auto, always or never" 2 ;; esac
[ "$BUILD" = true ] && BUILD=always
[ "$BUILD" = false ] && BUILD=never

node_port() { echo $((BASE_PORT + 100 * $1)); }

# ---- cleanup: nothing this script started outlives it (unless KEEP_ALIVE) --
NODE_PIDS=()
CLIENT_PID=
TAIL_PID=
LEAVE_RUNNING=false

# stop_nodes: SIGTERM every node, wait up to STOP_TIMEOUT, SIGKILL the rest.
# Sets NODE_EXIT[i] to each node's exit status.
NODE_EXIT=()
stop_nodes() {
    local i pid t
    for i in "${!NODE_PIDS[@]}"; do
        pid=${NODE_PIDS[$i]}
        [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null
    done
    for i in "${!NODE_PIDS[@]}"; do
        pid=${NODE_PIDS[$i]}
        [ -n "$pid" ] || continue
        t=0
        while kill -0 "$pid" 2>/dev/null && [ "$t" -lt $((STOP_TIMEOUT * 10)) ]; do
            sleep 0.1
            t=$((t + 1))
        done
        if kill -0 "$pid" 2>/dev/null; then
            say "node$i (pid $pid) did not stop within ${STOP_TIMEOUT}s: SIGKILL"
            kill -KILL "$pid" 2>/dev/null
        fi
        wait "$pid" 2>/dev/null
        NODE_EXIT[i]=$?
        NODE_PIDS[i]=
    done
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [ -n "$CLIENT_PID" ]; then
        kill -TERM "$CLIENT_PID" 2>/dev/null
        wait "$CLIENT_PID" 2>/dev/null
        CLIENT_PID=
    fi
    [ -n "$TAIL_PID" ] && kill -TERM "$TAIL_PID" 2>/dev/null
    if [ "$LEAVE_RUNNING" != true ] && [ "${#NODE_PIDS[@]}" -gt 0 ]; then
        local any=false p
        for p in "${NODE_PIDS[@]}"; do [ -n "$p" ] && any=true; done
        if [ "$any" = true ]; then
            say "stopping the nodes"
            stop_nodes
        fi
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'say "interrupted"; exit 130' INT
trap 'say "terminated"; exit 143' TERM

cd "$ROOT" || die "cannot enter $ROOT"

# ---- dependencies and build -----------------------------------------------
build_needed() {
    [ "$BUILD" = always ] && return 0
    [ "$BUILD" = never ] && return 1
    local b
    for b in multi-node test-client; do
        [ -x "$BIN_DIR/$b" ] || return 0
    done
    # Sources newer than the daemon mean the binaries are stale.
    [ -n "$(find plugin settlement bridge node cmake CMakeLists.txt \
        \( -name '*.c' -o -name '*.h' -o -name 'CMakeLists.txt' -o -name '*.cmake' \) \
        -newer "$BIN_DIR/multi-node" -print -quit 2>/dev/null)" ]
}

deps_missing() {
    local c
    for c in jq ss; do
        command -v "$c" >/dev/null 2>&1 || return 0
    done
    if build_needed; then
        for c in cmake cc pkg-config; do
            command -v "$c" >/dev/null 2>&1 || return 0
        done
        pkg-config --exists libzmq jansson libcurl libsecp256k1 libcrypto cmocka libmicrohttpd ||
            return 0
    fi
    return 1
}

if [ "$DEPS" != never ] && { [ "$DEPS" = always ] || deps_missing; }; then
    if command -v dpkg-query >/dev/null 2>&1; then
        say "installing missing packages (deploy/deps.sh)"
        # shellcheck source=deploy/deps.sh
        . "$ROOT/deploy/deps.sh"
        lx_install_deps || die "installing the packages failed; see deploy/deps.sh for the list"
    else
        say "warning: not a Debian system; install the packages of deploy/deps.sh yourself"
    fi
fi
command -v jq >/dev/null 2>&1 || die "jq is missing (it is in deploy/deps.sh)"
command -v ss >/dev/null 2>&1 || die "ss is missing (package iproute2, in deploy/deps.sh)"

if build_needed; then
    say "building (Release) into $BIN_DIR"
    jobs=$(nproc 2>/dev/null || echo 2)
    { cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DLX_BIN_DIR="$BIN_DIR" >/dev/null &&
        cmake --build build -j"$jobs"; } || die "the build failed"
fi
for b in multi-node test-client; do
    [ -x "$BIN_DIR/$b" ] || die "$BIN_DIR/$b is missing (build it, or set BIN_DIR)"
done

# ---- ports ----------------------------------------------------------------
# who_listens PORT: the process holding a listening TCP port, if ss can tell.
who_listens() {
    local line users
    line=$(ss -ltnpH "sport = :$1" 2>/dev/null | head -n 1)
    [ -n "$line" ] || line=$(ss -ltnH "sport = :$1" 2>/dev/null | head -n 1)
    [ -n "$line" ] || return 1
    users=$(printf '%s\n' "$line" | grep -o 'users:(([^)]*))' | head -n 1)
    if [ -n "$users" ]; then
        printf '%s\n' "$users" | sed -E 's/users:\(\("([^"]*)",pid=([0-9]+).*/\1 (pid \2)/'
    else
        echo "an unknown process"
    fi
}

say "checking ports: node i uses $BASE_PORT+100*i+0..3"
ROLE=(PUB SUB ROUTER DEALER)
busy=0
# One listing of every listening TCP port; ss -p only for a port in use.
LISTENING=" $(ss -ltnH 2>/dev/null | awk '{n = split($4, a, ":"); printf "%s ", a[n]}') "
for ((i = 0; i < NODES; i++)); do
    for k in 0 1 2 3; do
        p=$(($(node_port "$i") + k))
        case "$LISTENING" in *" $p "*) ;; *) continue ;; esac
        if who=$(who_listens "$p"); then
            printf '[run-multi-node] error: port %s (node%s %s) is in use by %s\n' \
                "$p" "$i" "${ROLE[$k]}" "$who" >&2
            busy=1
        fi
    done
done
[ "$busy" -eq 0 ] || die "free the ports above, or choose other ones with BASE_PORT" 2

# ---- data and logs --------------------------------------------------------
mkdir -p "$LOG_DIR" "$DATA_ROOT" || die "cannot create $LOG_DIR or $DATA_ROOT"
if ! is_true "$KEEP_DATA"; then
    for ((i = 0; i < NODES; i++)); do rm -rf "${DATA_ROOT:?}/node$i"; done
fi
rm -f "$LOG_DIR/acked.log" "$LOG_DIR/client.json" "$LOG_DIR/client.log" \
    "$LOG_DIR/summary.json" "$LOG_DIR/pids"

# ---- start the nodes ------------------------------------------------------
ENDPOINTS=
for ((i = 0; i < NODES; i++)); do
    ENDPOINTS+="${ENDPOINTS:+,}tcp://localhost:$(($(node_port "$i") + 2))"
done

# shellcheck disable=SC2206
node_extra=($NODE_ARGS)
say "starting $NODES nodes (consensus $CONSENSUS, fsync $FSYNC, data in $DATA_ROOT, logs in $LOG_DIR)"
for ((i = 0; i < NODES; i++)); do
    peers=
    for ((j = 0; j < NODES; j++)); do
        [ "$j" -eq "$i" ] && continue
        peers+="${peers:+,}tcp://localhost:$(node_port "$j")"
    done
    args=(--node "node$i" --port "$(node_port "$i")" --consensus "$CONSENSUS"
        --data-dir "$DATA_ROOT/node$i" --dev-faucet --fsync "$FSYNC"
        --metrics-interval "$METRICS_INTERVAL")
    [ -n "$peers" ] && args+=(--peers "$peers")
    if [ "$i" -eq 0 ]; then args+=(--leader); else args+=(--leader=false); fi
    args+=("${node_extra[@]}")
    if is_true "$KEEP_ALIVE"; then
        # Its own session, so that closing the terminal does not stop it.
        setsid "$BIN_DIR/multi-node" "${args[@]}" >"$LOG_DIR/node$i.log" 2>&1 </dev/null &
    else
        "$BIN_DIR/multi-node" "${args[@]}" >"$LOG_DIR/node$i.log" 2>&1 </dev/null &
    fi
    NODE_PIDS[i]=$!
    say "node$i: pid ${NODE_PIDS[$i]}, ports $(node_port "$i")-$(($(node_port "$i") + 3))$([ "$i" -eq 0 ] && echo ', leader')"
done

# node_died I: reports a node that exited, with the end of its log.
node_died() {
    local i=$1 st
    wait "${NODE_PIDS[$i]}" 2>/dev/null
    st=$?
    NODE_PIDS[i]=
    printf '[run-multi-node] error: node%s exited with status %s%s; end of %s:\n' "$i" "$st" \
        "$([ "$st" -eq 3 ] && echo ' (a port is in use)')" "$LOG_DIR/node$i.log" >&2
    tail -n 5 "$LOG_DIR/node$i.log" | sed 's/^/    /' >&2
}

say "waiting for every node to be ready (up to ${READY_TIMEOUT}s)"
deadline=$((SECONDS + READY_TIMEOUT))
while :; do
    ready=0
    for ((i = 0; i < NODES; i++)); do
        if ! kill -0 "${NODE_PIDS[$i]}" 2>/dev/null; then
            node_died "$i"
            exit 1
        fi
        grep -qw 'ready' "$LOG_DIR/node$i.log" 2>/dev/null && ready=$((ready + 1))
    done
    [ "$ready" -eq "$NODES" ] && break
    [ "$SECONDS" -ge "$deadline" ] && die "only $ready of $NODES nodes logged 'ready' within ${READY_TIMEOUT}s; see $LOG_DIR/node*.log"
    sleep 0.2
done
# The nodes listen; make sure each one answers a PING before the load starts.
if ! "$BIN_DIR/test-client" --nodes "$ENDPOINTS" --wait-ready "${READY_TIMEOUT}s" \
    >"$LOG_DIR/wait-ready.log" 2>&1; then
    sed 's/^/    /' "$LOG_DIR/wait-ready.log" >&2
    die "not every node answered a PING within ${READY_TIMEOUT}s"
fi
# A follower answers PINGs before it has heard from the leader: wait until
# every node holds the leader's first block (the markets).
synced() {
    local i s
    for ((i = 0; i < NODES; i++)); do
        s=$(jq -r '.seq' "$DATA_ROOT/node$i/status.json" 2>/dev/null)
        is_uint "$s" && [ "$s" -ge 1 ] || return 1
    done
}
until synced; do
    [ "$SECONDS" -ge "$deadline" ] && die "not every node reached the leader's first block within ${READY_TIMEOUT}s; see $LOG_DIR/node*.log"
    sleep 0.2
done
say "all $NODES nodes are ready"

# ---- the load -------------------------------------------------------------
# shellcheck disable=SC2206
client_extra=($CLIENT_ARGS)
say "test client: $ORDERS_PER_SEC orders/s for $TEST_DURATION over $ENDPOINTS${CLIENT_ARGS:+ ($CLIENT_ARGS)}"
"$BIN_DIR/test-client" --nodes "$ENDPOINTS" --duration "$TEST_DURATION" --rate "$ORDERS_PER_SEC" \
    --acked-log "$LOG_DIR/acked.log" --json "${client_extra[@]}" \
    >"$LOG_DIR/client.json" 2>"$LOG_DIR/client.log" &
CLIENT_PID=$!
# Show the client's messages as they come; tail ends when the client does.
tail -n +1 -f --pid="$CLIENT_PID" "$LOG_DIR/client.log" 2>/dev/null | sed 's/^test-client: //; s/^/    client: /' >&2 &
TAIL_PID=$!
wait "$CLIENT_PID"
CLIENT_RC=$?
CLIENT_PID=
wait "$TAIL_PID" 2>/dev/null
TAIL_PID=
if [ "$CLIENT_RC" -eq 0 ]; then
    say "test client finished"
else
    say "test client failed with exit status $CLIENT_RC (see $LOG_DIR/client.log)"
fi

# ---- convergence ----------------------------------------------------------
# node_state I: "seq hash" from node I's status.json, empty if unreadable.
node_state() {
    jq -r '"\(.seq) \(.state_hash)"' "$DATA_ROOT/node$1/status.json" 2>/dev/null
}

# all_same: 0 if every node's status.json shows the same seq and state hash.
all_same() {
    local first="" s i
    for ((i = 0; i < NODES; i++)); do
        s=$(node_state "$i")
        [ -n "$s" ] || return 1
        [ -z "$first" ] && first=$s
        [ "$s" = "$first" ] || return 1
    done
    return 0
}

say "waiting for the nodes to reach the same seq (up to ${CONVERGE_TIMEOUT}s)"
deadline=$((SECONDS + CONVERGE_TIMEOUT))
# status.json is rewritten about once a second: let it catch up with the end
# of the load before comparing.
sleep 1.2
until all_same || [ "$SECONDS" -ge "$deadline" ]; do sleep 0.5; done

if is_true "$KEEP_ALIVE"; then
    LEAVE_RUNNING=true
else
    say "stopping the nodes (SIGTERM, SIGKILL after ${STOP_TIMEOUT}s)"
    stop_nodes
fi

# Final states: written at shutdown, or live ones when the nodes keep running.
CONVERGED=true
all_same || CONVERGED=false
states=()
for ((i = 0; i < NODES; i++)); do
    f=$DATA_ROOT/node$i/status.json
    ex=null
    [ -n "${NODE_EXIT[$i]:-}" ] && ex=${NODE_EXIT[$i]}
    if s=$(jq -c --arg n "node$i" --argjson ex "$ex" \
        '{node: $n, role, term, seq, state_hash, orders, trades, lag, hash_mismatches, exit: $ex}' \
        "$f" 2>/dev/null) && [ -n "$s" ]; then
        states+=("$s")
    else
        states+=("$(jq -cn --arg n "node$i" --argjson ex "$ex" \
            '{node: $n, seq: null, state_hash: null, exit: $ex}')")
        CONVERGED=false
    fi
done
STATES_JSON=$(printf '%s\n' "${states[@]}" | jq -cs .)

# The seed may pass 2^53, where jq's numbers lose digits: keep it as text.
# (jq -e alone does not fail on an empty file: select the object instead.)
CLIENT_JSON=$(sed -E 's/"seed":([0-9]+)/"seed":"\1"/' "$LOG_DIR/client.json" 2>/dev/null |
    jq -c 'select(type == "object")' 2>/dev/null | tail -n 1)
[ -n "$CLIENT_JSON" ] || CLIENT_JSON='{}'

jq -n --argjson nodes "$NODES" --argjson dur "$DURATION_S" --argjson rate "$ORDERS_PER_SEC" \
    --argjson client "$CLIENT_JSON" --argjson states "$STATES_JSON" \
    --argjson converged "$CONVERGED" --argjson client_exit "$CLIENT_RC" \
    --arg consensus "$CONSENSUS" --arg fsync "$FSYNC" --argjson base_port "$BASE_PORT" \
    --arg client_args "$CLIENT_ARGS" '
    {nodes: $nodes, duration_s: $dur, target_rate: $rate, sent: null, acked: null,
     rejected: null, errors: null, fills: null, throughput: null,
     latency_us: {p50: null, p90: null, p99: null, p999: null, max: null}}
    + $client
    + {nodes: $nodes, duration_s: $dur, target_rate: $rate,
       measured_duration_s: $client.duration_s, consensus: $consensus, fsync: $fsync, base_port: $base_port,
       client_args: $client_args, client_exit: $client_exit,
       node_states: $states, converged: $converged,
       ok: ($client_exit == 0 and $converged)}' >"$LOG_DIR/summary.json" ||
    die "could not write $LOG_DIR/summary.json"

# ---- summary --------------------------------------------------------------
echo
echo "==================== lxdex cluster run ===================="
jq -r '"nodes        \(.nodes) (consensus \(.consensus), fsync \(.fsync))",
       "load         \(.target_rate) orders/s for \(.duration_s) s",
       "sent         \(.sent)   acked \(.acked)   rejected \(.rejected)   errors \(.errors)   fills \(.fills)",
       "throughput   \(.throughput) orders/s",
       "latency us   p50 \(.latency_us.p50)  p90 \(.latency_us.p90)  p99 \(.latency_us.p99)  p99.9 \(.latency_us.p999)  max \(.latency_us.max)"' \
    "$LOG_DIR/summary.json"
[ "$CLIENT_RC" -eq 0 ] || echo "client       FAILED (exit $CLIENT_RC, see $LOG_DIR/client.log)"
echo
echo "last metrics line of each node:"
for ((i = 0; i < NODES; i++)); do
    m=$(grep ' metrics - ' "$LOG_DIR/node$i.log" 2>/dev/null | tail -n 1)
    echo "  ${m:-node$i: no metrics line (see $LOG_DIR/node$i.log)}"
done
echo
echo "node states:"
jq -r '.node_states[] | "  \(.node)  seq \(.seq)  state_hash \(.state_hash)" +
       (if .exit != null and .exit != 0 then "  (exit status \(.exit))" else "" end)' \
    "$LOG_DIR/summary.json"
echo
if [ "$CONVERGED" = true ]; then
    echo "converged:   yes, every node has the same seq and state hash"
else
    echo "converged:   NO, the nodes differ (or a node's status.json is missing)"
fi
echo "summary:     $LOG_DIR/summary.json"
echo "==========================================================="

if [ "$LEAVE_RUNNING" = true ]; then
    : >"$LOG_DIR/pids"
    for ((i = 0; i < NODES; i++)); do
        [ -n "${NODE_PIDS[$i]}" ] && echo "${NODE_PIDS[$i]}" >>"$LOG_DIR/pids"
    done
    echo
    echo "The nodes keep running (KEEP_ALIVE=true). PIDs: $(tr '\n' ' ' <"$LOG_DIR/pids")"
    echo "Client endpoints: $ENDPOINTS"
    echo "Stop them with:   kill \$(cat $LOG_DIR/pids)"
fi

[ "$CLIENT_RC" -eq 0 ] && [ "$CONVERGED" = true ]
