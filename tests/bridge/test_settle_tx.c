/* Tests for the settlement transaction (bridge/settle_tx.c): deterministic
 * build from any UTXO order, withdrawals and change, memo, the previous
 * change always spent, credentials from quorum certificates, the next
 * settlement's change, and the audit check catching altered txs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lx/bridge.h"

#define NOWNERS 3
#define FEE 1000u
#define NETWORK 12345u
#define NUTXOS 12

static lx_key *owner_key[NOWNERS]; /* in owner (address) order */
static uint8_t owners[NOWNERS * LX_ADDR_LEN];
static lx_key *stranger;
static uint8_t user[2][LX_ADDR_LEN];
static uint8_t asset_a[LX_ID_LEN], asset_b[LX_ID_LEN], chain[LX_ID_LEN];
static lx_channel ch = {NOWNERS, owners, 2};
static uint8_t other_owner[LX_ADDR_LEN];
static lx_channel_utxo utxos[NUTXOS];

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

static int setup(void **state)
{
    (void)state;
    for (int i = 0; i < NOWNERS; i++)
        owner_key[i] = key_from((uint8_t)(0x21 + i));
    qsort(owner_key, NOWNERS, sizeof owner_key[0], addr_cmp);
    for (int i = 0; i < NOWNERS; i++)
        lx_key_address(owner_key[i], owners + i * LX_ADDR_LEN);
    stranger = key_from(0x55);
    memset(user[0], 0x71, LX_ADDR_LEN);
    memset(user[1], 0x72, LX_ADDR_LEN);
    memset(other_owner, 0x99, LX_ADDR_LEN);
    memset(asset_a, 0xaa, LX_ID_LEN);
    memset(asset_b, 0xbb, LX_ID_LEN);
    memset(chain, 0xc4, LX_ID_LEN);
    /* Channel UTXOs in two assets, one locked, and some that are not the
     * channel's (other owners, other threshold). */
    static const uint64_t amounts[NUTXOS] = {5000, 7000, 300000, 9000, 400,  100000,
                                             50,   60,   80000,  1000, 2000, 3000};
    for (int i = 0; i < NUTXOS; i++) {
        lx_channel_utxo *u = &utxos[i];
        memset(u, 0, sizeof *u);
        memset(u->tx_id, 0x10 + i, sizeof u->tx_id);
        u->index = (uint32_t)(i % 3);
        memcpy(u->asset_id, i % 2 ? asset_b : asset_a, LX_ID_LEN);
        u->amount = amounts[i];
        u->threshold = 2;
        u->nowners = NOWNERS;
        u->owners = owners;
    }
    utxos[9].threshold = 1; /* not the channel's threshold */
    utxos[10].nowners = 1;  /* not the channel's owners */
    utxos[10].owners = other_owner;
    utxos[10].threshold = 1;
    utxos[11].locktime = 4000000000u; /* locked */
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    for (int i = 0; i < NOWNERS; i++)
        lx_key_free(&owner_key[i]);
    lx_key_free(&stranger);
    return 0;
}

/* Batch `number` (prev_hash names a predecessor when number > 1) with the
 * withdrawals (account, engine asset 0 = a / 1 = b, amount, user index). */
typedef struct wd {
    uint64_t account;
    uint32_t asset;
    uint64_t amount;
    int to;
} wd;

static lx_batch *make_batch(uint64_t number, const wd *w, size_t n)
{
    lx_batch_config cfg;
    memset(&cfg, 0, sizeof cfg);
    lx_channel_id(cfg.channel_id, &ch, NETWORK, chain);
    cfg.fee_account = 1;
    memcpy(cfg.fee_asset, asset_a, LX_ID_LEN);
    cfg.tx_fee = FEE;
    cfg.next_number = number;
    if (number > 1)
        memset(cfg.prev_hash, 0x42, LX_SHA256_LEN);
    cfg.next_seq = 10 * number;
    lx_batch_builder *b = NULL;
    assert_int_equal(lx_batch_builder_new(&b, &cfg), LX_OK);
    assert_int_equal(lx_batch_builder_add_asset(b, 0, asset_a), LX_OK);
    assert_int_equal(lx_batch_builder_add_asset(b, 1, asset_b), LX_OK);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(
            lx_batch_builder_add_deposit(b, cfg.next_seq, w[i].account, w[i].asset, w[i].amount),
            LX_OK);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(lx_batch_builder_add_withdrawal(b, cfg.next_seq + 1, w[i].account,
                                                         w[i].asset, w[i].amount, user[w[i].to]),
                         LX_OK);
    lx_batch *batch = NULL;
    assert_int_equal(lx_batch_builder_close(b, &batch, cfg.next_seq + 2), LX_OK);
    lx_batch_builder_free(&b);
    return batch;
}

