#!/usr/bin/env bash
# Runs one fault scenario against a local cluster under load and reports what
# happened: when the fault came, how long until the new leader acknowledged,
# acknowledged orders against each node's final log, and convergence.
#
#   ./deploy/fault-test.sh
#   SCENARIO=partition-leader FAULT_AT=5s FAULT_FOR=5s ./deploy/fault-test.sh
#   ./deploy/fault-test.sh --help
#
# docs/operations.md describes the scenarios and the output.
set -uo pipefail

usage() {
    cat <<'EOF'
usage: [VARIABLE=value ...] deploy/fault-test.sh [--help]

Starts NODES multi-node processes, loads them with test-client (all nodes,
--acked-log), injects one fault FAULT_AT into the load, ends it FAULT_FOR
later, and checks the outcome.

  SCENARIO          kill-leader (default) | kill-follower | partition-leader |
                    partition-follower
                    kill-*: kill -9 the node, restart it on its data FAULT_FOR later
                    partition-*: iptables rules drop all traffic between the node
                    and the others for FAULT_FOR (needs root, ip, iptables: the
                    cluster runs in its own network namespace, node i on
                    127.0.0.(11+i))
  NODES             3           nodes, 3 to 16
  ORDERS_PER_SEC    1000        the client's rate over all nodes
  TEST_DURATION     20s         how long the client sends (30s, 500ms, 2m, 30)
  FAULT_AT          5s          fault this long after the load started
  FAULT_FOR         5s          restart or heal this long after the fault
  ACK_QUORUM        majority    the nodes' --ack-quorum (majority | local)
  ELECTION_TIMEOUT  1s          the nodes' --election-timeout
  FSYNC             on          the nodes' --fsync
  BASE_PORT         5000        node i uses BASE_PORT+100*i .. +3
  CLIENT_ARGS, NODE_ARGS        extra test-client / multi-node options
  CONVERGE_TIMEOUT  30          seconds to wait for equal seq and state hash
  READY_TIMEOUT     30          seconds to wait for the nodes to start
  DATA_ROOT         data/fault  node i's data in DATA_ROOT/node<i> (wiped first)
  LOG_DIR           logs/fault  node logs, client output, fault.json
  BIN_DIR           bin/        where multi-node, test-client, lx-journal are
  BUILD             auto        auto | always | never (Release build into BIN_DIR)
  DEPS              auto        auto | always | never (deploy/deps.sh)

Exit status: 0 all checks passed; 1 an acknowledged order is missing from a
node's log, the nodes diverge, a leader fault brought no new leader, or the
run failed; 2 a bad setting, a port in use, or a partition scenario without
root, ip or iptables.
EOF
}
START_DIR=$PWD
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=deploy/deps.sh
. "$ROOT/deploy/deps.sh"
lx_args fault-test "$@"
abspath() {
    case "$1" in
    /*) printf '%s\n' "$1" ;;
    *) printf '%s\n' "$START_DIR/$1" ;;
    esac
}

SCENARIO=${SCENARIO:-kill-leader}
NODES=${NODES:-3}
ORDERS_PER_SEC=${ORDERS_PER_SEC:-1000}
TEST_DURATION=${TEST_DURATION:-20s}
FAULT_AT=${FAULT_AT:-5s}
FAULT_FOR=${FAULT_FOR:-5s}
ACK_QUORUM=${ACK_QUORUM:-majority}
ELECTION_TIMEOUT=${ELECTION_TIMEOUT:-1s}
FSYNC=${FSYNC:-on}
BASE_PORT=${BASE_PORT:-5000}
CLIENT_ARGS=${CLIENT_ARGS:-}
NODE_ARGS=${NODE_ARGS:-}
CONVERGE_TIMEOUT=${CONVERGE_TIMEOUT:-30}
READY_TIMEOUT=${READY_TIMEOUT:-30}
STOP_TIMEOUT=${STOP_TIMEOUT:-10}
BUILD=${BUILD:-auto}
DEPS=${DEPS:-auto}
if [ -n "${DATA_ROOT:-}" ]; then DATA_ROOT=$(abspath "$DATA_ROOT"); else DATA_ROOT=$ROOT/data/fault; fi
if [ -n "${LOG_DIR:-}" ]; then LOG_DIR=$(abspath "$LOG_DIR"); else LOG_DIR=$ROOT/logs/fault; fi
if [ -n "${BIN_DIR:-}" ]; then BIN_DIR=$(abspath "$BIN_DIR"); else BIN_DIR=$ROOT/bin; fi
# Set per node by this script; a value in the caller's shell must not leak in.
unset NODE_ID PEERS IS_LEADER DATA_DIR LOG_FILE BIND

say() { printf '[fault-test] %s\n' "$*"; }
die() {
    printf '[fault-test] error: %s\n' "$1" >&2
    exit "${2:-1}"
}
is_uint() { case "$1" in '' | *[!0-9]*) return 1 ;; *) return 0 ;; esac }
# Milliseconds in a duration: 5s, 500ms, 2m or plain seconds.
duration_ms() {
    local d=$1 n
    case "$d" in
    *ms) n=${d%ms} && is_uint "$n" && echo "$n" && return 0 ;;
    *s) n=${d%s} && is_uint "$n" && echo $((n * 1000)) && return 0 ;;
    *m) n=${d%m} && is_uint "$n" && echo $((n * 60000)) && return 0 ;;
    *) is_uint "$d" && echo $((d * 1000)) && return 0 ;;
    esac
    return 1
}
now_ms() { date +%s%3N; }
sleep_ms() { sleep "$(($1 / 1000)).$(printf '%03d' $(($1 % 1000)))"; }

# ---- settings -------------------------------------------------------------
case "$SCENARIO" in kill-leader | kill-follower | partition-leader | partition-follower) ;;
*) die "SCENARIO=$SCENARIO: kill-leader, kill-follower, partition-leader or partition-follower" 2 ;;
esac
is_uint "$NODES" && [ "$NODES" -ge 3 ] && [ "$NODES" -le 16 ] || die "NODES=$NODES: 3 to 16" 2
is_uint "$ORDERS_PER_SEC" && [ "$ORDERS_PER_SEC" -ge 1 ] || die "ORDERS_PER_SEC=$ORDERS_PER_SEC: a positive number" 2
DURATION_MS=$(duration_ms "$TEST_DURATION") || die "TEST_DURATION=$TEST_DURATION: e.g. 20s" 2
FAULT_AT_MS=$(duration_ms "$FAULT_AT") || die "FAULT_AT=$FAULT_AT: e.g. 5s or 2500ms" 2
FAULT_FOR_MS=$(duration_ms "$FAULT_FOR") || die "FAULT_FOR=$FAULT_FOR: e.g. 5s" 2
[ "$FAULT_AT_MS" -lt "$DURATION_MS" ] || die "FAULT_AT=$FAULT_AT must come before the end of TEST_DURATION=$TEST_DURATION" 2
case "$ACK_QUORUM" in majority | local) ;; *) die "ACK_QUORUM=$ACK_QUORUM: majority or local" 2 ;; esac
is_uint "$BASE_PORT" && [ "$BASE_PORT" -ge 1 ] && [ $((BASE_PORT + 100 * (NODES - 1) + 3)) -le 65535 ] ||
    die "BASE_PORT=$BASE_PORT: the ports BASE_PORT+100*i+0..3 must fit in 1..65535" 2
for v in CONVERGE_TIMEOUT READY_TIMEOUT STOP_TIMEOUT; do is_uint "${!v}" || die "$v=${!v}: seconds" 2; done
case "$BUILD" in auto | always | never) ;; *) die "BUILD=$BUILD: auto, always or never" 2 ;; esac
case "$DEPS" in auto | always | never) ;; *) die "DEPS=$DEPS: auto, always or never" 2 ;; esac

PARTITION=false
case "$SCENARIO" in partition-*) PARTITION=true ;; esac
NS=
PREFIX=()
HOSTS=()
if [ "$PARTITION" = true ]; then
    [ "$(id -u)" -eq 0 ] || die "$SCENARIO needs root: it makes a network namespace and iptables rules" 2
    command -v ip >/dev/null 2>&1 || die "$SCENARIO needs ip (package iproute2)" 2
    command -v iptables >/dev/null 2>&1 || die "$SCENARIO needs iptables (package iptables)" 2
fi

# ---- cleanup: nothing this script started outlives it ---------------------
NODE_PIDS=()
CLIENT_PID=
cleanup() {
    local rc=$? i pid t
    trap - EXIT INT TERM
    [ -n "$CLIENT_PID" ] && kill -TERM "$CLIENT_PID" 2>/dev/null && wait "$CLIENT_PID" 2>/dev/null
    for pid in "${NODE_PIDS[@]}"; do [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null; done
    for i in "${!NODE_PIDS[@]}"; do
        pid=${NODE_PIDS[$i]}
        [ -n "$pid" ] || continue
        t=0
        while kill -0 "$pid" 2>/dev/null && [ "$t" -lt $((STOP_TIMEOUT * 10)) ]; do
            sleep 0.1
            t=$((t + 1))
        done
        kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    done
    [ -n "$NS" ] && ip netns del "$NS" 2>/dev/null
    exit "$rc"
}
trap cleanup EXIT
trap 'say "interrupted"; exit 130' INT
trap 'say "terminated"; exit 143' TERM

cd "$ROOT" || die "cannot enter $ROOT"

# ---- dependencies and build (as run-multi-node.sh) ------------------------
lx_prepare "$BIN_DIR" "$BUILD" "$DEPS" || exit 1
for b in multi-node test-client lx-journal; do
    [ -x "$BIN_DIR/$b" ] || die "$BIN_DIR/$b is missing (build it, or set BIN_DIR)"
done
# The failover options, if this multi-node has them.
FAILOVER_ARGS=()
# (The usage is read whole: grep -q would stop reading at the match, and
# with pipefail the writer's SIGPIPE would make the test false.)
usage=$("$BIN_DIR/multi-node" --help 2>&1)
if [[ "$usage" == *--ack-quorum* ]]; then
    FAILOVER_ARGS=(--ack-quorum "$ACK_QUORUM" --election-timeout "$ELECTION_TIMEOUT")
else
    say "warning: this multi-node has no --ack-quorum: it has no failover, expect a leader fault to fail"
fi

# ---- where the nodes run --------------------------------------------------
if [ "$PARTITION" = true ]; then
    NS=lxf-$$
    ip netns add "$NS" || { NS= && die "ip netns add failed: cannot make the network namespace" 2; }
    ip netns exec "$NS" ip link set lo up || die "cannot bring lo up in the namespace $NS" 2
    ip netns exec "$NS" iptables -S >/dev/null 2>&1 || die "iptables does not work in the namespace $NS" 2
    PREFIX=(ip netns exec "$NS")
    for ((i = 0; i < NODES; i++)); do HOSTS[i]=127.0.0.$((11 + i)); done
    say "network namespace $NS: node i on 127.0.0.(11+i)"
else
    for ((i = 0; i < NODES; i++)); do HOSTS[i]=localhost; done
    LISTENING=" $(ss -ltnH 2>/dev/null | awk '{n = split($4, a, ":"); printf "%s ", a[n]}') "
    for ((i = 0; i < NODES; i++)); do
        for k in 0 1 2 3; do
            p=$((BASE_PORT + 100 * i + k))
            case "$LISTENING" in *" $p "*) die "port $p (node$i) is in use; choose other ports with BASE_PORT" 2 ;; esac
        done
    done
fi
run() { "${PREFIX[@]}" "$@"; }
node_port() { echo $((BASE_PORT + 100 * $1)); }
ENDPOINTS=
for ((i = 0; i < NODES; i++)); do ENDPOINTS+="${ENDPOINTS:+,}tcp://${HOSTS[$i]}:$(($(node_port "$i") + 2))"; done

mkdir -p "$LOG_DIR" "$DATA_ROOT" || die "cannot create $LOG_DIR or $DATA_ROOT"
for ((i = 0; i < NODES; i++)); do rm -rf "${DATA_ROOT:?}/node$i" "$LOG_DIR/node$i.log"; done
rm -f "$LOG_DIR/acked.log" "$LOG_DIR/client.json" "$LOG_DIR/client.log" "$LOG_DIR/fault.json"

# shellcheck disable=SC2206
node_extra=($NODE_ARGS)
# shellcheck disable=SC2206
client_extra=($CLIENT_ARGS)
# start_node I BOOT: starts node I; BOOT=true gives it --leader (a fresh cluster).
start_node() {
    local i=$1 j peers="" args
    for ((j = 0; j < NODES; j++)); do
        [ "$j" -eq "$i" ] || peers+="${peers:+,}tcp://${HOSTS[$j]}:$(node_port "$j")"
    done
    args=(--node "node$i" --port "$(node_port "$i")" --peers "$peers" --data-dir "$DATA_ROOT/node$i"
        --fsync "$FSYNC" --dev-faucet --metrics-interval 1s "${FAILOVER_ARGS[@]}")
    [ "$PARTITION" = true ] && args+=(--bind "${HOSTS[$i]}")
    if [ "$2" = true ]; then args+=(--leader); else args+=(--leader=false); fi
    echo "==== start $(date '+%F %T.%3N'): multi-node ${args[*]} ${node_extra[*]}" >>"$LOG_DIR/node$i.log"
    "${PREFIX[@]}" "$BIN_DIR/multi-node" "${args[@]}" "${node_extra[@]}" >>"$LOG_DIR/node$i.log" 2>&1 </dev/null &
    NODE_PIDS[i]=$!
}
field() { jq -r ".$2 // empty" "$DATA_ROOT/node$1/status.json" 2>/dev/null; }
leaders() {
    local i
    for ((i = 0; i < NODES; i++)); do
        [ -n "${NODE_PIDS[$i]}" ] && [ "$(field "$i" role)" = leader ] && echo "$i"
    done
}
# rules -A|-D I: add or delete the rules cutting node I off from the others.
rules() {
    local j
    for ((j = 0; j < NODES; j++)); do
        [ "$j" -eq "$2" ] && continue
        run iptables "$1" INPUT -s "${HOSTS[$2]}" -d "${HOSTS[$j]}" -j DROP || return 1
        run iptables "$1" INPUT -s "${HOSTS[$j]}" -d "${HOSTS[$2]}" -j DROP || return 1
    done
}
# same_state [I...]: 0 if the nodes' status.json agree on seq and state hash.
same_state() {
    local i s first=""
    for i in "$@"; do
        s=$(jq -r '"\(.seq) \(.state_hash)"' "$DATA_ROOT/node$i/status.json" 2>/dev/null)
        [ -n "$s" ] || return 1
        [ -z "$first" ] && first=$s
        [ "$s" = "$first" ] || return 1
    done
}

# ---- start ----------------------------------------------------------------
say "scenario $SCENARIO: $NODES nodes, $ORDERS_PER_SEC orders/s for $TEST_DURATION, fault at $FAULT_AT for $FAULT_FOR, ack quorum $ACK_QUORUM"
for ((i = 0; i < NODES; i++)); do start_node "$i" "$([ "$i" -eq 0 ] && echo true || echo false)"; done
deadline=$((SECONDS + READY_TIMEOUT))
for ((i = 0; i < NODES; i++)); do
    until grep -qw ready "$LOG_DIR/node$i.log" 2>/dev/null; do
        kill -0 "${NODE_PIDS[$i]}" 2>/dev/null || die "node$i exited during start-up; see $LOG_DIR/node$i.log"
        [ $SECONDS -lt "$deadline" ] || die "node$i not ready within ${READY_TIMEOUT}s; see $LOG_DIR/node$i.log"
        sleep 0.2
    done
done
run "$BIN_DIR/test-client" --nodes "$ENDPOINTS" --wait-ready "${READY_TIMEOUT}s" >"$LOG_DIR/wait-ready.log" 2>&1 ||
    die "not every node answered a PING; see $LOG_DIR/wait-ready.log"
for ((i = 0; i < NODES; i++)); do
    until is_uint "$(field "$i" seq)" && [ "$(field "$i" seq)" -ge 1 ]; do
        [ $SECONDS -lt "$deadline" ] || die "node$i did not get the leader's first block"
        sleep 0.2
    done
done
say "all $NODES nodes are ready"

# ---- load and fault -------------------------------------------------------
"${PREFIX[@]}" "$BIN_DIR/test-client" --nodes "$ENDPOINTS" --duration "$TEST_DURATION" --rate "$ORDERS_PER_SEC" \
    --error-threshold 1 --acked-log "$LOG_DIR/acked.log" --json --quiet "${client_extra[@]}" \
    >"$LOG_DIR/client.json" 2>"$LOG_DIR/client.log" &
CLIENT_PID=$!
load_ms=$(now_ms)
sleep_ms "$FAULT_AT_MS"
L=$(leaders)
[ "$(echo "$L" | wc -w)" -eq 1 ] || die "not exactly one leader before the fault (status.json roles: '$L')"
T0=$(field "$L" term)
T0=${T0:-1}
case "$SCENARIO" in
*-leader) V=$L ;;
*) V=$(((L + 1) % NODES)) ;;
esac
acked_before=$(wc -l <"$LOG_DIR/acked.log")
fault_ms=$(now_ms)
case "$SCENARIO" in
kill-*)
    kill -KILL "${NODE_PIDS[$V]}"
    wait "${NODE_PIDS[$V]}" 2>/dev/null
    NODE_PIDS[V]=
    ;;
partition-*) rules -A "$V" || die "iptables could not add the partition rules" ;;
esac
say "fault: $SCENARIO of node$V at unix_ms $fault_ms ($((fault_ms - load_ms)) ms into the load; leader node$L, term $T0; $acked_before orders acknowledged so far)"

# Watch for a new leader (another node, a higher term) until the fault ends.
NEWL=
elected_ms=
end_ms=$((fault_ms + FAULT_FOR_MS))
while [ "$(now_ms)" -lt "$end_ms" ]; do
    if [ -z "$NEWL" ]; then
        for ((i = 0; i < NODES; i++)); do
            [ "$i" -eq "$V" ] && continue
            t=$(field "$i" term)
            if [ "$(field "$i" role)" = leader ] && is_uint "$t" && [ "$t" -gt "$T0" ]; then
                NEWL=$i
                elected_ms=$(now_ms)
                say "node$NEWL reports leader of term $t (status.json, seen $((elected_ms - fault_ms)) ms after the fault)"
            fi
        done
    fi
    sleep 0.1
done
acked_during=$(wc -l <"$LOG_DIR/acked.log")
case "$SCENARIO" in
kill-*)
    say "restarting node$V on its data folder (unix_ms $(now_ms))"
    start_node "$V" false
    ;;
partition-*)
    rules -D "$V" || die "iptables could not delete the partition rules"
    say "partition healed (unix_ms $(now_ms))"
    ;;
esac

wait "$CLIENT_PID"
CLIENT_RC=$?
CLIENT_PID=
say "test client finished (exit $CLIENT_RC)"
all=$(seq 0 $((NODES - 1)))
say "waiting for the nodes to reach the same seq (up to ${CONVERGE_TIMEOUT}s)"
deadline=$((SECONDS + CONVERGE_TIMEOUT))
sleep 1.2
# shellcheck disable=SC2086
until same_state $all || [ $SECONDS -ge "$deadline" ]; do sleep 0.5; done

# Final states: SIGTERM, each node rewrites status.json as it stops.
for ((i = 0; i < NODES; i++)); do
    [ -n "${NODE_PIDS[$i]}" ] && kill -TERM "${NODE_PIDS[$i]}" 2>/dev/null
done
for ((i = 0; i < NODES; i++)); do
    pid=${NODE_PIDS[$i]}
    [ -n "$pid" ] || continue
    t=0
    while kill -0 "$pid" 2>/dev/null && [ "$t" -lt $((STOP_TIMEOUT * 10)) ]; do
        sleep 0.1
        t=$((t + 1))
    done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    NODE_PIDS[i]=
done

# ---- what happened --------------------------------------------------------
OK=true
CONVERGED=true
# shellcheck disable=SC2086
same_state $all || { CONVERGED=false && OK=false; }
FAILOVER_MS=null
NEW_TERM=null
if [ -n "$NEWL" ]; then
    NEW_TERM=$(field "$NEWL" term)
    # The new leader's first acknowledgement of the term it won.
    for ((t = T0 + 1; t <= NEW_TERM; t++)); do
        u=$(sed -n "s/.*term $t: first acknowledgement at unix_ms \([0-9]*\).*/\1/p" "$LOG_DIR/node$NEWL.log" | head -n 1)
        if [ -n "$u" ]; then
            FAILOVER_MS=$((u - fault_ms))
            break
        fi
    done
fi
case "$SCENARIO" in *-leader) [ -n "$NEWL" ] && [ "$FAILOVER_MS" != null ] || OK=false ;; esac

