# shellcheck shell=bash
# Shared helpers of the cluster integration tests (tests/node/test_cluster_*.sh):
# free loopback ports, starting and stopping multi-node processes in a temp
# folder, reading status.json, and pass/fail bookkeeping. Sourced, not run.
#
# A test sets NODES, sources this file, calls cl_init, then uses the rest.
# Everything it starts is killed by the EXIT trap, whatever happens.
#
# Two settings let a test place the nodes elsewhere than localhost:
#   CL_HOSTS[i]  node i's address: it is started with --bind CL_HOSTS[i], its
#                peers and clients reach it there (default: localhost, no --bind)
#   CL_PREFIX    a command every node, client and ss runs under, e.g.
#                (ip netns exec NAME) to run the cluster in a network namespace
# and cl_on_exit CMD... adds a command the EXIT trap runs after the processes
# are stopped (e.g. deleting that namespace).

: "${LX_BIN:?LX_BIN must name the directory of the built binaries}"
NODES=${NODES:-3}
CL_FAILED=0
CL_PIDS=()      # CL_PIDS[i]: pid of node i, empty when it is not running
CL_OTHER_PIDS=() # other processes to stop (clients in the background)
CL_TMP=
CL_HOSTS=()
CL_PREFIX=()
CL_EXIT_CMDS=()
CL_BOOT_LEADER=0
# Optional: CL_PEERS[i] lists the node numbers node i links to ("1 4"); a
# node without an entry links to every other node. CL_TOPO_ARGS go to every
# node. cl_topology sets both.
CL_PEERS=()
CL_TOPO_ARGS=()

cl_log() { printf '%s\n' "$*"; }
pass() { printf 'PASS %s\n' "$*"; }
fail() {
    printf 'FAIL %s\n' "$*"
    CL_FAILED=1
}
# check DESCRIPTION COMMAND...: PASS if the command succeeds.
check() {
    local what=$1
    shift
    if "$@"; then pass "$what"; else fail "$what"; fi
}
# abort MESSAGE: a step the rest of the test depends on failed.
abort() {
    fail "$*"
    exit 1
}

