#!/usr/bin/env bash
# Smoke test of the multi-node daemon: three nodes on free loopback ports with
# temporary data folders, orders through every node and market data from one
# (tests/node/smoke_client.c), then every status.json must show the same seq
# and state hash, and every node must stop cleanly on SIGTERM.
set -u
: "${LX_BIN:?}" "${LX_BUILD:?}"
CLIENT=$LX_BUILD/tests/smoke_client
[ -x "$LX_BIN/multi-node" ] || { echo "FAIL $LX_BIN/multi-node is not built"; exit 1; }
[ -x "$CLIENT" ] || { echo "FAIL $CLIENT is not built"; exit 1; }

TMP=$(mktemp -d "${TMPDIR:-/tmp}/lx-smoke.XXXXXX")
PIDS=()
FAILED=0
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null; done
    wait 2>/dev/null
    if [ $FAILED -ne 0 ]; then
        for f in "$TMP"/node*.log; do echo "---- $f"; tail -n 20 "$f"; done
    fi
    rm -rf "$TMP"
}
trap cleanup EXIT
pass() { echo "PASS $*"; }
fail() {
    echo "FAIL $*"
    FAILED=1
}

busy() { [ -n "$(ss -ltnH "sport = :$1" 2>/dev/null)" ]; }
BASE=
for _ in $(seq 1 50); do
    b=$((12000 + (RANDOM % 75) * 100)) # below the ephemeral range
    ok=1
    for i in 0 1 2; do for k in 0 1 2 3; do busy $((b + 100 * i + k)) && ok=0; done; done
    [ $ok -eq 1 ] && { BASE=$b; break; }
done
[ -n "$BASE" ] || { fail "no free ports"; exit 1; }

port() { echo $((BASE + 100 * $1)); }
for i in 0 1 2; do
    peers=""
    for j in 0 1 2; do
        [ "$j" -eq "$i" ] || peers+="${peers:+,}tcp://localhost:$(port "$j")"
    done
    args=(--node "node$i" --port "$(port "$i")" --peers "$peers" --data-dir "$TMP/node$i"
        --dev-faucet --metrics-interval 1s --block-max-us 500)
    [ "$i" -eq 0 ] && args+=(--leader)
    "$LX_BIN/multi-node" "${args[@]}" >"$TMP/node$i.log" 2>&1 &
    PIDS[i]=$!
done

for i in 0 1 2; do
    for _ in $(seq 1 150); do
        grep -q "ready" "$TMP/node$i.log" && break
        kill -0 "${PIDS[$i]}" 2>/dev/null || break
        sleep 0.1
    done
    grep -q "node$i ready: role" "$TMP/node$i.log" || { fail "node$i ready"; exit 1; }
done
pass "3 nodes ready on ports $BASE.."

# The followers learn the leader from its heartbeats; give them a moment.
sleep 1
eps="tcp://127.0.0.1:$(($(port 0) + 2)),tcp://127.0.0.1:$(($(port 1) + 2)),tcp://127.0.0.1:$(($(port 2) + 2))"
if LX_SMOKE_ENDPOINTS=$eps "$CLIENT" >"$TMP/client.log" 2>&1; then
    pass "orders, batches, cancels, replaces, queries and bad frames through every node"
else
    cat "$TMP/client.log"
    fail "client"
fi

state() { sed -n 's/.*"seq":\([0-9]*\),"state_hash":"\([0-9a-f]*\)".*/\1 \2/p' "$TMP/node$1/status.json" 2>/dev/null; }
same=0
for _ in $(seq 1 40); do
    s0=$(state 0)
    # Each node's requests were awaited one by one, so every node added at
    # least 8 blocks after block 1: a stale status.json cannot pass.
    if [ -n "$s0" ] && [ "${s0%% *}" -ge 25 ] && [ "$s0" = "$(state 1)" ] && [ "$s0" = "$(state 2)" ]; then
        same=1
        break
    fi
    sleep 0.25
