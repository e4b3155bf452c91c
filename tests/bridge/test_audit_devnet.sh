#!/usr/bin/env bash
# Integration test of lx-audit and lx-proof on bin/lx-devnet (built-in
# genesis, free loopback port): a 2-of-3 channel is funded, tests/settle_driver
# settles two batches with fills and writes them to a data dir as a node
# does; lx-audit passes, with and without the data dir; lx-proof proves a
# fill and --verify accepts it. Then tampering: a wrong batch file and a
# wrong recorded txID in the data dir, modified proofs, and a
# settlement-shaped tx from a stranger on the chain each make them fail.
set -euo pipefail

BIN=${LX_BIN:?LX_BIN is not set}
BUILD=${LX_BUILD:?LX_BUILD is not set}
XC="$BIN/lx-xchain"
DEVNET="$BIN/lx-devnet"
AUDIT="$BIN/lx-audit"
PROOF="$BIN/lx-proof"
DRIVER="$BUILD/tests/settle_driver"
for b in "$XC" "$DEVNET" "$AUDIT" "$PROOF" "$DRIVER"; do
  [ -x "$b" ] || { echo "FAIL: $b is not built"; exit 1; }
done
command -v jq >/dev/null || { echo "FAIL: jq is needed"; exit 1; }

TMP=$(mktemp -d)
PID=""
cleanup() {
  if [ -n "$PID" ]; then kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; fi
  rm -rf "$TMP"
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok - $*"; }
# expect CODE CMD...: runs CMD (output to $TMP/out, $TMP/err) and checks
# its exit status.
expect() {
  local want=$1 got=0
  shift
  "$@" >"$TMP/out" 2>"$TMP/err" || got=$?
  [ "$got" = "$want" ] || fail "$* exited $got, want $want: $(cat "$TMP/out" "$TMP/err")"
}

"$DEVNET" --port 0 --block-ms 100 2>"$TMP/log" &
PID=$!
PORT=""
for _ in $(seq 1 100); do
  PORT=$(sed -n 's/.*listening on http:\/\/127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$TMP/log")
  [ -n "$PORT" ] && break
  kill -0 "$PID" 2>/dev/null || fail "lx-devnet exited: $(cat "$TMP/log")"
  sleep 0.1
done
[ -n "$PORT" ] || fail "lx-devnet did not start"
RPC="http://127.0.0.1:$PORT"
xc() { "$XC" --rpc "$RPC" --hrp local "$@"; }

G=$TMP/genesis.key
(umask 077 && echo 56289e99c94b6912bfc12adc093c9b51124f0dc54ac7a766b2bc5ccf558d8027 >"$G")
for k in a b c r; do
  xc keygen --key-file "$TMP/$k.key" >"$TMP/$k.addr" || fail "keygen $k"
done
A=$(cat "$TMP/a.addr"); B=$(cat "$TMP/b.addr"); C=$(cat "$TMP/c.addr"); R=$(cat "$TMP/r.addr")
CH="$A,$B,$C"
FEE=1000000
FUND1=20000000000
FUND2=7000000000
xc send --key-file "$G" --owners "$CH" --threshold 2 --amount "$FUND1" >/dev/null || fail "fund 1"
xc send --key-file "$G" --owners "$C,$A,$B" --threshold 2 --amount "$FUND2" >/dev/null || fail "fund 2"

# getAddressTxs pages: one tx per page, the cursor moves by the count.
atx() {
  curl -s -X POST -H 'content-type: application/json' "$RPC/ext/bc/X" \
    --data "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"xvm.getAddressTxs\",\"params\":{\"address\":\"$A\",\"assetID\":\"LUX\",\"cursor\":\"$1\",\"pageSize\":1}}"
}
P0=$(atx 0 | jq -c .result); P1=$(atx 1 | jq -c .result); P2=$(atx 2 | jq -c .result)
jq -e '(.txIDs | length) == 1 and .cursor == "1"' <<<"$P0" >/dev/null || fail "getAddressTxs page 0: $P0"
jq -e '(.txIDs | length) == 1 and .cursor == "2"' <<<"$P1" >/dev/null || fail "getAddressTxs page 1: $P1"
jq -e '(.txIDs | length) == 0 and .cursor == "2"' <<<"$P2" >/dev/null || fail "getAddressTxs page 2: $P2"
[ "$(jq -r '.txIDs[0]' <<<"$P0")" != "$(jq -r '.txIDs[0]' <<<"$P1")" ] || fail "getAddressTxs repeats a tx"
ok "xvm.getAddressTxs lists the two funding txs page by page"

# Before any settlement: the channel's deposits, nothing else.
expect 0 "$AUDIT" --rpc "$RPC" --channel "$CH"
grep -q '^no settlement txs$' "$TMP/out" || fail "empty chain: $(cat "$TMP/out")"
grep -q "^conservation LUX: deposits $((FUND1 + FUND2)) - withdrawals 0 - fees 0, channel holds $((FUND1 + FUND2)): ok$" "$TMP/out" ||
  fail "funding: $(cat "$TMP/out")"
ok "lx-audit before any settlement: two deposits, no settlement"

W1=3000000000
W2=1234567
NODE=$TMP/node
"$DRIVER" --rpc "$RPC" --key-file "$TMP/a.key" --key-file "$TMP/b.key" --key-file "$TMP/c.key" \
  --to "$R" --amount "$W1" --amount "$W2" --fills 6 --data-dir "$NODE" >"$TMP/drv" 2>"$TMP/drverr" ||
  fail "settle_driver: $(cat "$TMP/drverr")"
TX1=$(sed -n 's/^settled 1 \([^ ]*\) .*/\1/p' "$TMP/drv")
TX2=$(sed -n 's/^settled 2 \([^ ]*\) .*/\1/p' "$TMP/drv")
[ -n "$TX1" ] && [ -n "$TX2" ] || fail "settle_driver: $(cat "$TMP/drv")"
[ -f "$NODE/settle/00000000000000000002.batch" ] || fail "no batch file in $NODE/settle"
ok "two batches of 6 fills settled: $TX1 $TX2"

# ---- the audit passes
expect 0 "$AUDIT" --rpc "$RPC" --channel "$CH"
grep -q "^batch 1 $TX1 ok$" "$TMP/out" || fail "batch 1 line"
grep -q "^batch 2 $TX2 ok$" "$TMP/out" || fail "batch 2 line"
HOLD=$((FUND1 + FUND2 - W1 - W2 - 2 * FEE))
grep -q "^conservation LUX: deposits $((FUND1 + FUND2)) - withdrawals $((W1 + W2)) - fees $((2 * FEE)), channel holds $HOLD: ok$" "$TMP/out" ||
  fail "conservation line"
grep -q '^verdict: ok (2 settlements, 0 discrepancies)$' "$TMP/out" || fail "verdict line"
ok "lx-audit passes: both settlements, conservation"

expect 0 "$AUDIT" --rpc "$RPC" --channel "$C,$B,$A" --threshold 2 --data-dir "$NODE" --json
jq -e '.verdict == "ok" and (.settlements | length) == 2 and
       ([.settlements[].storedBatch] == ["match", "match"]) and .storedBatches == 2 and
       .settlements[0].txID == "'"$TX1"'" and .conservation[0].onChain == "'"$HOLD"'"' \
  "$TMP/out" >/dev/null || fail "audit --json --data-dir: $(cat "$TMP/out")"
ok "lx-audit --data-dir --json: every memo matches its stored batch"

expect 0 "$AUDIT" --rpc "$RPC" --channel "$CH" --first "$TX1"
expect 1 "$AUDIT" --rpc "$RPC" --channel "$CH" --first "$TX2"
grep -q "spends channel UTXOs but is not in the chain" "$TMP/out" || fail "--first TX2: $(cat "$TMP/out")"
ok "--first: the real first settlement passes, the second one does not"

# A wrong channel: the same owners with threshold 3 own no UTXO.
expect 1 "$AUDIT" --rpc "$RPC" --channel "$CH" --threshold 3
grep -q '^verdict: FAIL' "$TMP/out" || fail "threshold 3: $(cat "$TMP/out")"
ok "lx-audit with the wrong threshold fails"

# ---- proofs: fills 0..5 are batch 1, 6..11 batch 2
expect 0 "$PROOF" --data-dir "$NODE" --fill 8
grep -q '^fill 8 ' "$TMP/out" && grep -q '^batch 2 hash ' "$TMP/out" &&
  grep -q "^settlement tx $TX2$" "$TMP/out" && grep -q '^merkle path: leaf 2 of 6, 3 siblings' "$TMP/out" ||
  fail "lx-proof text: $(cat "$TMP/out")"
expect 0 "$PROOF" --data-dir "$NODE" --fill 8 --json
cp "$TMP/out" "$TMP/proof8.json"
expect 0 "$PROOF" --data-dir "$NODE" --fill 0 --json
cp "$TMP/out" "$TMP/proof0.json"
jq -e '.txID == "'"$TX1"'" and .batch.number == "1" and .proof.index == "0"' "$TMP/proof0.json" >/dev/null ||
  fail "proof 0: $(cat "$TMP/proof0.json")"
expect 0 "$PROOF" --verify "$TMP/proof8.json" --rpc "$RPC"
grep -q "^ok: fill 8 is leaf 2 of 6 in batch 2 .* settled by tx $TX2 (Accepted)" "$TMP/out" ||
  fail "verify: $(cat "$TMP/out")"
expect 0 "$PROOF" --verify - --rpc "$RPC" --channel "$CH" --json <"$TMP/proof0.json"
jq -e '.verdict == "ok" and .channelChecked == true and .batch == "1"' "$TMP/out" >/dev/null ||
  fail "verify --channel: $(cat "$TMP/out")"
ok "lx-proof: fills 8 and 0 proven and verified against the chain"

# Modified proofs fail.
tamper() { jq -c "$1" "$TMP/proof8.json" >"$TMP/bad.json"; expect 1 "$PROOF" --verify "$TMP/bad.json" --rpc "$RPC"; }
tamper '.fill.qty = "999"'
grep -q 'does not say what the leaf bytes say' "$TMP/err" || fail "qty: $(cat "$TMP/err")"
# The leaf of fill 0 with fill 8's path: the hashes do not lead to the root.
jq -c --slurpfile p0 "$TMP/proof0.json" '.leaf = $p0[0].leaf | .fill = $p0[0].fill' "$TMP/proof8.json" >"$TMP/bad.json"
expect 1 "$PROOF" --verify "$TMP/bad.json" --rpc "$RPC"
grep -q 'does not lead' "$TMP/err" || fail "swapped leaf: $(cat "$TMP/err")"
# A sibling changed in the path and in its bytes alike.
H0=$(jq -r '.proof.path[0].hash' "$TMP/proof8.json")
H1="0000${H0:4}"
jq -c --arg h0 "$H0" --arg h1 "$H1" '.proof.path[0].hash = $h1 | .proof.bytes |= sub($h0; $h1)' \
  "$TMP/proof8.json" >"$TMP/bad.json"
expect 1 "$PROOF" --verify "$TMP/bad.json" --rpc "$RPC"
grep -q 'does not lead' "$TMP/err" || fail "sibling: $(cat "$TMP/err")"
# Batch 2's proof pointing at batch 1's settlement: the memo names another batch.
tamper '.txID = "'"$TX1"'"'
grep -q 'settles batch 1 with another hash, not this batch 2' "$TMP/err" || fail "txID: $(cat "$TMP/err")"
# A txID the chain does not have.
tamper '.txID = "XTpfLcopyefkRWbFpTSHr6Dyc89cvSq8Q1bsqHcrWVUmBHeSq"'
grep -q 'is Unknown, not Accepted' "$TMP/err" || fail "unknown tx: $(cat "$TMP/err")"
# The wrong channel.
expect 1 "$PROOF" --verify "$TMP/proof8.json" --rpc "$RPC" --channel "$A,$B,$R"
grep -q 'belongs to another channel' "$TMP/err" || fail "channel: $(cat "$TMP/err")"
ok "lx-proof --verify refuses a changed fill, leaf, sibling, txID and channel"

# ---- a wrong data dir
BAD=$TMP/bad-node
cp -r "$NODE" "$BAD"
cp "$BAD/settle/00000000000000000001.batch" "$BAD/settle/00000000000000000002.batch"
expect 1 "$AUDIT" --rpc "$RPC" --channel "$CH" --data-dir "$BAD"
grep -q '^batch 2 .* FAIL: batch 2 is not among the stored batches' "$TMP/out" &&
  grep -q '^discrepancy: stored batch 2 does not read back' "$TMP/out" || fail "batch file: $(cat "$TMP/out")"
rm -rf "$BAD" && cp -r "$NODE" "$BAD"
jq -c '.tx_id = "'"$TX1"'"' "$NODE/settle/00000000000000000002.json" >"$BAD/settle/00000000000000000002.json"
expect 1 "$AUDIT" --rpc "$RPC" --channel "$CH" --data-dir "$BAD"
grep -q '^batch 2 .* FAIL: the data dir records another txID for batch 2' "$TMP/out" || fail "txid: $(cat "$TMP/out")"
ok "lx-audit --data-dir fails for a wrong batch file and a wrong recorded txID"

# ---- a settlement-shaped tx from a stranger on the chain
MEMO="lxdex/settle/v1 3 $(printf 'ab%.0s' $(seq 32))"
FORGED=$(xc send --key-file "$G" --owners "$CH" --threshold 2 --amount 5000000 --memo "$MEMO" --json | jq -r .txID)
[ -n "$FORGED" ] && [ "$FORGED" != null ] || fail "forged send"
expect 1 "$AUDIT" --rpc "$RPC" --channel "$CH" --data-dir "$NODE"
grep -q "^discrepancy: tx $FORGED: carries a settlement memo (batch 3) but spends no channel UTXO$" "$TMP/out" ||
  fail "forged: $(cat "$TMP/out")"
grep -q '^verdict: FAIL (2 settlements, 1 discrepancies)$' "$TMP/out" || fail "forged verdict: $(cat "$TMP/out")"
ok "lx-audit flags a settlement memo signed by a stranger: $FORGED"

# ---- bad input
expect 2 "$AUDIT" --rpc "$RPC"
expect 2 "$AUDIT" --rpc "$RPC" --channel "X-local1notanaddress"
expect 2 "$AUDIT" --rpc "$RPC" --channel "$CH" --threshold 4
expect 2 "$AUDIT" --rpc "$RPC" --channel "$CH" --bogus
expect 3 "$AUDIT" --rpc "http://127.0.0.1:1" --channel "$CH"
expect 2 "$AUDIT" --rpc "$RPC" --channel "$CH" --data-dir "$TMP/no-such-dir"
expect 0 "$AUDIT" --help
grep -q '^usage: lx-audit' "$TMP/out" || fail "lx-audit --help"
expect 1 "$PROOF" --data-dir "$NODE" --fill 12
expect 2 "$PROOF" --data-dir "$NODE" --fill x
expect 2 "$PROOF" --verify "$TMP/none.json" --rpc "$RPC"
expect 2 "$PROOF" --verify "$TMP/proof8.json"
echo '{"version":1}' >"$TMP/bad.json"
expect 1 "$PROOF" --verify "$TMP/bad.json" --rpc "$RPC"
expect 0 "$PROOF" --help
grep -q '^usage: lx-proof' "$TMP/out" || fail "lx-proof --help"
ok "bad input: exit 2 (usage), 3 (no node), 1 (no such fill, not a proof)"
