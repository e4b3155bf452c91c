#!/bin/bash
# CURVE on a 3-node cluster (docs/security.md): (a) a client whose key is not
# registered, or that has no key or the wrong server key, gets no answer;
# (b) a registered client is bound to its account: orders, cancels,
# replaces, batches, deposits and withdrawals for another account get
# not_owner, through the leader and through a follower, while its own work;
# (c) a node whose key is not on the peers' list gets no blocks and cannot
# pass itself off as the leader, while a listed node with an empty data dir
# catches up. Every refusal has a positive control next to it. Loopback
# only; needs LX_BIN and LX_BUILD.
set -u
# shellcheck disable=SC2034 # read by cluster_lib.sh
NODES=3
. "$(dirname "${BASH_SOURCE[0]}")/cluster_lib.sh"
cl_init
SEC=$LX_BUILD/tests/sec_client
[ -x "$SEC" ] || abort "$SEC is not built"
[ -x "$LX_BIN/lx-keys" ] || abort "$LX_BIN/lx-keys is not built"
export SEC_TIMEOUT_MS=${SEC_TIMEOUT_MS:-8000}

echo "---- keys: three nodes, clients alice (account 101) and bob (202), two strangers"
K=$CL_TMP/keys
mkdir -p "$K"
for i in 0 1 2; do
    "$LX_BIN/lx-keys" generate --out "$K/node$i.key" --label "$i" >>"$K/nodes.allow" ||
        abort "lx-keys generate failed"
done
"$LX_BIN/lx-keys" generate --out "$K/alice.key" --label 101 >>"$K/clients.allow" || abort "lx-keys"
"$LX_BIN/lx-keys" generate --out "$K/bob.key" --label 202 >>"$K/clients.allow" || abort "lx-keys"
"$LX_BIN/lx-keys" generate --out "$K/mallory.key" >/dev/null || abort "lx-keys"
"$LX_BIN/lx-keys" generate --out "$K/rogue.key" >/dev/null || abort "lx-keys"
for i in 0 1 2; do PUB[i]=$("$LX_BIN/lx-keys" public "$K/node$i.key"); done
SERVER_KEYS="${PUB[0]},${PUB[1]},${PUB[2]}"

# numbers_for I: node I's --peer-numbers (its --peers are the others, in order).
numbers_for() {
    local out="" j
    for ((j = 0; j < NODES; j++)); do [ "$j" -eq "$1" ] || out+="${out:+,}$j"; done
    echo "$out"
}
secure_args() { # I [KEYFILE]
    echo "--curve-key ${2:-$K/node$1.key} --peer-keys $K/nodes.allow --client-keys $K/clients.allow --peer-numbers $(numbers_for "$1")"
}
# req NODE WHO COMMAND...: one request through node NODE as WHO (a key name
# in $K, or "plain"); prints the first reply.
req() {
    local node=$1 who=$2 key
    shift 2
    key=$K/$who.key
    [ "$who" = plain ] && key=-
    "$SEC" "$(cl_endpoint "$node")" "${PUB[$node]}" "$key" "$@" 2>>"$CL_TMP/sec_client.err"
}
# expect WHAT WANT NODE WHO COMMAND...: PASS if the reply is WANT.
expect() {
    local what=$1 want=$2 got
    shift 2
    got=$(req "$@")
    if [ "$got" = "$want" ]; then pass "$what: $got"; else fail "$what: got \"$got\", want \"$want\""; fi
}
status_field() { jq -r ".$2" "$(cl_status "$1")" 2>/dev/null; }
# since_start I: node I's log lines after its latest start.
since_start() { tac "$CL_TMP/node$1.log" | sed '/^==== start /q' | tac; }
# exited_with_log RC WANT LOG PATTERN: RC is WANT and LOG holds PATTERN.
exited_with_log() { [ "$1" -eq "$2" ] && grep -q "$4" "$3"; }
# wait_seq I MIN SECONDS: waits until node I's status.json shows seq >= MIN.
wait_seq() {
    local limit=$((SECONDS + $3)) s
    while [ $SECONDS -lt $limit ]; do
        s=$(status_field "$1" seq)
        [ -n "$s" ] && [ "$s" != null ] && [ "$s" -ge "$2" ] && return 0
        sleep 0.3
    done
    return 1
}

echo "---- start a 3-node cluster with CURVE"
for i in 0 1 2; do
    # shellcheck disable=SC2046 # the flags split on purpose
    cl_start "$i" $(secure_args "$i")
done
for i in 0 1 2; do cl_wait_ready "$i" || abort "node$i did not start"; done
for i in 0 1 2; do
    check "node$i logs CURVE on with its public key" grep -qF "CURVE on: public key ${PUB[$i]}," "$CL_TMP/node$i.log"
