#!/usr/bin/env bash
# Integration test of bin/lx-devnet: starts it on a free loopback port and
# drives it with curl(1) and the devnet_txgen helper, checking info, UTXOs,
# sends, every rejection class, X<->Y export/import, restart from --data-dir,
# JSON-RPC error shapes, body caps, garbage requests and fault injection.
set -euo pipefail

BIN=${LX_BIN:?LX_BIN is not set}
BUILD=${LX_BUILD:?LX_BUILD is not set}
GEN="$BUILD/tests/devnet_txgen"
DEVNET="$BIN/lx-devnet"
command -v curl >/dev/null || { echo "FAIL: curl(1) is needed"; exit 1; }
[ -x "$GEN" ] || { echo "FAIL: $GEN not built"; exit 1; }

TMP=$(mktemp -d)
PID=""
cleanup() {
  if [ -n "$PID" ]; then kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; fi
  rm -rf "$TMP"
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; [ -f "$TMP/log" ] && tail -5 "$TMP/log" >&2; exit 1; }
ok() { echo "ok - $*"; }
has() { case "$1" in *"$2"*) ;; *) fail "$3: expected '$2' in: ${1:0:400}" ;; esac; }
hasnt() { case "$1" in *"$2"*) fail "$3: did not expect '$2' in: ${1:0:400}" ;; esac; }