static const wd two_wds[] = {{7, 0, 12345, 0}, {8, 1, 2500, 1}, {9, 0, 777, 1}};

static lx_settle_params params(void)
{
    lx_settle_params p;
    memset(&p, 0, sizeof p);
    p.network_id = NETWORK;
    memcpy(p.blockchain_id, chain, LX_ID_LEN);
    p.channel = &ch;
    p.select.now = 1700000000;
    return p;
}

static void unsigned_bytes(const lx_settle_tx *st, uint8_t *buf, size_t cap, size_t *len)
{
    assert_int_equal(lx_tx_encode_unsigned(lx_settle_tx_get(st), buf, cap, len), LX_OK);
}

/* A certificate over st signed by the owners in the bit set. */
static lx_cert *cert_of(const lx_settle_tx *st, const lx_batch *batch, unsigned set)
{
    uint8_t tx_hash[LX_SHA256_LEN], bh[LX_SHA256_LEN];
    assert_int_equal(lx_tx_hash(lx_settle_tx_get(st), tx_hash), LX_OK);
    assert_int_equal(lx_batch_hash(batch, bh), LX_OK);
    lx_cert *c = NULL;
    assert_int_equal(lx_cert_new(&c, &ch, bh, tx_hash), LX_OK);
    for (int i = 0; i < NOWNERS; i++) {
        if (!(set & (1u << i)))
            continue;
        uint8_t signer[LX_XADDR_LEN], sig[LX_SIG_LEN];
        assert_int_equal(lx_settle_sign(owner_key[i], signer, sig, tx_hash), LX_OK);
        assert_int_equal(lx_cert_add(c, NULL, sig, signer), LX_OK);
    }
    return c;
}

static void test_deterministic(void **state)
{
    (void)state;
    lx_batch *batch = make_batch(1, two_wds, 3);
    lx_settle_params p = params();
    lx_settle_tx *st = NULL;
    assert_int_equal(lx_settle_tx_build(&st, &p, batch, NULL, 0, utxos, NUTXOS), LX_OK);
    static uint8_t ref[LX_TX_MAX], buf[LX_TX_MAX];
    size_t ref_len = 0, len = 0;
    unsigned_bytes(st, ref, sizeof ref, &ref_len);
    uint8_t ref_hash[LX_SHA256_LEN], hash[LX_SHA256_LEN];
    assert_int_equal(lx_tx_hash(lx_settle_tx_get(st), ref_hash), LX_OK);
    /* Shuffled, with repeats: the same bytes every time. */
    lx_channel_utxo shuffled[2 * NUTXOS];
    uint32_t seed = 12345;
    for (int round = 0; round < 20; round++) {
        for (int i = 0; i < 2 * NUTXOS; i++)
            shuffled[i] = utxos[i % NUTXOS];
        size_t n = (size_t)(NUTXOS + round % (NUTXOS + 1));
        for (size_t i = n - 1; i > 0; i--) {
            seed = seed * 1103515245u + 12345u;
            size_t j = (seed >> 8) % (i + 1);
            lx_channel_utxo t = shuffled[i];
            shuffled[i] = shuffled[j];
            shuffled[j] = t;
        }
        lx_settle_tx *other = NULL;
        assert_int_equal(lx_settle_tx_build(&other, &p, batch, NULL, 0, shuffled, n), LX_OK);
        unsigned_bytes(other, buf, sizeof buf, &len);
        assert_int_equal(len, ref_len);
        assert_memory_equal(buf, ref, len);
        assert_int_equal(lx_tx_hash(lx_settle_tx_get(other), hash), LX_OK);
        assert_memory_equal(hash, ref_hash, LX_SHA256_LEN);
        lx_settle_tx_free(&other);
    }
    /* Another signer set is another tx. */
    uint32_t signers[2] = {0, 2};
    p.nsigners = 2;
    p.signers = signers;
    lx_settle_tx *other = NULL;
    assert_int_equal(lx_settle_tx_build(&other, &p, batch, NULL, 0, utxos, NUTXOS), LX_OK);
    assert_int_equal(lx_tx_hash(lx_settle_tx_get(other), hash), LX_OK);
    assert_memory_not_equal(hash, ref_hash, LX_SHA256_LEN);
    lx_settle_tx_free(&other);
    lx_settle_tx_free(&st);
    lx_batch_free(&batch);
}

