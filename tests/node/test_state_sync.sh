#!/bin/bash
# Journal compaction and state sync. Three nodes snapshot every 50 blocks
# into 8 KiB journal segments, so the leader's journal is compacted under
# load. Two followers are stopped: node1 keeps its data (and falls behind
# what the leader still holds), node2's data folder is wiped. Restarted, both
# must fetch the leader's snapshot (in many small parts), verify and install
# it, restart from it and catch up to the cluster's seq and state hash. A
# follower restarted afterwards recovers from its own snapshot and journal;
# every node restarted after compaction comes back at the seq and state hash
# it stopped at. Needs LX_BIN; loopback only.
set -u
# shellcheck disable=SC2034 # read by cluster_lib.sh
NODES=3
. "$(dirname "${BASH_SOURCE[0]}")/cluster_lib.sh"
cl_init

OPTS=(--snapshot-every 50 --journal-segment-bytes 8192 --fsync off)
# Parts of 16 KiB instead of 4 MiB, so that the snapshot goes in many parts.
export LX_STATESYNC_PART_BYTES=16384

echo "---- start a 3-node cluster: ${OPTS[*]}"
cl_start_all "${OPTS[@]}"

echo "---- load: 1500 orders/s for 12 s to node0"
"$LX_BIN/test-client" --nodes "$(cl_endpoints 0)" --duration 12s --rate 1500 --seed 21 \
    --acked-log "$CL_TMP/acked.log" --json >"$CL_TMP/client.json" 2>"$CL_TMP/client.log" &
client=$!
CL_OTHER_PIDS+=("$client")

sleep 2
cl_stop 1
behind=$(cl_seq 1)
echo "---- stopped node1 at seq $behind (data kept)"

# snap_phase I: "R" when every snapshot node I logged is at a seq R mod 50
# (the seqs 50 apart, at least two), else "none".
snap_phase() {
    grep -Eo 'snapshot at seq [0-9]+: ' "$CL_TMP/node$1.log" | grep -Eo '[0-9]+' |
        awk '{ if (n++ && $1 - last != 50) bad = 1; last = $1; r = $1 % 50 }
             END { if (n < 2 || bad) print "none"; else print r }'
}
p0=$(snap_phase 0)
p1=$(snap_phase 1)
phases_ok() { [ "$p0" != none ] && [ "$p1" != none ] && [ "$p0" != "$p1" ]; }
check "node0 and node1 snapshot every 50 blocks, each at its own phase ($p0, $p1)" phases_ok

# The leader and node2 are a majority: blocks go on being acknowledged and
# applied, so the leader snapshots and compacts. Only then is node2 stopped.
limit=$((SECONDS + 15))
while [ "$(first_segment 0)" -le $((behind + 1)) ] && [ $SECONDS -lt $limit ]; do sleep 0.3; done
first=$(first_segment 0)
check "the leader compacted its journal past node1's next block (it starts at block $first)" \
    [ "$first" -gt $((behind + 1)) ]
check "the leader logged the compaction" log_has 0 "compacted the journal behind seq"
cl_stop 2
rm -rf "$(cl_data 2)"
echo "---- stopped node2 (data folder wiped)"

