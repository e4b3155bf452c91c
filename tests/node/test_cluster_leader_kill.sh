#!/bin/bash
# kill -9 of the leader loses no acknowledged order: under load sent to the
# leader with --acked-log, the leader is killed mid-run and restarted on the
# same data folder; every acknowledged order id is then in its journal, and
# the cluster converges again. Needs LX_BIN; loopback only.
set -u
# shellcheck disable=SC2034 # read by cluster_lib.sh
NODES=3
. "$(dirname "${BASH_SOURCE[0]}")/cluster_lib.sh"
cl_init

echo "---- start a 3-node cluster"
cl_start_all

echo "---- load: 1000 orders/s for 12 s to the leader (errors allowed while it is down)"
"$LX_BIN/test-client" --nodes "$(cl_endpoints 0)" --duration 12s --rate 1000 --seed 13 \
    --error-threshold 1 --acked-log "$CL_TMP/acked.log" --json \
    >"$CL_TMP/client.json" 2>"$CL_TMP/client.log" &
client=$!
CL_OTHER_PIDS+=("$client")

sleep 4
seq_before=$(cl_seq 0)
echo "---- kill -9 the leader (status.json seq $seq_before, acked so far: $(wc -l <"$CL_TMP/acked.log"))"
cl_kill9 0
sleep 1
echo "---- restart node0 on the same data folder"
cl_start 0
cl_wait_ready 0 || abort "node0 did not come back"
pass "node0 restarted and is ready"

wait "$client"
rc=$?
CL_OTHER_PIDS=()
cat "$CL_TMP/client.json"
check "test-client exits 0 (error threshold 1)" [ $rc -eq 0 ]
acked=$(cl_json "$CL_TMP/client.json" '.acked // 0')
check "orders were acknowledged (acked=$acked)" [ "${acked:-0}" -gt 0 ]

echo "---- convergence"
if cl_wait_converged 40; then
    pass "the cluster converged again after the leader's restart"
else
    fail "the nodes did not converge within 40 s"
fi
cl_show_states
seq_after=$(cl_seq 0)
check "the log went on after the restart (seq $seq_before -> $seq_after)" \
    [ "${seq_after:-0}" -gt "${seq_before:-0}" ]

echo "---- stop the cluster"
cl_stop_all
check "the status.json written at shutdown agree" cl_same_state
cl_show_states

echo "---- no acknowledged order was lost"
cl_check_acked_in_journal "$CL_TMP/acked.log" 0
for i in 1 2; do
    cl_check_acked_in_journal "$CL_TMP/acked.log" "$i"
done
"$LX_BIN/lx-journal" --data-dir "$(cl_data 0)" --verify >/dev/null 2>&1
check "lx-journal --verify of the restarted leader's journal exits 0" [ $? -eq 0 ]

exit $CL_FAILED
