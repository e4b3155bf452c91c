#!/bin/bash
# Two clusters whose peer lists cross do not mix. node0 leads cluster A; in
# the place of its peer node1 runs a node of cluster B (--cluster-id differs)
# that lists node0 as its peer. node0 serves a load alone (--ack-quorum
# local) and keeps its term; the B node applies none of A's blocks (its PUB,
# links and elections reach node0 and are refused, node0's reach it and are
# refused), and both log the refusals and count them in status.json. The B
# node's data folder is B's: restarted on it as a node of A, it refuses to
# start. Restarted as a node of A on an empty folder, it catches up: the
# refusal was the cluster id's doing. Needs LX_BIN; loopback only.
set -u
# shellcheck disable=SC2034 # read by cluster_lib.sh
NODES=2
. "$(dirname "${BASH_SOURCE[0]}")/cluster_lib.sh"
cl_init
A=$CL_CLUSTER_ID
B=$CL_CLUSTER_ID-other

echo "---- node0 leads cluster $A; node1's place is taken by a node of cluster $B"
cl_start 0 --ack-quorum local --election-timeout 500ms
cl_start 1 --cluster-id "$B" --election-timeout 500ms
cl_wait_ready 0 || abort "node0 did not start"
cl_wait_ready 1 || abort "node1 did not start"
"$LX_BIN/test-client" --nodes "$(cl_endpoint 0)" --wait-ready 30s >"$CL_TMP/wait-ready.log" 2>&1 ||
    abort "node0 did not answer a PING"

echo "---- load: 500 orders/s for 3 s to node0"
cl_client client --nodes "$(cl_endpoint 0)" --duration 3s --rate 500 --seed 5
sent=$(cl_json "$CL_TMP/client.json" '.sent // 0')
answered=$(cl_json "$CL_TMP/client.json" '(.acked // 0) + (.rejected // 0)')
check "node0 was sent at least 1000 orders ($sent)" [ "${sent:-0}" -ge 1000 ]
check "every order to node0 was answered ($answered of $sent)" [ "$answered" = "$sent" ]
sleep 2 # the B node's elections time out a few times meanwhile

s0=$(cl_status 0)
s1=$(cl_status 1)
echo "  node0: $(jq -c '{role, term, seq, cluster, foreign_refused}' "$s0")"
echo "  node1: $(jq -c '{role, term, seq, cluster, foreign_refused}' "$s1")"
check "node0 is still the leader of term 1" [ "$(jq -r '"\(.role) \(.term)"' "$s0")" = "leader 1" ]
check "node0 cut blocks (seq $(jq -r .seq "$s0"))" [ "$(jq -r .seq "$s0")" -ge 2 ]
check "the node of cluster $B holds none of node0's blocks (seq $(jq -r .seq "$s1"))" \
    [ "$(jq -r .seq "$s1")" = 0 ]
check "status.json names each node's cluster" \
    [ "$(jq -r .cluster "$s0") $(jq -r .cluster "$s1")" = "$A $B" ]
check "node0 counted messages of the other cluster ($(jq -r .foreign_refused "$s0"))" \
    [ "$(jq -r .foreign_refused "$s0")" -gt 0 ]
check "node1 counted messages of the other cluster ($(jq -r .foreign_refused "$s1"))" \
    [ "$(jq -r .foreign_refused "$s1")" -gt 0 ]
check "node0 logs the refusal, naming node1" log_has 0 "WARNING: refusing .* from node node1 of another cluster"
check "node1 logs the refusal, naming node0" log_has 1 "WARNING: refusing .* from node node0 of another cluster"
grep -m1 "another cluster" "$CL_TMP/node0.log"

echo "---- node1's data folder belongs to cluster $B: restarted as a node of $A on it, it refuses"
cl_stop 1
check "node1's data folder records its cluster" \
    [ "$(head -n 1 "$(cl_data 1)/cluster" 2>/dev/null)" = "cluster $B" ]
cl_start 1 --election-timeout 500ms
wait "${CL_PIDS[1]}"
st=$?
CL_PIDS[1]=
check "node1 exits 2 at once (got $st)" [ $st -eq 2 ]
check "node1 says whose folder it is" log_has 1 "FATAL: .* holds the log of cluster $B .* started with --cluster-id $A"

echo "---- node1 restarted as a node of cluster $A on an empty data folder"
rm -rf "$(cl_data 1)"
cl_start 1 --election-timeout 500ms
cl_wait_ready 1 || abort "node1 did not come back"
if cl_wait_converged 40; then
    pass "node1 caught up with node0: the same seq and state hash"
else
    fail "node1 did not catch up within 40 s"
fi
cl_show_states
check "node0 is still the leader of term 1" [ "$(jq -r '"\(.role) \(.term)"' "$s0")" = "leader 1" ]

cl_stop_all
exit $CL_FAILED
