/* Tests for the settlement audit (bridge/audit.c) over txs built in memory:
 * a correct chain of two settlements passes; a wrong signer, too few
 * signatures, a broken chain, a skipped batch number, a wrong memo hash, an
 * unpaid withdrawal, a forged settlement memo, an undecodable tx and a
 * channel that does not conserve each fail. Also the batch files of a data
 * dir (bridge/audit_store.c). */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "lx/bridge.h"

#define NOWNERS 3
#define FEE 1000u
#define NETWORK 12345u
#define DEPOSIT 10000u
#define W1 1000u
#define W2 2000u

typedef struct blob {
    uint8_t *bytes;
    size_t len;
    uint8_t id[LX_ID_LEN];
} blob;

static lx_key *owner_key[NOWNERS]; /* in owner (address) order */
static uint8_t owners[NOWNERS * LX_ADDR_LEN];
static lx_key *stranger;
static uint8_t user[LX_ADDR_LEN];
static uint8_t asset_a[LX_ID_LEN], asset_b[LX_ID_LEN], chain[LX_ID_LEN];
static lx_channel ch = {NOWNERS, owners, 2};
static lx_batch *b1, *b2; /* built, with fills */
static blob dep1, dep2;   /* deposits of DEPOSIT into the channel */
static blob s1, s2;       /* settlements of b1 (over dep1) and b2 (over s1's change) */
static lx_channel_utxo s1_change, s2_change;

static int addr_cmp(const void *a, const void *b)
{
    uint8_t x[LX_ADDR_LEN], y[LX_ADDR_LEN];
    lx_key_address(*(lx_key *const *)a, x);
    lx_key_address(*(lx_key *const *)b, y);
    return memcmp(x, y, LX_ADDR_LEN);
}

static lx_key *key_from(uint8_t fill)
{
    uint8_t sec[LX_SECKEY_LEN];
    memset(sec, fill, sizeof sec);
    lx_key *k = NULL;
    assert_int_equal(lx_key_import(&k, sec), LX_OK);
    return k;
}

static void blob_of(blob *b, const lx_tx *tx)
{
    b->len = lx_tx_signed_len(tx);
    b->bytes = malloc(b->len);
    assert_non_null(b->bytes);
    assert_int_equal(lx_tx_encode(tx, b->bytes, b->len, &b->len), LX_OK);
    assert_int_equal(lx_sha256(b->id, b->bytes, b->len), LX_OK);
}

static void blob_free(blob *b)
{
    free(b->bytes);
    memset(b, 0, sizeof *b);
}

/* A BaseTx from the stranger's (made-up) UTXO paying amount to the
 * channel, with memo (may be NULL). */
static void deposit(blob *out, uint8_t from, uint64_t amount, const char *memo)
{
    static const uint32_t idx0[1] = {0};
    lx_xin in;
    memset(&in, 0, sizeof in);
    memset(in.tx_id, from, LX_ID_LEN);
    memcpy(in.asset_id, asset_a, LX_ID_LEN);
    in.amount = amount + FEE;
    in.nsigs = 1;
    in.sig_indices = idx0;
    lx_xout o = {.amount = amount, .threshold = 2, .naddrs = NOWNERS, .addrs = owners};
    memcpy(o.asset_id, asset_a, LX_ID_LEN);
    lx_tx_spec sp;
    memset(&sp, 0, sizeof sp);
    sp.kind = LX_TX_BASE;
    sp.network_id = NETWORK;
    memcpy(sp.blockchain_id, chain, LX_ID_LEN);
    sp.nouts = 1;
    sp.outs = &o;
    sp.nins = 1;
    sp.ins = &in;
    sp.memo = (const uint8_t *)memo;
    sp.memo_len = memo ? strlen(memo) : 0;
    lx_tx *tx = NULL;
    assert_int_equal(lx_tx_build(&tx, &sp), LX_OK);
    const lx_key *k[1] = {stranger};
    assert_int_equal(lx_tx_sign_keys(tx, k, 1), LX_OK);
    blob_of(out, tx);
    lx_tx_free(&tx);
}

/* The channel output index of a deposit blob (its only output). */
static lx_channel_utxo deposit_utxo(const blob *d)
{
    lx_channel_utxo u;
    memset(&u, 0, sizeof u);
    memcpy(u.tx_id, d->id, LX_ID_LEN);
    u.index = 0;
    memcpy(u.asset_id, asset_a, LX_ID_LEN);
    u.amount = DEPOSIT;
    u.threshold = 2;
    u.nowners = NOWNERS;
    u.owners = owners;
    return u;
}

/* The unsigned settlement tx of batch over utxos (prev: the previous
 * change, may be NULL). */
