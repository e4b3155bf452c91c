/* Test generator for test_oracle.sh: builds and signs random X-Chain
 * transactions (BaseTx, ExportTx, ImportTx) with the bridge codec and writes
 * one JSON object per line, for an independent implementation of the codec
 * (tests/bridge/oracle/check.js) to parse, re-encode and check.
 *
 * Everything follows from the seed: structure from a splitmix64 stream, secret
 * keys from sha256("lxdex-oracle-key" || seed || counter). Each line holds the
 * signed bytes, the unsigned length, the txID (hex and cb58), the expected
 * signer address of every signature in credential order, the secrets of those
 * signers, the decoded fields (type, network, chains, counts, memo) and the
 * outputs and inputs as they were specified, before the codec sorted them.
 *
 * usage: oracle_gen [--seed N] [--count N] */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lx/bridge.h"

#define NKEYS 24   /* the key pool */
#define NASSETS 6  /* the asset pool */
#define MAX_IO 8   /* inputs (base + imported) and outputs (base + exported) */
#define MAX_ADDR 5 /* addresses per output or UTXO owner */

static uint64_t rng_state;

static uint64_t rnd(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

/* Uniform in [lo, hi]. */
static uint32_t range(uint32_t lo, uint32_t hi)
{
    return lo + (uint32_t)(rnd() % ((uint64_t)hi - lo + 1));
}

static void rnd_bytes(uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)rnd();
}

static void die(const char *what, lx_err err)
{
    fprintf(stderr, "oracle_gen: %s: %s\n", what, lx_strerror(err));
    exit(1);
}

static void put_be(uint8_t *p, uint64_t v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
}

static struct pool_key {
    lx_key *key;
    uint8_t sec[LX_SECKEY_LEN];
    uint8_t addr[LX_ADDR_LEN];
} keys[NKEYS];

/* Key i: the first valid secret sha256(tag || seed || counter), counting on
 * from where key i-1 stopped. */
static void make_keys(uint64_t seed)
{
    static const char tag[] = "lxdex-oracle-key";
    uint32_t counter = 0;
    for (size_t i = 0; i < NKEYS; i++) {
        for (;;) {
            uint8_t msg[sizeof tag - 1 + 8 + 4];
            memcpy(msg, tag, sizeof tag - 1);
            put_be(msg + sizeof tag - 1, seed, 8);
            put_be(msg + sizeof tag - 1 + 8, counter++, 4);
            lx_err err = lx_sha256(keys[i].sec, msg, sizeof msg);
            if (err)
                die("sha256", err);
            err = lx_key_import(&keys[i].key, keys[i].sec);
            if (err == LX_ECRYPTO)
                continue; /* not a valid scalar: next counter */
            if (err || (err = lx_key_address(keys[i].key, keys[i].addr)))
                die("key", err);
            break;
        }
    }
}

static const lx_key *lookup(void *arg, const uint8_t addr[LX_ADDR_LEN])
{
    (void)arg;
    for (size_t i = 0; i < NKEYS; i++)
        if (!memcmp(keys[i].addr, addr, LX_ADDR_LEN))
            return keys[i].key;
    return NULL;
}

static int key_of(const uint8_t addr[LX_ADDR_LEN])
{
    for (int i = 0; i < NKEYS; i++)
        if (!memcmp(keys[i].addr, addr, LX_ADDR_LEN))
            return i;
    return -1;
}

static uint8_t assets[NASSETS][LX_ID_LEN];

static void make_assets(void)
{
    for (size_t i = 0; i < NASSETS; i++)
        rnd_bytes(assets[i], LX_ID_LEN);
    /* Two assets that differ from asset 0 only in the last byte, so that the
     * asset order is decided at the end of the ID. */
    memcpy(assets[1], assets[0], LX_ID_LEN);
    assets[1][LX_ID_LEN - 1] ^= 0x01;
    memcpy(assets[2], assets[0], LX_ID_LEN);
    assets[2][LX_ID_LEN - 1] ^= 0x80;
}

static int cmp_addr(const void *a, const void *b)
{
    return memcmp(a, b, LX_ADDR_LEN);
}

/* A nonzero amount: small, large (over 2^53) or the extremes. */
static uint64_t rnd_amount(void)
{
    switch (range(0, 7)) {
    case 0:
        return 1;
    case 1:
        return UINT64_MAX;
    case 2:
        return (rnd() | (1ull << 53)) & ~(1ull << 63);
    case 3:
        return rnd() | 1;
    default:
        return 1 + rnd() % 1000000000000ull;
    }
}

