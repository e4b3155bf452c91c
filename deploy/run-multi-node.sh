#!/usr/bin/env bash
# Runs a local lxdex cluster on loopback, drives it with the test client and
# checks that every node ends with the same log position and state hash.
#
#   ./deploy/run-multi-node.sh
#   NODES=5 ORDERS_PER_SEC=5000 TEST_DURATION=60s ./deploy/run-multi-node.sh
#   KEEP_ALIVE=true ./deploy/run-multi-node.sh
#
# Every variable, what the script prints and logs/summary.json are described
# in docs/cluster.md. Exit status: 0 when the client succeeded and all nodes
# converged, 1 when the run failed, 2 for a bad setting or a port in use.
set -uo pipefail

usage() {
    cat <<'EOF'
usage: [VARIABLE=value ...] deploy/run-multi-node.sh [--help]

Starts NODES lxdex nodes on loopback (and, with SETTLE=true, a local
lx-devnet X-Chain they settle on), drives them with test-client, checks
that every node ends with the same seq and state hash (and every fill is
settled exactly once), prints the figures and stops everything.

  NODES             3           nodes, 1 to 16
  ORDERS_PER_SEC    1000        the client's target rate
  TEST_DURATION     30s         how long the client sends (30s, 500ms, 2m)
  KEEP_ALIVE        false       true: leave the nodes running afterwards
  TOPOLOGY          mesh        mesh, star or ring
  CONSENSUS         leader      the nodes' --consensus
  CLUSTER_ID        lxdex       the nodes' --cluster-id (nodes of another one
                                are refused)
  BASE_PORT         5000        node i uses BASE_PORT+100*i .. +3
  CLIENT_ARGS                   extra test-client options (--batch 64, ...)
  NODE_ARGS                     extra multi-node options for every node
  FSYNC             on          the nodes' --fsync
  SETTLE            true        settle on a local lx-devnet; false: none
  CURVE             false       true: CURVE keys for every node and the client
  DATA_ROOT         data/       node i's data in DATA_ROOT/node<i>
  KEEP_DATA         false       true: the nodes recover from the last run's data
  LOG_DIR           logs/       logs and summary.json
  BIN_DIR           bin/        where the binaries are
  BUILD, DEPS       auto        build / install packages when needed; always; never

Every variable (settlement, withdrawals, timeouts), the output and
summary.json are in docs/cluster.md. Exit status: 0 ok, 1 the run failed,
2 a bad setting or a port in use.
EOF
}
START_DIR=$PWD
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=deploy/deps.sh
. "$ROOT/deploy/deps.sh"
lx_args run-multi-node "$@"

