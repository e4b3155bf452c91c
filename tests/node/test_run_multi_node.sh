#!/bin/bash
# deploy/run-multi-node.sh end to end with the built binaries: a 3-node run
# writes a complete summary.json with converged true and leaves no process
# behind; a port in use makes it fail naming the port; SIGINT (Ctrl-C) mid-run
# stops every node it started. Needs LX_BIN and LX_SRC; loopback only.
set -u
: "${LX_SRC:?LX_SRC must name the source tree}"
# shellcheck disable=SC2034 # read by cluster_lib.sh
NODES=3
. "$(dirname "${BASH_SOURCE[0]}")/cluster_lib.sh"
cl_init

RUN=$LX_SRC/deploy/run-multi-node.sh
check "deploy/run-multi-node.sh is executable" [ -x "$RUN" ]
# Settings are variables: --help prints them, any other argument is refused
# before anything starts.
out=$("$RUN" --help 2>&1)
rc=$?
ok=0
[ $rc -eq 0 ] && [[ "$out" == *ORDERS_PER_SEC* ]] && [[ "$out" == *KEEP_ALIVE* ]] && ok=1
check "run-multi-node.sh --help exits 0 and lists the variables (got $rc)" [ $ok -eq 1 ]
out=$(DATA_ROOT="$CL_TMP/arg/data" LOG_DIR="$CL_TMP/arg/logs" "$RUN" --nodes 5 2>&1)
rc=$?
check "run-multi-node.sh refuses an argument with status 2 (got $rc)" [ $rc -eq 2 ]
ok=0
[[ "$out" == *"unknown argument --nodes"* ]] && [ ! -e "$CL_TMP/arg" ] && ok=1
check "the refusal names the argument and starts nothing" [ $ok -eq 1 ]
out=$(CLUSTER_ID="a b" DATA_ROOT="$CL_TMP/arg/data" LOG_DIR="$CL_TMP/arg/logs" "$RUN" 2>&1)
rc=$?
ok=0
[ $rc -eq 2 ] && [[ "$out" == *"CLUSTER_ID=a b: 1 to 63 of"* ]] && [ ! -e "$CL_TMP/arg" ] && ok=1
check "a bad CLUSTER_ID is refused with status 2 before anything starts (got $rc)" [ $ok -eq 1 ]

# jcheck DESCRIPTION FILTER FILE: PASS if jq -e FILTER holds for FILE.
jcheck() {
    # jq -e alone passes an empty file: also require some output.
    local out
    if out=$(jq -e "$2" "$3" 2>/dev/null) && [ -n "$out" ]; then pass "$1"; else fail "$1"; fi
}

# leftovers DIR: multi-node processes whose command line names DIR.
leftovers() { pgrep -f "multi-node.*$1" || true; }

run_script() {
    env NODES=3 TEST_DURATION="$1" ORDERS_PER_SEC=500 BASE_PORT="$BASE" CLUSTER_ID="$CL_CLUSTER_ID" \
        DATA_ROOT="$CL_TMP/$2/data" LOG_DIR="$CL_TMP/$2/logs" BIN_DIR="$LX_BIN" \
        SKIP_BUILD=true DEPS=never READY_TIMEOUT=45 CONVERGE_TIMEOUT=20 "$RUN"
}

echo "---- NODES=3 TEST_DURATION=3s ORDERS_PER_SEC=500 BASE_PORT=$BASE run-multi-node.sh"
run_script 3s ok >"$CL_TMP/run.out" 2>&1
rc=$?
cat "$CL_TMP/run.out"
check "run-multi-node.sh exits 0" [ $rc -eq 0 ]
S=$CL_TMP/ok/logs/summary.json
jcheck "summary.json is valid JSON" . "$S"
for k in nodes duration_s target_rate sent acked rejected errors fills throughput latency_us \
    node_states converged; do
    jcheck "summary.json has \"$k\"" "has(\"$k\")" "$S"
done
for k in p50 p90 p99 p999 max; do
    jcheck "summary.json latency_us has a number \"$k\"" ".latency_us | has(\"$k\") and (.$k | type == \"number\")" "$S"
done
jcheck "summary.json: nodes is 3, duration_s 3, target_rate 500" '.nodes == 3 and .duration_s == 3 and .target_rate == 500' "$S"
jcheck "summary.json: acked > 0" '.acked > 0' "$S"
jcheck "summary.json: cluster_id is $CL_CLUSTER_ID, and no node refused a message of another cluster" \
    ".cluster_id == \"$CL_CLUSTER_ID\" and ([.node_states[].foreign_refused] | all(. == 0))" "$S"
jcheck "summary.json: converged is true" '.converged == true' "$S"
jcheck "summary.json: 3 node states, each with a seq > 0 and a state hash" \
    '(.node_states | length) == 3 and
           all(.node_states[]; (.node | test("^node[0-2]$")) and .seq > 0 and (.state_hash | type == "string"))' \
    "$S"
jcheck "summary.json: the node states are equal" '[.node_states[] | [.seq, .state_hash]] | unique | length == 1' "$S"
check "the output names convergence" grep -q 'converged: *yes' "$CL_TMP/run.out"
check "the output has each node's metrics line" [ "$(grep -c ' metrics - ' "$CL_TMP/run.out")" -ge 3 ]
for i in 0 1 2; do
    check "logs/node$i.log exists" [ -s "$CL_TMP/ok/logs/node$i.log" ]
done
check "logs/acked.log is not empty" [ -s "$CL_TMP/ok/logs/acked.log" ]
check "no multi-node process is left" [ -z "$(leftovers "$CL_TMP/ok")" ]
# Settlement (SETTLE=true, the default): lx-devnet, on-chain deposits,
# withdrawals, the audit.
jcheck "summary.json: settlement settled batches > 0, all Accepted" \
    '.settlement.batches > 0 and .settlement.batches_accepted == .settlement.batches' "$S"
