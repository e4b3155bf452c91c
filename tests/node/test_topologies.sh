#!/bin/bash
# The star and ring topologies (docs/topologies.md): a 3-node star and a
# 5-node ring under load sent to every node, so that nodes without a link to
# the leader forward orders through relays; every node converges to the same
# seq and state hash and holds every acknowledged order. In the ring the
# leader is then killed with -9: the others elect a new leader through
# relayed votes and the load goes on. Needs LX_BIN; loopback only.
set -u
# shellcheck disable=SC2034 # read by cluster_lib.sh
NODES=5 # ports for the larger of the two clusters
. "$(dirname "${BASH_SOURCE[0]}")/cluster_lib.sh"
cl_init

# load NAME SEED SECONDS RATE NODE... : test-client at RATE orders/s to the
# nodes given, in the background; acked ids in CL_TMP/NAME.acked. Each load
# has its own seed: the same seed would send the same order ids again.
load() {
    local name=$1 seed=$2 secs=$3 rate=$4
    shift 4
    "$LX_BIN/test-client" --nodes "$(cl_endpoints "$@")" --duration "${secs}s" --rate "$rate" \
        --seed "$seed" --error-threshold "${LOAD_ERRORS:-0.01}" --acked-log "$CL_TMP/$name.acked" \
        --json >"$CL_TMP/$name.json" 2>"$CL_TMP/$name.log" &
    LOAD_PID=$!
    CL_OTHER_PIDS+=("$LOAD_PID")
}

# converge_and_check NAME: same seq and hash everywhere, every acked id in
# every journal (after a clean stop, so the journals are complete).
converge_and_check() {
    local name=$1 i
    if cl_wait_converged 30; then
        pass "$name: every node has the same seq and state hash"
    else
        fail "$name: the nodes did not converge within 30 s"
    fi
    cl_show_states
    cl_stop_all
    check "$name: the status.json written at shutdown agree" cl_same_state
    for ((i = 0; i < NODES; i++)); do
        cl_check_acked_in_journal "$CL_TMP/$name.acked" "$i"
    done
}

# logged I PATTERN: 0 if node I's log has a line matching PATTERN (grep -E).
logged() { grep -Eq -- "$2" "$CL_TMP/node$1.log"; }

echo "==== a star of 3: node0 is the hub and the leader"
NODES=3
cl_topology star
cl_start_all
check "node1 reaches node2 through the hub" logged 1 "node node2 reached through node0 \(2 links\)"
check "node2 reaches node1 through the hub" logged 2 "node node1 reached through node0 \(2 links\)"
echo "---- load: 600 orders/s for 4 s to every node"
load star 5 4 600 0 1 2
wait "$LOAD_PID"
rc=$?
CL_OTHER_PIDS=()
cat "$CL_TMP/star.json"
check "star: test-client exits 0 (errors under 1%)" [ $rc -eq 0 ]
acked=$(cl_json "$CL_TMP/star.json" '.acked // 0')
check "star: orders were acknowledged (acked=$acked)" [ "${acked:-0}" -gt 0 ]
converge_and_check star
for i in 0 1 2; do
    mv "$CL_TMP/node$i.log" "$CL_TMP/star-node$i.log"
    rm -rf "$(cl_data "$i")"
done

echo "==== a ring of 5: node2 and node3 have no link to the leader node0"
NODES=5
cl_topology ring
cl_start_all --election-timeout 500ms
# The first heartbeat may come the long way round; the shorter way wins.
check "node2 reaches node0 through node1" logged 2 "node node0 (now )?reached through node1 \(2 links\)"
check "node3 reaches node0 through node4" logged 3 "node node0 (now )?reached through node4 \(2 links\)"
echo "---- load: 600 orders/s for 4 s to every node"
load ring 7 4 600 0 1 2 3 4
wait "$LOAD_PID"
rc=$?
CL_OTHER_PIDS=()
cat "$CL_TMP/ring.json"
check "ring: test-client exits 0 (errors under 1%)" [ $rc -eq 0 ]
acked=$(cl_json "$CL_TMP/ring.json" '.acked // 0')
check "ring: orders were acknowledged (acked=$acked)" [ "${acked:-0}" -gt 0 ]
if cl_wait_converged 30; then
    pass "ring: every node has the same seq and state hash"
else
    fail "ring: the nodes did not converge within 30 s"
fi
cl_show_states

echo "---- load to node1..node4 for 9 s; kill -9 the leader after 3 s"
LOAD_ERRORS=1 load failover 11 9 400 1 2 3 4
sleep 3
seq_before=$(cl_seq 1)
cl_kill9 0
# What the dead leader had logged: an order acked that is not in it was
# sequenced by the next leader.
cl_journal_ids 0 >"$CL_TMP/node0-at-kill.ids"
echo "  killed node0 at seq $seq_before ($(wc -l <"$CL_TMP/node0-at-kill.ids") orders in its journal)"
leader=
limit=$((SECONDS + 20))
while [ -z "$leader" ] && [ $SECONDS -lt $limit ]; do
    sleep 0.5
    for i in 1 2 3 4; do
        if jq -e '.role == "leader" and .term >= 2' "$(cl_status "$i")" >/dev/null 2>&1; then
            leader=$i
        fi
    done
done
if [ -n "$leader" ]; then
    pass "node$leader was elected leader of term $(jq -r .term "$(cl_status "$leader")") without node0"
else
    fail "no new leader within 20 s of the leader's death"
fi
wait "$LOAD_PID"
rc=$?
CL_OTHER_PIDS=()
cat "$CL_TMP/failover.json"
check "failover: test-client exits 0 (error threshold 1)" [ $rc -eq 0 ]
new=$(cl_acked_ids "$CL_TMP/failover.acked" | comm -23 - "$CL_TMP/node0-at-kill.ids" | wc -l)
check "failover: $new acked orders were sequenced by the new leader" [ "$new" -gt 0 ]
seq_after=$(cl_seq "${leader:-1}")
check "the log went on under the new leader (seq $seq_before -> $seq_after)" \
    [ "${seq_after:-0}" -gt "${seq_before:-0}" ]
# Every acked block was held by a majority before its ack; node0 comes back
# as a follower, catches up, and then every node holds all of them.
echo "---- restart node0 on the same data folder"
cl_start 0 --election-timeout 500ms
cl_wait_ready 0 || abort "node0 did not come back"
cat "$CL_TMP/ring.acked" >>"$CL_TMP/failover.acked"
converge_and_check failover

exit $CL_FAILED