done
if [ $same -eq 1 ]; then pass "all status.json agree: seq and state hash $s0"; else
    fail "status.json differ: $(state 0) / $(state 1) / $(state 2)"
fi
grep -q '"settle":null,' "$TMP/node0/status.json" && pass "status.json: settle is null without settlement" ||
    fail "status.json: settle is not null without settlement: $(cat "$TMP/node0/status.json")"

grep -q "^node1 metrics - Orders: [0-9]*, Trades: [0-9]*, Messages In: [0-9]*, Out: [0-9]*, Seq: [0-9]*, Lag: [0-9]*, Ack p50/p99 us: [0-9]*/[0-9]*$" \
    "$TMP/node1.log" && pass "metrics line" || fail "metrics line"
grep -q "MISMATCH" "$TMP"/node*.log && fail "a state hash mismatch was logged"
# Only node1 had a market-data subscriber (the client's test_market_data).
grep -q "^node1 market data on: a subscriber asked for" "$TMP/node1.log" &&
    ! grep -q "market data on" "$TMP/node0.log" "$TMP/node2.log" &&
    grep -q '"market_data":true,' "$TMP/node1/status.json" &&
    grep -q '"market_data":false,' "$TMP/node0/status.json" &&
    pass "market data computed only where a subscriber asked for it" ||
    fail "market data on: $(grep -h "market data on" "$TMP"/node*.log)"

for i in 0 1 2; do kill -TERM "${PIDS[$i]}"; done
for i in 0 1 2; do
    wait "${PIDS[$i]}"
    st=$?
    [ $st -eq 0 ] && pass "node$i exit 0 on SIGTERM" || fail "node$i exit $st on SIGTERM"
done
PIDS=()

# A taken port fails at once, naming it (exit 3); bad flags exit 2.
"$LX_BIN/multi-node" --node x --port "$(port 0)" --data-dir "$TMP/x" --leader >"$TMP/x.log" 2>&1 &
PIDS=($!)
for _ in $(seq 1 100); do grep -q ready "$TMP/x.log" && break; sleep 0.1; done
"$LX_BIN/multi-node" --node y --port "$(port 0)" --data-dir "$TMP/y" >"$TMP/y.log" 2>&1
st=$?
[ $st -eq 3 ] && grep -q "port $(port 0) is already in use" "$TMP/y.log" && pass "port in use: exit 3" ||
    fail "port in use: exit $st: $(cat "$TMP/y.log")"
# x runs without --dev-faucet: test-client cannot fund its accounts, says
# why once (not once per deposit), and exits 1.
"$LX_BIN/test-client" --nodes "tcp://127.0.0.1:$(($(port 0) + 2))" --duration 1s --rate 100 \
    --accounts 20 >/dev/null 2>"$TMP/nofaucet.log"
st=$?
[ $st -eq 1 ] && [ "$(grep -c "start the nodes with --dev-faucet" "$TMP/nofaucet.log")" -eq 1 ] &&
    grep -q "deposits failed in all, 0 acknowledged" "$TMP/nofaucet.log" &&
    grep -q "funding failed" "$TMP/nofaucet.log" &&
    pass "no faucet: test-client says so once and exits 1" ||
    fail "no faucet: exit $st: $(head -c 2000 "$TMP/nofaucet.log")"
kill -TERM "${PIDS[0]}"
wait "${PIDS[0]}"
PIDS=()
"$LX_BIN/multi-node" --port 99999 >/dev/null 2>&1
[ $? -eq 2 ] && pass "bad port: exit 2" || fail "bad port"
"$LX_BIN/multi-node" --consensus raft 2>"$TMP/c.log"
[ $? -eq 2 ] && grep -q "not available in this version" "$TMP/c.log" && pass "raft refused: exit 2" ||
    fail "raft not refused"
exit $FAILED