# A relative path given by the user is taken from where the script was
# started; the defaults live in the source tree.
abspath() {
    case "$1" in
    /*) printf '%s\n' "$1" ;;
    *) printf '%s\n' "$START_DIR/$1" ;;
    esac
}

NODES=${NODES:-3}
TOPOLOGY=${TOPOLOGY:-mesh}
ORDERS_PER_SEC=${ORDERS_PER_SEC:-1000}
TEST_DURATION=${TEST_DURATION:-30s}
KEEP_ALIVE=${KEEP_ALIVE:-false}
BASE_PORT=${BASE_PORT:-5000}
CONSENSUS=${CONSENSUS:-leader}
CLUSTER_ID=${CLUSTER_ID:-lxdex}
CLIENT_ARGS=${CLIENT_ARGS:-}
NODE_ARGS=${NODE_ARGS:-}
FSYNC=${FSYNC:-on}
CURVE=${CURVE:-false}
CURVE_ACCOUNT=${CURVE_ACCOUNT:-1}
KEEP_DATA=${KEEP_DATA:-false}
# Settlement on lx-devnet (docs/cluster.md, "Settlement").
SETTLE=${SETTLE:-true}
SETTLE_INTERVAL=${SETTLE_INTERVAL:-1s}
SETTLE_FILLS=${SETTLE_FILLS:-10000}
SETTLE_THRESHOLD=${SETTLE_THRESHOLD:-}
SETTLE_ASSETS=${SETTLE_ASSETS:-BTC ETH USD}
SETTLE_TIMEOUT=${SETTLE_TIMEOUT:-60}
DEVNET_BLOCK_MS=${DEVNET_BLOCK_MS:-200}
WITHDRAW_EVERY=${WITHDRAW_EVERY:-500}
WITHDRAW_AMOUNT=${WITHDRAW_AMOUNT:-1000}
WITHDRAW_ASSET=${WITHDRAW_ASSET:-USD}
SKIP_BUILD=${SKIP_BUILD:-false}
BUILD=${BUILD:-auto}
DEPS=${DEPS:-auto}
READY_TIMEOUT=${READY_TIMEOUT:-30}
CONVERGE_TIMEOUT=${CONVERGE_TIMEOUT:-10}
STOP_TIMEOUT=${STOP_TIMEOUT:-10}
if [ -n "${DATA_ROOT:-}" ]; then DATA_ROOT=$(abspath "$DATA_ROOT"); else DATA_ROOT=$ROOT/data; fi
if [ -n "${LOG_DIR:-}" ]; then LOG_DIR=$(abspath "$LOG_DIR"); else LOG_DIR=$ROOT/logs; fi
if [ -n "${BIN_DIR:-}" ]; then BIN_DIR=$(abspath "$BIN_DIR"); else BIN_DIR=$ROOT/bin; fi

# The daemon reads its settings from variables too (a flag wins). The script
# sets these per node itself, so a value left in the caller's shell must not
# reach the nodes. Others (MARKETS, BLOCK_MAX_ORDERS, BLOCK_MAX_US, HWM,
# HEARTBEAT_MS, SNAPSHOT_EVERY) pass through on purpose. TOPOLOGY is the
# script's own (every node gets --topology).
unset NODE_ID PEERS IS_LEADER DATA_DIR LOG_FILE CLUSTER_SIZE

say() { printf '[run-multi-node] %s\n' "$*"; }
# die MESSAGE [STATUS]
die() {
    printf '[run-multi-node] error: %s\n' "$1" >&2
    exit "${2:-1}"
}
is_true() {
    case "$1" in
    1 | true | TRUE | True | yes | on) return 0 ;;
    *) return 1 ;;
    esac
}
is_uint() { case "$1" in '' | *[!0-9]*) return 1 ;; *) return 0 ;; esac }

# Seconds in a duration as the test client takes it: 30s, 500ms, 2m, 30.
duration_secs() {
    local d=$1 n
    case "$d" in
    *ms) n=${d%ms} && is_uint "$n" && echo $(((n + 999) / 1000)) && return 0 ;;
    *us) n=${d%us} && is_uint "$n" && echo 1 && return 0 ;;
    *s) n=${d%s} && is_uint "$n" && echo "$n" && return 0 ;;
    *m) n=${d%m} && is_uint "$n" && echo $((n * 60)) && return 0 ;;
    *) is_uint "$d" && echo "$d" && return 0 ;;
    esac
    return 1
}

# ---- settings -------------------------------------------------------------
is_uint "$NODES" && [ "$NODES" -ge 1 ] && [ "$NODES" -le 16 ] ||
    die "NODES=$NODES: a number from 1 to 16" 2
case "$TOPOLOGY" in mesh | star | ring) ;; *) die "TOPOLOGY=$TOPOLOGY: mesh, star or ring" 2 ;; esac
[[ "$CLUSTER_ID" =~ ^[A-Za-z0-9._-]{1,63}$ ]] ||
    die "CLUSTER_ID=$CLUSTER_ID: 1 to 63 of A-Z a-z 0-9 . _ -" 2
is_uint "$ORDERS_PER_SEC" && [ "$ORDERS_PER_SEC" -ge 1 ] ||
    die "ORDERS_PER_SEC=$ORDERS_PER_SEC: a positive number" 2
DURATION_S=$(duration_secs "$TEST_DURATION") ||
    die "TEST_DURATION=$TEST_DURATION: e.g. 30s, 500ms, 2m or 30" 2
is_uint "$BASE_PORT" && [ "$BASE_PORT" -ge 1 ] && [ $((BASE_PORT + 100 * (NODES - 1) + 3)) -le 65535 ] ||
    die "BASE_PORT=$BASE_PORT: the ports BASE_PORT+100*i+0..3 must fit in 1..65535" 2
# A metrics line every 5 s, or every second for short runs so that the
# summary has one from each node.
if [ -z "${METRICS_INTERVAL:-}" ]; then
    if [ "$DURATION_S" -lt 20 ]; then METRICS_INTERVAL=1s; else METRICS_INTERVAL=5s; fi
fi
for v in READY_TIMEOUT CONVERGE_TIMEOUT STOP_TIMEOUT; do
    is_uint "${!v}" || die "$v=${!v}: a number of seconds" 2
done
case "$FSYNC" in on | off | true | false | 1 | 0) ;; *) die "FSYNC=$FSYNC: on or off" 2 ;; esac
case "$CURVE" in true | false | 1 | 0 | on | off | yes | no) ;; *) die "CURVE=$CURVE: true or false" 2 ;; esac
is_uint "$CURVE_ACCOUNT" || die "CURVE_ACCOUNT=$CURVE_ACCOUNT: an account id" 2
CURVE_JSON=false
is_true "$CURVE" && CURVE_JSON=true
case "$SETTLE" in true | false | 1 | 0 | on | off | yes | no) ;; *) die "SETTLE=$SETTLE: true or false" 2 ;; esac
SETTLE_JSON=false
is_true "$SETTLE" && SETTLE_JSON=true
[ -n "$SETTLE_THRESHOLD" ] || SETTLE_THRESHOLD=$(((2 * NODES + 2) / 3))
is_uint "$SETTLE_THRESHOLD" && [ "$SETTLE_THRESHOLD" -ge 1 ] && [ "$SETTLE_THRESHOLD" -le "$NODES" ] ||
    die "SETTLE_THRESHOLD=$SETTLE_THRESHOLD: 1 to NODES" 2
for v in SETTLE_FILLS SETTLE_TIMEOUT DEVNET_BLOCK_MS WITHDRAW_EVERY WITHDRAW_AMOUNT; do
    is_uint "${!v}" || die "$v=${!v}: a number" 2
done
SETTLE_INTERVAL_S=$(duration_secs "$SETTLE_INTERVAL") ||
    die "SETTLE_INTERVAL=$SETTLE_INTERVAL: e.g. 1s or 500ms" 2
is_true "$SKIP_BUILD" && BUILD=never
case "$BUILD" in auto | always | never | true | false) ;; *) die "BUILD=$BUILD: auto, always or never" 2 ;; esac
[ "$BUILD" = true ] && BUILD=always
[ "$BUILD" = false ] && BUILD=never

node_port() { echo $((BASE_PORT + 100 * $1)); }

# ---- cleanup: nothing this script started outlives it (unless KEEP_ALIVE) --
NODE_PIDS=()
CLIENT_PID=
TAIL_PID=
DEVNET_PID=
DEP_PIDS=()
LEAVE_RUNNING=false

# stop_nodes: SIGTERM every node, wait up to STOP_TIMEOUT, SIGKILL the rest.
# Sets NODE_EXIT[i] to each node's exit status.
NODE_EXIT=()
stop_nodes() {
    local i pid t
    for i in "${!NODE_PIDS[@]}"; do
        pid=${NODE_PIDS[$i]}
        [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null
    done
    for i in "${!NODE_PIDS[@]}"; do
        pid=${NODE_PIDS[$i]}
        [ -n "$pid" ] || continue
        t=0
        while kill -0 "$pid" 2>/dev/null && [ "$t" -lt $((STOP_TIMEOUT * 10)) ]; do
            sleep 0.1
            t=$((t + 1))
        done
        if kill -0 "$pid" 2>/dev/null; then
            say "node$i (pid $pid) did not stop within ${STOP_TIMEOUT}s: SIGKILL"
            kill -KILL "$pid" 2>/dev/null
        fi
        wait "$pid" 2>/dev/null
        NODE_EXIT[i]=$?
        NODE_PIDS[i]=
    done
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [ -n "$CLIENT_PID" ]; then
        kill -TERM "$CLIENT_PID" 2>/dev/null
        wait "$CLIENT_PID" 2>/dev/null
        CLIENT_PID=
    fi
    [ -n "$TAIL_PID" ] && kill -TERM "$TAIL_PID" 2>/dev/null
    for p in "${DEP_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
    if [ "$LEAVE_RUNNING" != true ] && [ "${#NODE_PIDS[@]}" -gt 0 ]; then
        local any=false p
        for p in "${NODE_PIDS[@]}"; do [ -n "$p" ] && any=true; done
        if [ "$any" = true ]; then
            say "stopping the nodes"
            stop_nodes
        fi
    fi
    if [ "$LEAVE_RUNNING" != true ] && [ -n "$DEVNET_PID" ]; then
        kill -TERM "$DEVNET_PID" 2>/dev/null
        wait "$DEVNET_PID" 2>/dev/null
        DEVNET_PID=
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'say "interrupted"; exit 130' INT
trap 'say "terminated"; exit 143' TERM

cd "$ROOT" || die "cannot enter $ROOT"

# ---- dependencies and build -----------------------------------------------
lx_prepare "$BIN_DIR" "$BUILD" "$DEPS" || exit 1
command -v ss >/dev/null 2>&1 || die "ss is missing (package iproute2, in deploy/deps.sh)"
for b in multi-node test-client; do
    [ -x "$BIN_DIR/$b" ] || die "$BIN_DIR/$b is missing (build it, or set BIN_DIR)"
done
if [ "$SETTLE_JSON" = true ]; then
    for b in lx-devnet lx-xchain lx-audit lx-journal; do
        [ -x "$BIN_DIR/$b" ] || die "$BIN_DIR/$b is missing (SETTLE=true needs it; SETTLE=false runs without)"
    done
fi
if [ "$CURVE_JSON" = true ] && [ ! -x "$BIN_DIR/lx-keys" ]; then
    die "$BIN_DIR/lx-keys is missing (CURVE=true makes the keys with it)"
fi

# ---- ports ----------------------------------------------------------------
# who_listens PORT: the process holding a listening TCP port, if ss can tell.
who_listens() {
    local line users
    line=$(ss -ltnpH "sport = :$1" 2>/dev/null | head -n 1)
    [ -n "$line" ] || line=$(ss -ltnH "sport = :$1" 2>/dev/null | head -n 1)
    [ -n "$line" ] || return 1
    users=$(printf '%s\n' "$line" | grep -o 'users:(([^)]*))' | head -n 1)
    if [ -n "$users" ]; then
        printf '%s\n' "$users" | sed -E 's/users:\(\("([^"]*)",pid=([0-9]+).*/\1 (pid \2)/'
    else
        echo "an unknown process"
    fi
}