static lx_settle_tx *build(const lx_batch *batch, const lx_channel_utxo *prev,
                           const lx_channel_utxo *utxos, size_t n)
{
    lx_settle_params p;
    memset(&p, 0, sizeof p);
    p.network_id = NETWORK;
    memcpy(p.blockchain_id, chain, LX_ID_LEN);
    p.channel = &ch;
    p.select.now = 1700000000;
    lx_settle_tx *st = NULL;
    assert_int_equal(lx_settle_tx_build(&st, &p, batch, prev, prev ? 1 : 0, utxos, n), LX_OK);
    return st;
}

/* Settles batch, certified by owners 0 and 1. */
static void settle(blob *out, lx_channel_utxo *change, const lx_batch *batch,
                   const lx_channel_utxo *prev, const lx_channel_utxo *utxos, size_t n)
{
    lx_settle_tx *st = build(batch, prev, utxos, n);
    uint8_t tx_hash[LX_SHA256_LEN], bh[LX_SHA256_LEN];
    assert_int_equal(lx_tx_hash(lx_settle_tx_get(st), tx_hash), LX_OK);
    assert_int_equal(lx_batch_hash(batch, bh), LX_OK);
    lx_cert *c = NULL;
    assert_int_equal(lx_cert_new(&c, &ch, bh, tx_hash), LX_OK);
    for (int i = 0; i < 2; i++) {
        uint8_t signer[LX_XADDR_LEN], sig[LX_SIG_LEN];
        assert_int_equal(lx_settle_sign(owner_key[i], signer, sig, tx_hash), LX_OK);
        assert_int_equal(lx_cert_add(c, NULL, sig, signer), LX_OK);
    }
    assert_int_equal(lx_settle_tx_sign_cert(st, c), LX_OK);
    blob_of(out, lx_settle_tx_get(st));
    if (change != NULL) {
        size_t nc = 0;
        assert_int_equal(lx_settle_change(change, 1, &nc, lx_settle_tx_get(st), &ch), LX_OK);
        assert_int_equal(nc, 1);
    }
    lx_cert_free(&c);
    lx_settle_tx_free(&st);
}

/* Batches 1 and 2 of the channel: fills in a market of b (base) and a
 * (quote), one withdrawal each; first_number may start elsewhere. */
static void make_batches(lx_batch **first, lx_batch **second, uint64_t first_number,
                         uint64_t w2_amount)
{
    lx_batch_config cfg;
    memset(&cfg, 0, sizeof cfg);
    assert_int_equal(lx_channel_id(cfg.channel_id, &ch, NETWORK, chain), LX_OK);
    cfg.fee_account = 1;
    memcpy(cfg.fee_asset, asset_a, LX_ID_LEN);
    cfg.tx_fee = FEE;
    cfg.next_number = first_number;
    if (first_number > 1)
        memset(cfg.prev_hash, 0x42, LX_SHA256_LEN);
    cfg.next_seq = 1;
    lx_batch_builder *bb = NULL;
    assert_int_equal(lx_batch_builder_new(&bb, &cfg), LX_OK);
    assert_int_equal(lx_batch_builder_add_asset(bb, 0, asset_b), LX_OK);
    assert_int_equal(lx_batch_builder_add_asset(bb, 1, asset_a), LX_OK);
    assert_int_equal(lx_batch_builder_add_market(bb, 0, 0, 1, 10), LX_OK);
    lx_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = LX_EV_FILL;
    ev.market = 0;
    for (int k = 0; k < 2; k++) {
        uint64_t seq = 10 * (uint64_t)k + 1;
        if (k == 0)
            assert_int_equal(lx_batch_builder_add_deposit(bb, seq, 42, 1, DEPOSIT), LX_OK);
        for (int f = 0; f < 3 + 2 * k; f++) {
            ev.side = (uint8_t)(f % 2 ? LX_SELL : LX_BUY);
            ev.id = 100 + (uint64_t)f;
            ev.account = 7;
            ev.u.fill.maker = 200 + (uint64_t)f;
            ev.u.fill.maker_account = 8;
            ev.u.fill.price = 50 + (uint64_t)f;
            ev.u.fill.qty = 1 + (uint64_t)f;
            ev.u.fill.maker_fee = 1;
            ev.u.fill.taker_fee = 2;
            assert_int_equal(lx_batch_builder_add_fill(bb, seq + 1, &ev), LX_OK);
        }
        assert_int_equal(
            lx_batch_builder_add_withdrawal(bb, seq + 2, 42, 1, k ? w2_amount : W1, user), LX_OK);
        assert_int_equal(lx_batch_builder_close(bb, k ? second : first, seq + 9), LX_OK);
    }
    lx_batch_builder_free(&bb);
}