jcheck "summary.json: every fill of the log settled" \
    '.settlement.fills_settled == .settlement.fills_in_log and .settlement.fills_settled > 0' "$S"
jcheck "summary.json: withdrawals acked and paid on-chain exactly" \
    '.settlement.withdrawals.acked > 0 and .settlement.withdrawals.on_chain == .settlement.withdrawals.amount and .settlement.withdrawals.settled_amount == .settlement.withdrawals.amount' "$S"
jcheck "summary.json: audit ok, exactly once" '.settlement.audit == "ok" and .settlement.exactly_once == true' "$S"
jcheck "summary.json: fill-to-Accepted p50 and p99 are numbers" \
    '(.settlement.fill_to_accepted_ms.p50 | type == "number") and (.settlement.fill_to_accepted_ms.p99 | type == "number")' "$S"
check "the output has the settlement lines" grep -q 'exactly once: yes' "$CL_TMP/run.out"
check "no lx-devnet process is left" [ -z "$(pgrep -f "lx-devnet.*$CL_TMP/ok" || true)" ]

echo "---- KEEP_ALIVE=true leaves the nodes running and lists their PIDs"
KEEP_ALIVE=true run_script 2s keep >"$CL_TMP/keep.out" 2>&1
rc=$?
tail -n 4 "$CL_TMP/keep.out"
check "run-multi-node.sh KEEP_ALIVE=true exits 0 (got $rc)" [ $rc -eq 0 ]
PIDS_FILE=$CL_TMP/keep/logs/pids
check "logs/pids lists 4 PIDs (3 nodes and lx-devnet)" [ "$(wc -l <"$PIDS_FILE" 2>/dev/null)" = 4 ]
mapfile -t kept <"$PIDS_FILE" 2>/dev/null
CL_OTHER_PIDS+=("${kept[@]}")
alive=0
for p in "${kept[@]}"; do kill -0 "$p" 2>/dev/null && alive=$((alive + 1)); done
check "the 3 nodes and lx-devnet still run after the script ended ($alive alive)" [ $alive -eq 4 ]
check "the output says how to stop them" grep -q "kill \$(cat $PIDS_FILE)" "$CL_TMP/keep.out"
"$LX_BIN/test-client" --nodes "$(cl_endpoints)" --wait-ready 10s >/dev/null 2>&1
check "the kept nodes answer a PING" [ $? -eq 0 ]
# shellcheck disable=SC2046
kill $(cat "$PIDS_FILE")
for _ in $(seq 1 100); do
    alive=0
    for p in "${kept[@]}"; do kill -0 "$p" 2>/dev/null && alive=$((alive + 1)); done
    [ $alive -eq 0 ] && break
    sleep 0.2
done
check "kill \$(cat logs/pids) stops them" [ $alive -eq 0 ]
CL_OTHER_PIDS=()

echo "---- a port in use"
# Another process holds node1's ports (BASE+100..103): a lone node of our own.
"$LX_BIN/multi-node" --node blocker --port $((BASE + 100)) --data-dir "$CL_TMP/blocker" \
    >"$CL_TMP/blocker.log" 2>&1 </dev/null &
blocker=$!
CL_OTHER_PIDS+=("$blocker")
for _ in $(seq 1 150); do
    cl_port_busy $((BASE + 102)) && break
    sleep 0.2
done
check "the blocking process listens on port $((BASE + 102))" cl_port_busy $((BASE + 102))
run_script 3s busy >"$CL_TMP/busy.out" 2>&1
rc=$?
cat "$CL_TMP/busy.out"
check "run-multi-node.sh exits 2 when a port is in use (got $rc)" [ $rc -eq 2 ]
check "the message names the port $((BASE + 100))" grep -q "port $((BASE + 100)) .*in use" "$CL_TMP/busy.out"
check "the message names the process holding it" grep -q "multi-node (pid $blocker)" "$CL_TMP/busy.out"
check "no node was started" [ -z "$(leftovers "$CL_TMP/busy")" ]
kill -TERM "$blocker" 2>/dev/null
wait "$blocker" 2>/dev/null
CL_OTHER_PIDS=()

echo "---- SIGINT in the middle of the load, as Ctrl-C sends it"
# Job control gives the script its own process group, like a terminal would.
set -m
run_script 60s int >"$CL_TMP/int.out" 2>&1 &
script=$!
set +m
CL_OTHER_PIDS+=("$script")
for _ in $(seq 1 300); do
    grep -q 'test client:' "$CL_TMP/int.out" && break
    kill -0 "$script" 2>/dev/null || break
    sleep 0.2
done
sleep 2
check "the load had started" grep -q 'test client:' "$CL_TMP/int.out"
check "its nodes are running" [ -n "$(leftovers "$CL_TMP/int")" ]
kill -INT -- "-$script" 2>/dev/null
t=0
while kill -0 "$script" 2>/dev/null && [ $t -lt 300 ]; do
    sleep 0.1
    t=$((t + 1))
done
wait "$script"
rc=$?
CL_OTHER_PIDS=()
tail -n 6 "$CL_TMP/int.out"
check "run-multi-node.sh stopped on SIGINT with status 130 (got $rc)" [ $rc -eq 130 ]
check "no multi-node process is left after SIGINT" [ -z "$(leftovers "$CL_TMP/int")" ]
check "no test-client process is left after SIGINT" [ -z "$(pgrep -f "test-client.*$CL_TMP/int" || true)" ]
check "no lx-devnet process is left after SIGINT" [ -z "$(pgrep -f "lx-devnet.*$CL_TMP/int" || true)" ]

exit $CL_FAILED
