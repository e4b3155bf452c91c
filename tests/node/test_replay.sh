#!/bin/bash
# End-to-end tests of lx-replay. Every tests/node/replay/NAME.jsonl is run with
# --final and its output compared with NAME.expected (exit status NAME.status,
# 0 when absent); then the command line, line handling, and every example in
# docs/replay.md are checked. Needs LX_BIN and LX_SRC; exits 1 on any mismatch.
set -u
: "${LX_BIN:?LX_BIN must name the directory of the built binaries}"
: "${LX_SRC:?LX_SRC must name the source tree}"

REPLAY="$LX_BIN/lx-replay"
DATA="$LX_SRC/tests/node/replay"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
FAILED=0

pass() { echo "PASS $1"; }
fail() {
    echo "FAIL $1"
    FAILED=1
}

# same NAME EXPECTED_FILE ACTUAL_FILE: passes if the files are byte-equal.
same() {
    if cmp -s "$2" "$3"; then
        pass "$1"
    else
        fail "$1"
        diff -u --label expected --label actual "$2" "$3" | head -40
    fi
}

# status NAME WANT GOT
status() {
    if [ "$2" = "$3" ]; then
        pass "$1: exit status $3"
    else
        fail "$1: exit status $3, expected $2"
    fi
}

if [ ! -x "$REPLAY" ]; then
    echo "FAIL $REPLAY is not built"
    exit 1
fi