static int setup(void **state)
{
    (void)state;
    for (int i = 0; i < NOWNERS; i++)
        owner_key[i] = key_from((uint8_t)(0x21 + i));
    qsort(owner_key, NOWNERS, sizeof owner_key[0], addr_cmp);
    for (int i = 0; i < NOWNERS; i++)
        lx_key_address(owner_key[i], owners + i * LX_ADDR_LEN);
    stranger = key_from(0x55);
    memset(user, 0x71, LX_ADDR_LEN);
    memset(asset_a, 0xaa, LX_ID_LEN);
    memset(asset_b, 0xbb, LX_ID_LEN);
    memset(chain, 0xc4, LX_ID_LEN);
    make_batches(&b1, &b2, 1, W2);
    deposit(&dep1, 0x11, DEPOSIT, NULL);
    deposit(&dep2, 0x12, DEPOSIT, NULL);
    lx_channel_utxo d1 = deposit_utxo(&dep1);
    settle(&s1, &s1_change, b1, NULL, &d1, 1);
    settle(&s2, &s2_change, b2, &s1_change, &s1_change, 1);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    for (int i = 0; i < NOWNERS; i++)
        lx_key_free(&owner_key[i]);
    lx_key_free(&stranger);
    lx_batch_free(&b1);
    lx_batch_free(&b2);
    blob_free(&dep1);
    blob_free(&dep2);
    blob_free(&s1);
    blob_free(&s2);
    return 0;
}

static lx_audit *new_audit(bool require_batches)
{
    lx_audit_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.network_id = NETWORK;
    memcpy(cfg.blockchain_id, chain, LX_ID_LEN);
    memcpy(cfg.fee_asset, asset_a, LX_ID_LEN);
    cfg.channel = &ch;
    cfg.require_batches = require_batches;
    lx_audit *a = NULL;
    assert_int_equal(lx_audit_new(&a, &cfg), LX_OK);
    return a;
}

static void add(lx_audit *a, const blob *b)
{
    assert_int_equal(lx_audit_add_tx(a, b->bytes, b->len), LX_OK);
}

/* The channel's UTXOs now: the given change outputs. */
static void set_utxos(lx_audit *a, const lx_channel_utxo *c, size_t n, uint64_t tweak)
{
    lx_xutxo u[4];
    assert_true(n <= 4);
    for (size_t i = 0; i < n; i++) {
        memset(&u[i], 0, sizeof u[i]);
        memcpy(u[i].tx_id, c[i].tx_id, LX_ID_LEN);
        u[i].output_index = c[i].index;
        memcpy(u[i].out.asset_id, c[i].asset_id, LX_ID_LEN);
        u[i].out.amount = c[i].amount + tweak;
        u[i].out.threshold = 2;
        u[i].out.naddrs = NOWNERS;
        u[i].out.addrs = owners;
    }
    assert_int_equal(lx_audit_set_utxos(a, u, n), LX_OK);
}

static const lx_audit_report *run(lx_audit *a)
{
    const lx_audit_report *r = NULL;
    assert_int_equal(lx_audit_run(a, &r), LX_OK);
    assert_non_null(r);
    return r;
}

static bool has_problem(const lx_audit_report *r, const char *needle)
{
    for (size_t i = 0; i < r->nproblems; i++)
        if (strstr(r->problems[i].why, needle) != NULL)
            return true;
    return false;
}

