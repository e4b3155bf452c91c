#!/bin/bash
# A 3-node cluster under test-client load, with orders sent to every node (the
# followers forward theirs to the leader), ends with the same seq and state
# hash on every node; every acknowledged order is in the leader's journal, and
# every journal verifies. Needs LX_BIN; loopback only.
set -u
# shellcheck disable=SC2034 # read by cluster_lib.sh
NODES=3
. "$(dirname "${BASH_SOURCE[0]}")/cluster_lib.sh"
cl_init

echo "---- start a 3-node cluster"
cl_start_all

echo "---- load: 2000 orders/s for 5 s over all three nodes"
"$LX_BIN/test-client" --nodes "$(cl_endpoints)" --duration 5s --rate 2000 --seed 7 \
    --acked-log "$CL_TMP/acked.log" --json >"$CL_TMP/client.json" 2>"$CL_TMP/client.log"
rc=$?
cat "$CL_TMP/client.json"
check "test-client exits 0" [ $rc -eq 0 ]
acked=$(cl_json "$CL_TMP/client.json" '.acked // 0')
fills=$(cl_json "$CL_TMP/client.json" '.fills // 0')
errors=$(cl_json "$CL_TMP/client.json" '.errors // 0')
check "orders were acknowledged (acked=$acked)" [ "${acked:-0}" -gt 0 ]
check "orders filled (fills=$fills)" [ "${fills:-0}" -gt 0 ]
check "no client errors (errors=$errors)" [ "${errors:-1}" -eq 0 ]

echo "---- load in batch frames: cancels go in CANCEL_BATCH frames"
"$LX_BIN/test-client" --nodes "$(cl_endpoints)" --duration 3s --rate 8000 --batch 32 --seed 8 \
    --cancel-ratio 0.3 --json >"$CL_TMP/client_batch.json" 2>"$CL_TMP/client_batch.log"
rc=$?
cat "$CL_TMP/client_batch.json"
check "test-client --batch 32 exits 0" [ $rc -eq 0 ]
cs=$(cl_json "$CL_TMP/client_batch.json" '.cancels_sent // 0')
cf=$(cl_json "$CL_TMP/client_batch.json" '.cancel_frames // 0')
cd_=$(cl_json "$CL_TMP/client_batch.json" '.cancelled // 0')
cm=$(cl_json "$CL_TMP/client_batch.json" '.cancel_misses // 0')
errors=$(cl_json "$CL_TMP/client_batch.json" '.errors // 0')
check "no client errors in batch frames (errors=$errors)" [ "${errors:-1}" -eq 0 ]
check "cancels went several to a frame ($cs cancels in $cf frames)" \
    [ "$((${cf:-0} > 0 && ${cf:-0} * 2 < ${cs:-0}))" -eq 1 ]
check "every cancel answered once (cancelled $cd_ + gone $cm = sent $cs)" \
    [ "$((${cs:-0} > 0 && ${cd_:-0} + ${cm:-0} == ${cs:-0}))" -eq 1 ]
check "some cancels took an order off the book (cancelled=$cd_)" [ "${cd_:-0}" -gt 0 ]

echo "---- load with --busy-poll: the client never sleeps, every order answered"
"$LX_BIN/test-client" --nodes "$(cl_endpoints)" --duration 1s --rate 2000 --seed 9 --busy-poll \
    --json >"$CL_TMP/client_busy.json" 2>"$CL_TMP/client_busy.log"
rc=$?
cat "$CL_TMP/client_busy.json"
check "test-client --busy-poll exits 0" [ $rc -eq 0 ]
busy_ok() { jq -e '.busy_poll == true and .sent >= 1900 and .acked + .rejected == .sent and .errors == 0' "$1" >/dev/null; }
check "its summary says busy_poll, and every order sent was answered" busy_ok "$CL_TMP/client_busy.json"

echo "---- convergence"
if cl_wait_converged 30; then
    pass "all 3 nodes report the same seq and state hash"
else
    fail "the nodes did not converge within 30 s"
fi
cl_show_states
for i in 1 2; do
    n=$(jq -r '.msgs_in // 0' "$(cl_status "$i")" 2>/dev/null)
    check "follower node$i received messages (msgs_in=$n)" [ "${n:-0}" -gt 0 ]
done
for i in 0 1 2; do
    mm=$(jq -r '.hash_mismatches' "$(cl_status "$i")" 2>/dev/null)
    check "node$i reports no hash mismatch (hash_mismatches=$mm)" [ "$mm" = 0 ]
done

echo "---- stop the cluster"
cl_stop_all
if cl_same_state; then
    pass "the status.json written at shutdown agree on seq and state hash"
else
    fail "the status.json written at shutdown differ"
fi
cl_show_states

echo "---- journals"
cl_check_acked_in_journal "$CL_TMP/acked.log" 0
want=$(jq -r '.state_hash' "$(cl_status 0)")
for i in 0 1 2; do
    out=$("$LX_BIN/lx-journal" --data-dir "$(cl_data "$i")" --verify 2>&1)
    rc=$?
    check "lx-journal --verify node$i exits 0" [ $rc -eq 0 ]
    got=$(printf '%s\n' "$out" | tail -n 1 | jq -r '.state_hash' 2>/dev/null)
    check "node$i's journal replays to the cluster's state hash" [ "$got" = "$want" ]
done

exit $CL_FAILED
