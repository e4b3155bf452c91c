#!/usr/bin/env bash
# Independent check of the AVM codec: 250 random signed transactions built by
# the bridge codec (oracle_gen) are parsed, compared field by field with what
# was specified, re-encoded, hashed, re-signed and their signers recovered by
# avalanchejs v3 (npm avalanche@3.16.0, installed
# into $LX_BUILD/oracle), which must agree byte for byte. Negative controls
# then damage single transactions and require check.js to report them, so the
# check is known to be able to fail. Needs node and npm; when the package is
# missing and cannot be installed the test fails, it is never skipped.
set -euo pipefail

SRC=${LX_SRC:?LX_SRC is not set}
BUILD=${LX_BUILD:?LX_BUILD is not set}
GEN="$BUILD/tests/oracle_gen"
CHECK="$SRC/tests/bridge/oracle/check.js"
PKG=avalanche
VERSION=3.16.0
PREFIX="$BUILD/oracle"
MODULES="$PREFIX/node_modules"
SEED=20240601
COUNT=250

fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok - $*"; }

[ -x "$GEN" ] || fail "$GEN is not built (cmake --build <dir> --target oracle_gen)"
command -v node >/dev/null || fail "node is needed (deploy/deps.sh installs it)"

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

installed() {
  [ -f "$MODULES/$PKG/package.json" ] &&
    [ "$(node -p "require(process.argv[1]).version" "$MODULES/$PKG/package.json" 2>/dev/null)" = "$VERSION" ]
}

# ---- the oracle package ----
if installed; then
  ok "$PKG@$VERSION already in $MODULES"
else
  command -v npm >/dev/null || fail "npm is needed to install $PKG@$VERSION (deploy/deps.sh installs it)"
  mkdir -p "$PREFIX"
  echo "installing $PKG@$VERSION into $PREFIX"
  if ! timeout 240 npm install --prefix "$PREFIX" --no-audit --no-fund --fetch-retries=1 \
      "$PKG@$VERSION" >"$TMP/npm.log" 2>&1; then
    tail -20 "$TMP/npm.log" >&2
    fail "npm could not install $PKG@$VERSION (is the npm registry reachable?); the oracle test cannot run without it"
  fi
  installed || fail "npm ran but $MODULES/$PKG is not version $VERSION"
  ok "installed $PKG@$VERSION"
fi

check() { node "$CHECK" --modules "$MODULES" "$@"; }

# ---- the oracle run ----
"$GEN" --seed "$SEED" --count "$COUNT" >"$TMP/txs.jsonl" || fail "oracle_gen failed"
n=$(wc -l <"$TMP/txs.jsonl")
[ "$n" -eq "$COUNT" ] || fail "oracle_gen wrote $n lines, expected $COUNT"
set +e
check <"$TMP/txs.jsonl" >"$TMP/out" 2>&1
rc=$?
set -e
cat "$TMP/out"
[ $rc -eq 0 ] || fail "check.js found mismatches (exit $rc)"
grep -qx "oracle: $COUNT txs, 0 mismatches (avalanche@$VERSION)" "$TMP/out" ||
  fail "unexpected summary: $(tail -1 "$TMP/out")"
for t in 0 3 4; do
  c=$(grep -c "\"type\":$t," "$TMP/txs.jsonl" || true)
  [ "$c" -ge 50 ] || fail "only $c txs of type $t"
done
ok "$COUNT txs (BaseTx, ImportTx, ExportTx) agree with $PKG@$VERSION"