static void test_outputs_and_memo(void **state)
{
    (void)state;
    lx_batch *batch = make_batch(1, two_wds, 3);
    lx_settle_params p = params();
    lx_settle_tx *st = NULL;
    assert_int_equal(lx_settle_tx_build(&st, &p, batch, NULL, 0, utxos, NUTXOS), LX_OK);
    const lx_tx_spec *v = lx_tx_view(lx_settle_tx_get(st));
    assert_int_equal(v->kind, LX_TX_BASE);
    assert_int_equal(v->network_id, NETWORK);
    /* a needs 12345 + 777 + fee: the largest channel UTXO of a (300000);
     * b needs 2500: the largest of b (100000). Locked, foreign and
     * wrong-threshold UTXOs are never taken. */
    assert_int_equal(v->nins, 2);
    uint64_t in_a = 0, in_b = 0;
    for (size_t i = 0; i < v->nins; i++) {
        assert_int_equal(v->ins[i].nsigs, 2);
        assert_int_equal(v->ins[i].sig_indices[0], 0);
        assert_int_equal(v->ins[i].sig_indices[1], 1);
        if (memcmp(v->ins[i].asset_id, asset_a, LX_ID_LEN) == 0)
            in_a += v->ins[i].amount;
        else
            in_b += v->ins[i].amount;
    }
    assert_int_equal(in_a, 300000);
    assert_int_equal(in_b, 100000);
    /* Three withdrawals, two changes. */
    assert_int_equal(v->nouts, 5);
    int paid[3] = {0, 0, 0}, changes = 0;
    uint64_t change_a = 0, change_b = 0;
    for (size_t i = 0; i < v->nouts; i++) {
        const lx_xout *o = &v->outs[i];
        assert_int_equal(o->locktime, 0);
        if (o->naddrs == NOWNERS) {
            assert_int_equal(o->threshold, 2);
            assert_memory_equal(o->addrs, owners, sizeof owners);
            changes++;
            if (memcmp(o->asset_id, asset_a, LX_ID_LEN) == 0)
                change_a = o->amount;
            else
                change_b = o->amount;
            continue;
        }
        assert_int_equal(o->naddrs, 1);
        assert_int_equal(o->threshold, 1);
        for (int w = 0; w < 3; w++)
            if (!paid[w] && o->amount == two_wds[w].amount &&
                memcmp(o->addrs, user[two_wds[w].to], LX_ADDR_LEN) == 0 &&
                memcmp(o->asset_id, two_wds[w].asset ? asset_b : asset_a, LX_ID_LEN) == 0) {
                paid[w] = 1;
                break;
            }
    }
    assert_true(paid[0] && paid[1] && paid[2]);
    assert_int_equal(changes, 2);
    assert_int_equal(change_a, 300000 - 12345 - 777 - FEE);
    assert_int_equal(change_b, 100000 - 2500);
    assert_int_equal(lx_tx_check_fee(lx_settle_tx_get(st), asset_a, FEE), LX_OK);
    assert_int_equal(lx_tx_check_fee(lx_settle_tx_get(st), asset_a, FEE + 1), LX_EINVAL);
    /* The memo names the batch. */
    uint64_t number = 0;
    uint8_t mh[LX_SHA256_LEN], bh[LX_SHA256_LEN];
    assert_int_equal(lx_settle_memo_parse(&number, mh, v->memo, v->memo_len), LX_OK);
    assert_int_equal(lx_batch_hash(batch, bh), LX_OK);
    assert_int_equal(number, 1);
    assert_memory_equal(mh, bh, LX_SHA256_LEN);
    /* The spent UTXOs are the channel's, in input order. */
    size_t nspent = 0;
    const lx_xutxo *spent = lx_settle_tx_spent(st, &nspent);
    assert_int_equal(nspent, 2);
    for (size_t i = 0; i < nspent; i++) {
        assert_memory_equal(spent[i].tx_id, v->ins[i].tx_id, LX_ID_LEN);
        assert_int_equal(spent[i].out.threshold, 2);
    }
    lx_settle_tx_free(&st);
    lx_batch_free(&batch);
}