done
"$LX_BIN/test-client" --nodes "$(cl_endpoints)" --curve-key "$K/alice.key" \
    --server-keys "$SERVER_KEYS" --wait-ready 30s >"$CL_TMP/wait-ready.log" 2>&1 ||
    abort "a registered client got no PONG from every node"
for i in 0 1 2; do wait_seq "$i" 1 30 || abort "node$i did not get the leader's first block"; done
pass "3 CURVE nodes started on ports $BASE.. and answer a registered client"
check "status.json says curve true" [ "$(status_field 0 curve)" = true ]

echo "---- (a) who gets no answer"
refused0=$(status_field 0 curve_refused)
expect "a registered client's PING" PONG 0 alice ping
SEC_TIMEOUT_MS=2500 expect "an unregistered key's PING" NO_REPLY 0 mallory ping
SEC_TIMEOUT_MS=2500 expect "an unregistered key's order" NO_REPLY 0 mallory order 9001 101 buy 1 1
SEC_TIMEOUT_MS=2500 expect "a plain (no CURVE) client's PING" NO_REPLY 1 plain ping
SEC_TIMEOUT_MS=2500 expect "a peer node's key used as a client key" NO_REPLY 0 node1 ping
# The right client key with the wrong server key: the handshake fails.
got=$(SEC_TIMEOUT_MS=2500 "$SEC" "$(cl_endpoint 0)" "${PUB[1]}" "$K/alice.key" ping 2>/dev/null)
check "a registered key with the wrong server key gets no answer ($got)" [ "$got" = NO_REPLY ]
"$LX_BIN/test-client" --nodes "$(cl_endpoints)" --curve-key "$K/mallory.key" \
    --server-keys "$SERVER_KEYS" --wait-ready 3s >"$CL_TMP/mallory.log" 2>&1
rc=$?
check "test-client with an unregistered key: exit 1, no PONG (exit $rc)" \
    exited_with_log $rc 1 "$CL_TMP/mallory.log" "no PONG"
sleep 1.2 # status.json is rewritten about once a second
refused1=$(status_field 0 curve_refused)
check "node0 counted the refused handshakes (curve_refused $refused0 -> $refused1)" \
    [ "${refused1:-0}" -gt "${refused0:-0}" ]
check "the refused requests added nothing to the log" [ "$(req 0 alice query-order 9001)" = "REJECT unknown_order" ]

echo "---- (b) a registered client acts for its own account only"
expect "alice deposits USD into 101" ACK 0 alice deposit 101 USD 1000000
expect "alice deposits BTC into 101" ACK 0 alice deposit 101 BTC 1000
expect "bob deposits USD into 202 (through a follower)" ACK 1 bob deposit 202 USD 1000000
expect "bob deposits BTC into 202" ACK 1 bob deposit 202 BTC 1000
expect "alice deposits into 202" "REJECT not_owner" 0 alice deposit 202 USD 5
expect "alice buys for 202 (leader)" "REJECT not_owner" 0 alice order 5001 202 buy 100 1
expect "alice buys for 202 (follower)" "REJECT not_owner" 1 alice order 5001 202 buy 100 1
expect "alice buys for 202 (other follower)" "REJECT not_owner" 2 alice order 5001 202 buy 100 1
expect "bob's same order for 202 is fine" ACK 1 bob order 6002 202 buy 100 1
expect "alice buys for 101" ACK 0 alice order 5002 101 buy 100 1
expect "bob sells for 202" ACK 1 bob order 6001 202 sell 200 1
expect "alice cancels bob's order as 202" "REJECT not_owner" 0 alice cancel 6001 202
expect "alice cancels bob's order as 202 (follower)" "REJECT not_owner" 2 alice cancel 6001 202
expect "alice cancels bob's order as 101 (the engine's check)" "REJECT not_owner" 0 alice cancel 6001 101
expect "alice replaces bob's order as 202" "REJECT not_owner" 0 alice replace 6001 202 150 1
expect "alice sends a batch with an order for 202" "BATCH_RESULT not_owner,not_owner" 0 alice batch 101:5003,202:5004
expect "alice withdraws from 202" "REJECT not_owner" 0 alice withdraw 202 USD 10
expect "bob's order is untouched" "ORDER_STATUS account=202 remaining=1" 0 alice query-order 6001
expect "alice's order for 202 never got in" "REJECT unknown_order" 0 alice query-order 5001
expect "nor did her batch" "REJECT unknown_order" 0 alice query-order 5003
expect "alice's batch for 101 alone works" "BATCH_RESULT none,none" 1 alice batch 101:5005,101:5006
expect "alice cancels her own order" "CANCELLED user" 0 alice cancel 5002 101
expect "bob cancels his" "CANCELLED user" 2 bob cancel 6001 202

