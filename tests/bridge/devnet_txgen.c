/* Test helper for test_devnet.sh: builds and signs X-Chain txs with the
 * bridge codec and prints "0x<hex with checksum> <txID>". It can also break
 * a tx in one precise way (bad signature, non-canonical output order, a memo
 * over 256 bytes) so the devnet's rejections can be checked. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lx/bridge.h"

#define MAX_UTXOS 64

static const char *const test_key =
    "56289e99c94b6912bfc12adc093c9b51124f0dc54ac7a766b2bc5ccf558d8027";

static void die(const char *what, lx_err err)
{
    fprintf(stderr, "devnet_txgen: %s: %s\n", what, lx_strerror(err));
    exit(1);
}

static uint64_t num(const char *s)
{
    char *end = NULL;
    unsigned long long v = strtoull(s, &end, 10);
    if (!*s || *end) {
        fprintf(stderr, "devnet_txgen: bad number %s\n", s);
        exit(2);
    }
    return v;
}

/* Signs raw unsigned bytes whose every input is one signature by key, and
 * appends the credentials: used after deliberately breaking the bytes. */
static uint8_t *sign_raw(size_t *out_len, const lx_key *key, const uint8_t *u, size_t ulen,
                         size_t ninputs)
{
    uint8_t hash[LX_SHA256_LEN], sig[LX_SIG_LEN];
    lx_err err = lx_sha256(hash, u, ulen);
    if (!err)
        err = lx_key_sign(key, sig, hash);
    if (err)
        die("sign", err);
    size_t n = ulen + 4 + ninputs * (4 + 4 + LX_SIG_LEN);
    uint8_t *b = malloc(n), *p = b + ulen;
    memcpy(b, u, ulen);
    *p++ = 0, *p++ = 0, *p++ = 0, *p++ = (uint8_t)ninputs;
    for (size_t i = 0; i < ninputs; i++) {
        memcpy(p, "\0\0\0\x09\0\0\0\x01", 8);
        memcpy(p + 8, sig, LX_SIG_LEN);
        p += 8 + LX_SIG_LEN;
    }
    *out_len = n;
    return b;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: devnet_txgen base|export|import --net N --chain ID [--peer ID]\n"
                        "       --utxo 0xHEX... [--to ADDR] [--amount N] [--fee N] [--memo S]\n"
                        "       [--key HEX] [--locktime T] [--tamper sig|order|memo]\n");
        return 2;
    }
    lx_tx_spec sp;
    memset(&sp, 0, sizeof sp);
    const char *kind = argv[1], *key_hex = test_key, *to = NULL, *memo = "", *tamper = "";
    uint64_t amount = 0, fee = 1000000, locktime = 0;
    lx_utxo *utxos[MAX_UTXOS];
    size_t nutxos = 0;
    lx_err err;
    for (int i = 2; i + 1 < argc; i += 2) {
        const char *a = argv[i], *v = argv[i + 1];
        if (!strcmp(a, "--net"))
            sp.network_id = (uint32_t)num(v);
        else if (!strcmp(a, "--chain") && (err = lx_id_from_cb58(sp.blockchain_id, v)))
            die("--chain", err);
        else if (!strcmp(a, "--peer") && (err = lx_id_from_cb58(sp.other_chain, v)))
            die("--peer", err);
        else if (!strcmp(a, "--utxo")) {
            uint8_t buf[1024];
            size_t len = 0;
            if (nutxos == MAX_UTXOS)
                die("--utxo", LX_ETOOBIG);
            if ((err = lx_hexcs_decode(buf, sizeof buf, &len, v)) ||
                (err = lx_utxo_decode(&utxos[nutxos++], NULL, buf, len)))
                die("--utxo", err);
        } else if (!strcmp(a, "--to"))
            to = v;
        else if (!strcmp(a, "--amount"))
            amount = num(v);
        else if (!strcmp(a, "--fee"))
            fee = num(v);
        else if (!strcmp(a, "--memo"))
            memo = v;
        else if (!strcmp(a, "--key"))
            key_hex = v;
        else if (!strcmp(a, "--locktime"))
            locktime = num(v);
        else if (!strcmp(a, "--tamper"))
            tamper = v;
        else if (strcmp(a, "--chain") && strcmp(a, "--peer")) {
            fprintf(stderr, "devnet_txgen: unknown option %s\n", a);
            return 2;
        }
    }
    uint8_t sec[LX_SECKEY_LEN], me[LX_ADDR_LEN], dest[LX_ADDR_LEN];
    size_t slen = 0;
    lx_key *key = NULL;
    if ((err = lx_hex_decode(sec, sizeof sec, &slen, key_hex)) || slen != sizeof sec ||
        (err = lx_key_import(&key, sec)) || (err = lx_key_address(key, me)))
        die("--key", err ? err : LX_EFORMAT);
    lx_wipe(sec, sizeof sec);
    memcpy(dest, me, LX_ADDR_LEN);
    if (to &&
        (err = lx_address_decode(dest, to[1] == '-' ? (to[0] == 'X' ? "X" : "Y") : NULL, NULL, to)))
        die("--to", err);
    if (!strcmp(kind, "base"))
        sp.kind = LX_TX_BASE;
    else if (!strcmp(kind, "export"))
        sp.kind = LX_TX_EXPORT;
    else if (!strcmp(kind, "import"))
        sp.kind = LX_TX_IMPORT;
    else
        die("kind must be base, export or import", LX_EINVAL);
    if (nutxos == 0)
        die("at least one --utxo is needed", LX_EINVAL);

    /* Every UTXO is spent whole; what is not sent or paid as fee is change. */
    static const uint32_t sig0 = 0;
    lx_xin ins[MAX_UTXOS];
    uint64_t total = 0;
    for (size_t i = 0; i < nutxos; i++) {
        const lx_xutxo *u = lx_utxo_view(utxos[i]);
        memset(&ins[i], 0, sizeof ins[i]);
        memcpy(ins[i].tx_id, u->tx_id, LX_ID_LEN);
        ins[i].output_index = u->output_index;
        memcpy(ins[i].asset_id, u->out.asset_id, LX_ID_LEN);
        ins[i].amount = u->out.amount;
        ins[i].nsigs = 1;
        ins[i].sig_indices = &sig0;
        total += u->out.amount;
    }
    const uint8_t *asset = lx_utxo_view(utxos[0])->out.asset_id;
    if (amount + fee > total)
        die("amount + fee exceed the UTXOs", LX_EINVAL);
    lx_xout outs[2], xout;
    memset(outs, 0, sizeof outs);
    size_t nouts = 0;
    uint64_t change = total - amount - fee;
    if (sp.kind != LX_TX_EXPORT && amount) {
        outs[nouts] = (lx_xout){
            .amount = amount, .locktime = locktime, .threshold = 1, .naddrs = 1, .addrs = dest};
        memcpy(outs[nouts++].asset_id, asset, LX_ID_LEN);
    }
    if (change) {
        outs[nouts] = (lx_xout){.amount = change, .threshold = 1, .naddrs = 1, .addrs = me};
        memcpy(outs[nouts++].asset_id, asset, LX_ID_LEN);
    }
    sp.outs = outs;
    sp.nouts = nouts;
    if (sp.kind == LX_TX_IMPORT) {
        sp.xins = ins;
        sp.nxins = nutxos;
    } else {
        sp.ins = ins;
        sp.nins = nutxos;
    }
    if (sp.kind == LX_TX_EXPORT) {
        xout = (lx_xout){
            .amount = amount, .locktime = locktime, .threshold = 1, .naddrs = 1, .addrs = dest};
        memcpy(xout.asset_id, asset, LX_ID_LEN);
        sp.xouts = &xout;
        sp.nxouts = 1;
    }
    size_t mlen = strlen(memo);
    bool long_memo = !strcmp(tamper, "memo");
    uint8_t memo_buf[LX_MEMO_MAX];
    if (long_memo) {
        memset(memo_buf, 'm', sizeof memo_buf);
        sp.memo = memo_buf;
        sp.memo_len = sizeof memo_buf;
    } else {
        sp.memo = (const uint8_t *)memo;
        sp.memo_len = mlen;
    }
    lx_tx *tx = NULL;
    if ((err = lx_tx_build(&tx, &sp)))
        die("build", err);
    const lx_key *keys[MAX_UTXOS];
    for (size_t i = 0; i < nutxos; i++)
        keys[i] = key;
    if ((err = lx_tx_sign_keys(tx, keys, nutxos)))
        die("sign", err);
    size_t len = lx_tx_signed_len(tx), ulen = lx_tx_unsigned_len(tx);
    uint8_t *bytes = malloc(len + 2);
    if ((err = lx_tx_encode(tx, bytes, len, &len)))
        die("encode", err);
    if (!strcmp(tamper, "sig")) {
        bytes[len - 40] ^= 0x01; /* inside the last signature's s */
    } else if (!strcmp(tamper, "order") || long_memo) {
        uint8_t *u = malloc(ulen + 1);
        memcpy(u, bytes, ulen);
        if (long_memo) {
            /* A BaseTx ends with its memo: grow it from 256 to 257 bytes. */
            if (sp.kind != LX_TX_BASE)
                die("--tamper memo needs a base tx", LX_EINVAL);
            u[ulen - LX_MEMO_MAX - 1] = 0x01; /* low byte of the u32 length */
            u[ulen] = 'm';
            ulen++;
        } else {
            /* Swap the two 80-byte outputs that follow the output count. */
            const size_t at = 2 + 4 + 4 + LX_ID_LEN + 4, olen = 80;
            uint8_t tmp[80];
            if (nouts != 2)
                die("--tamper order needs two outputs", LX_EINVAL);
            memcpy(tmp, u + at, olen);
            memmove(u + at, u + at + olen, olen);
            memcpy(u + at + olen, tmp, olen);
        }
        free(bytes);
        bytes = sign_raw(&len, key, u, ulen, nutxos);
        free(u);
    }
    uint8_t id[LX_ID_LEN];
    char idstr[LX_CB58_ID_MAX];
    size_t hlen = lx_hexcs_len(len);
    char *hex = malloc(hlen);
    if ((err = lx_sha256(id, bytes, len)) || (err = lx_id_to_cb58(idstr, id)) ||
        (err = lx_hexcs_encode(hex, hlen, bytes, len)))
        die("encode", err);
    printf("%s %s\n", hex, idstr);
    free(hex);
    free(bytes);
    lx_tx_free(&tx);
    lx_key_free(&key);
    for (size_t i = 0; i < nutxos; i++)
        lx_utxo_free(&utxos[i]);
    return 0;
}