static void test_errors(void **state)
{
    (void)state;
    lx_batch *batch = make_batch(1, two_wds, 3);
    lx_settle_params p = params();
    lx_settle_tx *st = NULL;
    assert_int_equal(lx_settle_tx_build(NULL, &p, batch, NULL, 0, utxos, NUTXOS), LX_EINVAL);
    assert_int_equal(lx_settle_tx_build(&st, NULL, batch, NULL, 0, utxos, NUTXOS), LX_EINVAL);
    assert_int_equal(lx_settle_tx_build(&st, &p, NULL, NULL, 0, utxos, NUTXOS), LX_EINVAL);
    /* Not enough funds: only the small UTXOs. */
    assert_int_equal(lx_settle_tx_build(&st, &p, batch, NULL, 0, utxos + 4, 4), LX_ESTATE);
    assert_null(st);
    /* Bad signer sets: too few, not increasing, past the owners. */
    uint32_t one[1] = {0}, dec[2] = {1, 0}, past[2] = {1, 3};
    p.nsigners = 1;
    p.signers = one;
    assert_int_equal(lx_settle_tx_build(&st, &p, batch, NULL, 0, utxos, NUTXOS), LX_EINVAL);
    p.nsigners = 2;
    p.signers = dec;
    assert_int_equal(lx_settle_tx_build(&st, &p, batch, NULL, 0, utxos, NUTXOS), LX_EINVAL);
    p.signers = past;
    assert_int_equal(lx_settle_tx_build(&st, &p, batch, NULL, 0, utxos, NUTXOS), LX_EINVAL);
    /* A previous change the channel cannot spend. */
    p = params();
    assert_int_equal(lx_settle_tx_build(&st, &p, batch, &utxos[10], 1, utxos, NUTXOS), LX_EINVAL);
    /* Too few inputs allowed. */
    p.select.max_inputs = 1;
    assert_int_equal(lx_settle_tx_build(&st, &p, batch, NULL, 0, utxos, NUTXOS), LX_ETOOBIG);
    lx_batch_free(&batch);
}

static void test_prev_change_spent(void **state)
{
    (void)state;
    lx_batch *batch = make_batch(2, two_wds, 1);
    lx_settle_params p = params();
    /* A small previous change in b, which the batch does not need. */
    lx_channel_utxo prev = utxos[7];
    lx_settle_tx *st = NULL;
    assert_int_equal(lx_settle_tx_build(&st, &p, batch, &prev, 1, utxos, NUTXOS), LX_OK);
    const lx_tx_spec *v = lx_tx_view(lx_settle_tx_get(st));
    int found = 0;
    for (size_t i = 0; i < v->nins; i++)
        if (memcmp(v->ins[i].tx_id, prev.tx_id, LX_ID_LEN) == 0 &&
            v->ins[i].output_index == prev.index)
            found = 1;
    assert_true(found);
    /* It comes back as change in b. */
    int change_b = 0;
    for (size_t i = 0; i < v->nouts; i++)
        if (memcmp(v->outs[i].asset_id, asset_b, LX_ID_LEN) == 0 && v->outs[i].naddrs == NOWNERS)
            change_b = v->outs[i].amount == prev.amount;
    assert_true(change_b);
    lx_settle_tx_free(&st);
    lx_batch_free(&batch);
}