static void test_chain_passes(void **state)
{
    (void)state;
    for (int with_batches = 0; with_batches < 2; with_batches++) {
        lx_audit *a = new_audit(with_batches);
        /* Order does not matter, repeats are ignored. */
        add(a, &s2);
        add(a, &dep1);
        add(a, &s1);
        add(a, &s2);
        set_utxos(a, &s2_change, 1, 0);
        if (with_batches) {
            assert_int_equal(lx_audit_add_batch(a, b1, s1.id), LX_OK);
            assert_int_equal(lx_audit_add_batch(a, b2, s2.id), LX_OK);
            assert_int_equal(lx_audit_add_batch(a, b2, NULL), LX_EEXIST);
        }
        const lx_audit_report *r = run(a);
        for (size_t i = 0; i < r->nproblems; i++)
            print_message("problem: %s\n", r->problems[i].why);
        assert_int_equal(r->nproblems, 0);
        assert_int_equal(r->ntxs, 3);
        assert_int_equal(r->nsettlements, 2);
        uint8_t h1[LX_SHA256_LEN], h2[LX_SHA256_LEN];
        lx_batch_hash(b1, h1);
        lx_batch_hash(b2, h2);
        assert_memory_equal(r->settlements[0].tx_id, s1.id, LX_ID_LEN);
        assert_memory_equal(r->settlements[1].tx_id, s2.id, LX_ID_LEN);
        assert_int_equal(r->settlements[0].number, 1);
        assert_int_equal(r->settlements[1].number, 2);
        assert_memory_equal(r->settlements[0].batch_hash, h1, LX_SHA256_LEN);
        assert_memory_equal(r->settlements[1].batch_hash, h2, LX_SHA256_LEN);
        for (int k = 0; k < 2; k++) {
            assert_int_equal(r->settlements[k].err, LX_OK);
            assert_string_equal(r->settlements[k].why, "ok");
            assert_int_equal(r->settlements[k].fee, FEE);
            assert_int_equal(r->settlements[k].nwithdrawals, 1);
            assert_int_equal(r->settlements[k].ninputs, 1);
            assert_int_equal(r->settlements[k].batch,
                             with_batches ? LX_AUDIT_BATCH_MATCH : LX_AUDIT_BATCH_NONE);
        }
        assert_true(r->conservation_checked);
        assert_int_equal(r->nassets, 1);
        assert_memory_equal(r->assets[0].asset_id, asset_a, LX_ID_LEN);
        assert_int_equal(r->assets[0].deposits, DEPOSIT);
        assert_int_equal(r->assets[0].withdrawals, W1 + W2);
        assert_int_equal(r->assets[0].fees, 2 * FEE);
        assert_int_equal(r->assets[0].on_chain, DEPOSIT - W1 - W2 - 2 * FEE);
        assert_true(r->assets[0].ok);
        /* A second run gives the same verdict. */
        r = run(a);
        assert_int_equal(r->nproblems, 0);
        assert_int_equal(r->nsettlements, 2);
        lx_audit_free(&a);
        assert_null(a);
    }
}

/* s2 signed by owner 0 and, in owner 1's slot, the stranger. */
static void test_wrong_signer(void **state)
{
    (void)state;
    lx_settle_tx *st = build(b2, &s1_change, &s1_change, 1);
    lx_tx *tx = (lx_tx *)lx_settle_tx_get(st);
    uint8_t h[LX_SHA256_LEN], sig0[LX_SIG_LEN], sigx[LX_SIG_LEN];
    assert_int_equal(lx_tx_hash(tx, h), LX_OK);
    assert_int_equal(lx_key_sign(owner_key[0], sig0, h), LX_OK);
    assert_int_equal(lx_key_sign(stranger, sigx, h), LX_OK);
    assert_int_equal(lx_tx_set_sig(tx, 0, 0, sig0), LX_OK);
    assert_int_equal(lx_tx_set_sig(tx, 0, 1, sigx), LX_OK);
    blob bad;
    blob_of(&bad, tx);
    lx_settle_tx_free(&st);
    lx_audit *a = new_audit(false);
    add(a, &dep1);
    add(a, &s1);
    add(a, &bad);
    const lx_audit_report *r = run(a);
    assert_int_equal(r->nsettlements, 2);
    assert_int_equal(r->settlements[0].err, LX_OK);
    assert_int_equal(r->settlements[1].err, LX_EPERM);
    assert_non_null(strstr(r->settlements[1].why, "not by owner 1"));
    assert_true(r->nproblems >= 1);
    assert_true(has_problem(r, "not by owner 1"));
    lx_audit_free(&a);
    blob_free(&bad);
}

/* A settlement by hand: one input (the given channel UTXO) with the sig
 * indices and keys given, a withdrawal to user and the rest as change. */
static void manual(blob *out, const lx_channel_utxo *in_utxo, const lx_batch *memo_batch,
                   uint64_t withdrawal, const uint32_t *idx, const lx_key *const *keys,
                   size_t nsigs)
{
    lx_xin in;
    memset(&in, 0, sizeof in);
    memcpy(in.tx_id, in_utxo->tx_id, LX_ID_LEN);
    in.output_index = in_utxo->index;
    memcpy(in.asset_id, asset_a, LX_ID_LEN);
    in.amount = in_utxo->amount;
    in.nsigs = nsigs;
    in.sig_indices = idx;
    lx_xout o[2];
    memset(o, 0, sizeof o);
    memcpy(o[0].asset_id, asset_a, LX_ID_LEN);
    o[0].amount = withdrawal;
    o[0].threshold = 1;
    o[0].naddrs = 1;
    o[0].addrs = user;
    memcpy(o[1].asset_id, asset_a, LX_ID_LEN);
    o[1].amount = in_utxo->amount - withdrawal - FEE;
    o[1].threshold = 2;
    o[1].naddrs = NOWNERS;
    o[1].addrs = owners;
    lx_batch_info info;
    uint8_t bh[LX_SHA256_LEN], memo[LX_SETTLE_MEMO_MAX];
    size_t memo_len = 0;
    assert_int_equal(lx_batch_info_get(memo_batch, &info), LX_OK);
    assert_int_equal(lx_batch_hash(memo_batch, bh), LX_OK);
    assert_int_equal(lx_settle_memo_encode(memo, sizeof memo, &memo_len, info.number, bh), LX_OK);
    lx_tx_spec sp;
    memset(&sp, 0, sizeof sp);
    sp.kind = LX_TX_BASE;
    sp.network_id = NETWORK;
    memcpy(sp.blockchain_id, chain, LX_ID_LEN);
    sp.nouts = 2;
    sp.outs = o;
    sp.nins = 1;
    sp.ins = &in;
    sp.memo = memo;
    sp.memo_len = memo_len;
    lx_tx *tx = NULL;
    assert_int_equal(lx_tx_build(&tx, &sp), LX_OK);
    assert_int_equal(lx_tx_sign_keys(tx, keys, nsigs), LX_OK);
    blob_of(out, tx);
    lx_tx_free(&tx);
}