sort -u <(awk '$1 ~ /^[0-9]+$/ && $1 != 0 {print $1}' "$LOG_DIR/acked.log") >"$LOG_DIR/acked.ids"
n_acked=$(wc -l <"$LOG_DIR/acked.ids")
nodes_json=()
for ((i = 0; i < NODES; i++)); do
    "$BIN_DIR/lx-journal" --data-dir "$DATA_ROOT/node$i" --commands 2>/dev/null |
        grep '"op":"order"' | grep -o '"id":[0-9]*' | cut -d: -f2 | sort -u >"$LOG_DIR/node$i.ids"
    in_log=$(wc -l <"$LOG_DIR/node$i.ids")
    n_missing=$(comm -23 "$LOG_DIR/acked.ids" "$LOG_DIR/node$i.ids" | wc -l)
    [ "$n_missing" -eq 0 ] || OK=false
    nodes_json+=("$(jq -c --arg n "node$i" --argjson in_log "$in_log" --argjson missing "$n_missing" \
        '{node: $n, role, term, seq, state_hash, orders_in_log: $in_log, acked_missing: $missing}' \
        "$DATA_ROOT/node$i/status.json" 2>/dev/null ||
        jq -cn --arg n "node$i" '{node: $n, seq: null, state_hash: null}')")