cl_cleanup() {
    local rc=$? i pid t
    trap - EXIT INT TERM
    for pid in "${CL_OTHER_PIDS[@]}"; do
        [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null
    done
    for i in "${!CL_PIDS[@]}"; do
        pid=${CL_PIDS[$i]}
        [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null
    done
    for i in "${!CL_PIDS[@]}"; do
        pid=${CL_PIDS[$i]}
        [ -n "$pid" ] || continue
        t=0
        while kill -0 "$pid" 2>/dev/null && [ $t -lt 100 ]; do
            sleep 0.1
            t=$((t + 1))
        done
        kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    done
    if [ "$CL_FAILED" -ne 0 ] || [ "$rc" -ne 0 ]; then
        [ "$rc" -eq 0 ] && rc=1
        if [ -n "$CL_TMP" ]; then
            for f in "$CL_TMP"/*.log; do
                [ -f "$f" ] || continue
                echo "---- last lines of $(basename "$f")"
                tail -n 15 "$f"
            done
        fi
    fi
    [ -n "$CL_TMP" ] && rm -rf "$CL_TMP"
    local c
    for c in "${CL_EXIT_CMDS[@]}"; do eval "$c"; done
    exit "$rc"
}

# cl_on_exit CMD: run CMD (a shell command line) on exit, after every process
# this library started is stopped.
cl_on_exit() { CL_EXIT_CMDS+=("$*"); }

# cl_run CMD...: runs CMD under CL_PREFIX (in the test's namespace, if any).
# Not for a command put in the background: $! would be the subshell, not CMD.
cl_run() { "${CL_PREFIX[@]}" "$@"; }

# cl_host I: node I's address (CL_HOSTS[I], default localhost).
cl_host() { echo "${CL_HOSTS[$1]:-localhost}"; }

# cl_init: checks the tools, makes the temp folder, picks free ports.
cl_init() {
    local b
    for b in multi-node test-client lx-journal; do
        [ -x "$LX_BIN/$b" ] || abort "$LX_BIN/$b is not built"
    done
    command -v jq >/dev/null 2>&1 || abort "jq is missing (deploy/deps.sh installs it)"
    command -v ss >/dev/null 2>&1 || abort "ss is missing (iproute2)"
    CL_TMP=$(mktemp -d "${TMPDIR:-/tmp}/lx-cluster.XXXXXX") || abort "mktemp failed"
    trap cl_cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    cl_pick_ports
    # ASan is slow to start and the machine may be shared: generous timeouts.
    export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
}

# cl_port_busy PORT: 0 if something listens on the TCP port.
cl_port_busy() {
    [ -n "$(cl_run ss -ltnH "sport = :$1" 2>/dev/null)" ]
}

# cl_pick_ports: BASE, a random base port in 20000..31999 (below the kernel's
# ephemeral range) with ports BASE+100*i+0..3 free for every node, and kept
# for this test alone until it exits.
#
# Free now is not enough: the suite runs tests in parallel, and a test
# restarts its nodes, so its ports are free for a moment now and then, and
# a test starting then could take them. So the offsets of BASE within a
# hundred form 25 lanes of 4 ports (0-3, 4-7, ... 96-99), and a test holds
# its lane with flock(1) on CL_PORT_LOCKS/laneN for as long as it, or
# anything it started, runs: no two tests share a port.
CL_PORT_LOCKS=${CL_PORT_LOCKS:-${TMPDIR:-/tmp}/lxdex-test-ports}
CL_LANE_FD=
cl_take_lane() {
    local l fd
    mkdir -p "$CL_PORT_LOCKS" 2>/dev/null
    for l in $(shuf -i 0-24); do
        exec {fd}>>"$CL_PORT_LOCKS/lane$l" || continue
        if flock -n "$fd"; then
            CL_LANE_FD=$fd
            CL_LANE=$l
            return 0
        fi
        exec {fd}>&-
    done
    return 1
}
cl_pick_ports() {
    local i k busy top lo
    command -v flock >/dev/null 2>&1 || abort "flock is missing (util-linux)"
    for _ in $(seq 1 600); do
        cl_take_lane && break
        sleep 0.2
    done
    [ -n "$CL_LANE_FD" ] || abort "every port lane in $CL_PORT_LOCKS stayed taken for 2 minutes (see fuser -v $CL_PORT_LOCKS/*)"
    top=32000
    read -r lo _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null && [ "${lo:-0}" -lt $top ] &&
        [ "$lo" -gt $((20000 + 100 * NODES)) ] && top=$lo
    for _ in $(seq 1 100); do
        BASE=$((20000 + (RANDOM % 120) * 100 + 4 * CL_LANE))
        [ $((BASE + 100 * NODES)) -lt $top ] || continue
        busy=0
        for ((i = 0; i < NODES; i++)); do
            for k in 0 1 2 3; do
                cl_port_busy $((BASE + 100 * i + k)) && busy=1
            done
        done
        if [ $busy -eq 0 ]; then
            # Each test's nodes are a cluster of their own by name too.
            CL_CLUSTER_ID=${CL_CLUSTER_ID:-lxtest-$BASE}
            return 0
        fi
    done
    abort "no free ports found in lane $CL_LANE"
}

cl_port() { echo $((BASE + 100 * $1)); }
# cl_endpoint I: node I's client endpoint (ROUTER, base + 2).
cl_endpoint() { echo "tcp://$(cl_host "$1"):$(($(cl_port "$1") + 2))"; }
# cl_endpoints [I...]: comma-separated client endpoints (all nodes by default).
cl_endpoints() {
    local out="" i
    if [ $# -eq 0 ]; then set -- $(seq 0 $((NODES - 1))); fi
    for i in "$@"; do out+="${out:+,}$(cl_endpoint "$i")"; done
    echo "$out"
}
cl_data() { echo "$CL_TMP/node$1"; }
# log_has I REGEX: node I's log has a matching line after its latest start.
log_has() {
    awk -v re="$2" '/^==== start /{r=0} $0 ~ re {r=1} END{exit !r}' "$CL_TMP/node$1.log"
}
# first_segment I: the seq of the oldest segment of node I's journal.
first_segment() {
    local f
    f=$(ls "$(cl_data "$1")/journal" 2>/dev/null | head -n 1)
    f=${f%.log}
    echo $((10#${f:-0}))
}
cl_status() { echo "$CL_TMP/node$1/status.json"; }

# cl_topology mesh|star|ring: the links of docs/topologies.md for NODES
# nodes (star: node0 is the hub) and --topology, --cluster-size for each.
cl_topology() {
    local i
    CL_PEERS=()
    CL_TOPO_ARGS=(--topology "$1" --cluster-size "$NODES")
    for ((i = 0; i < NODES; i++)); do
        case "$1" in
        mesh) ;;
        star) if [ "$i" -eq 0 ]; then CL_PEERS[i]=$(seq -s ' ' 1 $((NODES - 1))); else CL_PEERS[i]=0; fi ;;
        ring) CL_PEERS[i]="$(((i + NODES - 1) % NODES)) $(((i + 1) % NODES))" ;;
        *) abort "cl_topology: unknown topology $1" ;;
        esac
    done
}

# cl_start I [extra multi-node args]: starts node I in the background; its
# output is appended to CL_TMP/nodeI.log. Node CL_BOOT_LEADER (0 unless the
# test changes it; -1: none) gets --leader, the others --leader=false. Every
# node gets --cluster-id CL_CLUSTER_ID (lxtest-BASE); a later
# --cluster-id among the extra args wins.
cl_start() {
    local i=$1 j peers="" args links
    shift
    if [ -n "${CL_PEERS[$i]:-}" ]; then
        links=${CL_PEERS[$i]}
    else
        links=$(seq -s ' ' 0 $((NODES - 1)))
    fi
    for j in $links; do
        [ "$j" -eq "$i" ] && continue
        peers+="${peers:+,}tcp://$(cl_host "$j"):$(cl_port "$j")"
    done
    args=(--node "node$i" --port "$(cl_port "$i")" --data-dir "$(cl_data "$i")" --dev-faucet
        --metrics-interval 1s --cluster-id "$CL_CLUSTER_ID" "${CL_TOPO_ARGS[@]}")
    [ -n "${CL_HOSTS[$i]:-}" ] && args+=(--bind "${CL_HOSTS[$i]}")
    [ -n "$peers" ] && args+=(--peers "$peers")
    if [ "$i" -eq "$CL_BOOT_LEADER" ]; then args+=(--leader); else args+=(--leader=false); fi
    echo "==== start $(date +%T.%N | cut -c1-12): multi-node ${args[*]} $*" >>"$CL_TMP/node$i.log"
    env -u NODE_ID -u PEERS -u IS_LEADER -u DATA_DIR -u LOG_FILE -u BASE_PORT \
        "${CL_PREFIX[@]}" "$LX_BIN/multi-node" "${args[@]}" "$@" >>"$CL_TMP/node$i.log" 2>&1 </dev/null &
    CL_PIDS[i]=$!
}

# cl_wait_ready I [SECONDS]: waits until node I logs "ready" after its latest
# start; fails if it exits first.
cl_wait_ready() {
    local i=$1 limit=$((SECONDS + ${2:-45}))
    while [ $SECONDS -lt $limit ]; do
        if ! kill -0 "${CL_PIDS[$i]}" 2>/dev/null; then
            wait "${CL_PIDS[$i]}"
            fail "node$i exited (status $?) before it was ready"
            CL_PIDS[i]=
            return 1
        fi
        # Only the lines after the latest start marker count.
        if awk '/^==== start /{r=0} /(^|[^[:alnum:]])ready([^[:alnum:]]|$)/{r=1} END{exit !r}' "$CL_TMP/node$i.log"; then
            return 0
        fi
        sleep 0.2
    done
    fail "node$i not ready within ${2:-45}s"
    return 1
}

# cl_start_all [extra multi-node args]: starts every node and waits until all
# are ready and answer a PING.
cl_start_all() {
    local i
    for ((i = 0; i < NODES; i++)); do cl_start "$i" "$@"; done
    for ((i = 0; i < NODES; i++)); do cl_wait_ready "$i" || abort "node$i did not start"; done
    cl_run "$LX_BIN/test-client" --nodes "$(cl_endpoints)" --wait-ready 30s \
        >"$CL_TMP/wait-ready.log" 2>&1 || abort "not every node answered a PING"
    # A follower answers PINGs before it has heard from the leader: wait until
    # every node holds the leader's first block (the markets).
    local limit=$((SECONDS + 30)) s
    for ((i = 0; i < NODES; i++)); do
        while :; do
            s=$(cl_seq "$i")
            [ -n "$s" ] && [ "$s" != null ] && [ "$s" -ge 1 ] && break
            [ $SECONDS -lt $limit ] || abort "node$i did not get the leader's first block"
            sleep 0.2
        done
    done
    pass "$NODES nodes started on ports $BASE.. and answer a PING"
}

# cl_stop I: SIGTERM, up to 20 s, then SIGKILL; returns the exit status.
cl_stop() {
    local i=$1 pid=${CL_PIDS[$1]} t=0 st
    [ -n "$pid" ] || return 0
    kill -TERM "$pid" 2>/dev/null
    while kill -0 "$pid" 2>/dev/null && [ $t -lt 200 ]; do
        sleep 0.1
        t=$((t + 1))
    done
    if kill -0 "$pid" 2>/dev/null; then
        echo "node$i did not stop within 20 s after SIGTERM: SIGKILL"
        kill -KILL "$pid" 2>/dev/null
    fi
    wait "$pid" 2>/dev/null
    st=$?
    CL_PIDS[i]=
    return $st
}

# cl_kill9 I: SIGKILL node I and reap it.
cl_kill9() {
    local pid=${CL_PIDS[$1]}
    [ -n "$pid" ] || return 0
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    CL_PIDS[$1]=
    return 0
}

# cl_stop_all: stops every node; PASS if each exits 0 on SIGTERM.
cl_stop_all() {
    local i st
    # SIGTERM to all at once: stopped one by one, the last ones would see
    # their leader gone and elect another (a new block) while they wait.
    for ((i = 0; i < NODES; i++)); do
        [ -n "${CL_PIDS[i]:-}" ] && kill -TERM "${CL_PIDS[i]}" 2>/dev/null
    done
    for ((i = 0; i < NODES; i++)); do
        cl_stop "$i"
        st=$?
        if [ $st -eq 0 ]; then pass "node$i stopped cleanly on SIGTERM (exit 0)"; else fail "node$i exit status $st after SIGTERM"; fi
    done
}

# cl_state I: "seq state_hash" from node I's status.json.
cl_state() { jq -r '"\(.seq) \(.state_hash)"' "$(cl_status "$1")" 2>/dev/null; }
cl_seq() { jq -r '.seq' "$(cl_status "$1")" 2>/dev/null; }

# cl_same_state [I...]: 0 if the status.json of every node (or of nodes I...)
# has the same seq (> 0) and hash.
cl_same_state() {
    local i s first=""
    if [ $# -eq 0 ]; then set -- $(seq 0 $((NODES - 1))); fi
    for i in "$@"; do
        s=$(cl_state "$i")
        [ -n "$s" ] || return 1
        [ -z "$first" ] && first=$s
        [ "$s" = "$first" ] || return 1
    done
    [ "${first%% *}" != 0 ] && [ "${first%% *}" != null ]
}

# cl_wait_converged SECONDS [I...]: waits until cl_same_state [I...] holds
# twice in a row (status.json is rewritten about once a second).
cl_wait_converged() {
    local limit=$((SECONDS + $1)) hits=0
    shift
    while [ $SECONDS -lt $limit ]; do
        if cl_same_state "$@"; then
            hits=$((hits + 1))
            [ $hits -ge 2 ] && return 0
        else
            hits=0
        fi
        sleep 0.6
    done
    return 1
}

# cl_show_states: prints every node's seq and hash.
cl_show_states() {
    local i
    for ((i = 0; i < NODES; i++)); do
        echo "  node$i: $(cl_state "$i" || echo 'no status.json')"
    done
}

# cl_acked_ids FILE: the order ids of an --acked-log (one id a line), sorted.
cl_acked_ids() {
    awk '$1 ~ /^[0-9]+$/ && $1 != 0 {print $1}' "$1" | sort -u
}

# cl_journal_ids I: the order ids in node I's journal, sorted. The ids are
# read as text: they go past 2^53, where jq's numbers lose digits.
cl_journal_ids() {
    "$LX_BIN/lx-journal" --data-dir "$(cl_data "$1")" --commands 2>"$CL_TMP/lx-journal.err" |
        grep '"op":"order"' | grep -o '"id":[0-9]*' | cut -d: -f2 | sort -u
}

# cl_check_acked_in_journal ACKED_LOG I: every acknowledged id is in node I's journal.
cl_check_acked_in_journal() {
    local acked=$CL_TMP/acked.ids journal=$CL_TMP/journal.ids missing
    cl_acked_ids "$1" >"$acked"
    cl_journal_ids "$2" >"$journal"
    missing=$(comm -23 "$acked" "$journal" | wc -l)
    echo "  acked ids: $(wc -l <"$acked"), order ids in node$2's journal: $(wc -l <"$journal"), acked but missing: $missing"
    if [ "$(wc -l <"$acked")" -eq 0 ]; then
        fail "the acked log $1 holds no ids"
        return 1
    fi
    if [ "$missing" -ne 0 ]; then
        fail "$missing acknowledged order ids are not in node$2's journal, e.g. $(comm -23 "$acked" "$journal" | head -n 5 | tr '\n' ' ')"
        return 1
    fi
    pass "every acknowledged order id is in node$2's journal"
}

# cl_client NAME [test-client args]: runs test-client --json in the
# foreground, its summary into CL_TMP/NAME.json (printed) and its messages
# into CL_TMP/NAME.log, and checks that it exits 0.
cl_client() {
    local name=$1 rc
    shift
    "$LX_BIN/test-client" "$@" --json >"$CL_TMP/$name.json" 2>"$CL_TMP/$name.log"
    rc=$?
    cat "$CL_TMP/$name.json"
    check "test-client exits 0 (got $rc)" [ $rc -eq 0 ]
}

# cl_json FILE FILTER: a value from a JSON file (test-client --json output).
cl_json() { jq -r "$2" "$1" 2>/dev/null; }