static void test_too_few_signatures(void **state)
{
    (void)state;
    static const uint32_t idx[1] = {0};
    const lx_key *keys[1] = {owner_key[0]};
    blob bad;
    manual(&bad, &s1_change, b2, W2, idx, keys, 1);
    lx_audit *a = new_audit(false);
    add(a, &dep1);
    add(a, &s1);
    add(a, &bad);
    const lx_audit_report *r = run(a);
    assert_int_equal(r->nsettlements, 2);
    assert_int_equal(r->settlements[1].err, LX_EPERM);
    assert_non_null(strstr(r->settlements[1].why, "1 signatures, threshold is 2"));
    assert_true(has_problem(r, "threshold is 2"));
    lx_audit_free(&a);
    blob_free(&bad);
    /* The same by hand with two owners' signatures passes: the failure was
     * the count. */
    static const uint32_t idx2[2] = {0, 1};
    const lx_key *keys2[2] = {owner_key[0], owner_key[1]};
    blob good;
    manual(&good, &s1_change, b2, W2, idx2, keys2, 2);
    a = new_audit(false);
    add(a, &dep1);
    add(a, &s1);
    add(a, &good);
    r = run(a);
    assert_int_equal(r->nproblems, 0);
    lx_audit_free(&a);
    blob_free(&good);
}

static void test_broken_chain(void **state)
{
    (void)state;
    /* Batch 2 settled over another deposit instead of s1's change. */
    lx_channel_utxo d2 = deposit_utxo(&dep2);
    blob off;
    settle(&off, NULL, b2, NULL, &d2, 1);
    lx_audit *a = new_audit(false);
    add(a, &dep1);
    add(a, &dep2);
    add(a, &s1);
    add(a, &off);
    set_utxos(a, &s1_change, 1, 0);
    const lx_audit_report *r = run(a);
    assert_int_equal(r->nsettlements, 1);
    assert_int_equal(r->settlements[0].err, LX_OK);
    assert_true(has_problem(r, "not in the chain of settlements"));
    lx_audit_free(&a);
    blob_free(&off);

    /* A settlement of batch 3 right after batch 1: a number skipped. */
    lx_batch *b3 = NULL, *b4 = NULL;
    make_batches(&b3, &b4, 3, W2);
    blob skip;
    lx_channel_utxo c3;
    settle(&skip, &c3, b3, &s1_change, &s1_change, 1);
    a = new_audit(false);
    add(a, &dep1);
    add(a, &s1);
    add(a, &skip);
    set_utxos(a, &c3, 1, 0);
    r = run(a);
    assert_int_equal(r->nsettlements, 2);
    assert_int_equal(r->settlements[1].err, LX_ESTATE);
    assert_non_null(strstr(r->settlements[1].why, "settles batch 3 where batch 2 was next"));
    lx_audit_free(&a);
    blob_free(&skip);
    lx_batch_free(&b3);
    lx_batch_free(&b4);

    /* The second settlement is missing: s1's change is gone but no known
     * tx spent it. */
    a = new_audit(false);
    add(a, &dep1);
    add(a, &s1);
    set_utxos(a, NULL, 0, 0);
    r = run(a);
    assert_int_equal(r->nsettlements, 1);
    assert_true(has_problem(r, "spent by no known tx"));
    assert_true(has_problem(r, "does not conserve"));
    lx_audit_free(&a);
}