say "checking ports: node i uses $BASE_PORT+100*i+0..3"
ROLE=(PUB SUB ROUTER DEALER)
busy=0
# One listing of every listening TCP port; ss -p only for a port in use.
LISTENING=" $(ss -ltnH 2>/dev/null | awk '{n = split($4, a, ":"); printf "%s ", a[n]}') "
for ((i = 0; i < NODES; i++)); do
    for k in 0 1 2 3; do
        p=$(($(node_port "$i") + k))
        case "$LISTENING" in *" $p "*) ;; *) continue ;; esac
        if who=$(who_listens "$p"); then
            printf '[run-multi-node] error: port %s (node%s %s) is in use by %s\n' \
                "$p" "$i" "${ROLE[$k]}" "$who" >&2
            busy=1
        fi
    done
done
[ "$busy" -eq 0 ] || die "free the ports above, or choose other ones with BASE_PORT" 2

# ---- data and logs --------------------------------------------------------
mkdir -p "$LOG_DIR" "$DATA_ROOT" || die "cannot create $LOG_DIR or $DATA_ROOT"
if ! is_true "$KEEP_DATA"; then
    for ((i = 0; i < NODES; i++)); do rm -rf "${DATA_ROOT:?}/node$i"; done
fi
rm -f "$LOG_DIR/acked.log" "$LOG_DIR/client.json" "$LOG_DIR/client.log" \
    "$LOG_DIR/summary.json" "$LOG_DIR/pids" "$LOG_DIR/devnet.log" "$LOG_DIR/audit.json" \
    "$LOG_DIR/audit.txt" "$LOG_DIR/settle-txids.txt" "$LOG_DIR/deposits.log" "$LOG_DIR/funding-plan.jsonl"

# ---- CURVE keys (CURVE=true) ----------------------------------------------
# Fresh keys every run, in DATA_ROOT/keys: one per node (node number i), and
# one client key per node, client$i registered for account CURVE_ACCOUNT + i:
# the client trades from NODES accounts, account CURVE_ACCOUNT + i through
# node i (docs/security.md, docs/test-client.md).
CLIENT_CURVE=()
KEY_DIR=$DATA_ROOT/keys
if [ "$CURVE_JSON" = true ]; then
    rm -rf "$KEY_DIR"
    mkdir -p -m 700 "$KEY_DIR" || die "cannot create $KEY_DIR"
    server_keys=
    for ((i = 0; i < NODES; i++)); do
        "$BIN_DIR/lx-keys" generate --out "$KEY_DIR/node$i.key" --label "$i" \
            >>"$KEY_DIR/nodes.allow" || die "lx-keys generate failed"
        server_keys+="${server_keys:+,}$("$BIN_DIR/lx-keys" public "$KEY_DIR/node$i.key")"
    done
    client_keys=
    for ((i = 0; i < NODES; i++)); do
        "$BIN_DIR/lx-keys" generate --out "$KEY_DIR/client$i.key" --label $((CURVE_ACCOUNT + i)) \
            >>"$KEY_DIR/clients.allow" || die "lx-keys generate failed"
        client_keys+="${client_keys:+,}$KEY_DIR/client$i.key"
    done
    CLIENT_CURVE=(--curve-key "$client_keys" --server-keys "$server_keys"
        --accounts "$NODES" --account-base "$CURVE_ACCOUNT")
    say "CURVE on: keys in $KEY_DIR; the client trades from accounts $CURVE_ACCOUNT..$((CURVE_ACCOUNT + NODES - 1))"
fi

