#!/bin/bash
# Network partitions in a private network namespace: 3 nodes bound to
# 127.0.0.11-13 inside a fresh namespace, and iptables rules there that drop
# every packet between one node's address and the others' for 5 s.
#
#   1. a follower cut off: it acknowledges nothing and stops advancing while
#      the leader and the other follower go on; healed, it catches up.
#   2. the leader cut off: alone it acknowledges nothing (majority quorum),
#      the other two elect a new leader with a higher term and go on
#      acknowledging; healed, the old leader rejoins as a follower.
#
# After each, all 3 nodes reach the same seq and state hash, and every order
# id any client saw acknowledged is in every node's journal. Needs root, ip
# and iptables; otherwise it prints SKIP and exits 77 (ctest: skipped).
set -u
SKIP=77
skip() {
    echo "SKIP: $*"
    exit $SKIP
}
[ "$(id -u)" -eq 0 ] || skip "needs root for a network namespace and iptables"
command -v ip >/dev/null 2>&1 || skip "ip (iproute2) is missing"
command -v iptables >/dev/null 2>&1 || skip "iptables is missing"

# shellcheck disable=SC2034 # read by cluster_lib.sh
NODES=3
. "$(dirname "${BASH_SOURCE[0]}")/cluster_lib.sh"
cl_init

NS=lxp-$$
ip netns add "$NS" 2>"$CL_TMP/netns.err" || skip "ip netns add failed: $(head -c 200 "$CL_TMP/netns.err")"
cl_on_exit ip netns del "$NS"
ip netns exec "$NS" ip link set lo up 2>"$CL_TMP/netns.err" || skip "lo up in the namespace failed: $(head -c 200 "$CL_TMP/netns.err")"
ip netns exec "$NS" iptables -S >/dev/null 2>"$CL_TMP/netns.err" || skip "iptables in the namespace failed: $(head -c 200 "$CL_TMP/netns.err")"
# shellcheck disable=SC2034 # read by cluster_lib.sh
CL_PREFIX=(ip netns exec "$NS")
CL_HOSTS=(127.0.0.11 127.0.0.12 127.0.0.13)
echo "---- namespace $NS: node i on 127.0.0.(11+i)"