static void test_cert_signs(void **state)
{
    (void)state;
    lx_batch *batch = make_batch(1, two_wds, 3);
    lx_settle_params p = params();
    lx_settle_tx *st = NULL;
    assert_int_equal(lx_settle_tx_build(&st, &p, batch, NULL, 0, utxos, NUTXOS), LX_OK);
    uint8_t *bytes = NULL, id[LX_ID_LEN];
    size_t len = 0;
    assert_int_equal(lx_settle_tx_encode(st, &bytes, &len, id), LX_ESTATE);
    lx_channel_utxo change[4];
    size_t nchange = 0;
    assert_int_equal(lx_settle_change(change, 4, &nchange, lx_settle_tx_get(st), &ch), LX_ESTATE);

    /* Owners 0 and 1 (the signer set) and also 2: 2 of 3 is enough. */
    lx_cert *c = cert_of(st, batch, 0x7);
    assert_int_equal(lx_settle_tx_sign_cert(st, c), LX_OK);
    lx_cert_free(&c);
    size_t nspent = 0;
    const lx_xutxo *spent = lx_settle_tx_spent(st, &nspent);
    const char *why = NULL;
    assert_int_equal(lx_tx_verify(lx_settle_tx_get(st), &why, spent, nspent), LX_OK);
    assert_int_equal(lx_settle_tx_encode(st, &bytes, &len, id), LX_OK);
    lx_tx *back = NULL;
    assert_int_equal(lx_tx_decode(&back, &why, bytes, len), LX_OK);
    assert_int_equal(lx_tx_verify(back, &why, spent, nspent), LX_OK);
    uint8_t id2[LX_ID_LEN];
    assert_int_equal(lx_tx_id(back, id2), LX_OK);
    assert_memory_equal(id, id2, LX_ID_LEN);

    /* The change for the next settlement: (txID, index) of the two
     * channel outputs. */
    assert_int_equal(lx_settle_change(change, 1, &nchange, back, &ch), LX_ETOOBIG);
    assert_int_equal(lx_settle_change(change, 4, &nchange, back, &ch), LX_OK);
    assert_int_equal(nchange, 2);
    const lx_tx_spec *v = lx_tx_view(back);
    for (size_t i = 0; i < nchange; i++) {
        assert_memory_equal(change[i].tx_id, id, LX_ID_LEN);
        const lx_xout *o = &v->outs[change[i].index];
        assert_int_equal(o->naddrs, NOWNERS);
        assert_int_equal(o->amount, change[i].amount);
        assert_memory_equal(o->asset_id, change[i].asset_id, LX_ID_LEN);
    }
    /* The audit accepts it. */
    char reason[200];
    assert_int_equal(
        lx_settle_tx_audit(reason, sizeof reason, bytes, len, batch, &ch, NETWORK, chain), LX_OK);
    /* And the next batch spends that change. */
    lx_batch *next = make_batch(2, two_wds + 1, 1);
    lx_settle_tx *st2 = NULL;
    assert_int_equal(lx_settle_tx_build(&st2, &p, next, change, nchange, utxos, NUTXOS), LX_OK);
    const lx_tx_spec *v2 = lx_tx_view(lx_settle_tx_get(st2));
    size_t spent_prev = 0;
    for (size_t i = 0; i < v2->nins; i++)
        if (memcmp(v2->ins[i].tx_id, id, LX_ID_LEN) == 0)
            spent_prev++;
    assert_int_equal(spent_prev, 2);
    lx_settle_tx_free(&st2);
    lx_batch_free(&next);
    lx_tx_free(&back);
    free(bytes);

    /* Another signer set, {0, 2}, signed by exactly those owners. */
    uint32_t signers[2] = {0, 2};
    p.nsigners = 2;
    p.signers = signers;
    lx_settle_tx *alt = NULL;
    assert_int_equal(lx_settle_tx_build(&alt, &p, batch, NULL, 0, utxos, NUTXOS), LX_OK);
    c = cert_of(alt, batch, 0x5);
    assert_int_equal(lx_settle_tx_sign_cert(alt, c), LX_OK);
    lx_cert_free(&c);
    spent = lx_settle_tx_spent(alt, &nspent);
    assert_int_equal(lx_tx_verify(lx_settle_tx_get(alt), &why, spent, nspent), LX_OK);
    lx_settle_tx_free(&alt);
    lx_settle_tx_free(&st);
    lx_batch_free(&batch);
}