done
[ "$n_acked" -gt 0 ] || OK=false
CLIENT_JSON=$(sed -E 's/"seed":([0-9]+)/"seed":"\1"/' "$LOG_DIR/client.json" 2>/dev/null |
    jq -c 'select(type == "object")' 2>/dev/null | tail -n 1)
[ -n "$CLIENT_JSON" ] || CLIENT_JSON='{}'

jq -n --arg scenario "$SCENARIO" --argjson nodes "$NODES" --arg quorum "$ACK_QUORUM" \
    --arg victim "node$V" --arg old_leader "node$L" --argjson old_term "$T0" \
    --arg new_leader "${NEWL:+node$NEWL}" --argjson new_term "${NEW_TERM:-null}" \
    --argjson fault_ms "$fault_ms" --argjson load_ms "$load_ms" --argjson fault_for "$FAULT_FOR_MS" \
    --argjson failover_ms "$FAILOVER_MS" --argjson elected_ms "${elected_ms:-null}" \
    --argjson acked_before "$acked_before" --argjson acked_during "$acked_during" \
    --argjson acked "$n_acked" --argjson client "$CLIENT_JSON" --argjson client_exit "$CLIENT_RC" \
    --argjson states "$(printf '%s\n' "${nodes_json[@]}" | jq -cs .)" \
    --argjson converged "$CONVERGED" --argjson ok "$OK" '
    {scenario: $scenario, nodes: $nodes, ack_quorum: $quorum, victim: $victim,
     leader_before: $old_leader, term_before: $old_term,
     new_leader: (if $new_leader == "" then null else $new_leader end), new_term: $new_term,
     fault_unix_ms: $fault_ms, fault_after_load_ms: ($fault_ms - $load_ms), fault_for_ms: $fault_for,
     election_seen_ms: (if $elected_ms == null then null else $elected_ms - $fault_ms end),
     failover_ms: $failover_ms,
     acked_before_fault: $acked_before, acked_during_fault: ($acked_during - $acked_before),
     acked: $acked, client: $client, client_exit: $client_exit,
     node_states: $states, converged: $converged, ok: $ok}' >"$LOG_DIR/fault.json" ||
    die "could not write $LOG_DIR/fault.json"