# rules A|D I: add (-A) or delete (-D) the rules that cut node I off.
rules() {
    local op=$1 me=${CL_HOSTS[$2]} j
    for ((j = 0; j < NODES; j++)); do
        [ "$j" -eq "$2" ] && continue
        cl_run iptables "$op" INPUT -s "$me" -d "${CL_HOSTS[$j]}" -j DROP || return 1
        cl_run iptables "$op" INPUT -s "${CL_HOSTS[$j]}" -d "$me" -j DROP || return 1
    done
}
partition() { rules -A "$1" || abort "iptables could not add the partition rules"; }
heal() { rules -D "$1" || abort "iptables could not delete the partition rules"; }
field() { jq -r ".$2 // empty" "$(cl_status "$1")" 2>/dev/null; }
# leader_node: the index of the node whose status.json says leader (one line each).
leader_nodes() {
    local i
    for ((i = 0; i < NODES; i++)); do [ "$(field "$i" role)" = leader ] && echo "$i"; done
}
# client NAME SEED ARGS...: test-client in the namespace, in the background,
# its acked ids in CL_TMP/NAME.acked; sets CLIENT_PID.
client() {
    local name=$1 seed=$2
    shift 2
    "${CL_PREFIX[@]}" "$LX_BIN/test-client" --seed "$seed" --acked-log "$CL_TMP/$name.acked" --json "$@" \
        >"$CL_TMP/$name.json" 2>"$CL_TMP/$name.log" &
    CLIENT_PID=$!
    CL_OTHER_PIDS+=("$CLIENT_PID")
}
acked() { cl_json "$CL_TMP/$1.json" '.acked // 0'; }
all_acked_in_journals() {
    cat "$CL_TMP"/*.acked >"$CL_TMP/all-acked.txt"
    local i
    for ((i = 0; i < NODES; i++)); do cl_check_acked_in_journal "$CL_TMP/all-acked.txt" "$i"; done
}

echo "---- start 3 nodes and fund the accounts (1 s of load over all nodes)"
cl_start_all
client fund 21 --nodes "$(cl_endpoints)" --duration 1s --rate 500
wait "$CLIENT_PID"
check "the funding run exits 0" [ $? -eq 0 ]

# ----------------------------------------------------------------------------
echo "---- 1. cut follower node2 off for 5 s"
partition 2
t_cut=$SECONDS
# status.json is rewritten once a second: read the cut-off node's seq once
# it reflects the cut.
sleep 1.5
s2_before=$(cl_seq 2)
s0_before=$(cl_seq 0)
# The minority's client: node2 only, funded accounts, no funding requests.
client minority1 22 --nodes "$(cl_endpoints 2)" --duration 2s --rate 200 --funding none \
    --error-threshold 1 --drain 1s --quiet
c_min=$CLIENT_PID
client majority1 23 --nodes "$(cl_endpoints 0 1)" --duration 2s --rate 500 --funding none \
    --error-threshold 1 --quiet
c_maj=$CLIENT_PID
wait "$c_min"
wait "$c_maj"
s2_during=$(cl_seq 2)
s0_during=$(cl_seq 0)
echo "  node2 seq $s2_before -> $s2_during, node0 seq $s0_before -> $s0_during"
echo "  acked through node2: $(acked minority1), through node0+node1: $(acked majority1)"
check "the cut-off follower acknowledged nothing" [ "$(acked minority1)" = 0 ]
check "the cut-off follower did not advance" [ "$s2_during" = "$s2_before" ]
check "the majority went on acknowledging ($(acked majority1) acked)" [ "$(acked majority1)" -gt 0 ]
check "the majority's log advanced" [ "$s0_during" -gt "$s0_before" ]
# The cut lasts 5 s.
while [ $((SECONDS - t_cut)) -lt 5 ]; do sleep 0.2; done
heal 2
if cl_wait_converged 30; then pass "healed: all 3 nodes reach the same seq and state hash"; else fail "healed: the nodes did not converge within 30 s"; fi
cl_show_states
all_acked_in_journals

# ----------------------------------------------------------------------------
L=$(leader_nodes)
[ "$(echo "$L" | wc -w)" -eq 1 ] || abort "not exactly one leader before the leader partition: '$L'"
T0=$(field "$L" term)
others=()
for ((i = 0; i < NODES; i++)); do [ "$i" -ne "$L" ] && others+=("$i"); done
echo "---- 2. cut the leader node$L (term $T0) off for 5 s"
partition "$L"
t_cut=$SECONDS
sL_before=$(cl_seq "$L")
cL_before=$(field "$L" commit_seq)
client minority2 24 --nodes "$(cl_endpoints "$L")" --duration 4s --rate 200 --funding none \
    --error-threshold 1 --drain 1s --quiet
c_min=$CLIENT_PID
client majority2 25 --nodes "$(cl_endpoints "${others[@]}")" --duration 4s --rate 500 --funding none \
    --error-threshold 1 --drain 2s --quiet
c_maj=$CLIENT_PID
# A new leader among the other two, with a higher term, within 3 s.
# (status.json is rewritten once a second, so it tells up to a second late.)
newL=
while [ $((SECONDS - t_cut)) -lt 4 ]; do
    for i in "${others[@]}"; do
        t=$(field "$i" term)
        if [ "$(field "$i" role)" = leader ] && [ -n "$t" ] && [ "$t" -gt "$T0" ]; then newL=$i; fi
    done
    [ -n "$newL" ] && break
    sleep 0.2
done
t_elected=$((SECONDS - t_cut))
wait "$c_min"
wait "$c_maj"
echo "  old leader node$L: seq $sL_before -> $(cl_seq "$L"), commit_seq ${cL_before:-?} -> $(field "$L" commit_seq)"
echo "  acked through node$L: $(acked minority2), through the others: $(acked majority2)"
if [ -n "$newL" ]; then
    pass "node$newL became leader of term $(field "$newL" term) (its status.json said so within $t_elected s of the cut)"
else
    fail "no new leader with a term above $T0 among node${others[0]} and node${others[1]} (roles: $(field "${others[0]}" role)/$(field "${others[1]}" role))"
fi
check "the cut-off old leader acknowledged nothing" [ "$(acked minority2)" = 0 ]
check "the majority went on acknowledging ($(acked majority2) acked)" [ "$(acked majority2)" -gt 0 ]
while [ $((SECONDS - t_cut)) -lt 5 ]; do sleep 0.2; done
heal "$L"
if cl_wait_converged 30; then pass "healed: all 3 nodes reach the same seq and state hash"; else fail "healed: the nodes did not converge within 30 s"; fi
cl_show_states
check "the old leader node$L rejoined as a follower (role $(field "$L" role))" [ "$(field "$L" role)" = follower ]
check "exactly one leader after healing ($(leader_nodes | tr '\n' ' '))" [ "$(leader_nodes | wc -l)" -eq 1 ]
all_acked_in_journals

cl_stop_all
exit $CL_FAILED
