#!/bin/bash
# A node bound to one address (--bind) connects to its peers from that
# address too: two nodes on 127.0.0.11 and 127.0.0.12 (both on lo), and every
# established connection between them must come from the connecting node's own
# address, not from 127.0.0.1. The partition test depends on it: its firewall
# rules tell the nodes apart by address. Needs LX_BIN; loopback only.
set -u
# shellcheck disable=SC2034 # read by cluster_lib.sh
NODES=2
. "$(dirname "${BASH_SOURCE[0]}")/cluster_lib.sh"
cl_init
CL_HOSTS=(127.0.0.11 127.0.0.12)

echo "---- start node0 on 127.0.0.11 and node1 on 127.0.0.12"
cl_start_all

# conns I J: "local peer" of every established TCP connection from node I's
# process to node J's SUB (base+1) or peer inbox (base+3).
conns() {
    local pj
    pj=$(cl_port "$2")
    ss -tnpH state established "( dport = :$((pj + 1)) or dport = :$((pj + 3)) )" 2>/dev/null |
        grep "pid=${CL_PIDS[$1]}," | awk '{print $3, $4}'
}

for pair in "0 1" "1 0"; do
    read -r i j <<<"$pair"
    limit=$((SECONDS + 10))
    # Both links (PUB -> SUB, DEALER -> inbox) come up within a heartbeat or two.
    while [ "$(conns "$i" "$j" | wc -l)" -lt 2 ] && [ $SECONDS -lt $limit ]; do sleep 0.2; done
    c=$(conns "$i" "$j")
    echo "  node$i -> node$j (local peer):"
    printf '%s\n' "$c" | sed 's/^/    /'
    n=$(printf '%s\n' "$c" | grep -c .)
    check "node$i has 2 connections to node$j's peer ports (found $n)" [ "$n" -ge 2 ]
    wrong=$(printf '%s\n' "$c" | grep -c -v "^${CL_HOSTS[$i]}:" || true)
    [ -n "$c" ] || wrong=0
    check "every connection of node$i to node$j comes from ${CL_HOSTS[$i]}" test "$n" -ge 1 -a "$wrong" -eq 0
done

echo "---- the cluster works across the two addresses"
cl_run "$LX_BIN/test-client" --nodes "$(cl_endpoints)" --duration 2s --rate 500 --seed 5 \
    --acked-log "$CL_TMP/acked.log" --json >"$CL_TMP/client.json" 2>"$CL_TMP/client.log"
check "test-client exits 0" [ $? -eq 0 ]
if cl_wait_converged 20; then pass "both nodes reach the same seq and state hash"; else fail "the nodes did not converge"; fi
cl_show_states
cl_check_acked_in_journal "$CL_TMP/acked.log" 1

cl_stop_all
exit $CL_FAILED