static void test_wrong_memo_hash(void **state)
{
    (void)state;
    /* The data dir holds another batch 2 (another withdrawal amount). */
    lx_batch *x1 = NULL, *x2 = NULL;
    make_batches(&x1, &x2, 1, W2 + 1);
    lx_audit *a = new_audit(true);
    add(a, &dep1);
    add(a, &s1);
    add(a, &s2);
    set_utxos(a, &s2_change, 1, 0);
    assert_int_equal(lx_audit_add_batch(a, b1, NULL), LX_OK);
    assert_int_equal(lx_audit_add_batch(a, x2, NULL), LX_OK);
    const lx_audit_report *r = run(a);
    assert_int_equal(r->nsettlements, 2);
    assert_int_equal(r->settlements[0].batch, LX_AUDIT_BATCH_MATCH);
    assert_int_equal(r->settlements[1].batch, LX_AUDIT_BATCH_MISMATCH);
    assert_int_equal(r->settlements[1].err, LX_ECORRUPT);
    assert_non_null(strstr(r->settlements[1].why, "another hash than the stored batch 2"));
    lx_audit_free(&a);
    /* A recorded txID that is not the chain's. */
    a = new_audit(true);
    add(a, &dep1);
    add(a, &s1);
    add(a, &s2);
    assert_int_equal(lx_audit_add_batch(a, b1, s2.id), LX_OK);
    assert_int_equal(lx_audit_add_batch(a, b2, s2.id), LX_OK);
    r = run(a);
    assert_int_equal(r->settlements[0].err, LX_ECORRUPT);
    assert_non_null(strstr(r->settlements[0].why, "another txID"));
    assert_int_equal(r->settlements[1].err, LX_OK);
    lx_audit_free(&a);
    /* A batch missing from the data dir when batches are required. */
    a = new_audit(true);
    add(a, &dep1);
    add(a, &s1);
    add(a, &s2);
    assert_int_equal(lx_audit_add_batch(a, b1, NULL), LX_OK);
    r = run(a);
    assert_int_equal(r->settlements[1].err, LX_ENOTFOUND);
    lx_audit_free(&a);
    lx_batch_free(&x1);
    lx_batch_free(&x2);
}

static void test_unpaid_withdrawal(void **state)
{
    (void)state;
    /* The memo names batch 2, which pays W2; the tx pays W2 - 500 and keeps
     * the rest as change. Well signed, well formed. */
    static const uint32_t idx[2] = {0, 1};
    const lx_key *keys[2] = {owner_key[0], owner_key[1]};
    blob bad;
    manual(&bad, &s1_change, b2, W2 - 500, idx, keys, 2);
    lx_audit *a = new_audit(true);
    add(a, &dep1);
    add(a, &s1);
    add(a, &bad);
    assert_int_equal(lx_audit_add_batch(a, b1, NULL), LX_OK);
    assert_int_equal(lx_audit_add_batch(a, b2, NULL), LX_OK);
    const lx_audit_report *r = run(a);
    assert_int_equal(r->nsettlements, 2);
    assert_int_equal(r->settlements[1].err, LX_ECORRUPT);
    assert_int_equal(r->settlements[1].batch, LX_AUDIT_BATCH_MISMATCH);
    assert_non_null(strstr(r->settlements[1].why, "withdrawal 0"));
    assert_non_null(strstr(r->settlements[1].why, "not paid exactly"));
    lx_audit_free(&a);
    /* Without the batch the withdrawals are unknown: only the tx's own
     * shape and value flow are checked, and they hold. */
    a = new_audit(false);
    add(a, &dep1);
    add(a, &s1);
    add(a, &bad);
    r = run(a);
    assert_int_equal(r->nproblems, 0);
    lx_audit_free(&a);
    blob_free(&bad);
}

static void test_forged_and_undecodable(void **state)
{
    (void)state;
    /* The stranger pays the channel with a settlement memo of batch 3. */
    char memo[LX_SETTLE_MEMO_MAX + 1];
    size_t n = 0;
    uint8_t h[LX_SHA256_LEN];
    memset(h, 0x5a, sizeof h);
    assert_int_equal(lx_settle_memo_encode((uint8_t *)memo, LX_SETTLE_MEMO_MAX, &n, 3, h), LX_OK);
    memo[n] = '\0';
    blob forged;
    deposit(&forged, 0x13, 777, memo);
    lx_audit *a = new_audit(false);
    add(a, &dep1);
    add(a, &s1);
    add(a, &s2);
    add(a, &forged);
    lx_channel_utxo now[2] = {s2_change, s2_change};
    memcpy(now[1].tx_id, forged.id, LX_ID_LEN);
    now[1].index = 0;
    now[1].amount = 777;
    set_utxos(a, now, 2, 0);
    const lx_audit_report *r = run(a);
    assert_int_equal(r->nsettlements, 2);
    assert_int_equal(r->settlements[0].err, LX_OK);
    assert_int_equal(r->settlements[1].err, LX_OK);
    assert_int_equal(r->nproblems, 1);
    assert_true(r->problems[0].has_tx);
    assert_memory_equal(r->problems[0].tx_id, forged.id, LX_ID_LEN);
    assert_non_null(strstr(r->problems[0].why, "carries a settlement memo (batch 3)"));
    /* It paid the channel, so the books still balance. */
    assert_true(r->assets[0].ok);
    assert_int_equal(r->assets[0].deposits, DEPOSIT + 777);
    /* Bytes that are not a tx. */
    uint8_t junk[40];
    memset(junk, 0xee, sizeof junk);
    assert_int_not_equal(lx_audit_add_tx(a, junk, sizeof junk), LX_OK);
    r = run(a);
    assert_int_equal(r->nproblems, 2);
    assert_true(has_problem(r, "does not decode"));
    lx_audit_free(&a);
    blob_free(&forged);
}