# ---- negative controls ----
# tamper MODE: rewrites one tx of txs.jsonl and prints its number.
#   sig     flips a byte of the first signature's s (another signer recovers)
#   order   swaps the first two base outputs (made non-canonical)
#   signer  expects another address for the first signature
#   txid    expects another txID
#   value   expects another amount in the first output
#   creds   swaps the credentials of the last base input and the first
#           imported input of an ImportTx (credential order)
#   trunc   drops the last byte
TAMPER='
const fs = require("fs");
const [mode, inf, outf] = process.argv.slice(1);
const lines = fs.readFileSync(inf, "utf8").trim().split("\n").map((l) => JSON.parse(l));
const outsAt = 2 + 4 + 4 + 32;
const outLen = (b, o) => 32 + 4 + 8 + 8 + 4 + 4 + 20 * b.readUInt32BE(o + 32 + 4 + 8 + 8 + 4);
let pick = -1;
for (let i = 3; i < lines.length && pick < 0; i++) {
  const j = lines[i], b = Buffer.from(j.hex, "hex");
  if (mode === "order") {
    if (b.readUInt32BE(outsAt) < 2) continue;
    const o = outsAt + 4, l0 = outLen(b, o), l1 = outLen(b, o + l0);
    const a = b.subarray(o, o + l0), c = b.subarray(o + l0, o + l0 + l1);
    if (a.equals(c)) continue;
    j.hex = Buffer.concat([b.subarray(0, o), c, a, b.subarray(o + l0 + l1)]).toString("hex");
  } else if (mode === "sig") {
    b[j.unsigned_len + 4 + 4 + 4 + 32 + 5] ^= 0x40;
    j.hex = b.toString("hex");
  } else if (mode === "signer") {
    const s = j.signers[0][0];
    j.signers[0][0] = (s[0] === "0" ? "1" : "0") + s.slice(1);
  } else if (mode === "txid") {
    j.txid = (j.txid[0] === "0" ? "1" : "0") + j.txid.slice(1);
  } else if (mode === "creds") {
    if (j.type !== 3 || !j.nins || !j.nxins) continue;
    const a = j.signers[j.nins - 1], c = j.signers[j.nins];
    if (JSON.stringify(a) === JSON.stringify(c)) continue;
    const spans = [];
    let o = j.unsigned_len + 4;
    for (let k = 0; k < j.signers.length; k++) {
      const len = 8 + 65 * b.readUInt32BE(o + 4);
      spans.push(b.subarray(o, o + len));
      o += len;
    }
    [spans[j.nins - 1], spans[j.nins]] = [spans[j.nins], spans[j.nins - 1]];
    j.hex = Buffer.concat([b.subarray(0, j.unsigned_len + 4), ...spans]).toString("hex");
  } else if (mode === "value") {
    if (!j.outs.length) continue;
    j.outs[0][1] = (BigInt(j.outs[0][1]) ^ 1n).toString();
  } else if (mode === "trunc") {
    j.hex = j.hex.slice(0, -2);
  } else {
    throw new Error("unknown mode " + mode);
  }
  pick = i;
}
if (pick < 0) throw new Error("no tx to tamper with in mode " + mode);
fs.writeFileSync(outf, lines.map((l) => JSON.stringify(l)).join("\n") + "\n");
console.log(lines[pick].n);
'
# The controls run on the first $FEW txs only, to keep the test short.
FEW=30
head -n "$FEW" "$TMP/txs.jsonl" >"$TMP/few.jsonl"
expect_caught() { # mode check-name...
  local mode=$1 victim rc name
  shift
  victim=$(node -e "$TAMPER" "$mode" "$TMP/few.jsonl" "$TMP/bad.jsonl") || fail "tamper $mode failed"
  set +e
  check --min "$FEW" <"$TMP/bad.jsonl" >"$TMP/out" 2>&1
  rc=$?
  set -e
  [ $rc -eq 1 ] || { cat "$TMP/out"; fail "control $mode: check.js exited $rc, expected 1"; }
  for name in "$@"; do
    grep -q "^mismatch tx $victim $name: " "$TMP/out" ||
      { cat "$TMP/out"; fail "control $mode: no '$name' mismatch reported for tx $victim"; }
  done
  if grep "^mismatch " "$TMP/out" | grep -v "^mismatch tx $victim " >/dev/null; then
    cat "$TMP/out"; fail "control $mode: mismatches reported for other txs"
  fi
  grep -q "^oracle: $FEW txs, [1-9][0-9]* mismatches in 1 txs" "$TMP/out" ||
    { cat "$TMP/out"; fail "control $mode: unexpected summary"; }
  ok "control $mode: tx $victim caught as '$*'"
  sed -n 's/^mismatch /    /p' "$TMP/out"
}
expect_caught sig signer resign txid
expect_caught order bytes
expect_caught signer signer
expect_caught txid txid
expect_caught value values
expect_caught creds signer resign
expect_caught trunc parse

set +e
check <"$TMP/few.jsonl" >"$TMP/out" 2>&1
rc=$?
set -e
if [ $rc -ne 1 ] || ! grep -q "^oracle: FAIL: $FEW txs checked, at least 200 needed" "$TMP/out"; then
  cat "$TMP/out"; fail "$FEW clean txs were accepted as enough (exit $rc)"
fi
ok "control: $FEW clean txs are fewer than 200 and fail"

echo "all oracle checks passed"
