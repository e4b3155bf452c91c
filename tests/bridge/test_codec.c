/* The AVM codec: the reference vector byte for byte, round trips of every tx
 * kind and of UTXOs, one case per canonical rule, truncation at every offset,
 * the signing APIs and verification against UTXOs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lx/bridge.h"

static const char ref_signed_hex[] =
    "00000000000000003039bcbcbcbcbcbcbcbcbcbcbcbcbcbcbcbcbcbcbcbcbcbcbcbcbcbcbcbcbcbcbcbc00000002aa"
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa000000070000000005f5e10000000000"
    "0000000000000001000000012222222222222222222222222222222222222222aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa00000007000000003595a6c0000000000000000000000001000000013cb7"
    "d3842e8cee6a0ebd09f1fe884f6861e1b29c0000000111111111111111111111111111111111111111111111111111"
    "11"
    "11111111111100000000aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa0000000500"
    "00"
    "00003b9aca0000000001000000000000000568656c6c6f000000010000000900000001e089e8d8a254e80f0f173ac4"
    "9b8c5a16101d3fad8d6058e2940439e051c3528e15b0c402f26543a51a73980e6b25a25492680c2277aa838d6bc748"
    "fd4c5c539000";

static uint8_t ref_signed[384];

static void unhex(uint8_t *out, size_t want, const char *hex)
{
    size_t n = 0;
    assert_int_equal(lx_hex_decode(out, want, &n, hex), LX_OK);
    assert_int_equal(n, want);
}

static lx_key *ref_key(void)
{
    uint8_t sec[32];
    unhex(sec, 32, "56289e99c94b6912bfc12adc093c9b51124f0dc54ac7a766b2bc5ccf558d8027");
    lx_key *key = NULL;
    assert_int_equal(lx_key_import(&key, sec), LX_OK);
    return key;
}

static const lx_key *one_key(void *arg, const uint8_t addr[LX_ADDR_LEN])
{
    const lx_key *key = arg;
    uint8_t mine[LX_ADDR_LEN];
    assert_int_equal(lx_key_address(key, mine), LX_OK);
    return memcmp(mine, addr, LX_ADDR_LEN) == 0 ? key : NULL;
}

/* The reference tx: 1 input of the key's UTXO, 2 outputs, memo "hello". */
typedef struct ref_parts {
    uint8_t key_addr[20], to[20];
    uint32_t sig0;
    lx_xout outs[2];
    lx_xin in;
    lx_xutxo utxo;
    lx_tx_spec spec;
} ref_parts;

static void ref_spec(ref_parts *p, const lx_key *key)
{
    memset(p, 0, sizeof *p);
    assert_int_equal(lx_key_address(key, p->key_addr), LX_OK);
    memset(p->to, 0x22, 20);
    p->sig0 = 0;
    /* deliberately out of canonical order: the builder sorts */
    p->outs[0] = (lx_xout){.amount = 899000000, .threshold = 1, .naddrs = 1, .addrs = p->key_addr};
    p->outs[1] = (lx_xout){.amount = 100000000, .threshold = 1, .naddrs = 1, .addrs = p->to};
    memset(p->outs[0].asset_id, 0xaa, 32);
    memset(p->outs[1].asset_id, 0xaa, 32);
    memset(p->in.tx_id, 0x11, 32);
    memset(p->in.asset_id, 0xaa, 32);
    p->in.amount = 1000000000;
    p->in.nsigs = 1;
    p->in.sig_indices = &p->sig0;
    memcpy(p->utxo.tx_id, p->in.tx_id, 32);
    p->utxo.out =
        (lx_xout){.amount = 1000000000, .threshold = 1, .naddrs = 1, .addrs = p->key_addr};
    memset(p->utxo.out.asset_id, 0xaa, 32);
    p->spec.kind = LX_TX_BASE;
    p->spec.network_id = 12345;
    memset(p->spec.blockchain_id, 0xbc, 32);
    p->spec.nouts = 2;
    p->spec.outs = p->outs;
    p->spec.nins = 1;
    p->spec.ins = &p->in;
    p->spec.memo = (const uint8_t *)"hello";
    p->spec.memo_len = 5;
}