static void test_conservation(void **state)
{
    (void)state;
    lx_audit *a = new_audit(false);
    add(a, &dep1);
    add(a, &s1);
    add(a, &s2);
    set_utxos(a, &s2_change, 1, 1); /* the chain shows one unit more */
    const lx_audit_report *r = run(a);
    assert_int_equal(r->settlements[0].err, LX_OK);
    assert_int_equal(r->settlements[1].err, LX_OK);
    assert_false(r->assets[0].ok);
    assert_true(has_problem(r, "does not conserve"));
    /* The deposit missing from the txs: the channel holds what never came in. */
    lx_audit_free(&a);
    a = new_audit(false);
    add(a, &s1);
    add(a, &s2);
    set_utxos(a, &s2_change, 1, 0);
    r = run(a);
    assert_true(r->nproblems > 0);
    lx_audit_free(&a);
    /* Without the channel's UTXOs there is no conservation check. */
    a = new_audit(false);
    add(a, &dep1);
    add(a, &s1);
    add(a, &s2);
    r = run(a);
    assert_false(r->conservation_checked);
    assert_int_equal(r->nproblems, 0);
    lx_audit_free(&a);
}

static void test_first_pinned(void **state)
{
    (void)state;
    lx_audit_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.network_id = NETWORK;
    memcpy(cfg.blockchain_id, chain, LX_ID_LEN);
    memcpy(cfg.fee_asset, asset_a, LX_ID_LEN);
    cfg.channel = &ch;
    cfg.has_first = true;
    memcpy(cfg.first_tx, s1.id, LX_ID_LEN);
    lx_audit *a = NULL;
    assert_int_equal(lx_audit_new(&a, &cfg), LX_OK);
    add(a, &dep1);
    add(a, &s1);
    add(a, &s2);
    const lx_audit_report *r = run(a);
    assert_int_equal(r->nproblems, 0);
    assert_int_equal(r->nsettlements, 2);
    lx_audit_free(&a);
    memset(cfg.first_tx, 0x77, LX_ID_LEN);
    assert_int_equal(lx_audit_new(&a, &cfg), LX_OK);
    add(a, &dep1);
    add(a, &s1);
    r = run(a);
    assert_true(has_problem(r, "not among the channel's txs"));
    lx_audit_free(&a);
    /* Bad arguments. */
    assert_int_equal(lx_audit_new(NULL, &cfg), LX_EINVAL);
    assert_int_equal(lx_audit_new(&a, NULL), LX_EINVAL);
    lx_channel bad = {NOWNERS, owners, 4};
    cfg.channel = &bad;
    assert_int_equal(lx_audit_new(&a, &cfg), LX_EINVAL);
    assert_int_equal(lx_audit_run(NULL, &r), LX_EINVAL);
}

static void flip_byte(const char *path, long at)
{
    FILE *fp = fopen(path, "r+b");
    assert_non_null(fp);
    assert_int_equal(fseek(fp, at, SEEK_SET), 0);
    int c = fgetc(fp);
    assert_int_not_equal(c, EOF);
    assert_int_equal(fseek(fp, at, SEEK_SET), 0);
    fputc(c ^ 1, fp);
    fclose(fp);
}

