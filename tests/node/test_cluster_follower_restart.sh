#!/bin/bash
# A follower killed with SIGKILL under load, and restarted on the same data
# folder while the load goes on, catches up: at the end every node has the same
# seq and state hash. Needs LX_BIN; loopback only.
set -u
# shellcheck disable=SC2034 # read by cluster_lib.sh
NODES=3
. "$(dirname "${BASH_SOURCE[0]}")/cluster_lib.sh"
cl_init

echo "---- start a 3-node cluster"
cl_start_all

echo "---- load: 1000 orders/s for 14 s to node0 and node1"
"$LX_BIN/test-client" --nodes "$(cl_endpoints 0 1)" --duration 14s --rate 1000 --seed 11 \
    --acked-log "$CL_TMP/acked.log" --json >"$CL_TMP/client.json" 2>"$CL_TMP/client.log" &
client=$!
CL_OTHER_PIDS+=("$client")

sleep 3
before=$(cl_seq 2)
echo "---- SIGKILL node2 (its seq was $before)"
cl_kill9 2
sleep 3
leader_then=$(cl_seq 0)
echo "---- restart node2 on the same data folder (the leader is at seq $leader_then)"
cl_start 2
cl_wait_ready 2 || abort "node2 did not come back"
pass "node2 restarted and is ready"

wait "$client"
rc=$?
CL_OTHER_PIDS=()
cat "$CL_TMP/client.json"
check "test-client exits 0" [ $rc -eq 0 ]
acked=$(cl_json "$CL_TMP/client.json" '.acked // 0')
check "orders were acknowledged (acked=$acked)" [ "${acked:-0}" -gt 0 ]

echo "---- convergence"
if cl_wait_converged 40; then
    pass "node2 caught up: all nodes report the same seq and state hash"
else
    fail "the nodes did not converge within 40 s after the restart"
fi
cl_show_states
after=$(cl_seq 2)
check "node2 moved past the blocks it missed (seq $before -> $after, leader was at $leader_then when it restarted)" \
    [ "${after:-0}" -gt "${leader_then:-0}" ]

echo "---- stop the cluster"
cl_stop_all
check "the status.json written at shutdown agree" cl_same_state
cl_show_states
cl_check_acked_in_journal "$CL_TMP/acked.log" 0
out=$("$LX_BIN/lx-journal" --data-dir "$(cl_data 2)" --verify 2>&1)
check "lx-journal --verify of node2's journal exits 0" [ $? -eq 0 ]
got=$(printf '%s\n' "$out" | tail -n 1 | jq -r '.state_hash' 2>/dev/null)
check "node2's journal replays to the cluster's state hash" [ "$got" = "$(jq -r .state_hash "$(cl_status 0)")" ]

exit $CL_FAILED