static int setup(void **state)
{
    (void)state;
    size_t n = 0;
    assert_int_equal(lx_hex_decode(ref_signed, sizeof ref_signed, &n, ref_signed_hex), LX_OK);
    assert_int_equal(n, 384);
    return 0;
}

static void test_reference_vector(void **state)
{
    (void)state;
    lx_key *key = ref_key();
    ref_parts p;
    ref_spec(&p, key);
    lx_tx *tx = NULL;
    assert_int_equal(lx_tx_build(&tx, &p.spec), LX_OK);
    assert_int_equal(lx_tx_unsigned_len(tx), 307);
    assert_int_equal(lx_tx_signed_len(tx), 384);
    uint8_t hash[32], want[65], buf[512];
    size_t n = 0;
    assert_int_equal(lx_tx_hash(tx, hash), LX_OK);
    unhex(want, 32, "d082f2cfe087d3575be2de2af6db428537d33d9e7d04672442a1f5b5ed6a01f8");
    assert_memory_equal(hash, want, 32);
    assert_false(lx_tx_is_signed(tx));
    assert_int_equal(lx_tx_encode(tx, buf, sizeof buf, &n), LX_ESTATE);
    assert_int_equal(lx_tx_id(tx, hash), LX_ESTATE);
    assert_int_equal(lx_tx_encode_unsigned(tx, buf, sizeof buf, &n), LX_OK);
    assert_int_equal(n, 307);
    assert_memory_equal(buf, ref_signed, 307);

    assert_int_equal(lx_tx_sign_lookup(tx, one_key, key, &p.utxo, 1), LX_OK);
    assert_true(lx_tx_is_signed(tx));
    uint8_t sig[65];
    assert_int_equal(lx_tx_get_sig(tx, sig, 0, 0), LX_OK);
    unhex(want, 65,
          "e089e8d8a254e80f0f173ac49b8c5a16101d3fad8d6058e2940439e051c3528e15b0c402f26543a51a7398"
          "0e6b25a25492680c2277aa838d6bc748fd4c5c539000");
    assert_memory_equal(sig, want, 65);
    assert_int_equal(lx_tx_encode(tx, buf, sizeof buf, &n), LX_OK);
    assert_int_equal(n, 384);
    assert_memory_equal(buf, ref_signed, 384);

    uint8_t id[32];
    char cb[LX_CB58_ID_MAX], hx[1024];
    assert_int_equal(lx_tx_id(tx, id), LX_OK);
    unhex(want, 32, "452b3044751772742459621f1acc2b12f4ef8ef95f2de335f142825ad736b6cb");
    assert_memory_equal(id, want, 32);
    assert_int_equal(lx_id_to_cb58(cb, id), LX_OK);
    assert_string_equal(cb, "XTpfLcopyefkRWbFpTSHr6Dyc89cvSq8Q1bsqHcrWVUmBHeSq");
    assert_int_equal(lx_hexcs_encode(hx, sizeof hx, buf, n), LX_OK);
    assert_string_equal(hx + 2 + 2 * 384, "d736b6cb");
    assert_memory_equal(hx + 2, ref_signed_hex, 2 * 384);

    char addr[LX_ADDR_STR_MAX];
    assert_int_equal(lx_address_encode(addr, sizeof addr, "X", "local", p.key_addr), LX_OK);
    assert_string_equal(addr, "X-local18jma8ppw3nhx5r4ap8clazz0dps7rv5u00z96u");
    assert_int_equal(lx_tx_verify(tx, NULL, &p.utxo, 1), LX_OK);
    uint8_t fee_asset[32];
    memset(fee_asset, 0xaa, 32);
    assert_int_equal(lx_tx_check_fee(tx, fee_asset, 1000000), LX_OK);
    assert_int_equal(lx_tx_check_fee(tx, fee_asset, 1000001), LX_EINVAL);
    lx_tx_free(&tx);
    assert_null(tx);
    lx_key_free(&key);
}

/* encode(build(view(decode(bytes)))) == bytes, and decode(bytes) keeps the
 * signatures. */