static uint64_t rnd_locktime(void)
{
    switch (range(0, 5)) {
    case 0:
    case 1:
    case 2:
        return 0;
    case 3:
        return 1600000000u + rnd() % 400000000u;
    case 4:
        return UINT64_MAX;
    default:
        return rnd();
    }
}

/* n distinct addresses, in random order: pool keys, random ones, or both. */
static void rnd_addrs(uint8_t *out, size_t n, int only_keys)
{
    for (size_t i = 0; i < n; i++) {
        for (;;) {
            uint8_t *a = out + i * LX_ADDR_LEN;
            if (only_keys || range(0, 2))
                memcpy(a, keys[range(0, NKEYS - 1)].addr, LX_ADDR_LEN);
            else
                rnd_bytes(a, LX_ADDR_LEN);
            int dup = 0;
            for (size_t j = 0; j < i; j++)
                dup |= !memcmp(out + j * LX_ADDR_LEN, a, LX_ADDR_LEN);
            if (!dup)
                break;
        }
    }
}

/* An owner: 1..5 addresses (sometimes none, when allowed) and a threshold,
 * 0 when there are no addresses, else 1..n. */
static void rnd_owner(uint8_t *addrs, size_t *naddrs, uint32_t *threshold, int allow_empty,
                      int only_keys)
{
    size_t n = allow_empty && range(0, 7) == 0 ? 0 : range(1, MAX_ADDR);
    rnd_addrs(addrs, n, only_keys);
    *naddrs = n;
    *threshold = n ? range(1, (uint32_t)n) : 0;
}

/* One output. Sometimes a copy of an earlier one with one field changed, so
 * that outputs of the same asset are ordered by a late byte. */
static void rnd_out(lx_xout *o, uint8_t *addrs, const lx_xout *prev, const uint8_t *prev_addrs)
{
    memset(o, 0, sizeof *o);
    if (prev && range(0, 3) == 0) {
        *o = *prev;
        memcpy(addrs, prev_addrs, prev->naddrs * LX_ADDR_LEN);
        o->addrs = addrs;
        switch (range(0, 2)) {
        case 0:
            o->amount = prev->amount == 1 ? 2 : prev->amount - 1;
            break;
        case 1:
            o->locktime = prev->locktime + 1;
            break;
        default:
            o->threshold = prev->threshold > 1 ? prev->threshold - 1 : prev->threshold;
            if (o->threshold == prev->threshold)
                o->amount ^= 0x100;
            if (!o->amount)
                o->amount = 7;
        }
        return;
    }
    memcpy(o->asset_id, assets[range(0, NASSETS - 1)], LX_ID_LEN);
    o->amount = rnd_amount();
    o->locktime = rnd_locktime();
    rnd_owner(addrs, &o->naddrs, &o->threshold, 1, 0);
    o->addrs = addrs;
}

/* What a tx needs beyond its spec: the UTXOs its inputs spend. */
struct gen {
    lx_xout outs[MAX_IO], xouts[MAX_IO];
    uint8_t out_addrs[2 * MAX_IO][MAX_ADDR * LX_ADDR_LEN];
    lx_xin ins[MAX_IO], xins[MAX_IO];
    uint32_t sig_idx[MAX_IO][MAX_ADDR];
    lx_xutxo utxos[MAX_IO];
    uint8_t utxo_addrs[MAX_IO][MAX_ADDR * LX_ADDR_LEN];
    uint8_t memo[LX_MEMO_MAX];
};

/* Input k spends UTXO k, owned by 1..5 pool keys with a threshold. */
static void rnd_in(struct gen *g, size_t k, lx_xin *in)
{
    lx_xutxo *u = &g->utxos[k];
    memset(u, 0, sizeof *u);
    memset(in, 0, sizeof *in);
    /* Sometimes the txID of the previous UTXO with another index, so that
     * inputs are ordered by their index. */
    if (k > 0 && range(0, 3) == 0 && g->utxos[k - 1].output_index < UINT32_MAX - 3) {
        memcpy(u->tx_id, g->utxos[k - 1].tx_id, LX_ID_LEN);
        u->output_index = g->utxos[k - 1].output_index + range(1, 3);
    } else {
        rnd_bytes(u->tx_id, LX_ID_LEN);
        u->output_index = range(0, 3) ? range(0, 9) : (uint32_t)rnd();
    }
    memcpy(u->out.asset_id, assets[range(0, NASSETS - 1)], LX_ID_LEN);
    u->out.amount = rnd_amount();
    u->out.locktime = rnd_locktime();
    rnd_owner(g->utxo_addrs[k], &u->out.naddrs, &u->out.threshold, 0, 1);
    qsort(g->utxo_addrs[k], u->out.naddrs, LX_ADDR_LEN, cmp_addr);
    u->out.addrs = g->utxo_addrs[k];
    /* threshold distinct sig indices, increasing, out of the n addresses */
    size_t n = u->out.naddrs, m = u->out.threshold, chosen = 0;
    for (size_t i = 0; i < n && chosen < m; i++)
        if (range(0, (uint32_t)(n - i - 1)) < m - chosen)
            g->sig_idx[k][chosen++] = (uint32_t)i;
    memcpy(in->tx_id, u->tx_id, LX_ID_LEN);
    in->output_index = u->output_index;
    memcpy(in->asset_id, u->out.asset_id, LX_ID_LEN);
    in->amount = u->out.amount;
    in->nsigs = m;
    in->sig_indices = g->sig_idx[k];
}