# ---- settlement: devnet, keys, channel (SETTLE=true) -----------------------
# lx-devnet on a free loopback port (--port 0) with a genesis that gives a
# funder key UTXOS_PER_ASSET UTXOs of each asset; one settlement key per node
# (lx-xchain keygen); a channel of the NODES owners with threshold
# SETTLE_THRESHOLD, funded with LUX for the fees; DATA_ROOT/settle/channel.json.
SETTLE_DIR=$DATA_ROOT/settle
FUNDER_KEY_HEX=56289e99c94b6912bfc12adc093c9b51124f0dc54ac7a766b2bc5ccf558d8027
FUNDER=X-local18jma8ppw3nhx5r4ap8clazz0dps7rv5u00z96u
UTXOS_PER_ASSET=1024
SETTLE_ASSET_LIST=()
RPC=
CHANNEL_ADDRS=
WD_ADDR=
xc() { "$BIN_DIR/lx-xchain" --rpc "$RPC" --hrp local --retries 20 "$@"; }
if [ "$SETTLE_JSON" = true ]; then
    # shellcheck disable=SC2206
    SETTLE_ASSET_LIST=($SETTLE_ASSETS)
    rm -rf "$SETTLE_DIR"
    mkdir -p -m 700 "$SETTLE_DIR" || die "cannot create $SETTLE_DIR"
    # Allocation k (LUX first: the fee asset) holds outputs k*N .. k*N+N-1 of
    # the genesis tx; LUX has one more, the channel's funding.
    {
        printf '{"networkID":12345,"hrp":"local","assets":[{"symbol":"LUX","name":"Lux","denomination":9}'
        for a in "${SETTLE_ASSET_LIST[@]}"; do printf ',{"symbol":"%s","name":"%s","denomination":0}' "$a" "$a"; done
        printf '],"allocations":[{"address":"%s","asset":"LUX","amount":"1000000000000","utxos":%s}' "$FUNDER" $((UTXOS_PER_ASSET + 1))
        for a in "${SETTLE_ASSET_LIST[@]}"; do
            printf ',{"address":"%s","asset":"%s","amount":"1000000000000000","utxos":%s}' "$FUNDER" "$a" "$UTXOS_PER_ASSET"
        done
        printf '],"validators":[{"nodeID":"NodeID-7Xhw2mDxuDS44j42TCB6U5579esbSt3Lg","weight":"2000"}]}\n'
    } >"$SETTLE_DIR/genesis.json"
    (umask 077 && echo "$FUNDER_KEY_HEX" >"$SETTLE_DIR/funder.key")
    say "starting lx-devnet (block every ${DEVNET_BLOCK_MS} ms, a free loopback port)"
    devnet_args=(--port 0 --block-ms "$DEVNET_BLOCK_MS" --genesis "$SETTLE_DIR/genesis.json")
    if is_true "$KEEP_ALIVE"; then
        setsid "$BIN_DIR/lx-devnet" "${devnet_args[@]}" >"$LOG_DIR/devnet.log" 2>&1 </dev/null &
    else
        "$BIN_DIR/lx-devnet" "${devnet_args[@]}" >"$LOG_DIR/devnet.log" 2>&1 </dev/null &
    fi
    DEVNET_PID=$!
    dport=
    for _ in $(seq 1 100); do
        dport=$(sed -n 's/.*listening on http:\/\/127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$LOG_DIR/devnet.log")
        [ -n "$dport" ] && break
        kill -0 "$DEVNET_PID" 2>/dev/null || break
        sleep 0.1
    done
    [ -n "$dport" ] || die "lx-devnet did not start: $(tail -n 3 "$LOG_DIR/devnet.log")"
    RPC=http://127.0.0.1:$dport
    say "lx-devnet: $RPC (pid $DEVNET_PID), log $LOG_DIR/devnet.log"
    for ((i = 0; i < NODES; i++)); do
        xc keygen --key-file "$SETTLE_DIR/node$i.key" >"$SETTLE_DIR/node$i.addr" ||
            die "lx-xchain keygen failed"
        CHANNEL_ADDRS+="${CHANNEL_ADDRS:+,}$(cat "$SETTLE_DIR/node$i.addr")"
    done
    xc keygen --key-file "$SETTLE_DIR/withdrawals.key" >"$SETTLE_DIR/withdrawals.addr" ||
        die "lx-xchain keygen failed"
    WD_ADDR=$(cat "$SETTLE_DIR/withdrawals.addr")
    GENESIS_TX=$(xc utxos "$FUNDER" --json | jq -r '.utxos[0].txID') && [ -n "$GENESIS_TX" ] ||
        die "cannot list the funder's UTXOs on lx-devnet"
    xc send --key-file "$SETTLE_DIR/funder.key" --utxo "$GENESIS_TX:$UTXOS_PER_ASSET" \
        --owners "$CHANNEL_ADDRS" --threshold "$SETTLE_THRESHOLD" --amount 900000000000 \
        >/dev/null || die "funding the channel failed"
    A0=${CHANNEL_ADDRS%%,*}
    xc utxos "$A0" --json >"$SETTLE_DIR/funding.json" || die "cannot list the channel's UTXOs"
    assets_json=$(xc balance "$FUNDER" --json | jq -c '[.balances[] | {(.symbol): .assetID}] | add') ||
        die "cannot read the asset IDs"
    jq -n --argjson owners "$(jq -cn --arg a "$CHANNEL_ADDRS" '$a | split(",")')" \
        --argjson t "$SETTLE_THRESHOLD" --argjson assets "$assets_json" \
        --slurpfile funding "$SETTLE_DIR/funding.json" '
        {network_id: 12345, blockchain_id: "2U6tEqqwpTckgSQN5Cb9oT4W2KvaUwvpAogzjsf1r775LUfNK9",
         hrp: "local", owners: $owners, threshold: $t, fee_asset: $assets.LUX, tx_fee: 1000000,
         assets: $assets, funding: $funding[0]}' >"$SETTLE_DIR/channel.json" ||
        die "cannot write $SETTLE_DIR/channel.json"
    say "channel: $SETTLE_THRESHOLD of $NODES owners, funded with 900 LUX for fees; $SETTLE_DIR/channel.json"
fi

# ---- start the nodes ------------------------------------------------------
ENDPOINTS=
for ((i = 0; i < NODES; i++)); do
    ENDPOINTS+="${ENDPOINTS:+,}tcp://localhost:$(($(node_port "$i") + 2))"
done

# shellcheck disable=SC2206
node_extra=($NODE_ARGS)
# links I: the node numbers node I lists in --peers (docs/topologies.md):
# mesh every other node; star node0 all, the others node0; ring the two
# neighbours.
links() {
    local i=$1 j
    case "$TOPOLOGY" in
    mesh) for ((j = 0; j < NODES; j++)); do [ "$j" -ne "$i" ] && echo "$j"; done ;;
    star) if [ "$i" -eq 0 ]; then for ((j = 1; j < NODES; j++)); do echo "$j"; done; else echo 0; fi ;;
    ring) printf '%s\n' $(((i + NODES - 1) % NODES)) $(((i + 1) % NODES)) | awk -v i="$i" '$1 != i' | sort -un ;;
    esac
}

say "starting $NODES nodes (topology $TOPOLOGY, consensus $CONSENSUS, cluster $CLUSTER_ID, fsync $FSYNC, data in $DATA_ROOT, logs in $LOG_DIR)"
for ((i = 0; i < NODES; i++)); do
    peers=
    numbers=
    for j in $(links "$i"); do
        peers+="${peers:+,}tcp://localhost:$(node_port "$j")"
        numbers+="${numbers:+,}$j"
    done
    args=(--node "node$i" --port "$(node_port "$i")" --consensus "$CONSENSUS" --cluster-id "$CLUSTER_ID"
        --topology "$TOPOLOGY" --cluster-size "$NODES"
        --data-dir "$DATA_ROOT/node$i" --fsync "$FSYNC"
        --metrics-interval "$METRICS_INTERVAL")
    # With settlement the accounts are funded on-chain: no faucet.
    if [ "$SETTLE_JSON" = true ]; then
        args+=(--channel "$SETTLE_DIR/channel.json" --key-file "$SETTLE_DIR/node$i.key"
            --settle-interval "$SETTLE_INTERVAL" --settle-fills "$SETTLE_FILLS")
        # Every node can submit settlements, so any of them can be elected.
        args+=(--rpc "$RPC")
    else
        args+=(--dev-faucet)
    fi
    [ -n "$peers" ] && args+=(--peers "$peers")
    if [ "$i" -eq 0 ]; then args+=(--leader); else args+=(--leader=false); fi
    if [ "$CURVE_JSON" = true ]; then
        args+=(--curve-key "$KEY_DIR/node$i.key" --peer-keys "$KEY_DIR/nodes.allow"
            --client-keys "$KEY_DIR/clients.allow")
        [ -n "$numbers" ] && args+=(--peer-numbers "$numbers")
    fi
    args+=("${node_extra[@]}")
    if is_true "$KEEP_ALIVE"; then
        # Its own session, so that closing the terminal does not stop it.
        setsid "$BIN_DIR/multi-node" "${args[@]}" >"$LOG_DIR/node$i.log" 2>&1 </dev/null &
    else
        "$BIN_DIR/multi-node" "${args[@]}" >"$LOG_DIR/node$i.log" 2>&1 </dev/null &
    fi
    NODE_PIDS[i]=$!
    say "node$i: pid ${NODE_PIDS[$i]}, ports $(node_port "$i")-$(($(node_port "$i") + 3))$([ "$i" -eq 0 ] && echo ', leader')"
