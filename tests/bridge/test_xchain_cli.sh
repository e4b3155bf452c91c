#!/usr/bin/env bash
# Integration test of bin/lx-xchain against bin/lx-devnet on a free loopback
# port: keys, sends with exact balances, a 2-of-2 multisig spend (refused with
# one key), double spends, a bad signature, a short fee, export X->Y and
# import on Y, a restart from the same --data-dir, and sends through injected
# 503s and dropped replies that must each be accepted exactly once.
set -euo pipefail

BIN=${LX_BIN:?LX_BIN is not set}
XC="$BIN/lx-xchain"
DEVNET="$BIN/lx-devnet"
command -v curl >/dev/null || { echo "FAIL: curl(1) is needed"; exit 1; }
[ -x "$XC" ] && [ -x "$DEVNET" ] || { echo "FAIL: build lx-xchain and lx-devnet first"; exit 1; }

TMP=$(mktemp -d)
PID=""
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  if [ -n "$PID" ]; then kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; fi
  rm -rf "$TMP"
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; [ -f "$TMP/err" ] && tail -3 "$TMP/err" >&2; exit 1; }
ok() { echo "ok - $*"; }
has() { case "$1" in *"$2"*) ;; *) fail "$3: expected '$2' in: ${1:0:400}" ;; esac; }
field() { sed -n "s/.*\"$1\":\"\\([^\"]*\\)\".*/\\1/p" <<<"$2" | head -1; }