static const lx_xutxo *find_utxo(const struct gen *g, size_t n, const lx_xin *in)
{
    for (size_t i = 0; i < n; i++)
        if (!memcmp(g->utxos[i].tx_id, in->tx_id, LX_ID_LEN) &&
            g->utxos[i].output_index == in->output_index)
            return &g->utxos[i];
    return NULL;
}

static void put_hex(const uint8_t *p, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        putchar(digits[p[i] >> 4]);
        putchar(digits[p[i] & 15]);
    }
}

static void put_hex_field(const char *name, const uint8_t *p, size_t n)
{
    printf(",\"%s\":\"", name);
    put_hex(p, n);
    putchar('"');
}

/* The outputs and inputs as the spec gave them (before the codec sorted
 * anything): [asset, amount, locktime, threshold, [addresses]] and
 * [txID, index, asset, amount, [sig indices]], amounts as decimal strings. */
static void put_outs(const char *name, const lx_xout *o, size_t n)
{
    printf(",\"%s\":[", name);
    for (size_t i = 0; i < n; i++) {
        printf("%s[\"", i ? "," : "");
        put_hex(o[i].asset_id, LX_ID_LEN);
        printf("\",\"%" PRIu64 "\",\"%" PRIu64 "\",%" PRIu32 ",[", o[i].amount, o[i].locktime,
               o[i].threshold);
        for (size_t k = 0; k < o[i].naddrs; k++) {
            printf("%s\"", k ? "," : "");
            put_hex(o[i].addrs + k * LX_ADDR_LEN, LX_ADDR_LEN);
            putchar('"');
        }
        printf("]]");
    }
    putchar(']');
}

static void put_ins(const char *name, const lx_xin *in, size_t n)
{
    printf(",\"%s\":[", name);
    for (size_t i = 0; i < n; i++) {
        printf("%s[\"", i ? "," : "");
        put_hex(in[i].tx_id, LX_ID_LEN);
        printf("\",%" PRIu32 ",\"", in[i].output_index);
        put_hex(in[i].asset_id, LX_ID_LEN);
        printf("\",\"%" PRIu64 "\",[", in[i].amount);
        for (size_t k = 0; k < in[i].nsigs; k++)
            printf("%s%" PRIu32, k ? "," : "", in[i].sig_indices[k]);
        printf("]]");
    }
    putchar(']');
}

/* Credential order: base inputs, then imported inputs, as the view lists
 * them. */
static const lx_xin *input_at(const lx_tx_spec *v, size_t i)
{
    return i < v->nins ? &v->ins[i] : &v->xins[i - v->nins];
}

/* Fills every slot in one of three ways: by owner lookup (0), with explicit
 * keys per slot (1), or as external signers (2). */