static void test_batch_store(void **state)
{
    (void)state;
    char dir[] = "/tmp/lx-test-audit-XXXXXX";
    assert_non_null(mkdtemp(dir));
    lx_batch_record rec;
    assert_int_equal(lx_batch_store_read(&rec, dir, 1, 0), LX_ENOTFOUND);
    uint64_t *nums = NULL, number = 0;
    size_t n = 7;
    assert_int_equal(lx_batch_store_list(&nums, &n, dir), LX_OK);
    assert_int_equal(n, 0);
    assert_int_equal(lx_batch_store_write(dir, b1, NULL), LX_OK);
    assert_int_equal(lx_batch_store_write(dir, b2, NULL), LX_OK);
    assert_int_equal(lx_batch_store_write(dir, b1, s1.id), LX_OK); /* now with its txID */
    lx_batch *x1 = NULL, *x2 = NULL;
    make_batches(&x1, &x2, 1, W2 + 1);
    assert_int_equal(lx_batch_store_write(dir, x2, NULL), LX_EEXIST);
    assert_int_equal(lx_batch_store_list(&nums, &n, dir), LX_OK);
    assert_int_equal(n, 2);
    assert_int_equal(nums[0], 1);
    assert_int_equal(nums[1], 2);
    free(nums);
    /* The node's names: 20 digits. */
    char path[512];
    snprintf(path, sizeof path, "%s/settle/00000000000000000002.batch", dir);
    assert_int_equal(access(path, R_OK), 0);
    /* Read back: the same hash, the leaves, the txID where recorded. */
    for (uint64_t k = 1; k <= 2; k++) {
        const lx_batch *want = k == 1 ? b1 : b2;
        assert_int_equal(lx_batch_store_read(&rec, dir, k, LX_BATCH_READ_FILLS), LX_OK);
        uint8_t h[LX_SHA256_LEN];
        lx_batch_hash(want, h);
        assert_memory_equal(rec.hash, h, LX_SHA256_LEN);
        size_t nf = 0;
        const lx_fill_leaf *f = lx_batch_fills(want, &nf);
        assert_int_equal(rec.nfills, nf);
        assert_memory_equal(rec.fills, f, nf * sizeof *f);
        assert_int_equal(rec.has_tx_id, k == 1);
        if (k == 1)
            assert_memory_equal(rec.tx_id, s1.id, LX_ID_LEN);
        lx_batch_record_free(&rec);
        assert_null(rec.batch);
    }
    /* Fills 0..2 are in batch 1, 3..7 in batch 2, 8 in none. */
    static const uint64_t in_batch[9] = {1, 1, 1, 2, 2, 2, 2, 2, 0};
    for (uint64_t s = 0; s < 9; s++) {
        lx_err err = lx_batch_store_find_fill(&number, dir, s);
        assert_int_equal(err, in_batch[s] ? LX_OK : LX_ENOTFOUND);
        if (in_batch[s])
            assert_int_equal(number, in_batch[s]);
    }
    /* A flipped byte in the leaves or in the batch is caught. */
    snprintf(path, sizeof path, "%s/settle/00000000000000000002.batch", dir);
    flip_byte(path, 12 + 100); /* the batch encoding */
    assert_int_equal(lx_batch_store_read(&rec, dir, 2, 0), LX_ECORRUPT);
    flip_byte(path, 12 + 100);
    assert_int_equal(lx_batch_store_read(&rec, dir, 2, 0), LX_OK);
    lx_batch_record_free(&rec);
    flip_byte(path, 12 + 297 + 5); /* the first fill leaf */
    assert_int_equal(lx_batch_store_read(&rec, dir, 2, LX_BATCH_READ_FILLS), LX_ECORRUPT);
    flip_byte(path, 12 + 297 + 5);
    /* A record that names another hash, or a txID that is not one. */
    snprintf(path, sizeof path, "%s/settle/00000000000000000001.json", dir);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs("{\"batch\":1,\"hash\":\"00\",\"tx_id\":null}\n", fp);
    fclose(fp);
    assert_int_equal(lx_batch_store_read(&rec, dir, 1, 0), LX_ECORRUPT);
    assert_int_equal(lx_batch_store_write(dir, b1, NULL), LX_OK);
    assert_int_equal(lx_batch_store_read(&rec, dir, 1, 0), LX_OK);
    assert_false(rec.has_tx_id);
    lx_batch_record_free(&rec);
    /* A decoded batch has no leaves to store. */
    uint8_t enc[4096];
    size_t len = 0;
    lx_batch *dec = NULL;
    assert_int_equal(lx_batch_encode(b1, enc, sizeof enc, &len), LX_OK);
    assert_int_equal(lx_batch_decode(&dec, enc, len), LX_OK);
    char dir2[] = "/tmp/lx-test-audit-XXXXXX";
    assert_non_null(mkdtemp(dir2));
    assert_int_equal(lx_batch_store_write(dir2, dec, NULL), LX_ESTATE);
    lx_batch_free(&dec);
    lx_batch_free(&x1);
    lx_batch_free(&x2);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' '%s'", dir, dir2);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chain_passes),           cmocka_unit_test(test_wrong_signer),
        cmocka_unit_test(test_too_few_signatures),     cmocka_unit_test(test_broken_chain),
        cmocka_unit_test(test_wrong_memo_hash),        cmocka_unit_test(test_unpaid_withdrawal),
        cmocka_unit_test(test_forged_and_undecodable), cmocka_unit_test(test_conservation),
        cmocka_unit_test(test_first_pinned),           cmocka_unit_test(test_batch_store),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