echo "---- test-client under CURVE: its own account trades, another one is refused"
"$LX_BIN/test-client" --nodes "$(cl_endpoints)" --curve-key "$K/bob.key" --server-keys "$SERVER_KEYS" \
    --account-base 202 --duration 2s --rate 300 --seed 11 --json >"$CL_TMP/bob.json" 2>"$CL_TMP/bob.log"
rc=$?
acked=$(cl_json "$CL_TMP/bob.json" '.acked // 0')
check "test-client with bob's key on account 202: exit $rc, acked $acked" [ $rc -eq 0 -a "${acked:-0}" -gt 0 ]
"$LX_BIN/test-client" --nodes "$(cl_endpoints)" --curve-key "$K/bob.key" --server-keys "$SERVER_KEYS" \
    --account-base 101 --duration 2s --rate 300 --seed 12 >"$CL_TMP/bob101.out" 2>"$CL_TMP/bob101.log"
rc=$?
check "test-client with bob's key on account 101: funding refused not_owner (exit $rc)" \
    exited_with_log $rc 1 "$CL_TMP/bob101.log" "not_owner"

echo "---- (c) a node with an unknown key in node2's place"
cl_stop 2 || fail "node2 did not stop cleanly"
sleep 1.2
seq0=$(status_field 0 seq)
refused_before=$(status_field 0 curve_refused)
# The rogue knows every public key and listens on node2's ports, but holds
# a key the cluster never listed (and not node2's secret).
grep -v " 2$" "$K/nodes.allow" >"$K/rogue.allow"
"$LX_BIN/lx-keys" public "$K/rogue.key" --label 2 >>"$K/rogue.allow"
cl_start 2 --curve-key "$K/rogue.key" --peer-keys "$K/rogue.allow" --client-keys "$K/clients.allow" \
    --peer-numbers 0,1 --data-dir "$CL_TMP/rogue"
cl_wait_ready 2 || abort "the rogue node did not start"
sleep 4 # heartbeats every 100 ms, HELLO every 300 ms, gap requests every 200 ms
rseq=$(jq -r .seq "$CL_TMP/rogue/status.json" 2>/dev/null)
check "the rogue holds no block (seq ${rseq:-?}) while the cluster is at seq $seq0" [ "$rseq" = 0 ]
check "the rogue never heard of a leader" bash -c "! grep -q 'leader is' <<<\"\$1\"" _ "$(since_start 2)"
check "the rogue reached no peer" bash -c "! grep -q 'reached via' <<<\"\$1\"" _ "$(since_start 2)"
sleep 1.2
refused_after=$(status_field 0 curve_refused)
check "node0 refused the rogue (curve_refused $refused_before -> $refused_after)" \
    [ "${refused_after:-0}" -gt "${refused_before:-0}" ]
cl_stop 2

echo "---- (c) the rogue as a self-proclaimed leader"
cl_start 2 --curve-key "$K/rogue.key" --peer-keys "$K/rogue.allow" --client-keys "$K/clients.allow" \
    --peer-numbers 0,1 --data-dir "$CL_TMP/rogue-leader" --leader
cl_wait_ready 2 || abort "the rogue leader did not start"
sleep 3
check "node1 did not take the rogue for its leader" bash -c "! grep -q 'leader is node2' '$CL_TMP/node1.log'"
check "node0 heard no second leader" bash -c "! grep -q 'node2 also claims to lead' '$CL_TMP/node0.log'"
expect "the cluster still takes alice's orders through node1" ACK 1 alice order 5007 101 buy 100 1
cl_stop 2

echo "---- (c) positive control: the real node2 with an empty data dir catches up"
sleep 1.2
seq0=$(status_field 0 seq)
# shellcheck disable=SC2046
cl_start 2 $(secure_args 2) --data-dir "$CL_TMP/node2-fresh"
cl_wait_ready 2 || abort "node2 did not restart"
caught_up() {
    local limit=$((SECONDS + 30)) s
    while [ $SECONDS -lt $limit ]; do
        s=$(jq -r .seq "$CL_TMP/node2-fresh/status.json" 2>/dev/null)
        [ -n "$s" ] && [ "$s" != null ] && [ "$s" -ge "$seq0" ] && return 0
        sleep 0.3
    done
    return 1
}
if caught_up; then
    pass "the listed node2 caught up from seq 0 to node0's seq $seq0"
else
    fail "the listed node2 did not catch up to seq $seq0 (at $(jq -r .seq "$CL_TMP/node2-fresh/status.json" 2>/dev/null))"
fi

echo "---- stop the cluster"
for i in 0 1 2; do
    cl_stop "$i"
    st=$?
    if [ $st -eq 0 ]; then pass "node$i stopped cleanly (exit 0)"; else fail "node$i exit status $st"; fi
done

exit $CL_FAILED