echo
echo "==================== lxdex fault test: $SCENARIO ===================="
jq -r '"fault        \(.scenario) of \(.victim) at unix_ms \(.fault_unix_ms), \(.fault_after_load_ms) ms into the load, for \(.fault_for_ms) ms",
   "before       leader \(.leader_before), term \(.term_before); \(.acked_before_fault) orders acknowledged",
   (if .new_leader != null then "new leader   \(.new_leader), term \(.new_term) (status.json \(.election_seen_ms) ms after the fault)"
    elif (.scenario | endswith("follower")) then "new leader   none (a follower fault: \(.leader_before) kept leading)"
    else "new leader   none" end),
   "failover     " + (if .failover_ms != null then "\(.failover_ms) ms from the fault to the first acknowledgement of the new term"
    elif (.scenario | endswith("follower")) then "none needed"
    else "NONE: no acknowledgement by a new leader" end),
   "during       \(.acked_during_fault) orders acknowledged while the fault lasted",
   "client       sent \(.client.sent) acked \(.client.acked) rejected \(.client.rejected) errors \(.client.errors) (exit \(.client_exit))",
   "",
   "acknowledged order ids: \(.acked); in each node'"'"'s final log:",
   (.node_states[] | "  \(.node)  \(.role // "?")  term \(.term // "?")  orders in log \(.orders_in_log)  acked missing \(.acked_missing)  seq \(.seq)  state_hash \(.state_hash)"),
   "",
   "converged    " + (if .converged then "yes, every node has the same seq and state hash" else "NO, the nodes differ" end),
   "result       " + (if .ok then "PASS" else "FAIL" end) + "   (details: '"$LOG_DIR"'/fault.json)"' "$LOG_DIR/fault.json"
echo "======================================================================"
[ "$OK" = true ]