static void sign(lx_tx *tx, const struct gen *g, size_t nutxos, unsigned way)
{
    const lx_tx_spec *v = lx_tx_view(tx);
    size_t nin = lx_tx_input_count(tx);
    lx_err err = LX_OK;
    if (way == 0) {
        err = lx_tx_sign_lookup(tx, lookup, NULL, g->utxos, nutxos);
    } else if (way == 1) {
        /* explicit keys, one per slot in credential order */
        const lx_key *ks[MAX_IO * MAX_ADDR];
        size_t nk = 0;
        for (size_t i = 0; i < nin; i++) {
            const lx_xin *in = input_at(v, i);
            const lx_xutxo *u = find_utxo(g, nutxos, in);
            for (size_t j = 0; j < in->nsigs; j++)
                ks[nk++] = lookup(NULL, u->out.addrs + in->sig_indices[j] * LX_ADDR_LEN);
        }
        err = lx_tx_sign_keys(tx, ks, nk);
    } else {
        /* external signers: each owner key signs the hash once */
        uint8_t hash[LX_SHA256_LEN], sig[LX_SIG_LEN];
        int done[NKEYS] = {0};
        if ((err = lx_tx_hash(tx, hash)))
            die("hash", err);
        for (size_t i = 0; i < nin && !err; i++) {
            const lx_xin *in = input_at(v, i);
            const lx_xutxo *u = find_utxo(g, nutxos, in);
            for (size_t j = 0; j < in->nsigs && !err; j++) {
                int k = key_of(u->out.addrs + in->sig_indices[j] * LX_ADDR_LEN);
                if (k < 0)
                    die("owner not in the key pool", LX_ENOTFOUND);
                if (done[k])
                    continue;
                done[k] = 1;
                if (!(err = lx_key_sign(keys[k].key, sig, hash)))
                    err = lx_tx_add_sig(tx, NULL, g->utxos, nutxos, sig);
            }
        }
    }
    if (err)
        die("sign", err);
    if (!lx_tx_is_signed(tx))
        die("sign: slots left empty", LX_ESTATE);
}