static void test_cert_refused(void **state)
{
    (void)state;
    lx_batch *batch = make_batch(1, two_wds, 3);
    lx_settle_params p = params();
    lx_settle_tx *st = NULL;
    assert_int_equal(lx_settle_tx_build(&st, &p, batch, NULL, 0, utxos, NUTXOS), LX_OK);
    uint8_t tx_hash[LX_SHA256_LEN];
    assert_int_equal(lx_tx_hash(lx_settle_tx_get(st), tx_hash), LX_OK);

    /* t - 1 signatures. */
    lx_cert *c = cert_of(st, batch, 0x1);
    assert_int_equal(lx_settle_tx_sign_cert(st, c), LX_ESTATE);
    /* A non-owner's signature is not counted, so still t - 1. */
    uint8_t signer[LX_XADDR_LEN], sig[LX_SIG_LEN];
    assert_int_equal(lx_settle_sign(stranger, signer, sig, tx_hash), LX_OK);
    assert_int_equal(lx_cert_add(c, NULL, sig, NULL), LX_EPERM);
    assert_int_equal(lx_settle_tx_sign_cert(st, c), LX_ESTATE);
    assert_false(lx_tx_is_signed(lx_settle_tx_get(st)));
    lx_cert_free(&c);
    /* A certificate with a forged entry (a stranger's signature under an
     * owner's name) does not decode. */
    c = cert_of(st, batch, 0x3);
    uint8_t enc[LX_CERT_ENC_MAX];
    size_t len = 0;
    assert_int_equal(lx_cert_encode(c, enc, sizeof enc, &len), LX_OK);
    memcpy(enc + 69 + 20, sig, LX_SIG_LEN);
    lx_cert *forged = NULL;
    assert_int_not_equal(lx_cert_decode(&forged, &ch, enc, len), LX_OK);
    assert_null(forged);
    lx_cert_free(&c);
    /* Complete, but not by the owners the tx names (1 and 2, tx names 0, 1). */
    c = cert_of(st, batch, 0x6);
    assert_true(lx_cert_complete(c));
    assert_int_equal(lx_settle_tx_sign_cert(st, c), LX_ESTATE);
    lx_cert_free(&c);
    /* A certificate over another tx. */
    lx_batch *other = make_batch(1, two_wds, 2);
    lx_settle_tx *ost = NULL;
    assert_int_equal(lx_settle_tx_build(&ost, &p, other, NULL, 0, utxos, NUTXOS), LX_OK);
    c = cert_of(ost, other, 0x3);
    assert_int_equal(lx_settle_tx_sign_cert(st, c), LX_EINVAL);
    assert_int_equal(lx_settle_tx_sign_cert(ost, c), LX_OK);
    lx_cert_free(&c);
    assert_false(lx_tx_is_signed(lx_settle_tx_get(st)));
    lx_settle_tx_free(&ost);
    lx_batch_free(&other);
    lx_settle_tx_free(&st);
    lx_batch_free(&batch);
}

/* Rebuilds the settlement tx of st with change(spec) applied and signs it
 * with the owner keys its sig indices name. */
static const lx_key *lookup(void *arg, const uint8_t addr[LX_ADDR_LEN])
{
    (void)arg;
    for (int i = 0; i < NOWNERS; i++)
        if (memcmp(addr, owners + i * LX_ADDR_LEN, LX_ADDR_LEN) == 0)
            return owner_key[i];
    return NULL;
}

typedef void (*alter_fn)(lx_tx_spec *spec, lx_xout *outs, lx_xin *ins);

