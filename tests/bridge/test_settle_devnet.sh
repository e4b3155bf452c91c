#!/usr/bin/env bash
# Integration test of the settlement transaction on bin/lx-devnet (built-in
# genesis, free loopback port): three settlement keys fund a 2-of-3 channel,
# tests/settle_driver settles two consecutive batches with one withdrawal
# each (certified by two owners, issued, audited, the second spending the
# first one's change), and the recipient and the channel must hold exactly
# the withdrawals and the rest minus two fees, also after the first
# settlement tx is issued a second time.
set -euo pipefail

BIN=${LX_BIN:?LX_BIN is not set}
BUILD=${LX_BUILD:?LX_BUILD is not set}
XC="$BIN/lx-xchain"
DEVNET="$BIN/lx-devnet"
DRIVER="$BUILD/tests/settle_driver"
[ -x "$XC" ] && [ -x "$DEVNET" ] || { echo "FAIL: build lx-xchain and lx-devnet first"; exit 1; }
[ -x "$DRIVER" ] || { echo "FAIL: $DRIVER is not built (cmake --build <dir> --target settle_driver)"; exit 1; }

TMP=$(mktemp -d)
PID=""
cleanup() {
  if [ -n "$PID" ]; then kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; fi
  rm -rf "$TMP"
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok - $*"; }

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

# The LUX figure named $2 ("balance" or "total") of address $1.
lux() {
  local out
  out=$(xc balance "$1" --json) || fail "balance $1"
  sed -n 's/.*"symbol":"LUX","balance":"\([0-9]*\)","total":"\([0-9]*\)".*/\1 \2/p' <<<"$out" |
    { read -r b t; if [ "$2" = balance ]; then echo "${b:-0}"; else echo "${t:-0}"; fi; }
}

G=$TMP/genesis.key
(umask 077 && echo 56289e99c94b6912bfc12adc093c9b51124f0dc54ac7a766b2bc5ccf558d8027 >"$G")
for k in a b c r; do
  xc keygen --key-file "$TMP/$k.key" >"$TMP/$k.addr" || fail "keygen $k"
done
A=$(cat "$TMP/a.addr"); B=$(cat "$TMP/b.addr"); C=$(cat "$TMP/c.addr"); R=$(cat "$TMP/r.addr")
ok "four keys"

FEE=1000000
FUND1=20000000000
FUND2=7000000000
xc send --key-file "$G" --owners "$A,$B,$C" --threshold 2 --amount "$FUND1" >/dev/null || fail "fund 1"
xc send --key-file "$G" --owners "$C,$A,$B" --threshold 2 --amount "$FUND2" >/dev/null || fail "fund 2"
CH0=$(lux "$A" total)
[ "$CH0" = $((FUND1 + FUND2)) ] || fail "channel holds $CH0, want $((FUND1 + FUND2))"
ok "2-of-3 channel funded with $CH0"

W1=3000000000
W2=1234567
"$DRIVER" --rpc "$RPC" --key-file "$TMP/a.key" --key-file "$TMP/b.key" --key-file "$TMP/c.key" \
  --to "$R" --amount "$W1" --amount "$W2" >"$TMP/out" 2>"$TMP/err" ||
  fail "settle_driver: $(cat "$TMP/err")"
cat "$TMP/out"
grep -q '^settled 1 [1-9A-HJ-NP-Za-km-z]* inputs [0-9]* prev 0$' "$TMP/out" || fail "batch 1 not settled"
grep -q '^settled 2 [1-9A-HJ-NP-Za-km-z]* inputs [0-9]* prev 1$' "$TMP/out" ||
  fail "batch 2 did not spend batch 1's change"
grep -q '^resubmit Accepted sends [0-9]* err success$' "$TMP/out" || fail "resubmit: $(tail -1 "$TMP/out")"
# The rival settlement of batch 1 (signers {0, 2}: another tx) spends the
# UTXOs batch 1 already spent: refused.
grep -q '^rival Unknown same-tx 0 err transaction rejected$' "$TMP/out" ||
  grep -q '^rival Rejected same-tx 0 err transaction rejected$' "$TMP/out" ||
  fail "rival settlement of batch 1: $(grep '^rival' "$TMP/out")"
ok "a rival settlement of batch 1 is refused"
TX1=$(sed -n 's/^settled 1 \([^ ]*\) .*/\1/p' "$TMP/out")
TX2=$(sed -n 's/^settled 2 \([^ ]*\) .*/\1/p' "$TMP/out")
[ "$(xc status "$TX1")" = Accepted ] || fail "tx 1 not accepted"
[ "$(xc status "$TX2")" = Accepted ] || fail "tx 2 not accepted"
ok "two settlements accepted: $TX1 $TX2"

# The signed bytes of a settlement as the chain holds them (getTx, hex).
get_tx() {
  curl -s -X POST -H 'content-type: application/json' "$RPC/ext/bc/X" \
    --data "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"xvm.getTx\",\"params\":{\"txID\":\"$1\",\"encoding\":\"hex\"}}" |
    sed -n 's/.*"tx":"\(0x[0-9a-f]*\)".*/\1/p'
}
HEX1=$(get_tx "$TX1")
HEX2=$(get_tx "$TX2")
[ -n "$HEX1" ] && [ -n "$HEX2" ] || fail "getTx"
for k in 1 2; do
  hex=HEX$k
  xc decode "${!hex}" --json >"$TMP/tx$k.json" || fail "decode tx $k"
  grep -q "\"memo\":\"lxdex/settle/v1 $k [0-9a-f]\{64\}\"" "$TMP/tx$k.json" ||
    fail "tx $k memo: $(cat "$TMP/tx$k.json")"
done
# One input, one withdrawal, one change of a 2-of-3 channel, memo of 82
# bytes: 570 signed bytes (docs/settlement.md, "Layout").
grep -q '"bytes":570,' "$TMP/tx1.json" || fail "tx 1 size: $(cat "$TMP/tx1.json")"
ok "the memos name batches 1 and 2; tx 1 is 570 bytes"

check_balances() {
  local got
  got=$(lux "$R" balance)
  [ "$got" = $((W1 + W2)) ] || fail "$1: recipient holds $got, want $((W1 + W2))"
  got=$(lux "$A" total)
  [ "$got" = $((CH0 - W1 - W2 - 2 * FEE)) ] || fail "$1: channel holds $got, want $((CH0 - W1 - W2 - 2 * FEE))"
  for o in "$B" "$C"; do
    [ "$(lux "$o" total)" = "$got" ] || fail "$1: owner $o sees another channel total"
  done
}
check_balances "after two settlements"
ok "recipient got exactly $((W1 + W2)); channel holds the rest minus two fees"

# The driver issued the first settlement a second time and was told
# Accepted. Issuing it again by hand is the same: the node answers with its
# txID, and its inputs are spent, so nothing moves.
out=$(xc issue "$HEX1") || fail "re-issue of tx 1 exited $?"
[ "$out" = "$TX1" ] || fail "re-issue of tx 1 printed $out"
sleep 0.3
check_balances "after the first settlement was issued again"
ok "re-issuing the first settlement paid nothing twice"