static void one_tx(size_t n)
{
    static const uint32_t networks[] = {1, 5, 12345, 31337, 96368, 96369};
    struct gen *g = calloc(1, sizeof *g);
    if (!g)
        die("calloc", LX_ENOMEM);
    lx_tx_spec sp;
    memset(&sp, 0, sizeof sp);
    static const lx_tx_kind kinds[] = {LX_TX_BASE, LX_TX_EXPORT, LX_TX_IMPORT};
    sp.kind = kinds[n % 3];
    sp.network_id = range(0, 4)
                        ? networks[range(0, (uint32_t)(sizeof networks / sizeof *networks - 1))]
                        : (uint32_t)rnd();
    rnd_bytes(sp.blockchain_id, LX_ID_LEN);
    if (sp.kind != LX_TX_BASE)
        rnd_bytes(sp.other_chain, LX_ID_LEN);

    /* 1..8 inputs in all; an ImportTx has at least one imported input. */
    size_t nin = range(1, MAX_IO), nxin = 0;
    if (sp.kind == LX_TX_IMPORT) {
        nxin = range(1, (uint32_t)nin);
        nin -= nxin;
    }
    for (size_t i = 0; i < nin; i++)
        rnd_in(g, i, &g->ins[i]);
    for (size_t i = 0; i < nxin; i++)
        rnd_in(g, nin + i, &g->xins[i]);
    /* 1..8 outputs in all; an ExportTx has at least one exported output. */
    size_t nout = range(1, MAX_IO), nxout = 0;
    if (sp.kind == LX_TX_EXPORT) {
        nxout = range(1, (uint32_t)nout);
        nout -= nxout;
    }
    for (size_t i = 0; i < nout; i++)
        rnd_out(&g->outs[i], g->out_addrs[i], i ? &g->outs[i - 1] : NULL,
                i ? g->out_addrs[i - 1] : NULL);
    for (size_t i = 0; i < nxout; i++)
        rnd_out(&g->xouts[i], g->out_addrs[MAX_IO + i], i ? &g->xouts[i - 1] : NULL,
                i ? g->out_addrs[MAX_IO + i - 1] : NULL);
    sp.ins = g->ins, sp.nins = nin, sp.xins = g->xins, sp.nxins = nxin;
    sp.outs = g->outs, sp.nouts = nout, sp.xouts = g->xouts, sp.nxouts = nxout;

    switch (range(0, 5)) {
    case 0:
        sp.memo_len = 0;
        break;
    case 1:
        sp.memo_len = LX_MEMO_MAX;
        break;
    default:
        sp.memo_len = range(1, LX_MEMO_MAX);
    }
    rnd_bytes(g->memo, sp.memo_len);
    sp.memo = g->memo;

    lx_tx *tx = NULL;
    lx_err err = lx_tx_build(&tx, &sp);
    if (err)
        die("build", err);
    sign(tx, g, nin + nxin, (unsigned)(n / 3 % 3));

    size_t len = lx_tx_signed_len(tx), ulen = lx_tx_unsigned_len(tx);
    uint8_t *bytes = malloc(len);
    uint8_t id[LX_ID_LEN], id2[LX_ID_LEN];
    char cb58[LX_CB58_ID_MAX];
    const char *why = NULL;
    if (!bytes)
        die("malloc", LX_ENOMEM);
    if ((err = lx_tx_encode(tx, bytes, len, &len)) || (err = lx_tx_id(tx, id)) ||
        (err = lx_sha256(id2, bytes, len)) || (err = lx_id_to_cb58(cb58, id)))
        die("encode", err);
    if (memcmp(id, id2, LX_ID_LEN))
        die("txID is not sha256 of the signed bytes", LX_ECORRUPT);
    if ((err = lx_tx_verify(tx, &why, g->utxos, nin + nxin))) {
        fprintf(stderr, "oracle_gen: tx %zu: verify: %s\n", n, why);
        die("verify", err);
    }
    /* The codec must take back what it wrote, unchanged. */
    lx_tx *back = NULL;
    if ((err = lx_tx_decode(&back, &why, bytes, len))) {
        fprintf(stderr, "oracle_gen: tx %zu: decode: %s\n", n, why);
        die("decode", err);
    }
    uint8_t *again = malloc(len);
    size_t alen = 0;
    if (!again || (err = lx_tx_encode(back, again, len, &alen)))
        die("re-encode", err ? err : LX_ENOMEM);
    if (alen != len || memcmp(again, bytes, len))
        die("decode + encode changed the bytes", LX_ECORRUPT);
    free(again);
    lx_tx_free(&back);

    const lx_tx_spec *v = lx_tx_view(tx);
    size_t ninputs = lx_tx_input_count(tx);
    int used[NKEYS] = {0};
    printf("{\"n\":%zu", n);
    put_hex_field("hex", bytes, len);
    printf(",\"unsigned_len\":%zu", ulen);
    put_hex_field("txid", id, LX_ID_LEN);
    printf(",\"txid_cb58\":\"%s\",\"signers\":[", cb58);
    for (size_t i = 0; i < ninputs; i++) {
        const lx_xin *in = input_at(v, i);
        const lx_xutxo *u = find_utxo(g, nin + nxin, in);
        printf("%s[", i ? "," : "");
        for (size_t j = 0; j < in->nsigs; j++) {
            const uint8_t *a = u->out.addrs + in->sig_indices[j] * LX_ADDR_LEN;
            int k = key_of(a);
            if (k < 0)
                die("owner not in the key pool", LX_ENOTFOUND);
            used[k] = 1;
            printf("%s\"", j ? "," : "");
            put_hex(a, LX_ADDR_LEN);
            putchar('"');
        }
        putchar(']');
    }
    printf("],\"keys\":[");
    for (size_t k = 0, first = 1; k < NKEYS; k++) {
        if (!used[k])
            continue;
        printf("%s\"", first ? "" : ",");
        put_hex(keys[k].sec, LX_SECKEY_LEN);
        putchar('"');
        first = 0;
    }
    printf("],\"hrp\":\"local\",\"type\":%d,\"network_id\":%" PRIu32, (int)v->kind, v->network_id);
    put_hex_field("blockchain_id", v->blockchain_id, LX_ID_LEN);
    if (v->kind != LX_TX_BASE)
        put_hex_field("other_chain", v->other_chain, LX_ID_LEN);
    printf(",\"nouts\":%zu,\"nins\":%zu,\"nxouts\":%zu,\"nxins\":%zu", v->nouts, v->nins, v->nxouts,
           v->nxins);
    put_hex_field("memo", v->memo, v->memo_len);
    put_outs("outs", sp.outs, sp.nouts);
    put_outs("xouts", sp.xouts, sp.nxouts);
    put_ins("ins", sp.ins, sp.nins);
    put_ins("xins", sp.xins, sp.nxins);
    printf("}\n");
    free(bytes);
    lx_tx_free(&tx);
    free(g);
}

static uint64_t num(const char *s)
{
    char *end = NULL;
    unsigned long long v = strtoull(s, &end, 0);
    if (!*s || *end) {
        fprintf(stderr, "oracle_gen: bad number %s\n", s);
        exit(2);
    }
    return v;
}

int main(int argc, char **argv)
{
    uint64_t seed = 1;
    size_t count = 250;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--seed") && i + 1 < argc)
            seed = num(argv[++i]);
        else if (!strcmp(argv[i], "--count") && i + 1 < argc)
            count = (size_t)num(argv[++i]);
        else {
            fprintf(stderr, "usage: oracle_gen [--seed N] [--count N]\n");
            return 2;
        }
    }
    rng_state = seed;
    make_keys(seed);
    make_assets();
    for (size_t n = 0; n < count; n++)
        one_tx(n);
    for (size_t i = 0; i < NKEYS; i++) {
        lx_key_free(&keys[i].key);
        lx_wipe(keys[i].sec, sizeof keys[i].sec);
    }
    return fflush(stdout) == 0 ? 0 : 1;
}