static void audit_altered(const lx_settle_tx *st, const lx_batch *batch, alter_fn alter,
                          lx_err want, const char *why_has)
{
    const lx_tx_spec *v = lx_tx_view(lx_settle_tx_get(st));
    lx_tx_spec spec = *v;
    lx_xout outs[16];
    lx_xin ins[16];
    memcpy(outs, v->outs, v->nouts * sizeof *outs);
    memcpy(ins, v->ins, v->nins * sizeof *ins);
    spec.outs = outs;
    spec.ins = ins;
    alter(&spec, outs, ins);
    lx_tx *tx = NULL;
    assert_int_equal(lx_tx_build(&tx, &spec), LX_OK);
    size_t nspent = 0;
    const lx_xutxo *spent = lx_settle_tx_spent(st, &nspent);
    assert_int_equal(lx_tx_sign_lookup(tx, lookup, NULL, spent, nspent), LX_OK);
    if (spec.ins[0].nsigs == 2 && spec.ins[0].sig_indices[0] == 0 &&
        spec.ins[0].sig_indices[1] == 1 && want == LX_EPERM) {
        /* Both slots of every input get owner 0's signature. */
        uint8_t sig[LX_SIG_LEN];
        assert_int_equal(lx_tx_get_sig(tx, sig, 0, 0), LX_OK);
        for (size_t i = 0; i < lx_tx_input_count(tx); i++)
            assert_int_equal(lx_tx_set_sig(tx, i, 1, sig), LX_OK);
    }
    static uint8_t bytes[LX_TX_MAX];
    size_t len = 0;
    assert_int_equal(lx_tx_encode(tx, bytes, sizeof bytes, &len), LX_OK);
    char why[200] = "";
    assert_int_equal(lx_settle_tx_audit(why, sizeof why, bytes, len, batch, &ch, NETWORK, chain),
                     want);
    assert_non_null(strstr(why, why_has));
    lx_tx_free(&tx);
}

static lx_xout *withdrawal_out(lx_tx_spec *spec, lx_xout *outs)
{
    for (size_t i = 0; i < spec->nouts; i++)
        if (outs[i].naddrs == 1)
            return &outs[i];
    fail();
    return NULL;
}

static lx_xout *change_out(lx_tx_spec *spec, lx_xout *outs, const lx_xout *like)
{
    for (size_t i = 0; i < spec->nouts; i++)
        if (outs[i].naddrs == NOWNERS && !memcmp(outs[i].asset_id, like->asset_id, LX_ID_LEN))
            return &outs[i];
    fail();
    return NULL;
}

/* One less paid, one more back to the channel: value still balances. */
static void underpay(lx_tx_spec *spec, lx_xout *outs, lx_xin *ins)
{
    (void)ins;
    lx_xout *w = withdrawal_out(spec, outs);
    w->amount -= 1;
    change_out(spec, outs, w)->amount += 1;
}

static const uint8_t bad_memo[] =
    "lxdex/settle/v1 1 "
    "0000000000000000000000000000000000000000000000000000000000000000";

static void wrong_memo(lx_tx_spec *spec, lx_xout *outs, lx_xin *ins)
{
    (void)outs;
    (void)ins;
    spec->memo = bad_memo;
    spec->memo_len = sizeof bad_memo - 1;
}

static void no_memo(lx_tx_spec *spec, lx_xout *outs, lx_xin *ins)
{
    (void)outs;
    (void)ins;
    spec->memo_len = 0;
}

/* One more to the fee than the batch says. */
static void burn(lx_tx_spec *spec, lx_xout *outs, lx_xin *ins)
{
    (void)ins;
    for (size_t i = 0; i < spec->nouts; i++)
        if (outs[i].naddrs == NOWNERS && !memcmp(outs[i].asset_id, asset_a, LX_ID_LEN))
            outs[i].amount -= 1;
}