echo "---- restart node1 and node2 under load"
cl_start 1 "${OPTS[@]}"
cl_start 2 "${OPTS[@]}"
# installed_seq I: the seq of the first snapshot node I installed.
installed_seq() {
    grep -Eo 'installed the snapshot at seq [0-9]+' "$CL_TMP/node$1.log" | head -n 1 | grep -Eo '[0-9]+$'
}
for i in 1 2; do
    limit=$((SECONDS + 30))
    while [ $SECONDS -lt $limit ]; do
        snap=$(installed_seq "$i")
        [ -n "$snap" ] && grep -Eq "recovered seq $snap \(snapshot $snap, 0 blocks" "$CL_TMP/node$i.log" && break
        sleep 0.3
    done
    for step in "state sync: requesting a snapshot from node0" \
        "state sync: received [0-9]+ bytes of the snapshot at seq [0-9]+ in [0-9]+ parts" \
        "state sync: verified the snapshot at seq" \
        "state sync: installed the snapshot at seq" \
        "restarting: installed snapshot at seq"; do
        check "node$i logged: $step" grep -Eq "$step" "$CL_TMP/node$i.log"
    done
    parts=$(grep -Eo 'in [0-9]+ parts' "$CL_TMP/node$i.log" | tail -n 1 | grep -Eo '[0-9]+')
    check "node$i received the snapshot in more than one part ($parts)" [ "${parts:-0}" -gt 1 ]
    snap=$(installed_seq "$i")
    check "node$i recovered from the installed snapshot at seq $snap with an empty journal" \
        grep -Eq "recovered seq $snap \(snapshot $snap, 0 blocks replayed\)" "$CL_TMP/node$i.log"
done
check "node0 logged serving a snapshot" log_has 0 "state sync: serving the snapshot at seq"

wait "$client"
rc=$?
CL_OTHER_PIDS=()
check "test-client exits 0" [ $rc -eq 0 ]

echo "---- convergence"
if cl_wait_converged 30; then
    pass "the synced nodes caught up: all nodes report the same seq and state hash"
else
    fail "the nodes did not converge within 30 s"
fi
cl_show_states
for i in 1 2; do
    n=$(jq -r '.state_syncs' "$(cl_status "$i")")
    check "node$i counts one state sync in status.json (state_syncs $n)" [ "$n" = 1 ]
    h=$(jq -r '.hash_mismatches' "$(cl_status "$i")")
    check "node$i saw no state hash mismatch ($h)" [ "$h" = 0 ]
done
check "node0 did not sync (state_syncs 0)" [ "$(jq -r '.state_syncs' "$(cl_status 0)")" = 0 ]
check "node2's journal starts after its installed snapshot (block $(first_segment 2))" \
    [ "$(first_segment 2)" -gt 1 ]

echo "---- restart node2 on its own snapshot and journal"
cl_stop 2
cl_start 2 "${OPTS[@]}"
cl_wait_ready 2 || abort "node2 did not come back"
check "node2 recovered from a snapshot of its own" \
    log_has 2 "recovered seq [0-9]+ \(snapshot [1-9][0-9]*, [0-9]+ blocks replayed\)"
sleep 1
check "node2 did not state-sync again" bash -c "! awk '/^==== start /{r=0} /state sync: requesting/{r=1} END{exit !r}' '$CL_TMP/node2.log'"
if cl_wait_converged 20; then pass "node2 is back at the cluster's seq and state hash"; else fail "node2 did not converge after its restart"; fi

echo "---- stop the cluster and restart every node after compaction"
cl_stop_all
declare -a before
for i in 0 1 2; do before[i]=$(cl_state "$i"); done
cl_show_states
for i in 0 1 2; do cl_start "$i" "${OPTS[@]}"; done
for i in 0 1 2; do
    cl_wait_ready "$i" || abort "node$i did not restart"
    seq=${before[i]%% *}
    hash=${before[i]##* }
    check "node$i recovered to seq $seq and state hash ${hash:0:16}..." \
        log_has "$i" "recovered seq $seq \(snapshot [1-9][0-9]*, [0-9]+ blocks replayed\) state hash $hash"
done
cl_stop_all

out=$("$LX_BIN/lx-journal" --data-dir "$(cl_data 0)" --verify 2>&1)
check "lx-journal --verify of the leader's compacted journal exits 0" [ $? -eq 0 ]
got=$(printf '%s\n' "$out" | tail -n 1 | jq -r '.state_hash' 2>/dev/null)
check "it replays to the cluster's state hash" [ "$got" = "${before[0]##* }" ]

exit $CL_FAILED
