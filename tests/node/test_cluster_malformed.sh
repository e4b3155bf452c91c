#!/bin/bash
# Malformed frames sent to every node of a running cluster get ERROR replies
# (test-client --malformed checks them) and take no node down; a normal load
# afterwards still works and the cluster converges. Needs LX_BIN; loopback only.
set -u
# shellcheck disable=SC2034 # read by cluster_lib.sh
NODES=3
. "$(dirname "${BASH_SOURCE[0]}")/cluster_lib.sh"
cl_init

echo "---- start a 3-node cluster"
cl_start_all

sleep 1.5 # status.json is rewritten about once a second
seq_before=$(cl_seq 0)
for i in 0 1 2; do
    echo "---- malformed frames to node$i"
    "$LX_BIN/test-client" --nodes "$(cl_endpoint "$i")" --malformed 300 --seed $((20 + i)) \
        >"$CL_TMP/malformed$i.out" 2>"$CL_TMP/malformed$i.log"
    rc=$?
    tail -n 3 "$CL_TMP/malformed$i.out" "$CL_TMP/malformed$i.log"
    check "test-client --malformed 300 against node$i exits 0" [ $rc -eq 0 ]
done
for i in 0 1 2; do
    check "node$i is still running" kill -0 "${CL_PIDS[$i]}"
done
sleep 1.5
seq_after=$(cl_seq 0)
check "the malformed frames added nothing to the log (seq $seq_before -> $seq_after)" \
    [ "$seq_before" = "$seq_after" ]

echo "---- a normal load afterwards: 500 orders/s for 3 s over all nodes"
cl_client client --nodes "$(cl_endpoints)" --duration 3s --rate 500 --seed 5
acked=$(cl_json "$CL_TMP/client.json" '.acked // 0')
check "orders were acknowledged (acked=$acked)" [ "${acked:-0}" -gt 0 ]
if cl_wait_converged 30; then
    pass "all nodes report the same seq and state hash"
else
    fail "the nodes did not converge within 30 s"
fi
cl_show_states

echo "---- stop the cluster"
cl_stop_all

exit $CL_FAILED