/* Change to a set that is not the channel. */
static void steal_change(lx_tx_spec *spec, lx_xout *outs, lx_xin *ins)
{
    (void)ins;
    for (size_t i = 0; i < spec->nouts; i++)
        if (outs[i].naddrs == NOWNERS) {
            outs[i].naddrs = 1;
            outs[i].threshold = 1;
            outs[i].addrs = other_owner;
        }
}

/* One signature per input (threshold 2). */
static const uint32_t first_only[1] = {0};
static void one_signer(lx_tx_spec *spec, lx_xout *outs, lx_xin *ins)
{
    (void)outs;
    for (size_t i = 0; i < spec->nins; i++) {
        ins[i].nsigs = 1;
        ins[i].sig_indices = first_only;
    }
}

static void unchanged(lx_tx_spec *spec, lx_xout *outs, lx_xin *ins)
{
    (void)spec;
    (void)outs;
    (void)ins;
}

static void test_audit(void **state)
{
    (void)state;
    lx_batch *batch = make_batch(1, two_wds, 3);
    lx_settle_params p = params();
    lx_settle_tx *st = NULL;
    assert_int_equal(lx_settle_tx_build(&st, &p, batch, NULL, 0, utxos, NUTXOS), LX_OK);
    audit_altered(st, batch, unchanged, LX_OK, "ok");
    audit_altered(st, batch, underpay, LX_ECORRUPT, "is not paid exactly");
    audit_altered(st, batch, wrong_memo, LX_ECORRUPT, "memo names batch");
    audit_altered(st, batch, no_memo, LX_ECORRUPT, "not a settlement memo");
    audit_altered(st, batch, burn, LX_ECORRUPT, "asset flow");
    audit_altered(st, batch, steal_change, LX_ECORRUPT, "neither a withdrawal nor change");
    audit_altered(st, batch, one_signer, LX_EPERM, "1 signatures, threshold is 2");
    /* Two slots, one owner's signature in both: too few distinct owners. */
    audit_altered(st, batch, unchanged, LX_EPERM, "not by owner 1");

    /* The right tx against another batch, chain or garbage. */
    lx_cert *c = cert_of(st, batch, 0x3);
    assert_int_equal(lx_settle_tx_sign_cert(st, c), LX_OK);
    lx_cert_free(&c);
    uint8_t *bytes = NULL, id[LX_ID_LEN];
    size_t len = 0;
    assert_int_equal(lx_settle_tx_encode(st, &bytes, &len, id), LX_OK);
    char why[200];
    lx_batch *other = make_batch(1, two_wds, 2);
    assert_int_equal(lx_settle_tx_audit(why, sizeof why, bytes, len, other, &ch, NETWORK, chain),
                     LX_ECORRUPT);
    assert_int_equal(
        lx_settle_tx_audit(why, sizeof why, bytes, len, batch, &ch, NETWORK + 1, chain),
        LX_EFORMAT);
    assert_int_equal(
        lx_settle_tx_audit(why, sizeof why, bytes, len - 1, batch, &ch, NETWORK, chain),
        LX_EFORMAT);
    assert_int_equal(lx_settle_tx_audit(why, sizeof why, NULL, len, batch, &ch, NETWORK, chain),
                     LX_EINVAL);
    /* Another channel (2-of-3 with a stranger in): signatures are not its
     * owners'. */
    uint8_t owners2[NOWNERS * LX_ADDR_LEN];
    memcpy(owners2, owners, sizeof owners2);
    memset(owners2 + 2 * LX_ADDR_LEN, 0xff, LX_ADDR_LEN);
    lx_channel ch2 = {NOWNERS, owners2, 2};
    assert_int_equal(lx_settle_tx_audit(why, sizeof why, bytes, len, batch, &ch2, NETWORK, chain),
                     LX_ECORRUPT);
    lx_batch_free(&other);
    free(bytes);
    lx_settle_tx_free(&st);
    lx_batch_free(&batch);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_deterministic), cmocka_unit_test(test_outputs_and_memo),
        cmocka_unit_test(test_errors),        cmocka_unit_test(test_prev_change_spent),
        cmocka_unit_test(test_cert_signs),    cmocka_unit_test(test_cert_refused),
        cmocka_unit_test(test_audit),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