static void round_trip(const uint8_t *bytes, size_t len)
{
    lx_tx *tx = NULL, *again = NULL;
    const char *why = NULL;
    assert_int_equal(lx_tx_decode(&tx, &why, bytes, len), LX_OK);
    assert_string_equal(why, "ok");
    uint8_t *buf = malloc(len);
    size_t n = 0;
    assert_int_equal(lx_tx_encode(tx, buf, len, &n), LX_OK);
    assert_int_equal(n, len);
    assert_memory_equal(buf, bytes, len);
    assert_int_equal(lx_tx_build(&again, lx_tx_view(tx)), LX_OK);
    for (size_t i = 0; i < lx_tx_input_count(tx); i++)
        for (size_t j = 0; j < lx_tx_sig_count(tx, i); j++) {
            uint8_t sig[65];
            assert_int_equal(lx_tx_get_sig(tx, sig, i, j), LX_OK);
            assert_int_equal(lx_tx_set_sig(again, i, j, sig), LX_OK);
        }
    assert_int_equal(lx_tx_encode(again, buf, len, &n), LX_OK);
    assert_int_equal(n, len);
    assert_memory_equal(buf, bytes, len);
    free(buf);
    lx_tx_free(&tx);
    lx_tx_free(&again);
}

/* Builds and signs a tx of the given kind with two keys, two inputs (one of
 * them a 2-of-2 multisig), outputs with several addresses; returns its bytes. */
static uint8_t *make_tx(lx_tx_kind kind, size_t *len)
{
    lx_key *k1 = ref_key(), *k2 = NULL;
    uint8_t sec[32];
    memset(sec, 0x42, 32);
    assert_int_equal(lx_key_import(&k2, sec), LX_OK);
    uint8_t a[2][20], many[3][20];
    assert_int_equal(lx_key_address(k1, a[0]), LX_OK);
    assert_int_equal(lx_key_address(k2, a[1]), LX_OK);
    /* the UTXO addresses must be sorted for the sig indices to mean them */
    if (memcmp(a[0], a[1], 20) > 0) {
        uint8_t t[20];
        memcpy(t, a[0], 20);
        memcpy(a[0], a[1], 20);
        memcpy(a[1], t, 20);
    }
    memset(many[0], 0x77, 20);
    memset(many[1], 0x33, 20);
    memset(many[2], 0x55, 20);
    lx_xout outs[3] = {
        {.amount = 5, .locktime = 99, .threshold = 2, .naddrs = 3, .addrs = &many[0][0]},
        {.amount = 5, .threshold = 1, .naddrs = 2, .addrs = &a[0][0]},
        {.amount = 7},
    };
    memset(outs[0].asset_id, 0x01, 32);
    memset(outs[1].asset_id, 0x01, 32);
    memset(outs[2].asset_id, 0x00, 32);
    static const uint32_t idx01[2] = {0, 1}, idx1[1] = {1};
    lx_xin ins[2] = {
        {.output_index = 3, .amount = 10, .nsigs = 2, .sig_indices = idx01},
        {.output_index = 1, .amount = 10, .nsigs = 1, .sig_indices = idx1},
    };
    memset(ins[0].tx_id, 0x09, 32);
    memset(ins[1].tx_id, 0x09, 32);
    lx_xutxo utxos[2];
    for (int i = 0; i < 2; i++) {
        memcpy(utxos[i].tx_id, ins[i].tx_id, 32);
        utxos[i].output_index = ins[i].output_index;
        utxos[i].out =
            (lx_xout){.amount = 10, .threshold = (uint32_t)(2 - i), .naddrs = 2, .addrs = &a[0][0]};
    }
    lx_tx_spec s = {.kind = kind, .network_id = 1, .nouts = 3, .outs = outs, .memo_len = 0};
    memset(s.blockchain_id, 0xee, 32);
    memset(s.other_chain, 0xdd, 32);
    if (kind == LX_TX_IMPORT) {
        s.nins = 1;
        s.ins = &ins[1];
        s.nxins = 1;
        s.xins = &ins[0];
    } else {
        s.nins = 2;
        s.ins = ins;
    }
    if (kind == LX_TX_EXPORT) {
        s.nouts = 1;
        s.nxouts = 2;
        s.xouts = outs + 1;
    }
    lx_tx *tx = NULL;
    assert_int_equal(lx_tx_build(&tx, &s), LX_OK);
    /* the multisig way: each key's signature added separately */
    uint8_t hash[32], sig[65];
    size_t filled = 0;
    assert_int_equal(lx_tx_hash(tx, hash), LX_OK);
    assert_int_equal(lx_key_sign(k1, sig, hash), LX_OK);
    assert_int_equal(lx_tx_add_sig(tx, &filled, utxos, 2, sig), LX_OK);
    assert_false(lx_tx_is_signed(tx));
    assert_int_equal(lx_key_sign(k2, sig, hash), LX_OK);
    assert_int_equal(lx_tx_add_sig(tx, NULL, utxos, 2, sig), LX_OK);
    assert_true(lx_tx_is_signed(tx));
    assert_int_equal(lx_tx_verify(tx, NULL, utxos, 2), LX_OK);
    *len = lx_tx_signed_len(tx);
    uint8_t *buf = malloc(*len);
    size_t n = 0;
    assert_int_equal(lx_tx_encode(tx, buf, *len, &n), LX_OK);
    assert_int_equal(n, *len);

    /* explicit keys give the same bytes */
    lx_tx *t2 = NULL;
    assert_int_equal(lx_tx_build(&t2, &s), LX_OK);
    const lx_key *keys[3];
    size_t k = 0;
    for (size_t i = 0; i < lx_tx_input_count(t2); i++) {
        const lx_xin *in =
            i < lx_tx_view(t2)->nins ? &lx_tx_view(t2)->ins[i] : &lx_tx_view(t2)->xins[0];
        for (size_t j = 0; j < in->nsigs; j++)
            keys[k++] = one_key(k1, &a[in->sig_indices[j]][0]) != NULL ? k1 : k2;
    }
    assert_int_equal(k, 3);
    assert_int_equal(lx_tx_sign_keys(t2, keys, 2), LX_EINVAL);
    assert_int_equal(lx_tx_sign_keys(t2, keys, 3), LX_OK);
    uint8_t *buf2 = malloc(*len);
    assert_int_equal(lx_tx_encode(t2, buf2, *len, &n), LX_OK);
    assert_memory_equal(buf2, buf, *len);
    free(buf2);
    lx_tx_free(&t2);
    lx_tx_free(&tx);
    lx_key_free(&k1);
    lx_key_free(&k2);
    return buf;
}