# ---- the data files ----
for input in "$DATA"/*.jsonl; do
    name=$(basename "$input" .jsonl)
    want_status=0
    [ -f "$DATA/$name.status" ] && want_status=$(cat "$DATA/$name.status")
    echo "---- $name: lx-replay --final $name.jsonl vs $name.expected"
    "$REPLAY" --final "$input" >"$TMP/$name.out" 2>"$TMP/$name.err"
    got=$?
    same "$name: output" "$DATA/$name.expected" "$TMP/$name.out"
    status "$name" "$want_status" "$got"
    if [ -s "$TMP/$name.err" ]; then
        fail "$name: unexpected standard error"
        cat "$TMP/$name.err"
    fi
done

IN="$DATA/cross_fees.jsonl"
WANT="$DATA/cross_fees.expected"

echo "---- input sources and line endings"
"$REPLAY" --final <"$IN" >"$TMP/stdin.out"
status "stdin" 0 $?
same "stdin gives the same events" "$WANT" "$TMP/stdin.out"
"$REPLAY" --final - <"$IN" >"$TMP/dash.out"
status "'-' as FILE" 0 $?
same "'-' reads standard input" "$WANT" "$TMP/dash.out"
sed 's/$/\r/' "$IN" >"$TMP/crlf.jsonl"
"$REPLAY" --final "$TMP/crlf.jsonl" >"$TMP/crlf.out"
status "CRLF" 0 $?
same "CRLF line ends" "$WANT" "$TMP/crlf.out"
printf '%s' "$(cat "$IN")" >"$TMP/nonl.jsonl"
"$REPLAY" --final "$TMP/nonl.jsonl" >"$TMP/nonl.out"
status "no final newline" 0 $?
same "last line without a newline is read" "$WANT" "$TMP/nonl.out"

echo "---- without --final"
grep -v -e '"ev":"balance"' -e '"ev":"book"' "$WANT" >"$TMP/nofinal.want"
"$REPLAY" "$IN" >"$TMP/nofinal.out"
status "no --final" 0 $?
same "no balance or book lines without --final" "$TMP/nofinal.want" "$TMP/nofinal.out"

echo "---- --fee-account"
sed 's/"account":"fees"/"account":"house"/' "$WANT" >"$TMP/house.want"
"$REPLAY" --final --fee-account house "$IN" >"$TMP/house.out"
status "--fee-account" 0 $?
same "fees credited to the named fee account" "$TMP/house.want" "$TMP/house.out"
# a fee account named after a trader sorts with its own balances
printf '%s\n' \
    '{"op":"market","market":"M","base":"A","quote":"B","lot":1,"tick":1,"taker_fee_bps":100}' \
    '{"op":"deposit","account":"zed","asset":"A","amount":5}' \
    '{"op":"deposit","account":"bank","asset":"B","amount":500}' \
    '{"op":"order","id":1,"account":"zed","market":"M","side":"sell","price":100,"qty":1}' \
    '{"op":"order","id":2,"account":"bank","market":"M","side":"buy","price":100,"qty":1}' \
    >"$TMP/bank.jsonl"
cat >"$TMP/bank.want" <<'EOF'
{"ev":"market","market":"M","id":0,"base":"A","quote":"B"}
{"ev":"deposit","account":"zed","asset":"A","amount":5,"available":5,"reserved":0}
{"ev":"deposit","account":"bank","asset":"B","amount":500,"available":500,"reserved":0}
{"ev":"accepted","id":1}
{"ev":"accepted","id":2}
{"ev":"fill","market":"M","maker":1,"taker":2,"price":100,"qty":1,"taker_side":"buy","maker_fee":0,"taker_fee":1}
{"ev":"balance","account":"bank","asset":"A","available":1,"reserved":0}
{"ev":"balance","account":"bank","asset":"B","available":400,"reserved":0}
{"ev":"balance","account":"zed","asset":"A","available":4,"reserved":0}
{"ev":"balance","account":"zed","asset":"B","available":100,"reserved":0}
{"ev":"book","market":"M","bids":[],"asks":[]}
EOF
"$REPLAY" --final --fee-account bank "$TMP/bank.jsonl" >"$TMP/bank.out"
status "--fee-account bank" 0 $?
same "fee account that also trades" "$TMP/bank.want" "$TMP/bank.out"

echo "---- the line cap (1048576 bytes)"
GOOD='{"op":"market","market":"M","base":"A","quote":"B","lot":1,"tick":1}'
{
    # one byte over the cap, blank or not, is an error
    head -c 1048577 /dev/zero | tr '\0' ' '
    echo
    # exactly at the cap is read: a command padded with spaces
    printf '%s' "$GOOD"
    head -c $((1048576 - ${#GOOD})) /dev/zero | tr '\0' ' '
    echo
    echo '{"op":"deposit","account":"a","asset":"A","amount":3}'
} >"$TMP/long.jsonl"
cat >"$TMP/long.want" <<'EOF'
{"ev":"error","line":1,"reason":"line is longer than 1048576 bytes"}
{"ev":"market","market":"M","id":0,"base":"A","quote":"B"}
{"ev":"deposit","account":"a","asset":"A","amount":3,"available":3,"reserved":0}
EOF
"$REPLAY" "$TMP/long.jsonl" >"$TMP/long.out"
status "over-long line" 2 $?
same "over-long line skipped, the rest processed" "$TMP/long.want" "$TMP/long.out"

echo "---- command line and I/O errors"
"$REPLAY" --help >"$TMP/help.out" 2>&1
status "--help" 0 $?
if head -1 "$TMP/help.out" | grep -q '^usage: lx-replay \[--final\] \[--fee-account NAME\] \[FILE\]$'; then
    pass "--help prints the usage"
else
    fail "--help prints the usage"
    cat "$TMP/help.out"
fi
"$REPLAY" "$TMP/no-such-file.jsonl" >"$TMP/missing.out" 2>"$TMP/missing.err"
status "missing file" 1 $?
if [ ! -s "$TMP/missing.out" ] && grep -q "^lx-replay: cannot open .*no-such-file.jsonl: No such file or directory$" "$TMP/missing.err"; then
    pass "missing file: message on stderr, nothing on stdout"
else
    fail "missing file: message on stderr, nothing on stdout"
    cat "$TMP/missing.out" "$TMP/missing.err"
fi
"$REPLAY" --bogus "$IN" >/dev/null 2>"$TMP/bogus.err"
status "unknown option" 1 $?
grep -q "^lx-replay: unknown option --bogus$" "$TMP/bogus.err" && pass "unknown option named" ||
    fail "unknown option named"
"$REPLAY" "$IN" "$IN" >/dev/null 2>&1
status "two files" 1 $?
"$REPLAY" --fee-account >/dev/null 2>&1
status "--fee-account without a name" 1 $?
"$REPLAY" --fee-account "" "$IN" >/dev/null 2>&1
status "--fee-account with an empty name" 1 $?
"$REPLAY" "$LX_SRC/tests/node/replay" >/dev/null 2>"$TMP/dir.err"
status "a directory as FILE" 1 $?
if [ -w /dev/full ]; then
    "$REPLAY" --final "$IN" >/dev/full 2>"$TMP/full.err"
    status "write error" 1 $?
    grep -q "^lx-replay: cannot write the output" "$TMP/full.err" && pass "write error reported" ||
        fail "write error reported"
fi

# ---- docs/replay.md: every "$ command" in a ```console block is run from the
# source root, with bin/ meaning $LX_BIN, and must print exactly the lines
# shown under it (standard output and standard error together).
echo "---- docs/replay.md examples"
DOC="$LX_SRC/docs/replay.md"
n_examples=0
run_example() {
    [ -z "$cmd" ] && return
    n_examples=$((n_examples + 1))
    local run="${cmd//bin\/lx-replay/$LX_BIN/lx-replay}"
    printf '%s' "$expect" >"$TMP/doc.want"
    (cd "$LX_SRC" && bash -c "$run") >"$TMP/doc.out" 2>&1
    if cmp -s "$TMP/doc.want" "$TMP/doc.out"; then
        pass "docs/replay.md:$cmd_line example $n_examples"
    else
        fail "docs/replay.md:$cmd_line example $n_examples"
        diff -u --label documented --label actual "$TMP/doc.want" "$TMP/doc.out" | head -40
    fi
    cmd=""
    expect=""
}
if [ ! -f "$DOC" ]; then
    fail "docs/replay.md is missing"
else
    in_block=0
    cont=0
    lineno=0
    cmd_line=0
    cmd=""
    expect=""
    while IFS= read -r line || [ -n "$line" ]; do
        lineno=$((lineno + 1))
        if [ $in_block = 0 ]; then
            [ "$line" = '```console' ] && in_block=1
            continue
        fi
        if [ "$line" = '```' ]; then
            run_example
            in_block=0
            continue
        fi
        if [ $cont = 1 ]; then
            cmd+=$'\n'"$line"
        elif [ "${line:0:2}" = '$ ' ]; then
            run_example
            cmd="${line:2}"
            cmd_line=$lineno
        else
            expect+="$line"$'\n'
            continue
        fi
        cont=0
        [ "${line: -1}" = '\' ] && cont=1
    done <"$DOC"
    if [ $n_examples -lt 5 ]; then
        fail "docs/replay.md has only $n_examples examples"
    fi
fi

if [ $FAILED = 0 ]; then
    echo "all lx-replay tests passed"
fi
exit $FAILED