start() {
  # Empty the log here, not in the background child: until the child
  # opens it, a read below could find the previous instance's port.
  : >"$TMP/log"
  "$DEVNET" --port 0 "$@" 2>"$TMP/log" &
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
post() { # path body -> body
  curl -s --max-time 20 -X POST -H 'content-type: application/json' --data-binary "$2" \
    "http://127.0.0.1:$PORT$1"
}
rpc() { # path method params
  post "$1" "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"$2\",\"params\":$3}"
}
field() { sed -n "s/.*\"$1\":\"\\([^\"]*\\)\".*/\\1/p" <<<"$2" | head -1; }

ADDR=X-local18jma8ppw3nhx5r4ap8clazz0dps7rv5u00z96u
YADDR=Y-local18jma8ppw3nhx5r4ap8clazz0dps7rv5u00z96u
LUX_UTXO_AMOUNT=0000003a35294400 # 250,000,000,000 as u64 hex

# ---- command line ----
out=$("$DEVNET" --help) || fail "--help exit status"
has "$out" "--fault-drop-reply-rate" "--help"
for bad in "--port abc" "--port 70000" "--block-ms 0" "--fault-503-rate 2" "--max-body 10" "--nope"; do
  set +e; "$DEVNET" $bad 2>"$TMP/err"; rc=$?; set -e
  [ $rc -eq 2 ] || fail "'$bad' exited $rc, want 2"
  grep -q "lx-devnet:" "$TMP/err" || fail "'$bad' printed no message"
done
echo '{"networkID":0,"hrp":"local"}' >"$TMP/bad.json"
set +e; "$DEVNET" --genesis "$TMP/bad.json" 2>"$TMP/err"; rc=$?; set -e
[ $rc -eq 1 ] && grep -q networkID "$TMP/err" || fail "bad genesis: rc $rc $(cat "$TMP/err")"
ok "command line errors"

# ---- info ----
start --block-ms 2500 --data-dir "$TMP/data"
out=$(rpc /ext/info info.getNetworkID '{}')
has "$out" '"networkID":"12345"' "getNetworkID"
has "$out" '"id":7' "id echoed"
XID=$(field blockchainID "$(rpc /ext/info info.getBlockchainID '{"alias":"X"}')")
YID=$(field blockchainID "$(rpc /ext/info info.getBlockchainID '{"alias":"Y"}')")
[ -n "$XID" ] && [ -n "$YID" ] && [ "$XID" != "$YID" ] || fail "blockchain ids '$XID' '$YID'"
has "$(rpc /ext/info info.getBlockchainID '{"alias":"Q"}')" '"code":-32000' "unknown alias"
has "$(rpc /ext/info info.getTxFee '{}')" '"txFee":"1000000"' "getTxFee"
out=$(rpc /ext/bc/X avm.getAssetDescription '{"assetID":"LUX"}')
has "$out" '"symbol":"LUX"' "asset description"
has "$out" '"denomination":"9"' "asset denomination"
LUX=$(field assetID "$out")
has "$(rpc /ext/bc/X xvm.getAssetDescription "{\"assetID\":\"$LUX\"}")" '"name":"Lux"' "asset by id"
has "$(rpc /ext/bc/P platform.getCurrentValidators '{}')" \
  '"nodeID":"NodeID-7Xhw2mDxuDS44j42TCB6U5579esbSt3Lg","weight":"2000"' "validators"
has "$(rpc /ext/bc/X xvm.getHeight '{}')" '"height":"0"' "height 0"
has "$(rpc "/ext/bc/$XID" xvm.getHeight '{}')" '"height":"0"' "chain by id path"
ok "info, asset, validators, height"

# ---- UTXOs and balance of the genesis allocation ----
out=$(rpc /ext/bc/X xvm.getUTXOs "{\"addresses\":[\"$ADDR\"],\"encoding\":\"hex\"}")
has "$out" '"numFetched":"5"' "genesis UTXOs"
mapfile -t LUXU < <(grep -o '0x[0-9a-f]*' <<<"$out" | grep "$LUX_UTXO_AMOUNT")
[ ${#LUXU[@]} -eq 4 ] || fail "want 4 LUX UTXOs, got ${#LUXU[@]}"
p1=$(rpc /ext/bc/X xvm.getUTXOs "{\"addresses\":[\"$ADDR\"],\"limit\":2}")
has "$p1" '"numFetched":"2"' "page 1"
ea=$(sed -n 's/.*"endIndex":{"address":"\([^"]*\)","utxo":"\([^"]*\)"}.*/\1 \2/p' <<<"$p1")
p2=$(rpc /ext/bc/X xvm.getUTXOs "{\"addresses\":[\"$ADDR\"],\"limit\":2,\"startIndex\":{\"address\":\"${ea% *}\",\"utxo\":\"${ea#* }\"}}")
has "$p2" '"numFetched":"2"' "page 2"
ea=$(sed -n 's/.*"endIndex":{"address":"\([^"]*\)","utxo":"\([^"]*\)"}.*/\1 \2/p' <<<"$p2")
p3=$(rpc /ext/bc/X xvm.getUTXOs "{\"addresses\":[\"$ADDR\"],\"limit\":2,\"startIndex\":{\"address\":\"${ea% *}\",\"utxo\":\"${ea#* }\"}}")
has "$p3" '"numFetched":"1"' "page 3"
n=$( (grep -o '0x[0-9a-f]*' <<<"$p1$p2$p3") | sort -u | wc -l)
[ "$n" -eq 5 ] || fail "paging returned $n distinct UTXOs, want 5"
many=$(printf '"%s",' $(seq 1 1025 | sed "s/.*/$ADDR/")); many="[${many%,}]"
has "$(rpc /ext/bc/X xvm.getUTXOs "{\"addresses\":$many}")" "exceeds maximum" "1025 addresses"
has "$(rpc /ext/bc/X xvm.getBalance "{\"address\":\"$ADDR\",\"assetID\":\"$LUX\"}")" \
  '"balance":"1000000000000"' "genesis balance"
ok "getUTXOs paging and getBalance"

# ---- a valid send: Processing, then Accepted ----
gen() { "$GEN" "$@" --net 12345; }
read -r TX1 ID1 < <(gen base --chain "$XID" --utxo "${LUXU[0]}" --amount 100000000 --memo hello)
out=$(rpc /ext/bc/X xvm.issueTx "{\"tx\":\"$TX1\",\"encoding\":\"hex\"}")
has "$out" "\"txID\":\"$ID1\"" "issueTx"
# Blocks are cut on a fixed clock, so under load one may fall between the
# issue and this query: then the tx must be Accepted in a block already cut.
st=$(rpc /ext/bc/X xvm.getTxStatus "{\"txID\":\"$ID1\"}")
case "$st" in
*'"status":"Processing"'*) ;;
*'"status":"Accepted"'*)
  has "$(rpc /ext/bc/X xvm.getHeight '{}')" '"height":"1"' "accepted before the status query: height"
  echo "note - a block was cut between issueTx and getTxStatus" ;;
*) fail "processing: expected Processing in: $st" ;;
esac
has "$(rpc /ext/bc/X xvm.issueTx "{\"tx\":\"$TX1\"}")" "\"txID\":\"$ID1\"" "re-issue"
wait_accepted() { # path txid
  for _ in $(seq 1 200); do
    s=$(field status "$(rpc "$1" xvm.getTxStatus "{\"txID\":\"$2\"}")")
    [ "$s" = Accepted ] && return 0
    sleep 0.1
  done
  fail "tx $2 on $1 not accepted (status $s)"
}
wait_accepted /ext/bc/X "$ID1"
has "$(rpc /ext/bc/X xvm.getHeight '{}')" '"height":"1"' "height 1"
has "$(rpc /ext/bc/X xvm.getTx "{\"txID\":\"$ID1\",\"encoding\":\"hex\"}")" "\"tx\":\"$TX1\"" "getTx"
has "$(rpc /ext/bc/X xvm.getBalance "{\"address\":\"$ADDR\",\"assetID\":\"LUX\"}")" \
  '"balance":"999999000000"' "balance less the fee"
has "$(rpc /ext/bc/X xvm.getTxStatus '{"txID":"XTpfLcopyefkRWbFpTSHr6Dyc89cvSq8Q1bsqHcrWVUmBHeSq"}')" \
  '"status":"Unknown"' "unknown tx"
grep -q "accepted block chain=X height=1" "$TMP/log" || fail "no block log line"
ok "send accepted, re-issue idempotent, getTx, block log"

# ---- rejections ----
issue() { rpc /ext/bc/X xvm.issueTx "{\"tx\":\"$1\",\"encoding\":\"hex\"}"; }
read -r A IDA < <(gen base --chain "$XID" --utxo "${LUXU[1]}" --amount 1000 --memo a)
read -r B _ < <(gen base --chain "$XID" --utxo "${LUXU[1]}" --amount 1000 --memo b)
# Both go out back to back so that no block is cut between them.
outa=$(issue "$A"); out=$(issue "$B")
has "$outa" "\"txID\":\"$IDA\"" "first spend"
has "$out" '"code":-32000' "double spend code"
has "$out" "already spent by pending tx $IDA" "double spend in mempool"
wait_accepted /ext/bc/X "$IDA"
has "$(issue "$B")" "not found (spent or never existed)" "double spend after acceptance"
U=${LUXU[2]}
out=$(issue "$(gen base --chain "$XID" --utxo "$U" --amount 1000 --tamper sig | cut -d' ' -f1)")
has "$out" '"code":-32000' "bad signature code"; has "$out" "signature" "bad signature"
out=$(issue "$(gen base --chain "$XID" --utxo "$U" --amount 1000 --fee 0 | cut -d' ' -f1)")
has "$out" "insufficient funds: asset LUX" "no fee"
out=$(issue "$(gen base --chain "$XID" --utxo "$U" --amount 1000 --fee 999999 | cut -d' ' -f1)")
has "$out" "insufficient funds" "fee too small"
out=$(issue "$(gen base --chain "$XID" --utxo "$U" --amount 1000 --tamper order | cut -d' ' -f1)")
has "$out" "not canonical" "non-canonical"
out=$(issue "$(gen base --chain "$XID" --utxo "$U" --amount 1000 --tamper memo | cut -d' ' -f1)")
has "$out" "memo" "memo too long"
out=$(issue "$("$GEN" base --net 1 --chain "$XID" --utxo "$U" --amount 1000 | cut -d' ' -f1)")
has "$out" "networkID 1" "wrong network"
out=$(issue "$(gen base --chain "$YID" --utxo "$U" --amount 1000 | cut -d' ' -f1)")
has "$out" "is for blockchain" "wrong chain"
good=$(gen base --chain "$XID" --utxo "$U" --amount 1000 | cut -d' ' -f1)
has "$(issue "${good%??}00")" "checksum" "bad hex checksum"
ok "double spend, bad signature, fee, non-canonical, memo, network, chain, checksum"

# ---- locktime ----
read -r L IDL < <(gen base --chain "$XID" --utxo "$U" --amount 7000000 --locktime 4000000000)
has "$(issue "$L")" "$IDL" "locked send"
wait_accepted /ext/bc/X "$IDL"
out=$(rpc /ext/bc/X xvm.getUTXOs "{\"addresses\":[\"$ADDR\"]}")
LOCKED=$(grep -o '0x[0-9a-f]*' <<<"$out" | grep 00000000ee6b2800 | head -1)
[ -n "$LOCKED" ] || fail "no locked UTXO"
has "$(issue "$(gen base --chain "$XID" --utxo "$LOCKED" | cut -d' ' -f1)")" "locked until 4000000000" "locktime"
ok "locktime enforced"

# ---- export X -> Y, import on Y, and back ----
read -r E IDE < <(gen export --chain "$XID" --peer "$YID" --utxo "${LUXU[3]}" --amount 5000000000)
has "$(issue "$E")" "$IDE" "export"
wait_accepted /ext/bc/X "$IDE"
has "$(rpc /ext/bc/Y xvm.getUTXOs "{\"addresses\":[\"$YADDR\"]}")" '"numFetched":"0"' "Y before import"
out=$(rpc /ext/bc/Y xvm.getUTXOs "{\"addresses\":[\"$YADDR\"],\"sourceChain\":\"X\"}")
has "$out" '"numFetched":"1"' "shared memory X->Y"
XU=$(grep -o '0x[0-9a-f]*' <<<"$out")
read -r I IDI < <(gen import --chain "$YID" --peer "$XID" --utxo "$XU")
has "$(issue "$I")" "is for blockchain" "import sent to X"
has "$(rpc /ext/bc/Y avm.issueTx "{\"tx\":\"$I\"}")" "$IDI" "import on Y"
wait_accepted /ext/bc/Y "$IDI"
has "$(rpc /ext/bc/Y xvm.getBalance "{\"address\":\"$YADDR\",\"assetID\":\"LUX\"}")" \
  '"balance":"4999000000"' "Y balance"
has "$(rpc /ext/bc/Y xvm.getUTXOs "{\"addresses\":[\"$YADDR\"],\"sourceChain\":\"$XID\"}")" \
  '"numFetched":"0"' "shared memory consumed"
has "$(rpc /ext/bc/Y avm.issueTx "{\"tx\":\"$(gen import --chain "$YID" --peer "$XID" --utxo "$XU" --memo again | cut -d' ' -f1)\"}")" \
  "no UTXO" "double import"
YU=$(grep -o '0x[0-9a-f]*' <<<"$(rpc /ext/bc/Y xvm.getUTXOs "{\"addresses\":[\"$YADDR\"]}")")
read -r E2 IDE2 < <(gen export --chain "$YID" --peer "$XID" --utxo "$YU" --amount 2000000000)
has "$(rpc /ext/bc/Y xvm.issueTx "{\"tx\":\"$E2\"}")" "$IDE2" "export Y->X"
wait_accepted /ext/bc/Y "$IDE2"
XU2=$(grep -o '0x[0-9a-f]*' <<<"$(rpc /ext/bc/X xvm.getUTXOs "{\"addresses\":[\"$ADDR\"],\"sourceChain\":\"Y\"}")")
[ -n "$XU2" ] || fail "no UTXO exported from Y"
read -r I2 IDI2 < <(gen import --chain "$XID" --peer "$YID" --utxo "$XU2")
has "$(issue "$I2")" "$IDI2" "import on X"
wait_accepted /ext/bc/X "$IDI2"
ok "export/import X->Y and Y->X through shared memory"

# ---- restart from --data-dir ----
HX=$(field height "$(rpc /ext/bc/X xvm.getHeight '{}')")
HY=$(field height "$(rpc /ext/bc/Y xvm.getHeight '{}')")
BX=$(field balance "$(rpc /ext/bc/X xvm.getBalance "{\"address\":\"$ADDR\",\"assetID\":\"LUX\",\"includePartial\":true}")")
BY=$(field balance "$(rpc /ext/bc/Y xvm.getBalance "{\"address\":\"$YADDR\",\"assetID\":\"LUX\"}")")
stop
start --block-ms 200 --data-dir "$TMP/data"
has "$(rpc /ext/bc/X xvm.getHeight '{}')" "\"height\":\"$HX\"" "X height after restart"
has "$(rpc /ext/bc/Y xvm.getHeight '{}')" "\"height\":\"$HY\"" "Y height after restart"
has "$(rpc /ext/bc/X xvm.getBalance "{\"address\":\"$ADDR\",\"assetID\":\"LUX\",\"includePartial\":true}")" \
  "\"balance\":\"$BX\"" "X balance after restart"
has "$(rpc /ext/bc/Y xvm.getBalance "{\"address\":\"$YADDR\",\"assetID\":\"LUX\"}")" \
  "\"balance\":\"$BY\"" "Y balance after restart"
has "$(rpc /ext/bc/X xvm.getTxStatus "{\"txID\":\"$ID1\"}")" '"status":"Accepted"' "status after restart"
has "$(issue "$B")" "not found" "spent stays spent"
ok "restart keeps heights $HX/$HY and balances"

# ---- JSON-RPC error shapes ----
out=$(post /ext/bc/X '{"jsonrpc":"2.0","id":1,"method":')
has "$out" '"code":-32700' "parse error"; has "$out" '"id":null' "parse error id"
has "$(post /ext/bc/X '{"jsonrpc":"1.0","id":1,"method":"xvm.getHeight"}')" '"code":-32600' "version"
has "$(post /ext/bc/X '{"id":1,"method":"xvm.getHeight"}')" '"code":-32600' "no version"
out=$(rpc /ext/bc/X foo.getHeight '{}')
has "$out" '"code":-32000' "unknown service code"; has "$out" "can't find service" "unknown service"
has "$(rpc /ext/bc/X xvm.nope '{}')" "can't find method" "unknown method"
has "$(rpc /ext/info xvm.getHeight '{}')" "can't find service" "method on wrong endpoint"
has "$(post /ext/bc/X '{"jsonrpc":"2.0","id":1,"method":"xvm.getHeight","params":[{}]}')" '"height"' "params as array"
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST --data '{}' "http://127.0.0.1:$PORT/ext/nope")
[ "$code" = 404 ] || fail "unknown path gave $code"
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/ext/bc/X")
[ "$code" = 405 ] || fail "GET gave $code"
ok "error shapes"

# ---- oversized bodies ----
head -c 2000000 /dev/zero | tr '\0' 'a' >"$TMP/big"
code=$(curl -s -o "$TMP/out" -w '%{http_code}' -X POST --data-binary @"$TMP/big" "http://127.0.0.1:$PORT/ext/bc/X")
[ "$code" = 413 ] || fail "oversized body gave $code"
code=$(curl -s -o "$TMP/out" -w '%{http_code}' -X POST -H 'Transfer-Encoding: chunked' \
  --data-binary @"$TMP/big" "http://127.0.0.1:$PORT/ext/bc/X" || true)
[ "$code" = 413 ] || [ "$code" = 000 ] || fail "oversized chunked body gave $code"
has "$(rpc /ext/bc/X xvm.getHeight '{}')" '"height"' "alive after oversized bodies"
ok "oversized bodies refused"

# ---- garbage requests ----
for i in $(seq 1 150); do
  case $((i % 5)) in
  0) head -c $((RANDOM % 3000 + 1)) /dev/urandom >"$TMP/g" ;;
  1) printf '{"jsonrpc":"2.0","id":%s,"method":"xvm.issueTx","params":{"tx":"0x%s"}}' \
       "$RANDOM" "$(head -c $((RANDOM % 400 + 1)) /dev/urandom | od -An -tx1 | tr -d ' \n')" >"$TMP/g" ;;
  2) printf '{"jsonrpc":"2.0","id":[1,{"a":%s}],"method":"xvm.getUTXOs","params":{"addresses":[%s],"limit":"%s","startIndex":{"address":7}}}' \
       "$RANDOM" "$RANDOM" "-$RANDOM" >"$TMP/g" ;;
  3) head -c $((RANDOM % 200 + 1)) /dev/urandom | od -An -tx1 | tr -d ' \n' \
       | sed 's/^/{"jsonrpc":"2.0","id":1,"method":"xvm.issueTx","params":{"tx":"0x/; s/$/"}}/' >"$TMP/g"
     # a mutated valid tx: one byte flipped
     t=${good:2}; pos=$(( (RANDOM % (${#t} / 2)) * 2 ))
     printf '{"jsonrpc":"2.0","id":1,"method":"xvm.issueTx","params":{"tx":"0x%s%02x%s"}}' \
       "${t:0:pos}" $(( (16#${t:pos:2} + 1 + RANDOM % 255) % 256 )) "${t:pos+2}" >"$TMP/g" ;;
  4) printf '%s' "$(printf '[%.0s' $(seq 1 $((RANDOM % 3000))))" >"$TMP/g" ;;
  esac
  path=/ext/bc/X; [ $((i % 7)) -eq 0 ] && path=/ext/info
  code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 -X POST --data-binary @"$TMP/g" \
    "http://127.0.0.1:$PORT$path" || true)
  [ "$code" = 200 ] || fail "garbage request $i gave HTTP $code"
done
kill -0 "$PID" || fail "server died on garbage"
has "$(rpc /ext/bc/X xvm.getHeight '{}')" "\"height\":\"$HX\"" "alive after garbage"
ok "150 garbage requests answered, server alive"
# TX1's 100,000,000 output to the key is still unspent.
FREE=$(grep -o '0x[0-9a-f]*' <<<"$(rpc /ext/bc/X xvm.getUTXOs "{\"addresses\":[\"$ADDR\"]}")" \
  | grep 0000000005f5e1000000000000000000 | head -1)
[ -n "$FREE" ] || fail "no spendable UTXO left"
stop

# ---- fault injection ----
start --fault-503-rate 1
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST --data '{}' "http://127.0.0.1:$PORT/ext/bc/X")
[ "$code" = 503 ] || fail "fault-503 gave $code"
stop
start --fault-latency-ms 400
t0=$(date +%s%N); rpc /ext/bc/X xvm.getHeight '{}' >/dev/null; t1=$(date +%s%N)
[ $(( (t1 - t0) / 1000000 )) -ge 400 ] || fail "latency fault: $(( (t1 - t0) / 1000000 )) ms"
stop
# Every reply dropped: the tx is still processed, as a restart shows.
start --fault-drop-reply-rate 1 --block-ms 100 --data-dir "$TMP/data"
read -r D IDD < <(gen base --chain "$XID" --utxo "$FREE" --amount 1000 --memo dropped)
set +e; out=$(issue "$D"); rc=$?; set -e
[ $rc -ne 0 ] && [ -z "$out" ] || fail "drop-reply answered: rc $rc '$out'"
sleep 0.6
stop
start --data-dir "$TMP/data"
has "$(rpc /ext/bc/X xvm.getTxStatus "{\"txID\":\"$IDD\"}")" '"status":"Accepted"' "dropped reply, tx accepted"
stop
start --fault-503-rate 0.5 --fault-seed 42
n503=0; n200=0
for _ in $(seq 1 40); do
  code=$(curl -s -o /dev/null -w '%{http_code}' -X POST --data '{}' "http://127.0.0.1:$PORT/ext/info")
  case $code in 503) n503=$((n503 + 1)) ;; 200) n200=$((n200 + 1)) ;; *) fail "got $code" ;; esac
done
[ $n503 -ge 8 ] && [ $n200 -ge 8 ] || fail "503 rate 0.5 gave $n503/40"
stop
ok "fault injection: 503, latency, dropped replies ($n503/40 at rate 0.5)"
# ---- damaged block logs ----
LOGF="$TMP/data/blocks.log"
size=$(stat -c %s "$LOGF")
printf 'abc' >>"$LOGF"
start --data-dir "$TMP/data"
has "$(rpc /ext/bc/X xvm.getTxStatus "{\"txID\":\"$IDD\"}")" '"status":"Accepted"' "after a torn tail"
stop
[ "$(stat -c %s "$LOGF")" -eq "$size" ] || fail "torn tail not cut"
b=$(od -An -tu1 -j60 -N1 "$LOGF" | tr -d ' ')
printf "\\$(printf %o $((b ^ 1)))" | dd of="$LOGF" bs=1 seek=60 conv=notrunc 2>/dev/null
set +e; "$DEVNET" --port 0 --data-dir "$TMP/data" 2>"$TMP/err"; rc=$?; set -e
[ $rc -eq 1 ] && grep -q "checksum mismatch" "$TMP/err" || fail "damaged log: rc $rc $(cat "$TMP/err")"
ok "torn last record cut, damaged record refused"
echo "all devnet checks passed"