done

# node_died I: reports a node that exited, with the end of its log.
node_died() {
    local i=$1 st
    wait "${NODE_PIDS[$i]}" 2>/dev/null
    st=$?
    NODE_PIDS[i]=
    printf '[run-multi-node] error: node%s exited with status %s%s; end of %s:\n' "$i" "$st" \
        "$([ "$st" -eq 3 ] && echo ' (a port is in use)')" "$LOG_DIR/node$i.log" >&2
    tail -n 5 "$LOG_DIR/node$i.log" | sed 's/^/    /' >&2
}

say "waiting for every node to be ready (up to ${READY_TIMEOUT}s)"
deadline=$((SECONDS + READY_TIMEOUT))
while :; do
    ready=0
    for ((i = 0; i < NODES; i++)); do
        if ! kill -0 "${NODE_PIDS[$i]}" 2>/dev/null; then
            node_died "$i"
            exit 1
        fi
        grep -qw 'ready' "$LOG_DIR/node$i.log" 2>/dev/null && ready=$((ready + 1))
    done
    [ "$ready" -eq "$NODES" ] && break
    [ "$SECONDS" -ge "$deadline" ] && die "only $ready of $NODES nodes logged 'ready' within ${READY_TIMEOUT}s; see $LOG_DIR/node*.log"
    sleep 0.2
done
# The nodes listen; make sure each one answers a PING before the load starts.
if ! "$BIN_DIR/test-client" --nodes "$ENDPOINTS" --wait-ready "${READY_TIMEOUT}s" "${CLIENT_CURVE[@]}" \
    >"$LOG_DIR/wait-ready.log" 2>&1; then
    sed 's/^/    /' "$LOG_DIR/wait-ready.log" >&2
    die "not every node answered a PING within ${READY_TIMEOUT}s"
fi
# A follower answers PINGs before it has heard from the leader: wait until
# every node holds the leader's first block (the markets).
synced() {
    local i s
    for ((i = 0; i < NODES; i++)); do
        s=$(jq -r '.seq' "$DATA_ROOT/node$i/status.json" 2>/dev/null)
        is_uint "$s" && [ "$s" -ge 1 ] || return 1
    done
}
until synced; do
    [ "$SECONDS" -ge "$deadline" ] && die "not every node reached the leader's first block within ${READY_TIMEOUT}s; see $LOG_DIR/node*.log"
    sleep 0.2
done
say "all $NODES nodes are ready"

# shellcheck disable=SC2206
client_extra=($CLIENT_ARGS)