static void test_round_trips(void **state)
{
    (void)state;
    round_trip(ref_signed, sizeof ref_signed);
    lx_tx_kind kinds[3] = {LX_TX_BASE, LX_TX_EXPORT, LX_TX_IMPORT};
    for (int i = 0; i < 3; i++) {
        size_t len = 0;
        uint8_t *b = make_tx(kinds[i], &len);
        assert_int_equal(b[5], (uint8_t)kinds[i]);
        round_trip(b, len);
        lx_tx *tx = NULL;
        assert_int_equal(lx_tx_decode(&tx, NULL, b, len), LX_OK);
        assert_int_equal(lx_tx_view(tx)->kind, kinds[i]);
        assert_int_equal(lx_tx_input_count(tx), 2);
        lx_tx_free(&tx);
        free(b);
    }
}

#define expect(b, len, err) expect_at(b, len, err, __LINE__)
static void expect_at(const uint8_t *b, size_t len, lx_err err, int line)
{
    lx_tx *tx = (lx_tx *)&tx;
    const char *why = NULL;
    lx_err got = lx_tx_decode(&tx, &why, b, len);
    if (got != err)
        print_message("line %d: got %d (%s), want %d\n", line, (int)got, why, (int)err);
    assert_int_equal(got, err);
    assert_non_null(why);
    if (err == LX_OK)
        lx_tx_free(&tx);
    assert_null(tx);
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* Offsets in the reference tx. */
#define OFF_OUT0 46                  /* first output */
#define OFF_OUT1 (OFF_OUT0 + 80)     /* second output */
#define OFF_NINS (OFF_OUT1 + 80)     /* #ins */
#define OFF_IN0 (OFF_NINS + 4)       /* the input */
#define OFF_MEMO (OFF_IN0 + 88)      /* memo length */
#define OFF_CREDS (OFF_MEMO + 4 + 5) /* #creds */

static void test_reference_offsets(void **state)
{
    (void)state;
    assert_int_equal(OFF_CREDS, 307);
}

static void test_each_rule_rejected(void **state)
{
    (void)state;
    uint8_t b[400];
    const size_t n = sizeof ref_signed;
#define MUTATE(stmt, err)                                                                          \
    do {                                                                                           \
        memcpy(b, ref_signed, n);                                                                  \
        stmt;                                                                                      \
        expect(b, n, err);                                                                         \
    } while (0)
    expect(ref_signed, n, LX_OK);                             /* the original decodes */
    MUTATE(b[1] = 1, LX_EFORMAT);                             /* codec version */
    MUTATE(b[5] = 1, LX_EUNSUPPORTED);                        /* CreateAssetTx */
    MUTATE(b[5] = 2, LX_EUNSUPPORTED);                        /* OperationTx */
    MUTATE(b[5] = 9, LX_EFORMAT);                             /* unknown tx type */
    MUTATE(b[OFF_OUT0 + 35] = 6, LX_EUNSUPPORTED);            /* MintOutput */
    MUTATE(b[OFF_OUT0 + 35] = 8, LX_EFORMAT);                 /* unknown output type */
    MUTATE(memset(b + OFF_OUT0 + 36, 0, 8), LX_EFORMAT);      /* zero output amount */
    MUTATE(b[OFF_OUT0 + 55] = 2, LX_EFORMAT);                 /* threshold > #addrs */
    MUTATE(b[OFF_OUT0 + 55] = 0, LX_EFORMAT);                 /* threshold 0 with addrs */
    MUTATE(put32(b + OFF_OUT0 + 56, 0xffffffff), LX_EFORMAT); /* #addrs past the end */
    MUTATE(put32(b + 42, 0xffffffff), LX_EFORMAT);            /* #outs past the end */
    MUTATE(put32(b + OFF_NINS, 1000), LX_EFORMAT);            /* #ins past the end */
    /* outputs swapped: the 899M one first */
    MUTATE((memcpy(b + OFF_OUT0, ref_signed + OFF_OUT1, 80),
            memcpy(b + OFF_OUT1, ref_signed + OFF_OUT0, 80)),
           LX_ECANONICAL);
    MUTATE(b[OFF_IN0 + 71] = 4, LX_EFORMAT);            /* input type */
    MUTATE(memset(b + OFF_IN0 + 72, 0, 8), LX_EFORMAT); /* zero input amount */
    MUTATE(put32(b + OFF_MEMO, 257), LX_ETOOBIG);       /* memo over 256 */
    MUTATE(put32(b + OFF_MEMO, 6), LX_EFORMAT);         /* memo length off */
    MUTATE(b[OFF_CREDS + 3] = 2, LX_EFORMAT);           /* #creds != #ins */
    MUTATE(b[OFF_CREDS + 3] = 0, LX_EFORMAT);           /* no credentials */
    MUTATE(b[OFF_CREDS + 7] = 8, LX_EFORMAT);           /* credential type */
    MUTATE(b[OFF_CREDS + 11] = 2, LX_EFORMAT);          /* #sigs != #sigIdx */
    MUTATE(b[OFF_CREDS + 11] = 0, LX_EFORMAT);          /* #sigs != #sigIdx */
    /* trailing byte */
    memcpy(b, ref_signed, n);
    b[n] = 0;
    expect(b, n + 1, LX_EFORMAT);
    /* over 64 KiB */
    uint8_t *big = calloc(LX_TX_MAX + 1, 1);
    expect(big, LX_TX_MAX + 1, LX_ETOOBIG);
    free(big);
    /* unsigned bytes: the same rules, and no credentials */
    lx_tx *tx = NULL;
    assert_int_equal(lx_tx_decode_unsigned(&tx, NULL, ref_signed, 307), LX_OK);
    assert_false(lx_tx_is_signed(tx));
    lx_tx_free(&tx);
    assert_int_equal(lx_tx_decode_unsigned(&tx, NULL, ref_signed, n), LX_EFORMAT);
#undef MUTATE
}

/* Rules that need more than one address, input or sig index: start from a
 * built tx and mutate it. */
static void test_multi_element_rules(void **state)
{
    (void)state;
    size_t len = 0;
    uint8_t *b = make_tx(LX_TX_BASE, &len);
    uint8_t *m = malloc(len);
    const lx_tx_spec *v;
    lx_tx *tx = NULL;
    assert_int_equal(lx_tx_decode(&tx, NULL, b, len), LX_OK);
    v = lx_tx_view(tx);
    assert_int_equal(v->nouts, 3);
    /* find the 3-address output and the 2-index input by their offsets */
    size_t off_outs = 46, off = off_outs;
    size_t off3 = 0;
    for (size_t i = 0; i < v->nouts; i++) {
        if (v->outs[i].naddrs == 3)
            off3 = off;
        off += 60 + 20 * v->outs[i].naddrs;
    }
    size_t off_ins = off + 4, off2 = 0;
    off = off_ins;
    for (size_t i = 0; i < v->nins; i++) {
        if (v->ins[i].nsigs == 2)
            off2 = off;
        off += 84 + 4 * v->ins[i].nsigs;
    }
    assert_true(off3 > 0 && off2 > 0);
    uint32_t second_index = v->ins[1].output_index;
    lx_tx_free(&tx);

    /* addresses out of order */
    memcpy(m, b, len);
    memcpy(m + off3 + 60, b + off3 + 80, 20);
    memcpy(m + off3 + 80, b + off3 + 60, 20);
    expect(m, len, LX_ECANONICAL);
    /* duplicate address */
    memcpy(m, b, len);
    memcpy(m + off3 + 80, b + off3 + 60, 20);
    expect(m, len, LX_ECANONICAL);
    /* sig indices not increasing: {0, 1} -> {1, 1} and -> {1, 0} */
    memcpy(m, b, len);
    m[off2 + 87] = 1;
    expect(m, len, LX_ECANONICAL);
    m[off2 + 91] = 0;
    expect(m, len, LX_ECANONICAL);
    /* inputs out of order and duplicated: both spend txID 09.., index 1 and 3 */
    memcpy(m, b, len);
    size_t in0 = off_ins;
    /* make the first input's index larger than the second's */
    put32(m + in0 + 32, 7);
    expect(m, len, LX_ECANONICAL);
    memcpy(m, b, len);
    put32(m + in0 + 32, second_index); /* the same UTXO twice */
    expect(m, len, LX_ECANONICAL);
    free(m);
    free(b);
}

static void test_truncation_everywhere(void **state)
{
    (void)state;
    lx_tx_kind kinds[3] = {LX_TX_BASE, LX_TX_EXPORT, LX_TX_IMPORT};
    for (int k = -1; k < 3; k++) {
        size_t len = sizeof ref_signed;
        uint8_t *b = k < 0 ? ref_signed : make_tx(kinds[k], &len);
        for (size_t cut = 0; cut < len; cut++) {
            /* a heap copy of exactly cut bytes so ASan sees any over-read */
            uint8_t *c = malloc(cut + 1);
            memcpy(c, b, cut);
            lx_tx *tx = NULL;
            lx_err err = lx_tx_decode(&tx, NULL, c, cut);
            assert_int_equal(err, LX_EFORMAT);
            assert_null(tx);
            err = lx_tx_decode_unsigned(&tx, NULL, c, cut);
            if (err == LX_OK)
                lx_tx_free(&tx); /* the unsigned prefix itself */
            else
                assert_int_equal(err, LX_EFORMAT);
            free(c);
        }
        if (k >= 0)
            free(b);
    }
}

static void test_build_rejects_bad_specs(void **state)
{
    (void)state;
    lx_key *key = ref_key();
    ref_parts p;
    lx_tx *tx = NULL;
#define BAD(stmt, err)                                                                             \
    do {                                                                                           \
        ref_spec(&p, key);                                                                         \
        stmt;                                                                                      \
        assert_int_equal(lx_tx_build(&tx, &p.spec), err);                                          \
        assert_null(tx);                                                                           \
    } while (0)
    BAD(p.outs[0].amount = 0, LX_EINVAL);
    BAD(p.outs[0].threshold = 2, LX_EINVAL);
    BAD(p.outs[0].threshold = 0, LX_EINVAL);
    BAD(p.in.amount = 0, LX_EINVAL);
    BAD(p.spec.kind = (lx_tx_kind)1, LX_EINVAL);
    BAD(p.spec.kind = LX_TX_EXPORT, LX_EINVAL);                 /* no exported outputs */
    BAD(p.spec.kind = LX_TX_IMPORT, LX_EINVAL);                 /* no imported inputs */
    BAD((p.spec.nxouts = 1, p.spec.xouts = p.outs), LX_EINVAL); /* BaseTx with xouts */
    BAD(p.spec.memo_len = 257, LX_ETOOBIG);
    BAD(p.spec.outs = NULL, LX_EINVAL);
    lx_xin two[2];
    BAD((two[0] = two[1] = p.in, p.spec.ins = two, p.spec.nins = 2), LX_EINVAL);
    uint8_t dup[40];
    memset(dup, 0x22, 40);
    BAD((p.outs[1].addrs = dup, p.outs[1].naddrs = 2), LX_EINVAL);
    uint32_t idx[2] = {1, 0};
    BAD((p.in.sig_indices = idx, p.in.nsigs = 2), LX_EINVAL);
    /* a tx over 64 KiB: many outputs */
    lx_xout *many = calloc(1200, sizeof *many);
    for (int i = 0; i < 1200; i++) {
        many[i] = p.outs[1];
        many[i].amount = (uint64_t)i + 1;
    }
    BAD((p.spec.outs = many, p.spec.nouts = 1200), LX_ETOOBIG);
    free(many);
    assert_int_equal(lx_tx_build(NULL, &p.spec), LX_EINVAL);
    assert_int_equal(lx_tx_build(&tx, NULL), LX_EINVAL);
#undef BAD
    lx_key_free(&key);
}

static const lx_key *no_key(void *arg, const uint8_t addr[LX_ADDR_LEN])
{
    (void)addr;
    (void)arg;
    return NULL;
}

static const lx_key *wrong_key(void *arg, const uint8_t addr[LX_ADDR_LEN])
{
    (void)addr;
    return arg;
}

static void test_signing_errors_and_verify(void **state)
{
    (void)state;
    lx_key *key = ref_key(), *other = NULL;
    assert_int_equal(lx_key_generate(&other), LX_OK);
    ref_parts p;
    ref_spec(&p, key);
    lx_tx *tx = NULL;
    assert_int_equal(lx_tx_build(&tx, &p.spec), LX_OK);
    assert_int_equal(lx_tx_sign_lookup(tx, no_key, NULL, &p.utxo, 1), LX_ENOTFOUND);
    assert_int_equal(lx_tx_sign_lookup(tx, wrong_key, other, &p.utxo, 1), LX_ECRYPTO);
    assert_int_equal(lx_tx_sign_lookup(tx, one_key, key, NULL, 0), LX_ENOTFOUND);
    assert_false(lx_tx_is_signed(tx)); /* failures changed no slot */
    const char *why = NULL;
    assert_int_equal(lx_tx_verify(tx, &why, &p.utxo, 1), LX_ESTATE);
    lx_xutxo u = p.utxo;
    u.out.amount++;
    assert_int_equal(lx_tx_sign_lookup(tx, one_key, key, &u, 1), LX_EINVAL);
    u = p.utxo;
    u.out.naddrs = 0;
    u.out.threshold = 0;
    assert_int_equal(lx_tx_sign_lookup(tx, one_key, key, &u, 1), LX_EINVAL);

    /* a signature by a stranger fills nothing */
    uint8_t hash[32], sig[65];
    assert_int_equal(lx_tx_hash(tx, hash), LX_OK);
    assert_int_equal(lx_key_sign(other, sig, hash), LX_OK);
    assert_int_equal(lx_tx_add_sig(tx, NULL, &p.utxo, 1, sig), LX_ENOTFOUND);
    /* a stranger's signature put in the slot directly fails verification */
    assert_int_equal(lx_tx_set_sig(tx, 0, 0, sig), LX_OK);
    assert_int_equal(lx_tx_verify(tx, &why, &p.utxo, 1), LX_ECRYPTO);
    assert_int_equal(lx_tx_set_sig(tx, 0, 1, sig), LX_EINVAL);
    assert_int_equal(lx_tx_set_sig(tx, 1, 0, sig), LX_EINVAL);

    assert_int_equal(lx_tx_sign_lookup(tx, one_key, key, &p.utxo, 1), LX_OK);
    assert_int_equal(lx_tx_verify(tx, &why, &p.utxo, 1), LX_OK);
    assert_string_equal(why, "ok");
    assert_int_equal(lx_tx_verify(tx, &why, NULL, 0), LX_ENOTFOUND);
    u = p.utxo;
    u.out.amount++;
    assert_int_equal(lx_tx_verify(tx, &why, &u, 1), LX_EINVAL);
    /* threshold 2 needs 2 signatures */
    uint8_t two[40];
    memcpy(two, p.key_addr, 20);
    memset(two + 20, 0xff, 20);
    u = p.utxo;
    u.out.naddrs = 2;
    u.out.threshold = 2;
    u.out.addrs = two;
    assert_int_equal(lx_tx_verify(tx, &why, &u, 1), LX_EINVAL);
    /* a high-S signature in a slot is refused */
    assert_int_equal(lx_tx_get_sig(tx, sig, 0, 0), LX_OK);
    sig[64] = 2;
    assert_int_equal(lx_tx_set_sig(tx, 0, 0, sig), LX_OK);
    assert_int_equal(lx_tx_verify(tx, &why, &p.utxo, 1), LX_ECRYPTO);
    assert_int_equal(lx_tx_add_sig(tx, NULL, &p.utxo, 1, sig), LX_ECRYPTO);
    lx_tx_free(&tx);
    lx_key_free(&key);
    lx_key_free(&other);
}

static void test_utxo(void **state)
{
    (void)state;
    uint8_t addrs[40];
    memset(addrs, 0x99, 20);
    memset(addrs + 20, 0x44, 20); /* unsorted: the constructor sorts */
    lx_xutxo v = {.output_index = 5};
    memset(v.tx_id, 0x11, 32);
    v.out = (lx_xout){.amount = 42, .locktime = 7, .threshold = 1, .naddrs = 2, .addrs = addrs};
    memset(v.out.asset_id, 0xaa, 32);
    lx_utxo *u = NULL, *back = NULL;
    assert_int_equal(lx_utxo_new(&u, &v), LX_OK);
    size_t len = lx_utxo_encoded_len(u), n = 0;
    assert_int_equal(len, 2 + 32 + 4 + 32 + 4 + 8 + 8 + 4 + 4 + 40);
    uint8_t buf[256];
    assert_int_equal(lx_utxo_encode(u, buf, sizeof buf, &n), LX_OK);
    assert_int_equal(n, len);
    assert_int_equal(buf[73], 7); /* type ID */
    const lx_xutxo *w = lx_utxo_view(u);
    assert_int_equal(w->output_index, 5);
    assert_int_equal(w->out.amount, 42);
    assert_int_equal(w->out.addrs[0], 0x44);
    const char *why = NULL;
    assert_int_equal(lx_utxo_decode(&back, &why, buf, n), LX_OK);
    uint8_t again[256];
    assert_int_equal(lx_utxo_encode(back, again, sizeof again, &n), LX_OK);
    assert_memory_equal(again, buf, len);
    lx_utxo_free(&back);
    assert_null(back);
    for (size_t cut = 0; cut < len; cut++)
        assert_int_equal(lx_utxo_decode(&back, NULL, buf, cut), LX_EFORMAT);
    buf[len] = 0;
    assert_int_equal(lx_utxo_decode(&back, NULL, buf, len + 1), LX_EFORMAT);
    memcpy(again, buf, len);
    again[1] = 1;
    assert_int_equal(lx_utxo_decode(&back, NULL, again, len), LX_EFORMAT);
    memcpy(again, buf, len);
    again[73] = 6;
    assert_int_equal(lx_utxo_decode(&back, &why, again, len), LX_EUNSUPPORTED);
    memcpy(again, buf, len);
    memcpy(again + 98, buf + 118, 20); /* addresses swapped */
    memcpy(again + 118, buf + 98, 20);
    assert_int_equal(lx_utxo_decode(&back, &why, again, len), LX_ECANONICAL);
    assert_null(back);
    lx_utxo_free(&u);
    v.out.amount = 0;
    assert_int_equal(lx_utxo_new(&u, &v), LX_EINVAL);
    assert_null(u);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reference_offsets),
        cmocka_unit_test(test_reference_vector),
        cmocka_unit_test(test_round_trips),
        cmocka_unit_test(test_each_rule_rejected),
        cmocka_unit_test(test_multi_element_rules),
        cmocka_unit_test(test_truncation_everywhere),
        cmocka_unit_test(test_build_rejects_bad_specs),
        cmocka_unit_test(test_signing_errors_and_verify),
        cmocka_unit_test(test_utxo),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