start() {
  # Empty the log here, not in the background child: until the child
  # opens it, a read below could find the previous instance's port.
  : >"$TMP/log"
  "$DEVNET" --port 0 --block-ms "${BLOCK_MS:-100}" --genesis "$TMP/genesis.json" --data-dir "$TMP/data" "$@" \
    2>"$TMP/log" &
  PID=$!
  for _ in $(seq 1 100); do
    PORT=$(sed -n 's/.*listening on http:\/\/127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$TMP/log")
    [ -n "$PORT" ] && return 0
    kill -0 "$PID" 2>/dev/null || fail "lx-devnet exited: $(cat "$TMP/log")"
    sleep 0.1
  done
  fail "lx-devnet did not start"
}
stop() {
  kill "$PID"
  wait "$PID" || fail "lx-devnet did not exit cleanly"
  PID=""
}
xc() { "$XC" --rpc "http://127.0.0.1:$PORT" "$@"; }
# expect RC ARGS...: runs lx-xchain, requires exit status RC; OUT and ERR hold
# its standard output and error.
expect() {
  local want=$1 rc
  shift
  set +e
  OUT=$(xc "$@" 2>"$TMP/err")
  rc=$?
  set -e
  ERR=$(cat "$TMP/err")
  [ "$rc" -eq "$want" ] || fail "lx-xchain $* exited $rc, want $want: $OUT $ERR"
}
bal() { # ADDR [CHAIN] -> the LUX balance
  expect 0 balance "$1" --chain "${2:-X}" --asset LUX --json
  field balance "$OUT"
}
FEE=1000000

K0=$TMP/k0
A0=X-local18jma8ppw3nhx5r4ap8clazz0dps7rv5u00z96u
(umask 077 && echo 56289e99c94b6912bfc12adc093c9b51124f0dc54ac7a766b2bc5ccf558d8027 >"$K0")
cat >"$TMP/genesis.json" <<EOF
{"networkID":12345,"hrp":"local",
 "assets":[{"symbol":"LUX","name":"Lux","denomination":9},
           {"symbol":"USD","name":"US Dollar","denomination":6}],
 "allocations":[{"address":"$A0","asset":"LUX","amount":"250000000000","utxos":4},
                {"address":"$A0","asset":"USD","amount":"1000000000"}],
 "validators":[{"nodeID":"NodeID-7Xhw2mDxuDS44j42TCB6U5579esbSt3Lg","weight":"2000"}]}
EOF
start

# ---- command line, keys, addresses ----
expect 0 --help
has "$OUT" "exit status" "--help"
expect 0 send --help
has "$OUT" "--from-owners" "send --help"
expect 2
expect 2 frobnicate
expect 2 status --amount 5
has "$ERR" "does not apply" "option of another command"
expect 2 send --key-file "$K0" --to
expect 2 status not-a-txid --json
has "$OUT" '"error"' "JSON error object"
for k in 1 2 3 4; do
  expect 0 keygen --key-file "$TMP/k$k" --json
  declare "A$k=$(field address "$OUT")"
  [ "$(stat -c %a "$TMP/k$k")" = 600 ] || fail "key file mode $(stat -c %a "$TMP/k$k")"
done
sum=$(sha256sum <"$TMP/k1")
expect 1 keygen --key-file "$TMP/k1"
has "$ERR" "not replaced" "keygen over an existing file"
[ "$(sha256sum <"$TMP/k1")" = "$sum" ] || fail "keygen changed an existing key file"
expect 0 address --key-file "$K0"
[ "$OUT" = "$A0" ] || fail "address of the test key: $OUT"
expect 0 address PrivateKey-ewoqjP7PxY4yr3iLTpLisriqt94hdyDFNgchSxGGztUrTXtNN
[ "$OUT" = "$A0" ] || fail "address of PrivateKey-...: $OUT"
expect 0 address --key-file "$TMP/k1" --chain Y
[ "$OUT" = "Y-${A1#X-}" ] || fail "Y address $OUT"
cp "$K0" "$TMP/open" && chmod 644 "$TMP/open"
expect 1 address --key-file "$TMP/open"
has "$ERR" "chmod 600" "key file readable by others"
expect 2 address 1234
ok "usage errors, keygen (0600, no overwrite), addresses"

# ---- balances and a send: exactly amount + fee leaves the sender ----
[ "$(bal "$A0")" = 1000000000000 ] || fail "genesis balance $(bal "$A0")"
expect 0 balance --key-file "$K0"
has "$OUT" "1000000000 USD" "all-asset balance"
expect 0 utxos "$A0"
[ "$(grep -c ' LUX threshold 1 of ' <<<"$OUT")" -eq 4 ] || fail "genesis UTXOs: $OUT"
expect 0 send --key-file "$K0" --to "$A1" --amount 5000000000 --memo "first send" --json
S1=$(field txID "$OUT")
has "$OUT" '"status":"Accepted"' "send accepted"
[ "$(bal "$A0")" = $((1000000000000 - 5000000000 - FEE)) ] || fail "sender balance $(bal "$A0")"
[ "$(bal "$A1")" = 5000000000 ] || fail "receiver balance $(bal "$A1")"
expect 0 status "$S1"
[ "$OUT" = Accepted ] || fail "status $OUT"
TX=$(curl -s -X POST -H 'content-type: application/json' "http://127.0.0.1:$PORT/ext/bc/X" \
  --data "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"xvm.getTx\",\"params\":{\"txID\":\"$S1\",\"encoding\":\"hex\"}}")
expect 0 decode "$(field tx "$TX")" --json
has "$OUT" '"memo":"first send"' "decoded memo"
has "$OUT" "\"txID\":\"$S1\"" "decoded txID"
has "$OUT" "\"amount\":\"5000000000\",\"locktime\":\"0\",\"threshold\":1,\"addresses\":[\"$A1\"]" "decoded output"
has "$OUT" "\"signer\":\"$A0\"" "decoded signer"
# Two outputs in two assets in one tx.
B0=$(bal "$A0")
expect 0 send --key-file "$K0" --to "$A1" --amount 1000 --to "$A2" --amount 250 --asset USD
[ "$(bal "$A0")" = $((B0 - 1000 - FEE)) ] || fail "sender after two outputs $(bal "$A0")"
[ "$(bal "$A1")" = 5000001000 ] || fail "A1 after two outputs"
expect 0 balance "$A2" --asset USD --json
[ "$(field balance "$OUT")" = 250 ] || fail "USD output: $OUT"
expect 0 balance "$A0" --asset USD --json
[ "$(field balance "$OUT")" = 999999750 ] || fail "USD change: $OUT"
ok "send: exact balances, status, decode of the accepted tx, two assets"

# ---- multisig: a 2-of-2 output, spent only with both keys ----
expect 0 send --key-file "$K0" --owners "$A1,$A2" --threshold 2 --amount 3000000000 --json
M=$(field txID "$OUT")
expect 0 utxos "$A1"
MS=$(grep "^$M:.* 3000000000 LUX threshold 2 of " <<<"$OUT") || fail "no 2-of-2 UTXO: $OUT"
has "$MS" "$A1" "multisig owner 1"
has "$MS" "$A2" "multisig owner 2"
[ "$(bal "$A1")" = 5000001000 ] || fail "a multisig UTXO counted as A1's own"
expect 5 send --key-file "$TMP/k1" --from-owners "$A1,$A2" --to "$A3" --amount 1000000000
has "$ERR" "owners' keys" "one key of two"
expect 5 send --key-file "$TMP/k1" --utxo "${MS%% *}" --to "$A3" --amount 1000000000
has "$ERR" "needs more of its owners' keys" "named multisig UTXO, one key"
[ "$(bal "$A3")" = 0 ] || fail "a refused multisig spend paid"
expect 0 send --key-file "$TMP/k1" --key-file "$TMP/k2" --from-owners "$A1,$A2" --to "$A3" \
  --amount 1000000000 --json
[ "$(bal "$A3")" = 1000000000 ] || fail "multisig spend paid $(bal "$A3")"
[ "$(bal "$A1")" = 5000001000 ] || fail "multisig fee taken from A1's own funds"
expect 0 utxos "$A2"
grep -q "^$M:" <<<"$OUT" && fail "the multisig UTXO is still unspent"
grep -q " $((3000000000 - 1000000000 - FEE)) LUX threshold 2 of " <<<"$OUT" \
  || fail "no 2-of-2 change: $OUT"
ok "multisig: 2-of-2 output, refused with one key, spent with two, change to the set"

# ---- double spends: two txs from one UTXO; only the first counts ----
expect 0 utxos "$A0"
U=$(grep ' LUX threshold 1 of ' <<<"$OUT" | head -1 | cut -d' ' -f1)
B0=$(bal "$A0")
B3=$(bal "$A3")
expect 0 send --key-file "$K0" --utxo "$U" --to "$A3" --amount 100 --dry-run --json
T1=$(field tx "$OUT"); I1=$(field txID "$OUT")
expect 0 send --key-file "$K0" --utxo "$U" --to "$A3" --amount 200 --dry-run --json
T2=$(field tx "$OUT"); I2=$(field txID "$OUT")
[ "$I1" != "$I2" ] || fail "conflicting txs have one ID"
[ "$(bal "$A0")" = "$B0" ] || fail "--dry-run spent"
expect 0 issue "$T1"
[ "$OUT" = "$I1" ] || fail "issue printed $OUT"
expect 3 issue "$T2"
has "$ERR" "spent" "second spend of $U"
expect 0 status "$I2"
[ "$OUT" = Unknown ] || fail "rejected double spend has status $OUT"
[ "$(bal "$A3")" = $((B3 + 100)) ] || fail "double spend paid $(bal "$A3")"
# Both at once, before either is in a block: exactly one is accepted.
expect 0 utxos "$A0"
U=$(grep ' LUX threshold 1 of ' <<<"$OUT" | head -1 | cut -d' ' -f1)
expect 0 send --key-file "$K0" --utxo "$U" --to "$A3" --amount 300 --dry-run --json
T3=$(field tx "$OUT")
expect 0 send --key-file "$K0" --utxo "$U" --to "$A3" --amount 400 --dry-run --json
T4=$(field tx "$OUT")
"$XC" --rpc "http://127.0.0.1:$PORT" issue "$T3" >/dev/null 2>&1 & P3=$!
"$XC" --rpc "http://127.0.0.1:$PORT" issue "$T4" >/dev/null 2>&1 & P4=$!
PIDS=("$P3" "$P4")
set +e; wait "$P3"; r3=$?; wait "$P4"; r4=$?; set -e
PIDS=()
[ $((r3 + r4)) -eq 3 ] && [ $((r3 * r4)) -eq 0 ] || fail "concurrent double spend exited $r3 and $r4"
want=$((B3 + 100 + (r3 == 0 ? 300 : 400)))
[ "$(bal "$A3")" = "$want" ] || fail "concurrent double spend paid $(bal "$A3"), want $want"
ok "double spends: sequential and concurrent, exactly one accepted"

# ---- a bad signature and a short fee are rejected, nothing moves ----
B0=$(bal "$A0")
B3=$(bal "$A3")
expect 0 send --key-file "$K0" --to "$A3" --amount 77 --dry-run --json
H=$(field tx "$OUT")
P=${H:2:${#H}-10}                    # plain hex: no 0x, no checksum
at=$((${#P} - 40))                   # inside the last signature's s
BAD=${P:0:at}$(printf %02x $((16#${P:at:2} ^ 1)))${P:at+2}
expect 0 decode "$BAD" --json
has "$OUT" '"encoding":"plain hex"' "decode of plain hex"
expect 3 issue "$BAD"
has "$ERR" "signature" "bad signature"
expect 3 send --key-file "$K0" --to "$A3" --amount 1000 --fee 999999
has "$ERR" "insufficient funds" "fee 999999"
expect 3 send --key-file "$K0" --to "$A3" --amount 1000 --fee 0
has "$ERR" "insufficient funds" "fee 0"
expect 5 send --key-file "$K0" --to "$A3" --amount 999999999999999
has "$ERR" "insufficient funds" "over the balance"
[ "$(bal "$A0")" = "$B0" ] && [ "$(bal "$A3")" = "$B3" ] || fail "a rejected tx moved funds"
ok "bad signature, short fee and overspend rejected; balances unchanged"

# ---- export X -> Y, import on Y (the fee is paid on Y, out of the import) ----
B0=$(bal "$A0")
expect 0 export --key-file "$K0" --to-chain Y --amount 2000000000 --json
EX=$(field txID "$OUT")
[ "$(bal "$A0")" = $((B0 - 2000000000 - FEE)) ] || fail "X after export $(bal "$A0")"
Y0=Y-${A0#X-}
[ "$(bal "$Y0" Y)" = 0 ] || fail "Y before import"
expect 0 utxos --key-file "$K0" --chain Y --from-chain X
has "$OUT" "$EX:" "exported UTXO in shared memory"
has "$OUT" " 2000000000 LUX threshold 1 of $Y0" "exported amount"
expect 0 import --key-file "$K0" --from-chain X --json
IM=$(field txID "$OUT")
has "$OUT" '"chain":"Y"' "import goes to Y"
[ "$(bal "$Y0" Y)" = $((2000000000 - FEE)) ] || fail "Y after import $(bal "$Y0" Y)"
expect 5 import --key-file "$K0" --from-chain X
has "$ERR" "no UTXOs to import" "second import"
expect 0 utxos --key-file "$K0" --chain Y --from-chain X
[ -z "$OUT" ] || fail "shared memory not consumed: $OUT"
ok "export X->Y and import on Y: balances exact on both chains"

# ---- restart with the same --data-dir: balances and statuses kept ----
before="$(bal "$A0") $(bal "$A1") $(bal "$A3") $(bal "$Y0" Y)"
stop
start
[ "$(bal "$A0") $(bal "$A1") $(bal "$A3") $(bal "$Y0" Y)" = "$before" ] || fail "balances after restart"
expect 0 status "$S1"
[ "$OUT" = Accepted ] || fail "send status after restart: $OUT"
expect 0 status "$IM" --chain Y
[ "$OUT" = Accepted ] || fail "import status after restart: $OUT"
expect 3 issue "$T2"
ok "restart keeps balances ($before) and statuses"
B0=$(bal "$A0")
stop

# ---- 503s and dropped replies: each send is accepted exactly once ----
start --fault-503-rate 0.3 --fault-drop-reply-rate 0.3 --fault-seed 7
ids=() sends=0 calls=0 attempts=0
for amt in 1001 1002 1003 1004 1005 1006; do
  expect 0 --retries 30 send --key-file "$K0" --to "$A4" --amount $amt --json
  ids+=("$(field txID "$OUT")")
  s=$(sed -n 's/.*"sends":\([0-9]*\).*/\1/p' <<<"$OUT")
  p=$(sed -n 's/.*"polls":\([0-9]*\).*/\1/p' <<<"$OUT")
  a=$(sed -n 's/.*"attempts":\([0-9]*\).*/\1/p' <<<"$OUT")
  sends=$((sends + s)); calls=$((calls + s + p)); attempts=$((attempts + a))
done
[ "$attempts" -gt "$calls" ] || fail "no fault hit the submitter ($attempts attempts, $calls calls)"
stop
start
total=$((1001 + 1002 + 1003 + 1004 + 1005 + 1006))
[ "$(bal "$A4")" = $total ] || fail "receiver got $(bal "$A4"), want $total"
[ "$(bal "$A0")" = $((B0 - total - 6 * FEE)) ] || fail "sender paid $((B0 - $(bal "$A0"))), want $((total + 6 * FEE))"
expect 0 utxos "$A4"
UT=$OUT
[ "$(wc -l <<<"$UT")" -eq 6 ] || fail "receiver UTXOs: $UT"
i=0
for amt in 1001 1002 1003 1004 1005 1006; do
  grep -q "^${ids[$i]}:0 $amt LUX threshold 1 of $A4\$" <<<"$UT" || fail "no UTXO $amt from ${ids[$i]}: $UT"
  expect 0 status "${ids[$i]}"
  [ "$OUT" = Accepted ] || fail "${ids[$i]} is $OUT"
  i=$((i + 1))
done
ok "6 sends through faults: $sends issueTx calls, $attempts HTTP attempts for $calls calls; each accepted once"
stop

# ---- no block within --timeout: exit 4, the tx stays Processing ----
BLOCK_MS=600000 start
expect 4 send --key-file "$K0" --to "$A4" --amount 5 --timeout 1 --json
has "$ERR" "may still be accepted" "timeout message"
has "$OUT" '"exit":4' "timeout JSON"
PEND=$(sed -n 's/.*tx \([1-9A-HJ-NP-Za-km-z]*\): no decision.*/\1/p' <<<"$ERR")
expect 0 status "$PEND"
[ "$OUT" = Processing ] || fail "pending tx $PEND is $OUT"
ok "timeout: exit 4, tx $PEND still Processing"
stop
echo "all lx-xchain checks passed"
