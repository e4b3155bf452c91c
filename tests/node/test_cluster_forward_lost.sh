#!/bin/bash
# A follower tells its clients when the answer to a forwarded request will not
# come: 3 nodes, a client sending single orders to node1 only (so every order
# is forwarded), the leader frozen with SIGSTOP mid-run. The orders node1
# forwarded to the frozen leader are answered ERROR outcome_unknown as soon as
# node1 learns of the next term, not left unanswered: the client counts them
# as errors, not as timeouts, and node1's status.json counts them. The
# requests that reach node1 while it restarts in-process into the leader
# role wait in its ROUTER, which the restart keeps, and are answered by the
# new leader: no request times out. Needs LX_BIN; loopback only.
set -u
# shellcheck disable=SC2034 # read by cluster_lib.sh
NODES=3
. "$(dirname "${BASH_SOURCE[0]}")/cluster_lib.sh"
cl_init

echo "---- start a 3-node cluster"
cl_start_all

echo "---- 200 orders/s for 8 s to node1 alone; the leader is frozen after 3 s"
"$LX_BIN/test-client" --nodes "$(cl_endpoint 1)" --duration 8s --rate 200 --seed 21 \
    --error-threshold 1 --drain 5s --json >"$CL_TMP/client.json" 2>"$CL_TMP/client.log" &
client=$!
CL_OTHER_PIDS+=("$client")
sleep 3
kill -STOP "${CL_PIDS[0]}"
cl_on_exit "kill -CONT ${CL_PIDS[0]} 2>/dev/null"
echo "---- node0 frozen at $(date +%T.%N | cut -c1-12)"

wait "$client"
rc=$?
CL_OTHER_PIDS=()
cat "$CL_TMP/client.json"
grep 'ERROR' "$CL_TMP/client.log"
check "test-client exits 0 (error threshold 1)" [ $rc -eq 0 ]
errors=$(cl_json "$CL_TMP/client.json" '.errors // 0')
timeouts=$(cl_json "$CL_TMP/client.json" '.timeouts // 0')
acked=$(cl_json "$CL_TMP/client.json" '.acked // 0')
unknown=$(sed -n 's/.*ERROR outcome_unknown: \([0-9]*\).*/\1/p' "$CL_TMP/client.log")
check "orders forwarded to the frozen leader were answered outcome_unknown (${unknown:-0})" \
    [ "${unknown:-0}" -gt 0 ]
# Without the answers every one of them would have timed out; without the
# ROUTER kept across node1's restart, the few in flight then would.
check "no request timed out (timeouts $timeouts, errors $errors)" [ "${timeouts:-1}" -eq 0 ]
check "orders were acknowledged after the new leader took over (acked $acked)" \
    [ "${acked:-0}" -gt 0 ]
told=$(jq -r '.forwards_unknown' "$(cl_status 1)")
check "node1 counts them in status.json (forwards_unknown $told)" [ "${told:-0}" -ge "${unknown:-1}" ]
check "node1 logged them" log_has 1 'forwarded requests answered outcome_unknown'

echo "---- thaw node0; the cluster converges"
kill -CONT "${CL_PIDS[0]}"
if cl_wait_converged 40; then
    pass "the three nodes converged"
else
    fail "the nodes did not converge within 40 s"
fi
cl_stop_all
cl_show_states
exit $CL_FAILED