# ---- settlement: the test accounts funded by deposits on the X-Chain -------
# test-client --funding plan prints the deposits its faucet funding would
# make; each account gets one tx from the funder to the channel with one
# output per asset and the memo "lxdex/deposit/v1 <account>", spending
# genesis UTXOs of its own so that the txs go out in parallel. The leader's
# watcher sequences them; the load starts once all are in its log.
CLIENT_SETTLE=()
DEPOSIT_OUTPUTS=0
if [ "$SETTLE_JSON" = true ]; then
    "$BIN_DIR/test-client" --nodes "$ENDPOINTS" --duration "$TEST_DURATION" --rate "$ORDERS_PER_SEC" \
        --funding plan --quiet "${CLIENT_CURVE[@]}" "${client_extra[@]}" \
        >"$LOG_DIR/funding-plan.jsonl" 2>"$LOG_DIR/client.log" ||
        die "test-client --funding plan failed (see $LOG_DIR/client.log)"
    # One line per account: account, then "asset amount" pairs.
    jq -rs 'group_by(.account)[] | "\(.[0].account) " + (map("\(.asset) \(.amount)") | join(" "))' \
        "$LOG_DIR/funding-plan.jsonl" >"$SETTLE_DIR/deposits.txt" || die "cannot read the funding plan"
    naccounts=$(wc -l <"$SETTLE_DIR/deposits.txt")
    [ "$naccounts" -ge 1 ] && [ "$naccounts" -le "$UTXOS_PER_ASSET" ] ||
        die "the client trades from $naccounts accounts; SETTLE=true funds 1 to $UTXOS_PER_ASSET"
    DEPOSIT_OUTPUTS=$(wc -l <"$LOG_DIR/funding-plan.jsonl")
    # deposit_account LINE_NUMBER ACCOUNT ASSET AMOUNT ...: one tx.
    deposit_account() {
        local n=$1 acct=$2 k a amt
        shift 2
        local args=(--key-file "$SETTLE_DIR/funder.key" --utxo "$GENESIS_TX:$n" --memo "lxdex/deposit/v1 $acct")
        while [ $# -ge 2 ]; do
            a=$1 amt=$2
            shift 2
            k=-1
            for j in "${!SETTLE_ASSET_LIST[@]}"; do [ "${SETTLE_ASSET_LIST[$j]}" = "$a" ] && k=$j; done
            if [ "$k" -lt 0 ]; then
                [ "$a" = LUX ] || { echo "asset $a is not in SETTLE_ASSETS"; return 1; }
            else
                args+=(--utxo "$GENESIS_TX:$(((k + 1) * UTXOS_PER_ASSET + 1 + n))")
            fi
            [ "$amt" -le 1000000000000000 ] || { echo "account $acct needs $amt $a, over one genesis UTXO"; return 1; }
            args+=(--owners "$CHANNEL_ADDRS" --threshold "$SETTLE_THRESHOLD" --asset "$a" --amount "$amt")
        done
        xc send "${args[@]}" >/dev/null
    }
    say "depositing into the channel on-chain: $DEPOSIT_OUTPUTS deposits, one tx per account ($naccounts txs)"
    n=0
    dep_fail=0
    while read -r line; do
        # shellcheck disable=SC2086
        deposit_account "$n" $line >>"$LOG_DIR/deposits.log" 2>&1 &
        DEP_PIDS+=("$!")
        n=$((n + 1))
        if [ "${#DEP_PIDS[@]}" -ge 8 ]; then
            for p in "${DEP_PIDS[@]}"; do wait "$p" || dep_fail=1; done
            DEP_PIDS=()
        fi
    done <"$SETTLE_DIR/deposits.txt"
    for p in "${DEP_PIDS[@]}"; do wait "$p" || dep_fail=1; done
    DEP_PIDS=()
    [ "$dep_fail" -eq 0 ] || die "a deposit failed; see $LOG_DIR/deposits.log"
    chain_deposits() { "$BIN_DIR/lx-journal" --data-dir "$DATA_ROOT/node0" --commands 2>/dev/null | grep -c '"op":"chain_deposit"'; }
    deadline=$((SECONDS + SETTLE_TIMEOUT))
    until [ "$(chain_deposits)" -ge "$DEPOSIT_OUTPUTS" ]; do
        [ "$SECONDS" -ge "$deadline" ] && die "only $(chain_deposits) of $DEPOSIT_OUTPUTS deposits reached the log within ${SETTLE_TIMEOUT}s (SETTLE_TIMEOUT)"
        sleep 0.3
    done
    say "all $DEPOSIT_OUTPUTS deposits are credited (in the leader's log)"
    CLIENT_SETTLE=(--funding none)
    [ "$WITHDRAW_EVERY" -gt 0 ] && CLIENT_SETTLE+=(--withdraw-every "$WITHDRAW_EVERY" --withdraw-to "$WD_ADDR"
        --withdraw-amount "$WITHDRAW_AMOUNT" --withdraw-asset "$WITHDRAW_ASSET")
fi

# ---- the load -------------------------------------------------------------
say "test client: $ORDERS_PER_SEC orders/s for $TEST_DURATION over $ENDPOINTS${CLIENT_ARGS:+ ($CLIENT_ARGS)}"
"$BIN_DIR/test-client" --nodes "$ENDPOINTS" --duration "$TEST_DURATION" --rate "$ORDERS_PER_SEC" \
    --acked-log "$LOG_DIR/acked.log" --json "${CLIENT_CURVE[@]}" "${CLIENT_SETTLE[@]}" "${client_extra[@]}" \
    >"$LOG_DIR/client.json" 2>"$LOG_DIR/client.log" &
CLIENT_PID=$!
# Show the client's messages as they come; tail ends when the client does.
tail -n +1 -f --pid="$CLIENT_PID" "$LOG_DIR/client.log" 2>/dev/null | sed 's/^test-client: //; s/^/    client: /' >&2 &
TAIL_PID=$!
wait "$CLIENT_PID"
CLIENT_RC=$?
CLIENT_PID=
wait "$TAIL_PID" 2>/dev/null
TAIL_PID=
if [ "$CLIENT_RC" -eq 0 ]; then
    say "test client finished"
else
    say "test client failed with exit status $CLIENT_RC (see $LOG_DIR/client.log)"
fi

# ---- convergence ----------------------------------------------------------
# node_state I: "seq hash" from node I's status.json, empty if unreadable.
node_state() {
    jq -r '"\(.seq) \(.state_hash)"' "$DATA_ROOT/node$1/status.json" 2>/dev/null
}

# all_same: 0 if every node's status.json shows the same seq and state hash.
all_same() {
    local first="" s i
    for ((i = 0; i < NODES; i++)); do
        s=$(node_state "$i")
        [ -n "$s" ] || return 1
        [ -z "$first" ] && first=$s
        [ "$s" = "$first" ] || return 1
    done
    return 0
}

say "waiting for the nodes to reach the same seq (up to ${CONVERGE_TIMEOUT}s)"
deadline=$((SECONDS + CONVERGE_TIMEOUT))
# status.json is rewritten about once a second: let it catch up with the end
# of the load before comparing.
sleep 1.2
until all_same || [ "$SECONDS" -ge "$deadline" ]; do sleep 0.5; done

# ---- settlement: the last batch Accepted, the audit, the latency ----------
# Every fill of the leader's log and every acknowledged withdrawal must be in
# a batch whose settlement tx the X-Chain accepted; then lx-audit walks the
# chain of settlement txs against the batches of the reference node: the
# leader (node0 unless a node was killed and another took over), else the
# running node at the highest seq.
ref_node() {
    local i best=0 bseq=-1 s seq role st
    for ((i = 0; i < NODES; i++)); do
        # Running: a node killed from outside is a zombie until reaped.
        st=$(ps -o stat= -p "${NODE_PIDS[$i]:-0}" 2>/dev/null)
        if [ -z "$st" ] || [ "${st:0:1}" = Z ]; then continue; fi
        s=$(jq -r '"\(.seq // -1) \(.role // "")"' "$DATA_ROOT/node$i/status.json" 2>/dev/null) || continue
        read -r seq role <<<"$s"
        [[ "$seq" =~ ^[0-9]+$ ]] || continue
        if [ "$role" = leader ]; then
            echo "$i"
            return
        fi
        [ "$seq" -gt "$bseq" ] && best=$i && bseq=$seq
    done
    echo "$best"
}
SETTLE_RESULT='null'
SETTLE_OK=true
if [ "$SETTLE_JSON" = true ]; then
    SETTLE_OK=false
    REF=$(ref_node)
    [ "$REF" = 0 ] || say "settlement is checked against node$REF's records (node0 is not running or not the leader)"
    S0=$DATA_ROOT/node$REF/settle
    wd_acked=$(jq -r '.withdrawals.acked // 0' "$LOG_DIR/client.json" 2>/dev/null | tail -n 1)
    wd_amount=$(jq -r '.withdrawals.amount // 0' "$LOG_DIR/client.json" 2>/dev/null | tail -n 1)
    is_uint "$wd_acked" || wd_acked=0
    is_uint "$wd_amount" || wd_amount=0
    # batch_totals: "batches accepted fills withdrawals" over node0's records.
    batch_totals() {
        cat "$S0"/*.json 2>/dev/null | jq -rs '"\(length) \(map(select(.status == "accepted")) | length) \(map(select(.status == "accepted") | .fill_count) | add // 0) \(map(select(.status == "accepted") | .withdrawals) | add // 0)"'
    }
    log_fills() { "$BIN_DIR/lx-journal" --data-dir "$DATA_ROOT/node$REF" 2>/dev/null | grep -c '"ev":"fill"'; }
    say "waiting for the last batch to be Accepted on the X-Chain (up to ${SETTLE_TIMEOUT}s)"
    deadline=$((SECONDS + SETTLE_TIMEOUT))
    settled=false
    while :; do
        read -r nb na nf nw <<<"$(batch_totals)"
        lf=$(log_fills)
        if [ "${nb:-0}" -ge 1 ] && [ "$nb" = "$na" ] && [ "$nf" = "$lf" ] && [ "$nw" -ge "$wd_acked" ]; then
            settled=true
            break
        fi
        if [ "$SECONDS" -ge "$deadline" ]; then
            printf '[run-multi-node] error: settlement did not finish within %ss (SETTLE_TIMEOUT): %s of %s batches accepted, %s of %s fills and %s of %s withdrawals settled; see %s\n' \
                "$SETTLE_TIMEOUT" "${na:-0}" "${nb:-0}" "${nf:-0}" "$lf" "${nw:-0}" "$wd_acked" "$LOG_DIR/node$REF.log" >&2
            break
        fi
        sleep 1
    done
    cat "$S0"/*.json 2>/dev/null | jq -rs 'sort_by(.batch)[] | select(.tx_id != null) | "\(.batch) \(.tx_id)"' \
        >"$LOG_DIR/settle-txids.txt"
    say "lx-audit of the channel against node$REF's batches"
    "$BIN_DIR/lx-audit" --rpc "$RPC" --channel "$CHANNEL_ADDRS" --threshold "$SETTLE_THRESHOLD" \
        --data-dir "$DATA_ROOT/node$REF" >"$LOG_DIR/audit.txt" 2>&1
    AUDIT_RC=$?
    "$BIN_DIR/lx-audit" --rpc "$RPC" --channel "$CHANNEL_ADDRS" --threshold "$SETTLE_THRESHOLD" \
        --data-dir "$DATA_ROOT/node$REF" --json >"$LOG_DIR/audit.json" 2>/dev/null
    verdict=$(jq -r '.verdict // "error"' "$LOG_DIR/audit.json" 2>/dev/null)
    [ -n "$verdict" ] || verdict=error
    [ "$AUDIT_RC" -eq 0 ] || [ "$verdict" != ok ] || verdict=fail
    wd_chain=$(xc balance "$WD_ADDR" --json 2>/dev/null |
        jq -r --arg a "$WITHDRAW_ASSET" '[.balances[] | select(.symbol == $a) | .total][0] // "0"')
    is_uint "$wd_chain" || wd_chain=0
    # Fill-to-Accepted latency: each fill's block was cut at timestamp_us
    # (<n>.times), its batch's tx was seen Accepted at accepted_us (the
    # leader's clock; settled_us, the settled entry's block, if unknown).
    lat_sorted=$SETTLE_DIR/latency.txt
    for f in "$S0"/*.json; do
        [ -e "$f" ] || continue
        t=$(jq -r 'select(.status == "accepted") | if (.accepted_us // 0) > 0 then .accepted_us else .settled_us end' "$f")
        [ -n "$t" ] && [ -f "${f%.json}.times" ] && awk -v t="$t" '{print (t - $2) / 1000, $3}' "${f%.json}.times"
    done | sort -n >"$lat_sorted"
    LAT_JSON=$(awk '{v[NR] = $1; w[NR] = $2; n += $2}
        END {
            if (n == 0) { print "{\"fills\":0,\"p50\":null,\"p99\":null,\"max\":null}"; exit }
            c = 0; p50 = ""; p99 = ""
            for (i = 1; i <= NR; i++) {
                c += w[i]
                if (p50 == "" && c >= 0.50 * n) p50 = v[i]
                if (p99 == "" && c >= 0.99 * n) p99 = v[i]
            }
            printf "{\"fills\":%d,\"p50\":%.1f,\"p99\":%.1f,\"max\":%.1f}\n", n, p50, p99, v[NR]
        }' "$lat_sorted")
    read -r nb na nf nw <<<"$(batch_totals)"
    lf=$(log_fills)
    # Every withdrawal in a batch is paid once. Under overload the client may
    # time out on a withdrawal the log took: it is settled but not acked, so
    # the check is settled >= acked and paid = settled * amount.
    wd_settled_amount=$((${nw:-0} * WITHDRAW_AMOUNT))
    ntx=$(wc -l <"$LOG_DIR/settle-txids.txt")
    nutx=$(cut -d' ' -f2 "$LOG_DIR/settle-txids.txt" | sort -u | wc -l)
    EXACTLY_ONCE=false
    [ "$settled" = true ] && [ "$verdict" = ok ] && [ "$nf" = "$lf" ] && [ "$ntx" = "$na" ] &&
        [ "$nutx" = "$ntx" ] && [ "${nw:-0}" -ge "$wd_acked" ] && [ "$wd_chain" = "$wd_settled_amount" ] &&
        EXACTLY_ONCE=true
    [ "$EXACTLY_ONCE" = true ] && SETTLE_OK=true
    target_ms=$((SETTLE_INTERVAL_S * 1000 + DEVNET_BLOCK_MS + 100))
    SETTLE_RESULT=$(jq -cn --arg rpc "$RPC" --arg ch "$CHANNEL_ADDRS" --argjson t "$SETTLE_THRESHOLD" \
        --argjson nb "${nb:-0}" --argjson na "${na:-0}" --argjson nf "${nf:-0}" --argjson lf "${lf:-0}" \
        --argjson nw "${nw:-0}" --argjson wda "$wd_acked" --arg wdamt "$wd_amount" --arg wdc "$wd_chain" \
        --arg wdsamt "$wd_settled_amount" \
        --arg wdaddr "$WD_ADDR" --arg wdasset "$WITHDRAW_ASSET" --argjson deps "$DEPOSIT_OUTPUTS" \
        --arg verdict "$verdict" --argjson eo "$EXACTLY_ONCE" --argjson settled "$settled" \
        --argjson lat "$LAT_JSON" --argjson target "$target_ms" --arg txfile "$LOG_DIR/settle-txids.txt" \
        --arg interval "$SETTLE_INTERVAL" --argjson block "$DEVNET_BLOCK_MS" \
        --argjson txids "$(jq -Rsc 'split("\n") | map(select(length > 0) | split(" ")[1])' "$LOG_DIR/settle-txids.txt")" '
        {devnet_rpc: $rpc, channel: ($ch | split(",")), threshold: $t, settle_interval: $interval,
         devnet_block_ms: $block, deposits: $deps,
         batches: $nb, batches_accepted: $na, fills_settled: $nf, fills_in_log: $lf,
         all_accepted: $settled,
         withdrawals: {acked: $wda, settled: $nw, amount: ($wdamt | tonumber),
                       settled_amount: ($wdsamt | tonumber), asset: $wdasset,
                       to: $wdaddr, on_chain: ($wdc | tonumber)},
         tx_count: ($txids | length), tx_ids: (if ($txids | length) <= 20 then $txids else null end),
         tx_ids_file: $txfile, audit: $verdict, exactly_once: $eo,
         fill_to_accepted_ms: ($lat + {target_p99: $target})}')
fi

if is_true "$KEEP_ALIVE"; then
    LEAVE_RUNNING=true
else
    say "stopping the nodes (SIGTERM, SIGKILL after ${STOP_TIMEOUT}s)"
    stop_nodes
fi

# Final states: written at shutdown, or live ones when the nodes keep running.
CONVERGED=true
all_same || CONVERGED=false
states=()
for ((i = 0; i < NODES; i++)); do
    f=$DATA_ROOT/node$i/status.json
    ex=null
    [ -n "${NODE_EXIT[$i]:-}" ] && ex=${NODE_EXIT[$i]}
    if s=$(jq -c --arg n "node$i" --argjson ex "$ex" \
        '{node: $n, role, term, seq, state_hash, orders, trades, lag, hash_mismatches,
          foreign_refused, exit: $ex}' \
        "$f" 2>/dev/null) && [ -n "$s" ]; then
        states+=("$s")
    else
        states+=("$(jq -cn --arg n "node$i" --argjson ex "$ex" \
            '{node: $n, seq: null, state_hash: null, exit: $ex}')")
        CONVERGED=false
    fi
done
STATES_JSON=$(printf '%s\n' "${states[@]}" | jq -cs .)

# The seed may pass 2^53, where jq's numbers lose digits: keep it as text.
# (jq -e alone does not fail on an empty file: select the object instead.)
CLIENT_JSON=$(sed -E 's/"seed":([0-9]+)/"seed":"\1"/' "$LOG_DIR/client.json" 2>/dev/null |
    jq -c 'select(type == "object")' 2>/dev/null | tail -n 1)
[ -n "$CLIENT_JSON" ] || CLIENT_JSON='{}'

jq -n --argjson nodes "$NODES" --argjson dur "$DURATION_S" --argjson rate "$ORDERS_PER_SEC" \
    --argjson client "$CLIENT_JSON" --argjson states "$STATES_JSON" \
    --argjson converged "$CONVERGED" --argjson client_exit "$CLIENT_RC" \
    --arg consensus "$CONSENSUS" --arg cluster_id "$CLUSTER_ID" --arg fsync "$FSYNC" \
    --argjson base_port "$BASE_PORT" \
    --arg client_args "$CLIENT_ARGS" --argjson curve "$CURVE_JSON" \
    --argjson settlement "$SETTLE_RESULT" --argjson settle_ok "$SETTLE_OK" '
    {nodes: $nodes, duration_s: $dur, target_rate: $rate, sent: null, acked: null,
     rejected: null, errors: null, fills: null, throughput: null,
     latency_us: {p50: null, p90: null, p99: null, p999: null, max: null}}
    + $client
    + {nodes: $nodes, duration_s: $dur, target_rate: $rate,
       measured_duration_s: $client.duration_s, consensus: $consensus, cluster_id: $cluster_id,
       fsync: $fsync, curve: $curve,
       base_port: $base_port,
       client_args: $client_args, client_exit: $client_exit,
       node_states: $states, converged: $converged, settlement: $settlement,
       ok: ($client_exit == 0 and $converged and $settle_ok)}' >"$LOG_DIR/summary.json" ||
    die "could not write $LOG_DIR/summary.json"

# ---- summary --------------------------------------------------------------
echo
echo "==================== lxdex cluster run ===================="
jq -r '"nodes        \(.nodes) (consensus \(.consensus), cluster \(.cluster_id), fsync \(.fsync), CURVE \(if .curve then "on" else "off" end))",
       "load         \(.target_rate) orders/s for \(.duration_s) s",
       "sent         \(.sent)   acked \(.acked)   rejected \(.rejected)   errors \(.errors)   fills \(.fills)",
       "throughput   \(.throughput) orders/s",
       "latency us   p50 \(.latency_us.p50)  p90 \(.latency_us.p90)  p99 \(.latency_us.p99)  p99.9 \(.latency_us.p999)  max \(.latency_us.max)"' \
    "$LOG_DIR/summary.json"
[ "$CLIENT_RC" -eq 0 ] || echo "client       FAILED (exit $CLIENT_RC, see $LOG_DIR/client.log)"
echo
echo "last metrics line of each node:"
for ((i = 0; i < NODES; i++)); do
    m=$(grep ' metrics - ' "$LOG_DIR/node$i.log" 2>/dev/null | tail -n 1)
    echo "  ${m:-node$i: no metrics line (see $LOG_DIR/node$i.log)}"
done
echo
echo "node states:"
jq -r '.node_states[] | "  \(.node)  seq \(.seq)  state_hash \(.state_hash)" +
       (if .exit != null and .exit != 0 then "  (exit status \(.exit))" else "" end) +
       (if (.foreign_refused // 0) > 0 then "  (refused \(.foreign_refused) messages of another cluster: see its log)" else "" end)' \
    "$LOG_DIR/summary.json"
echo
if [ "$CONVERGED" = true ]; then
    echo "converged:   yes, every node has the same seq and state hash"
else
    echo "converged:   NO, the nodes differ (or a node's status.json is missing)"
fi
if [ "$SETTLE_JSON" = true ]; then
    echo
    jq -r '.settlement |
       "settlement   \(.batches_accepted) of \(.batches) batches Accepted on lx-devnet (\(.devnet_rpc)), \(.threshold) of \(.channel | length) signatures",
       "  fills      \(.fills_settled) settled of \(.fills_in_log) in the log; deposits \(.deposits) on-chain",
       "  withdrawals \(.withdrawals.acked) acked, \(.withdrawals.settled) settled, \(.withdrawals.on_chain) of \(.withdrawals.settled_amount) \(.withdrawals.asset) paid on-chain",
       "  txs        \(.tx_count) settlement txs" + (if .tx_ids != null and .tx_count > 0 then ": " + (.tx_ids | join(" ")) else "" end) + " (list: \(.tx_ids_file))",
       "  audit      \(.audit) (lx-audit), exactly once: \(if .exactly_once then "yes" else "NO" end)",
       "  fill->Accepted ms  p50 \(.fill_to_accepted_ms.p50)  p99 \(.fill_to_accepted_ms.p99)  max \(.fill_to_accepted_ms.max) over \(.fill_to_accepted_ms.fills) fills (target p99 <= \(.fill_to_accepted_ms.target_p99))"' \
        "$LOG_DIR/summary.json"
fi
echo "summary:     $LOG_DIR/summary.json"
echo "==========================================================="

if [ "$LEAVE_RUNNING" = true ]; then
    : >"$LOG_DIR/pids"
    for ((i = 0; i < NODES; i++)); do
        [ -n "${NODE_PIDS[$i]}" ] && echo "${NODE_PIDS[$i]}" >>"$LOG_DIR/pids"
    done
    [ -n "$DEVNET_PID" ] && echo "$DEVNET_PID" >>"$LOG_DIR/pids" && echo "lx-devnet: $RPC (its PID is the last in $LOG_DIR/pids)"
    true
    echo
    echo "The nodes keep running (KEEP_ALIVE=true). PIDs: $(tr '\n' ' ' <"$LOG_DIR/pids")"
    echo "Client endpoints: $ENDPOINTS"
    echo "Stop them with:   kill \$(cat $LOG_DIR/pids)"
fi

[ "$CLIENT_RC" -eq 0 ] && [ "$CONVERGED" = true ] && [ "$SETTLE_OK" = true ]
