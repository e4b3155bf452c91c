/* Tests for the wallet (bridge/wallet.c): UTXO selection, change, fees,
 * ImportTx and ExportTx assembly and multisig signing, each built tx decoded
 * again and checked field by field; the node calls against a loopback mock;
 * and the text parsers and the tx JSON the command line uses. */
#include "mock_http.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "lx/bridge.h"

#define NKEYS 4
#define FEE 10u

static lx_key *keys[NKEYS];
static uint8_t addr[NKEYS][LX_ADDR_LEN];
static uint8_t asset_a[LX_ID_LEN], asset_b[LX_ID_LEN], chain_x[LX_ID_LEN], chain_y[LX_ID_LEN];

static int setup(void **state)
{
    (void)state;
    for (int i = 0; i < NKEYS; i++) {
        uint8_t sec[LX_SECKEY_LEN];
        memset(sec, 0x11 * (i + 1), sizeof sec);
        if (lx_key_import(&keys[i], sec) != LX_OK || lx_key_address(keys[i], addr[i]) != LX_OK)
            return -1;
    }
    memset(asset_a, 0xaa, LX_ID_LEN);
    memset(asset_b, 0xbb, LX_ID_LEN);
    memset(chain_x, 0xbc, LX_ID_LEN);
    memset(chain_y, 0xcd, LX_ID_LEN);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    for (int i = 0; i < NKEYS; i++)
        lx_key_free(&keys[i]);
    return 0;
}

/* A wallet on chain_x with fee FEE in asset_a and the keys in the bit set. */
static lx_wallet *wallet(unsigned key_set, uint64_t fee)
{
    lx_wallet_chain wc = {.network_id = 12345, .fee = fee};
    memcpy(wc.blockchain_id, chain_x, LX_ID_LEN);
    memcpy(wc.fee_asset, asset_a, LX_ID_LEN);
    lx_wallet *w = NULL;
    assert_int_equal(lx_wallet_new(&w, &wc), LX_OK);
    for (int i = 0; i < NKEYS; i++)
        if (key_set & (1u << i))
            assert_int_equal(lx_wallet_add_key(w, keys[i]), LX_OK);
    return w;
}

/* Fills u with UTXO (tx_id all txb, idx) owned by the addresses in the bit
 * set; owners is scratch room for them. */
static void make_utxo(lx_xutxo *u, uint8_t owners[NKEYS][LX_ADDR_LEN], uint8_t txb, uint32_t idx,
                      const uint8_t *asset, uint64_t amount, uint32_t threshold, unsigned owner_set,
                      uint64_t locktime)
{
    memset(u, 0, sizeof *u);
    memset(u->tx_id, txb, LX_ID_LEN);
    u->output_index = idx;
    memcpy(u->out.asset_id, asset, LX_ID_LEN);
    u->out.amount = amount;
    u->out.threshold = threshold;
    u->out.locktime = locktime;
    for (int i = 0; i < NKEYS; i++)
        if (owner_set & (1u << i))
            memcpy(owners[u->out.naddrs++], addr[i], LX_ADDR_LEN);
    u->out.addrs = owners[0];
}

static void put(lx_wallet *w, uint8_t txb, uint32_t idx, const uint8_t *asset, uint64_t amount,
                uint32_t threshold, unsigned owner_set, uint64_t locktime, bool atomic)
{
    uint8_t owners[NKEYS][LX_ADDR_LEN];
    lx_xutxo u;
    make_utxo(&u, owners, txb, idx, asset, amount, threshold, owner_set, locktime);
    assert_int_equal(lx_wallet_add_utxo(w, &u, atomic), LX_OK);
}

/* An output to pay to the addresses in the bit set. */
static lx_xout pay_to(uint8_t owners[NKEYS][LX_ADDR_LEN], const uint8_t *asset, uint64_t amount,
                      uint32_t threshold, unsigned owner_set)
{
    lx_xout o = {.amount = amount, .threshold = threshold};
    memcpy(o.asset_id, asset, LX_ID_LEN);
    for (int i = 0; i < NKEYS; i++)
        if (owner_set & (1u << i))
            memcpy(owners[o.naddrs++], addr[i], LX_ADDR_LEN);
    o.addrs = owners[0];
    return o;
}

/* Encodes the built tx, decodes it again (which rejects any order that is
 * not canonical), checks that the txID survives and that every signature is
 * by the owner its sig index names. The caller frees the decoded tx. */
static lx_tx *redecode(const lx_wallet *w, const lx_tx *tx)
{
    assert_true(lx_tx_is_signed(tx));
    size_t cap = lx_tx_signed_len(tx), n = 0;
    uint8_t *b = malloc(cap);
    assert_non_null(b);
    assert_int_equal(lx_tx_encode(tx, b, cap, &n), LX_OK);
    assert_int_equal(n, cap);
    lx_tx *d = NULL;
    const char *why = NULL;
    assert_int_equal(lx_tx_decode(&d, &why, b, n), LX_OK);
    free(b);
    uint8_t id1[LX_ID_LEN], id2[LX_ID_LEN];
    assert_int_equal(lx_tx_id(tx, id1), LX_OK);
    assert_int_equal(lx_tx_id(d, id2), LX_OK);
    assert_memory_equal(id1, id2, LX_ID_LEN);
    size_t nu = lx_wallet_utxo_count(w);
    lx_xutxo *views = calloc(nu + 1, sizeof *views);
    assert_non_null(views);
    for (size_t i = 0; i < nu; i++)
        views[i] = *lx_wallet_utxo_at(w, i, NULL);
    assert_int_equal(lx_tx_verify(d, &why, views, nu), LX_OK);
    free(views);
    return d;
}

/* Whether the address set of o is exactly the bit set. */
static void owners_are(const lx_xout *o, unsigned owner_set)
{
    size_t want = 0;
    for (int i = 0; i < NKEYS; i++) {
        if (!(owner_set & (1u << i)))
            continue;
        want++;
        bool found = false;
        for (size_t k = 0; k < o->naddrs; k++)
            found |= memcmp(o->addrs + k * LX_ADDR_LEN, addr[i], LX_ADDR_LEN) == 0;
        assert_true(found);
    }
    assert_int_equal(o->naddrs, want);
}

static void out_is(const lx_xout *o, const uint8_t *asset, uint64_t amount, uint32_t threshold,
                   unsigned owner_set)
{
    assert_memory_equal(o->asset_id, asset, LX_ID_LEN);
    assert_int_equal(o->amount, amount);
    assert_int_equal(o->threshold, threshold);
    assert_int_equal(o->locktime, 0);
    owners_are(o, owner_set);
}

static void in_is(const lx_xin *in, uint8_t txb, uint32_t idx, const uint8_t *asset,
                  uint64_t amount)
{
    uint8_t id[LX_ID_LEN];
    memset(id, txb, LX_ID_LEN);
    assert_memory_equal(in->tx_id, id, LX_ID_LEN);
    assert_int_equal(in->output_index, idx);
    assert_memory_equal(in->asset_id, asset, LX_ID_LEN);
    assert_int_equal(in->amount, amount);
}

/* The position of key k's address among the sorted addresses of owner_set. */
static uint32_t sorted_pos(unsigned owner_set, int k)
{
    uint32_t pos = 0;
    for (int i = 0; i < NKEYS; i++)
        if ((owner_set & (1u << i)) && memcmp(addr[i], addr[k], LX_ADDR_LEN) < 0)
            pos++;
    return pos;
}

static lx_err build(lx_wallet *w, lx_tx **tx, char *why, const lx_wallet_spend *s)
{
    return lx_wallet_build(w, tx, why, 256, s);
}

/* ---- selection ---- */

static void test_largest_first(void **state)
{
    (void)state;
    lx_wallet *w = wallet(1u << 0, FEE);
    put(w, 0x01, 0, asset_a, 100, 1, 1u << 0, 0, false);
    put(w, 0x03, 0, asset_a, 500, 1, 1u << 0, 0, false);
    put(w, 0x02, 7, asset_a, 300, 1, 1u << 0, 0, false);
    put(w, 0x04, 1, asset_a, 50, 1, 1u << 0, 0, false);
    put(w, 0x05, 0, asset_a, 9999, 1, 1u << 1, 0, false); /* not the wallet's key */
    uint8_t o1[NKEYS][LX_ADDR_LEN];
    lx_xout pay = pay_to(o1, asset_a, 600, 1, 1u << 1);
    lx_wallet_spend s = {.kind = LX_TX_BASE, .npay = 1, .pay = &pay, .now = 1000};
    lx_tx *tx = NULL;
    char why[256];
    assert_int_equal(build(w, &tx, why, &s), LX_OK);
    lx_tx *d = redecode(w, tx);
    const lx_tx_spec *v = lx_tx_view(d);
    assert_int_equal(v->kind, LX_TX_BASE);
    assert_int_equal(v->network_id, 12345);
    assert_memory_equal(v->blockchain_id, chain_x, LX_ID_LEN);
    /* 610 needed: 500, then 300; canonical order puts txID 02.. first. */
    assert_int_equal(v->nins, 2);
    in_is(&v->ins[0], 0x02, 7, asset_a, 300);
    in_is(&v->ins[1], 0x03, 0, asset_a, 500);
    assert_int_equal(v->nxins + v->nxouts + v->memo_len, 0);
    /* Change 800 - 610 = 190 sorts before the 600 paid (amount bytes). */
    assert_int_equal(v->nouts, 2);
    out_is(&v->outs[0], asset_a, 190, 1, 1u << 0);
    out_is(&v->outs[1], asset_a, 600, 1, 1u << 1);
    assert_int_equal(lx_tx_check_fee(d, asset_a, FEE), LX_OK);
    assert_int_equal(lx_tx_check_fee(d, asset_a, FEE + 1), LX_EINVAL); /* exactly FEE left */
    lx_tx_free(&d);
    lx_tx_free(&tx);
    lx_wallet_free(&w);
    assert_null(w);
}

static void test_ties_by_txid(void **state)
{
    (void)state;
    lx_wallet *w = wallet(1u << 0, 0);
    put(w, 0x09, 0, asset_a, 400, 1, 1u << 0, 0, false);
    put(w, 0x05, 3, asset_a, 400, 1, 1u << 0, 0, false);
    put(w, 0x05, 2, asset_a, 400, 1, 1u << 0, 0, false);
    uint8_t o1[NKEYS][LX_ADDR_LEN];
    lx_xout pay = pay_to(o1, asset_a, 400, 1, 1u << 1);
    lx_wallet_spend s = {.kind = LX_TX_BASE, .npay = 1, .pay = &pay};
    lx_tx *tx = NULL;
    char why[256];
    /* Fee 0 and an exact amount: one input (the lowest txID and index), no change. */
    assert_int_equal(build(w, &tx, why, &s), LX_OK);
    lx_tx *d = redecode(w, tx);
    const lx_tx_spec *v = lx_tx_view(d);
    assert_int_equal(v->nins, 1);
    in_is(&v->ins[0], 0x05, 2, asset_a, 400);
    assert_int_equal(v->nouts, 1);
    out_is(&v->outs[0], asset_a, 400, 1, 1u << 1);
    lx_tx_free(&d);
    lx_tx_free(&tx);
    pay.amount = 401; /* the next one by (txID, index) */
    assert_int_equal(build(w, &tx, why, &s), LX_OK);
    d = redecode(w, tx);
    v = lx_tx_view(d);
    assert_int_equal(v->nins, 2);
    in_is(&v->ins[0], 0x05, 2, asset_a, 400);
    in_is(&v->ins[1], 0x05, 3, asset_a, 400);
    out_is(&v->outs[0], asset_a, 399, 1, 1u << 0);
    out_is(&v->outs[1], asset_a, 401, 1, 1u << 1);
    lx_tx_free(&d);
    lx_tx_free(&tx);
    lx_wallet_free(&w);
}

static void test_named_utxos(void **state)
{
    (void)state;
    lx_wallet *w = wallet(1u << 0, FEE);
    put(w, 0x01, 0, asset_a, 1000, 1, 1u << 0, 0, false);
    put(w, 0x02, 0, asset_a, 100, 1, 1u << 0, 0, false);
    put(w, 0x03, 1, asset_a, 50, 1, 1u << 0, 0, false);
    put(w, 0x04, 0, asset_a, 70, 1, 1u << 0, 5000, false); /* locked until 5000 */
    put(w, 0x05, 0, asset_a, 80, 2, (1u << 0) | (1u << 1), 0, false);
    uint8_t o1[NKEYS][LX_ADDR_LEN];
    lx_xout pay = pay_to(o1, asset_a, 100, 1, 1u << 2);
    lx_rpc_utxo_id use[2] = {{.output_index = 1}, {.output_index = 0}};
    memset(use[0].tx_id, 0x03, LX_ID_LEN);
    memset(use[1].tx_id, 0x02, LX_ID_LEN);
    lx_wallet_spend s = {
        .kind = LX_TX_BASE, .npay = 1, .pay = &pay, .nuse = 2, .use = use, .now = 1000};
    lx_tx *tx = NULL;
    char why[256];
    /* Exactly the two named, although the 1000 alone would pay. */
    assert_int_equal(build(w, &tx, why, &s), LX_OK);
    lx_tx *d = redecode(w, tx);
    const lx_tx_spec *v = lx_tx_view(d);
    assert_int_equal(v->nins, 2);
    in_is(&v->ins[0], 0x02, 0, asset_a, 100);
    in_is(&v->ins[1], 0x03, 1, asset_a, 50);
    assert_int_equal(v->nouts, 2);
    out_is(&v->outs[0], asset_a, 40, 1, 1u << 0);
    out_is(&v->outs[1], asset_a, 100, 1, 1u << 2);
    lx_tx_free(&d);
    lx_tx_free(&tx);

    /* The named ones hold too little: no other UTXO is added. */
    pay.amount = 141;
    assert_int_equal(build(w, &tx, why, &s), LX_ESTATE);
    assert_null(tx);
    assert_non_null(strstr(why, "insufficient funds"));
    pay.amount = 100;

    /* Named twice. */
    memset(use[1].tx_id, 0x03, LX_ID_LEN);
    use[1].output_index = 1;
    assert_int_equal(build(w, &tx, why, &s), LX_EINVAL);
    assert_non_null(strstr(why, "named twice"));
    /* Not held (right txID, wrong index). */
    use[1].output_index = 9;
    assert_int_equal(build(w, &tx, why, &s), LX_ENOTFOUND);
    assert_non_null(strstr(why, "not among"));
    /* Locked, then needing a key the wallet lacks. */
    memset(use[1].tx_id, 0x04, LX_ID_LEN);
    use[1].output_index = 0;
    assert_int_equal(build(w, &tx, why, &s), LX_EPERM);
    assert_non_null(strstr(why, "is locked"));
    s.now = 5000; /* locktime reached */
    pay.amount = 110;
    assert_int_equal(build(w, &tx, why, &s), LX_OK);
    lx_tx_free(&tx);
    memset(use[1].tx_id, 0x05, LX_ID_LEN);
    assert_int_equal(build(w, &tx, why, &s), LX_EPERM);
    assert_non_null(strstr(why, "owners' keys"));
    assert_null(tx);
    lx_wallet_free(&w);
}

static void test_from_owners(void **state)
{
    (void)state;
    const unsigned ms = (1u << 0) | (1u << 1);
    lx_wallet *w = wallet(ms, FEE);
    put(w, 0x01, 0, asset_a, 5000, 1, 1u << 0, 0, false);        /* k0 alone */
    put(w, 0x02, 0, asset_a, 700, 2, ms, 0, false);              /* 2-of-2 */
    put(w, 0x03, 0, asset_a, 600, 1, ms, 0, false);              /* 1-of-2 */
    put(w, 0x04, 0, asset_a, 9000, 2, ms | (1u << 2), 0, false); /* other set */
    put(w, 0x05, 0, asset_b, 30, 2, ms, 0, false);               /* other asset */
    uint8_t o1[NKEYS][LX_ADDR_LEN], from[2][LX_ADDR_LEN];
    memcpy(from[0], addr[1], LX_ADDR_LEN); /* any order */
    memcpy(from[1], addr[0], LX_ADDR_LEN);
    lx_xout pay = pay_to(o1, asset_a, 1000, 1, 1u << 2);
    lx_wallet_spend s = {
        .kind = LX_TX_BASE, .npay = 1, .pay = &pay, .nfrom = 2, .from = from[0], .now = 1};
    lx_tx *tx = NULL;
    char why[256];
    assert_int_equal(build(w, &tx, why, &s), LX_OK);
    lx_tx *d = redecode(w, tx);
    const lx_tx_spec *v = lx_tx_view(d);
    /* Only the set's UTXOs: 700 then 600; change back to the set, with the
     * highest threshold spent (2), so it stays 2-of-2. */
    assert_int_equal(v->nins, 2);
    in_is(&v->ins[0], 0x02, 0, asset_a, 700);
    in_is(&v->ins[1], 0x03, 0, asset_a, 600);
    assert_int_equal(v->ins[0].nsigs, 2);
    assert_int_equal(v->ins[1].nsigs, 1);
    assert_int_equal(v->nouts, 2);
    out_is(&v->outs[0], asset_a, 290, 2, ms);
    out_is(&v->outs[1], asset_a, 1000, 1, 1u << 2);
    lx_tx_free(&d);
    lx_tx_free(&tx);

    /* The set holds 1300 of A; 1291 more than it can pay. */
    pay.amount = 1291;
    assert_int_equal(build(w, &tx, why, &s), LX_ESTATE);
    assert_null(tx);

    /* Explicit change owners and threshold win over the set. */
    pay.amount = 1000;
    uint8_t change[2][LX_ADDR_LEN];
    memcpy(change[0], addr[3], LX_ADDR_LEN);
    memcpy(change[1], addr[2], LX_ADDR_LEN);
    s.nchange = 2;
    s.change = change[0];
    s.change_threshold = 1;
    assert_int_equal(build(w, &tx, why, &s), LX_OK);
    d = redecode(w, tx);
    v = lx_tx_view(d);
    out_is(&v->outs[0], asset_a, 290, 1, (1u << 2) | (1u << 3));
    lx_tx_free(&d);
    lx_tx_free(&tx);
    s.change_threshold = 3; /* more than the owners */
    assert_int_equal(build(w, &tx, why, &s), LX_EINVAL);
    lx_wallet_free(&w);
}

static void test_change_per_asset(void **state)
{
    (void)state;
    lx_wallet *w = wallet((1u << 0) | (1u << 1), FEE);
    put(w, 0x01, 0, asset_b, 80, 1, 1u << 1, 0, false);
    put(w, 0x02, 0, asset_a, 500, 1, 1u << 0, 0, false);
    put(w, 0x03, 0, asset_b, 20, 1, 1u << 0, 0, false);
    uint8_t o1[NKEYS][LX_ADDR_LEN], o2[NKEYS][LX_ADDR_LEN];
    lx_xout pay[2] = {pay_to(o1, asset_b, 30, 1, 1u << 2), pay_to(o2, asset_a, 100, 1, 1u << 2)};
    const uint8_t memo[] = "per asset";
    lx_wallet_spend s = {.kind = LX_TX_BASE,
                         .npay = 2,
                         .pay = pay,
                         .memo_len = sizeof memo - 1,
                         .memo = memo,
                         .now = 1};
    lx_tx *tx = NULL;
    char why[256];
    assert_int_equal(build(w, &tx, why, &s), LX_OK);
    lx_tx *d = redecode(w, tx);
    const lx_tx_spec *v = lx_tx_view(d);
    assert_int_equal(v->memo_len, sizeof memo - 1);
    assert_memory_equal(v->memo, memo, sizeof memo - 1);
    assert_int_equal(v->nins, 2); /* B: 80 (largest) covers 30; A: 500 */
    in_is(&v->ins[0], 0x01, 0, asset_b, 80);
    in_is(&v->ins[1], 0x02, 0, asset_a, 500);
    /* One change output per asset, to the first key; asset A sorts first. */
    assert_int_equal(v->nouts, 4);
    out_is(&v->outs[0], asset_a, 100, 1, 1u << 2);
    out_is(&v->outs[1], asset_a, 390, 1, 1u << 0);
    out_is(&v->outs[2], asset_b, 30, 1, 1u << 2);
    out_is(&v->outs[3], asset_b, 50, 1, 1u << 0);
    /* The key of address 1 signed the B input, key 0 the A input. */
    uint8_t hash[LX_SHA256_LEN], sig[LX_SIG_LEN], pub[LX_PUBKEY_LEN], a[LX_ADDR_LEN];
    assert_int_equal(lx_tx_hash(d, hash), LX_OK);
    assert_int_equal(lx_tx_get_sig(d, sig, 0, 0), LX_OK);
    assert_int_equal(lx_sig_recover(pub, hash, sig), LX_OK);
    assert_int_equal(lx_address_from_pubkey(a, pub), LX_OK);
    assert_memory_equal(a, addr[1], LX_ADDR_LEN);
    lx_tx_free(&d);
    lx_tx_free(&tx);
    lx_wallet_free(&w);
}

static void test_insufficient_and_locked(void **state)
{
    (void)state;
    lx_wallet *w = wallet(1u << 0, FEE);
    put(w, 0x01, 0, asset_a, 100, 1, 1u << 0, 0, false);
    put(w, 0x02, 0, asset_a, 1000, 1, 1u << 0, 2000, false);            /* locked */
    put(w, 0x03, 0, asset_a, 1000, 2, (1u << 0) | (1u << 1), 0, false); /* one key */
    put(w, 0x04, 0, asset_b, 5, 1, 1u << 0, 0, false);
    uint8_t o1[NKEYS][LX_ADDR_LEN];
    lx_xout pay = pay_to(o1, asset_a, 91, 1, 1u << 2);
    lx_wallet_spend s = {.kind = LX_TX_BASE, .npay = 1, .pay = &pay, .now = 1000};
    lx_tx *tx = NULL;
    char why[256];
    /* 91 + 10 > 100 spendable; the locked and the 2-of-2 could pay it. */
    assert_int_equal(build(w, &tx, why, &s), LX_EPERM);
    assert_null(tx);
    assert_non_null(strstr(why, "1 more is needed"));
    /* Beyond what even those hold: plain insufficient funds. */
    pay.amount = 2091;
    assert_int_equal(build(w, &tx, why, &s), LX_ESTATE);
    assert_non_null(strstr(why, "needs 2101, spendable 100"));
    /* The fee counts: 90 + 10 fits exactly, and no change is made. */
    pay.amount = 90;
    assert_int_equal(build(w, &tx, why, &s), LX_OK);
    lx_tx *d = redecode(w, tx);
    assert_int_equal(lx_tx_view(d)->nouts, 1);
    out_is(&lx_tx_view(d)->outs[0], asset_a, 90, 1, 1u << 2);
    lx_tx_free(&d);
    lx_tx_free(&tx);
    /* The other asset is short; the fee asset is fine. */
    uint8_t o2[NKEYS][LX_ADDR_LEN];
    lx_xout two[2] = {pay_to(o1, asset_a, 1, 1, 1u << 2), pay_to(o2, asset_b, 6, 1, 1u << 2)};
    s.pay = two;
    s.npay = 2;
    assert_int_equal(build(w, &tx, why, &s), LX_ESTATE);
    char b58[LX_CB58_ID_MAX];
    assert_int_equal(lx_id_to_cb58(b58, asset_b), LX_OK);
    assert_non_null(strstr(why, b58));
    /* After the locktime, the locked UTXO pays. */
    s.now = 2000;
    s.npay = 1;
    s.pay = &pay;
    pay.amount = 1000;
    assert_int_equal(build(w, &tx, why, &s), LX_OK);
    d = redecode(w, tx);
    in_is(&lx_tx_view(d)->ins[0], 0x01, 0, asset_a, 100);
    in_is(&lx_tx_view(d)->ins[1], 0x02, 0, asset_a, 1000);
    lx_tx_free(&d);
    lx_tx_free(&tx);
    lx_wallet_free(&w);
}

/* ---- multisig ---- */

static void test_multisig_first_threshold_keys(void **state)
{
    (void)state;
    const unsigned set = (1u << 0) | (1u << 1) | (1u << 2);
    uint8_t o1[NKEYS][LX_ADDR_LEN];
    lx_xout pay = pay_to(o1, asset_a, 100, 1, 1u << 3);
    lx_wallet_spend s = {.kind = LX_TX_BASE, .npay = 1, .pay = &pay, .now = 1};
    char why[256];
    /* held keys -> the sig indices: the first two held owners by position */
    const unsigned held[] = {set, (1u << 1) | (1u << 2), (1u << 0) | (1u << 2)};
    for (size_t h = 0; h < sizeof held / sizeof *held; h++) {
        lx_wallet *w = wallet(held[h], FEE);
        put(w, 0x07, 2, asset_a, 1000, 2, set, 0, false);
        lx_tx *tx = NULL;
        assert_int_equal(build(w, &tx, why, &s), LX_OK);
        lx_tx *d = redecode(w, tx);
        const lx_xin *in = &lx_tx_view(d)->ins[0];
        uint32_t want[NKEYS], n = 0;
        for (uint32_t pos = 0; pos < 3; pos++)
            for (int k = 0; k < 3; k++)
                if ((held[h] & (1u << k)) && sorted_pos(set, k) == pos && n < 2)
                    want[n++] = pos;
        assert_int_equal(in->nsigs, 2);
        assert_int_equal(in->sig_indices[0], want[0]);
        assert_int_equal(in->sig_indices[1], want[1]);
        /* The change stays with the first key (no from set). */
        out_is(&lx_tx_view(d)->outs[1], asset_a, 890, 1,
               1u << (held[h] & 1u ? 0 : 1)); /* the first key added */
        lx_tx_free(&d);
        lx_tx_free(&tx);
        lx_wallet_free(&w);
    }
    /* One key of a 2-of-3: refused, and the UTXO is not spendable. */
    lx_wallet *w = wallet(1u << 1, FEE);
    put(w, 0x07, 2, asset_a, 1000, 2, set, 0, false);
    lx_tx *tx = NULL;
    assert_false(lx_wallet_can_spend(w, lx_wallet_utxo_at(w, 0, NULL), 1));
    assert_int_equal(build(w, &tx, why, &s), LX_EPERM);
    assert_null(tx);
    lx_wallet_free(&w);
}

/* ---- import and export ---- */

static void test_import_fee_from_imported(void **state)
{
    (void)state;
    lx_wallet *w = wallet(1u << 0, FEE);
    put(w, 0x01, 0, asset_a, 777, 1, 1u << 0, 0, false); /* own, not needed */
    put(w, 0x11, 1, asset_a, 5000, 1, 1u << 0, 0, true);
    put(w, 0x12, 0, asset_b, 40, 1, 1u << 0, 0, true);
    put(w, 0x13, 0, asset_a, 9, 1, 1u << 1, 0, true);    /* another's */
    put(w, 0x14, 0, asset_a, 9, 1, 1u << 0, 3000, true); /* locked */
    lx_wallet_spend s = {.kind = LX_TX_IMPORT, .now = 1};
    memcpy(s.other_chain, chain_y, LX_ID_LEN);
    lx_tx *tx = NULL;
    char why[256];
    assert_int_equal(build(w, &tx, why, &s), LX_OK);
    lx_tx *d = redecode(w, tx);
    const lx_tx_spec *v = lx_tx_view(d);
    assert_int_equal(v->kind, LX_TX_IMPORT);
    assert_memory_equal(v->other_chain, chain_y, LX_ID_LEN);
    assert_int_equal(v->nins, 0); /* the fee came out of the imported A */
    assert_int_equal(v->nxins, 2);
    in_is(&v->xins[0], 0x11, 1, asset_a, 5000);
    in_is(&v->xins[1], 0x12, 0, asset_b, 40);
    assert_int_equal(v->nouts, 2);
    out_is(&v->outs[0], asset_a, 4990, 1, 1u << 0);
    out_is(&v->outs[1], asset_b, 40, 1, 1u << 0);
    assert_int_equal(lx_tx_check_fee(d, asset_a, FEE), LX_OK);
    assert_int_equal(lx_tx_check_fee(d, asset_a, FEE + 1), LX_EINVAL);
    lx_tx_free(&d);
    lx_tx_free(&tx);

    /* The from set restricts the imports too: only the other key's. */
    uint8_t from[LX_ADDR_LEN];
    memcpy(from, addr[1], LX_ADDR_LEN);
    s.nfrom = 1;
    s.from = from;
    assert_int_equal(build(w, &tx, why, &s), LX_ENOTFOUND); /* no key for it */
    s.nfrom = 0;
    /* Named UTXOs make no sense for an import. */
    lx_rpc_utxo_id use = {.output_index = 0};
    s.nuse = 1;
    s.use = &use;
    assert_int_equal(build(w, &tx, why, &s), LX_EINVAL);
    lx_wallet_free(&w);
}

static void test_import_fee_from_own(void **state)
{
    (void)state;
    lx_wallet *w = wallet(1u << 0, FEE);
    put(w, 0x01, 0, asset_a, 100, 1, 1u << 0, 0, false);
    put(w, 0x02, 0, asset_a, 300, 1, 1u << 0, 0, false);
    put(w, 0x12, 0, asset_b, 40, 1, 1u << 0, 0, true);
    put(w, 0x13, 0, asset_a, 4, 1, 1u << 0, 0, true); /* less than the fee */
    lx_wallet_spend s = {.kind = LX_TX_IMPORT, .now = 1};
    memcpy(s.other_chain, chain_y, LX_ID_LEN);
    lx_tx *tx = NULL;
    char why[256];
    assert_int_equal(build(w, &tx, why, &s), LX_OK);
    lx_tx *d = redecode(w, tx);
    const lx_tx_spec *v = lx_tx_view(d);
    /* 4 imported + the largest own A (300) pay the fee of 10. */
    assert_int_equal(v->nins, 1);
    in_is(&v->ins[0], 0x02, 0, asset_a, 300);
    assert_int_equal(v->nxins, 2);
    in_is(&v->xins[0], 0x12, 0, asset_b, 40);
    in_is(&v->xins[1], 0x13, 0, asset_a, 4);
    assert_int_equal(v->nouts, 2);
    out_is(&v->outs[0], asset_a, 294, 1, 1u << 0);
    out_is(&v->outs[1], asset_b, 40, 1, 1u << 0);
    /* Credentials: base input first, then the imported ones. */
    assert_int_equal(lx_tx_input_count(d), 3);
    lx_tx_free(&d);
    lx_tx_free(&tx);
    lx_wallet_free(&w);

    /* Nothing to import. */
    w = wallet(1u << 0, FEE);
    put(w, 0x01, 0, asset_a, 100, 1, 1u << 0, 0, false);
    assert_int_equal(build(w, &tx, why, &s), LX_ENOTFOUND);
    assert_non_null(strstr(why, "no UTXOs to import"));
    /* Imported B but no A anywhere for the fee. */
    lx_wallet_free(&w);
    w = wallet(1u << 0, FEE);
    put(w, 0x12, 0, asset_b, 40, 1, 1u << 0, 0, true);
    assert_int_equal(build(w, &tx, why, &s), LX_ESTATE);
    assert_null(tx);
    lx_wallet_free(&w);
}

static void test_export(void **state)
{
    (void)state;
    lx_wallet *w = wallet(1u << 0, FEE);
    put(w, 0x01, 0, asset_a, 1000, 1, 1u << 0, 0, false);
    uint8_t o1[NKEYS][LX_ADDR_LEN];
    lx_xout pay = pay_to(o1, asset_a, 300, 1, 1u << 2);
    lx_wallet_spend s = {.kind = LX_TX_EXPORT, .npay = 1, .pay = &pay, .now = 1};
    memcpy(s.other_chain, chain_y, LX_ID_LEN);
    lx_tx *tx = NULL;
    char why[256];
    assert_int_equal(build(w, &tx, why, &s), LX_OK);
    lx_tx *d = redecode(w, tx);
    const lx_tx_spec *v = lx_tx_view(d);
    assert_int_equal(v->kind, LX_TX_EXPORT);
    assert_memory_equal(v->other_chain, chain_y, LX_ID_LEN);
    assert_int_equal(v->nins, 1);
    in_is(&v->ins[0], 0x01, 0, asset_a, 1000);
    assert_int_equal(v->nouts, 1); /* change stays on this chain */
    out_is(&v->outs[0], asset_a, 690, 1, 1u << 0);
    assert_int_equal(v->nxouts, 1);
    out_is(&v->xouts[0], asset_a, 300, 1, 1u << 2);
    assert_int_equal(lx_tx_check_fee(d, asset_a, FEE), LX_OK);
    lx_tx_free(&d);
    lx_tx_free(&tx);
    s.npay = 0; /* an export needs something to export */
    assert_int_equal(build(w, &tx, why, &s), LX_EINVAL);
    lx_wallet_free(&w);
}

/* ---- keys, UTXOs, sums, arguments ---- */

static void test_keys_utxos_sums(void **state)
{
    (void)state;
    lx_wallet *w = wallet((1u << 0) | (1u << 1), FEE);
    assert_int_equal(lx_wallet_add_key(w, keys[1]), LX_EEXIST);
    assert_int_equal(lx_wallet_key_count(w), 2);
    uint8_t a[LX_ADDR_LEN];
    assert_int_equal(lx_wallet_key_address(w, a, 1), LX_OK);
    assert_memory_equal(a, addr[1], LX_ADDR_LEN);
    assert_int_equal(lx_wallet_key_address(w, a, 2), LX_EINVAL);
    put(w, 0x01, 0, asset_a, 100, 1, 1u << 0, 0, false);
    put(w, 0x01, 0, asset_a, 100, 1, 1u << 0, 0, false); /* again: ignored */
    put(w, 0x01, 0, asset_a, 100, 1, 1u << 0, 0, true);  /* same ID, atomic */
    put(w, 0x02, 0, asset_b, 7, 1, 1u << 1, 50, false);
    put(w, 0x03, 0, asset_a, 20, 2, (1u << 1) | (1u << 2), 0, false);
    put(w, 0x04, 0, asset_a, 3, 1, 1u << 3, 0, false);
    assert_int_equal(lx_wallet_utxo_count(w), 5);
    bool atomic = false;
    assert_non_null(lx_wallet_utxo_at(w, 1, &atomic));
    assert_true(atomic);
    assert_null(lx_wallet_utxo_at(w, 5, NULL));
    assert_false(lx_wallet_can_spend(w, lx_wallet_utxo_at(w, 2, NULL), 49));
    assert_true(lx_wallet_can_spend(w, lx_wallet_utxo_at(w, 2, NULL), 50));
    lx_wallet_sum sums[2];
    size_t n = 0;
    assert_int_equal(lx_wallet_sums(w, sums, 2, &n, 10), LX_OK);
    assert_int_equal(n, 2);
    assert_memory_equal(sums[0].asset_id, asset_a, LX_ID_LEN);
    assert_int_equal(sums[0].total, 123);
    assert_int_equal(sums[0].alone, 103);
    assert_int_equal(sums[0].spendable, 100);
    assert_int_equal(sums[0].utxos, 3);
    assert_memory_equal(sums[1].asset_id, asset_b, LX_ID_LEN);
    assert_int_equal(sums[1].total, 7);
    assert_int_equal(sums[1].alone, 0); /* locked at 10 */
    assert_int_equal(sums[1].spendable, 0);
    assert_int_equal(lx_wallet_sums(w, sums, 1, &n, 10), LX_ETOOBIG);
    /* Bad arguments. */
    lx_tx *tx = NULL;
    lx_wallet_spend s = {.kind = (lx_tx_kind)1};
    assert_int_equal(lx_wallet_build(w, &tx, NULL, 0, &s), LX_EINVAL);
    assert_int_equal(lx_wallet_build(w, NULL, NULL, 0, &s), LX_EINVAL);
    assert_int_equal(lx_wallet_build(NULL, &tx, NULL, 0, &s), LX_EINVAL);
    s.kind = LX_TX_BASE;
    s.npay = 1; /* without pay */
    assert_int_equal(lx_wallet_build(w, &tx, NULL, 0, &s), LX_EINVAL);
    lx_xout many[LX_WALLET_OUTPUTS_MAX + 1];
    memset(many, 0, sizeof many);
    s.pay = many;
    s.npay = LX_WALLET_OUTPUTS_MAX + 1;
    assert_int_equal(lx_wallet_build(w, &tx, NULL, 0, &s), LX_ETOOBIG);
    assert_null(tx);
    assert_int_equal(lx_wallet_new(NULL, NULL), LX_EINVAL);
    lx_wallet_free(&w);
    lx_wallet_free(&w); /* NULL-safe */

    /* A wallet with no key has nowhere to send change. */
    w = wallet(0, 0);
    put(w, 0x01, 0, asset_a, 100, 1, 1u << 0, 0, false);
    uint8_t o1[NKEYS][LX_ADDR_LEN];
    lx_xout pay = pay_to(o1, asset_a, 1, 1, 1u << 1);
    s.npay = 1;
    s.pay = &pay;
    assert_int_equal(lx_wallet_build(w, &tx, NULL, 0, &s), LX_EINVAL);
    lx_wallet_free(&w);
}

/* ---- text parsers and tx JSON ---- */

static void test_parsers(void **state)
{
    (void)state;
    char x0[LX_ADDR_STR_MAX], y1[LX_ADDR_STR_MAX], p2[LX_ADDR_STR_MAX], list[512], why[256];
    assert_int_equal(lx_address_encode(x0, sizeof x0, "X", "local", addr[0]), LX_OK);
    assert_int_equal(lx_address_encode(y1, sizeof y1, "Y", "local", addr[1]), LX_OK);
    assert_int_equal(lx_address_encode(p2, sizeof p2, NULL, "local", addr[2]), LX_OK);
    uint8_t a[4][LX_ADDR_LEN];
    assert_int_equal(lx_wallet_address_parse(a[0], why, sizeof why, x0, "X", "local"), LX_OK);
    assert_memory_equal(a[0], addr[0], LX_ADDR_LEN);
    assert_int_equal(lx_wallet_address_parse(a[0], why, sizeof why, p2, "X", "local"), LX_OK);
    assert_memory_equal(a[0], addr[2], LX_ADDR_LEN);
    assert_int_equal(lx_wallet_address_parse(a[0], why, sizeof why, y1, "X", "local"), LX_EFORMAT);
    assert_non_null(strstr(why, "is not on chain X"));
    assert_int_equal(lx_wallet_address_parse(a[0], why, sizeof why, x0, "X", "lux"), LX_EFORMAT);
    assert_non_null(strstr(why, "want X-lux1"));

    size_t n = 9;
    snprintf(list, sizeof list, "%s,,%s,", x0, p2);
    assert_int_equal(lx_wallet_owners_parse(a[0], 4, &n, why, sizeof why, list, "X", "local"),
                     LX_OK);
    assert_int_equal(n, 2);
    assert_memory_equal(a[0], addr[0], LX_ADDR_LEN);
    assert_memory_equal(a[1], addr[2], LX_ADDR_LEN);
    assert_int_equal(lx_wallet_owners_parse(a[0], 1, &n, why, sizeof why, list, "X", "local"),
                     LX_ETOOBIG);
    assert_int_equal(n, 0);
    assert_int_equal(lx_wallet_owners_parse(a[0], 4, &n, why, sizeof why, ",", "X", "local"),
                     LX_EFORMAT);
    assert_string_equal(why, "empty address list");

    lx_xout o;
    lx_wallet_output_text t = {.owners = list, .amount = "25", .threshold = "2", .locktime = "9"};
    memset(&o, 0, sizeof o);
    assert_int_equal(lx_wallet_output_parse(&o, a[0], 4, why, sizeof why, &t, "X", "local", NULL),
                     LX_OK);
    assert_int_equal(o.amount, 25);
    assert_int_equal(o.threshold, 2);
    assert_int_equal(o.locktime, 9);
    assert_int_equal(o.naddrs, 2);
    assert_ptr_equal(o.addrs, a[0]);
    t.threshold = "3";
    assert_int_equal(lx_wallet_output_parse(&o, a[0], 4, why, sizeof why, &t, "X", "local", NULL),
                     LX_EINVAL);
    assert_string_equal(why, "--threshold must be 1..2");
    t.threshold = NULL; /* every owner */
    assert_int_equal(lx_wallet_output_parse(&o, a[0], 4, why, sizeof why, &t, "X", "local", NULL),
                     LX_OK);
    assert_int_equal(o.threshold, 2);
    t = (lx_wallet_output_text){.to = x0, .amount = "0"};
    assert_int_equal(lx_wallet_output_parse(&o, a[0], 4, why, sizeof why, &t, "X", "local", NULL),
                     LX_EINVAL);
    t.amount = " 5";
    assert_int_equal(lx_wallet_output_parse(&o, a[0], 4, why, sizeof why, &t, "X", "local", NULL),
                     LX_EINVAL);
    t.amount = "18446744073709551615";
    assert_int_equal(lx_wallet_output_parse(&o, a[0], 4, why, sizeof why, &t, "X", "local", NULL),
                     LX_OK);
    assert_int_equal(o.amount, UINT64_MAX);
    assert_int_equal(o.threshold, 1);
    t.amount = "18446744073709551616";
    assert_int_equal(lx_wallet_output_parse(&o, a[0], 4, why, sizeof why, &t, "X", "local", NULL),
                     LX_EINVAL);
    t = (lx_wallet_output_text){.amount = "5"};
    assert_int_equal(lx_wallet_output_parse(&o, a[0], 4, why, sizeof why, &t, "X", "local", NULL),
                     LX_EINVAL);
    assert_string_equal(why, "--amount needs --to or --owners");
    assert_int_equal(
        lx_wallet_output_parse(&o, a[0], 4, why, sizeof why, &t, "X", "local", addr[3]), LX_OK);
    assert_memory_equal(o.addrs, addr[3], LX_ADDR_LEN);
    t = (lx_wallet_output_text){.to = y1, .amount = "5"};
    assert_int_equal(lx_wallet_output_parse(&o, a[0], 4, why, sizeof why, &t, "X", "local", NULL),
                     LX_EFORMAT);

    assert_string_equal(lx_wallet_network_hrp(96369), "lux");
    assert_string_equal(lx_wallet_network_hrp(1), "lux");
    assert_string_equal(lx_wallet_network_hrp(12345), "local");
    assert_string_equal(lx_wallet_network_hrp(31337), "local");
    assert_null(lx_wallet_network_hrp(5));

    /* Tx bytes from hex: with checksum, plain, plain with 0x, and bad. */
    const uint8_t bytes[] = {0x00, 0x00, 0xde, 0xad};
    char hex[32];
    uint8_t *b = NULL;
    size_t len = 0;
    bool cs = false;
    assert_int_equal(lx_hexcs_encode(hex, sizeof hex, bytes, sizeof bytes), LX_OK);
    assert_int_equal(lx_tx_hex_decode(&b, &len, &cs, hex), LX_OK);
    assert_true(cs);
    assert_int_equal(len, sizeof bytes);
    assert_memory_equal(b, bytes, sizeof bytes);
    free(b);
    assert_int_equal(lx_tx_hex_decode(&b, &len, &cs, "0x0000dead"), LX_OK);
    assert_false(cs);
    assert_int_equal(len, 4);
    free(b);
    assert_int_equal(lx_tx_hex_decode(&b, &len, &cs, "0000DEAD"), LX_OK);
    free(b);
    assert_int_equal(lx_tx_hex_decode(&b, &len, &cs, "0xzz"), LX_EFORMAT);
    assert_null(b);
}

static void test_tx_json(void **state)
{
    (void)state;
    lx_wallet *w = wallet(1u << 0, FEE);
    put(w, 0x01, 0, asset_a, 1000, 1, 1u << 0, 0, false);
    uint8_t o1[NKEYS][LX_ADDR_LEN];
    lx_xout pay = pay_to(o1, asset_a, 300, 1, 1u << 2);
    const uint8_t memo[] = "hi";
    lx_wallet_spend s = {
        .kind = LX_TX_EXPORT, .npay = 1, .pay = &pay, .memo_len = 2, .memo = memo, .now = 1};
    memcpy(s.other_chain, chain_y, LX_ID_LEN);
    lx_tx *tx = NULL;
    char why[256], *text = NULL;
    assert_int_equal(build(w, &tx, why, &s), LX_OK);
    assert_int_equal(lx_tx_to_json(&text, tx, "X", "local", true), LX_OK);
    json_t *j = json_loads(text, 0, NULL);
    assert_non_null(j);
    char a0[LX_ADDR_STR_MAX], p2[LX_ADDR_STR_MAX], id[LX_CB58_ID_MAX];
    assert_int_equal(lx_address_encode(a0, sizeof a0, "X", "local", addr[0]), LX_OK);
    assert_int_equal(lx_address_encode(p2, sizeof p2, NULL, "local", addr[2]), LX_OK);
    uint8_t txid[LX_ID_LEN];
    assert_int_equal(lx_tx_id(tx, txid), LX_OK);
    assert_int_equal(lx_id_to_cb58(id, txid), LX_OK);
    assert_string_equal(json_string_value(json_object_get(j, "type")), "ExportTx");
    assert_true(json_is_true(json_object_get(j, "signed")));
    assert_int_equal(json_integer_value(json_object_get(j, "bytes")), lx_tx_signed_len(tx));
    assert_string_equal(json_string_value(json_object_get(j, "txID")), id);
    assert_string_equal(json_string_value(json_object_get(j, "memo")), "hi");
    assert_string_equal(json_string_value(json_object_get(j, "memoHex")), "6869");
    json_t *out0 = json_array_get(json_object_get(j, "outputs"), 0);
    assert_string_equal(json_string_value(json_object_get(out0, "amount")), "690");
    assert_string_equal(json_string_value(json_array_get(json_object_get(out0, "addresses"), 0)),
                        a0);
    json_t *x0 = json_array_get(json_object_get(j, "exportedOutputs"), 0);
    assert_string_equal(json_string_value(json_array_get(json_object_get(x0, "addresses"), 0)),
                        p2); /* no chain prefix */
    json_t *sig0 = json_array_get(
        json_object_get(json_array_get(json_object_get(j, "inputs"), 0), "signatures"), 0);
    assert_string_equal(json_string_value(json_object_get(sig0, "signer")), a0);
    /* Members in the documented order. */
    const char *order[] = {"type",
                           "signed",
                           "codec",
                           "typeID",
                           "bytes",
                           "unsignedHash",
                           "networkID",
                           "blockchainID",
                           "outputs",
                           "inputs",
                           "memoHex",
                           "memo",
                           "destinationChain",
                           "exportedOutputs",
                           "txID"};
    size_t k = 0;
    const char *key;
    json_t *val;
    json_object_foreach(j, key, val)
    {
        assert_true(k < sizeof order / sizeof *order);
        assert_string_equal(key, order[k++]);
    }
    assert_int_equal(k, sizeof order / sizeof *order);
    json_decref(j);
    free(text);

    /* A UTXO, with and without a symbol. */
    assert_int_equal(lx_utxo_to_json(&text, lx_wallet_utxo_at(w, 0, NULL), "X", "local", "LUX"),
                     LX_OK);
    j = json_loads(text, 0, NULL);
    free(text);
    uint8_t one[LX_ID_LEN];
    memset(one, 0x01, LX_ID_LEN);
    assert_int_equal(lx_id_to_cb58(id, one), LX_OK);
    char uid[LX_CB58_ID_MAX + 4];
    snprintf(uid, sizeof uid, "%s:0", id);
    assert_string_equal(json_string_value(json_object_get(j, "symbol")), "LUX");
    assert_string_equal(json_string_value(json_object_get(j, "utxoID")), uid);
    assert_string_equal(json_string_value(json_object_get(j, "amount")), "1000");
    json_decref(j);
    assert_int_equal(lx_utxo_to_json(&text, lx_wallet_utxo_at(w, 0, NULL), "X", "local", NULL),
                     LX_OK);
    j = json_loads(text, 0, NULL);
    free(text);
    assert_true(json_is_null(json_object_get(j, "symbol")));
    json_decref(j);
    assert_int_equal(lx_tx_to_json(&text, NULL, "X", "local", true), LX_EINVAL);
    assert_null(text);
    lx_tx_free(&tx);
    lx_wallet_free(&w);
}

/* ---- the node calls, against a mock ---- */

typedef struct node {
    bool no_fee_method;
    size_t asset_calls;
    char utxo_addrs[512]; /* the addresses of the last getUTXOs, joined */
    char source[16];
    json_t *own, *atomic; /* arrays of hex UTXOs to serve */
} node;

static char *hexcs(const uint8_t *b, size_t n)
{
    size_t cap = lx_hexcs_len(n);
    char *s = malloc(cap);
    assert_non_null(s);
    assert_int_equal(lx_hexcs_encode(s, cap, b, n), LX_OK);
    return s;
}

static void node_handler(void *arg, const mock_request *req, mock_reply *out)
{
    node *nd = arg;
    const char *m = req->method;
    char a[LX_CB58_ID_MAX], b[LX_CB58_ID_MAX];
    lx_id_to_cb58(a, asset_a);
    lx_id_to_cb58(b, asset_b);
    if (!strcmp(m, "info.getNetworkID")) {
        mock_result(out, req, "{\"networkID\":\"12345\"}");
    } else if (!strcmp(m, "info.getBlockchainID")) {
        const char *alias = json_string_value(json_object_get(req->params, "alias"));
        char id[LX_CB58_ID_MAX];
        lx_id_to_cb58(id, alias && !strcmp(alias, "Y") ? chain_y : chain_x);
        char *r = mock_fmt("{\"blockchainID\":\"%s\"}", id);
        mock_result(out, req, r);
        free(r);
    } else if (!strcmp(m, "info.getTxFee")) {
        if (nd->no_fee_method)
            mock_error(out, req, -32601, "the method info.getTxFee does not exist");
        else
            mock_result(out, req, "{\"txFee\":\"4242\",\"createAssetTxFee\":\"1\"}");
    } else if (!strcmp(m, "xvm.getAssetDescription")) {
        nd->asset_calls++;
        const char *q = json_string_value(json_object_get(req->params, "assetID"));
        bool is_a = q && (!strcmp(q, "LUX") || !strcmp(q, a));
        bool is_b = q && !strcmp(q, b);
        char *r = mock_fmt("{\"assetID\":\"%s\",\"name\":\"%s\",\"symbol\":\"%s\","
                           "\"denomination\":\"9\"}",
                           is_a ? a : b, is_a ? "Lux" : "Dollar", is_a ? "LUX" : "USD");
        if (is_a || is_b)
            mock_result(out, req, r);
        else
            mock_error(out, req, -32000, "asset not found");
        free(r);
    } else if (!strcmp(m, "xvm.getUTXOs")) {
        json_t *addrs = json_object_get(req->params, "addresses");
        nd->utxo_addrs[0] = '\0';
        for (size_t i = 0; i < json_array_size(addrs); i++) {
            size_t at = strlen(nd->utxo_addrs);
            snprintf(nd->utxo_addrs + at, sizeof nd->utxo_addrs - at, "%s%s", i ? "," : "",
                     json_string_value(json_array_get(addrs, i)));
        }
        const char *src = json_string_value(json_object_get(req->params, "sourceChain"));
        snprintf(nd->source, sizeof nd->source, "%s", src ? src : "");
        json_t *list = src ? nd->atomic : nd->own;
        char nf[16];
        snprintf(nf, sizeof nf, "%zu", json_array_size(list));
        json_t *res = json_pack("{s:s,s:O,s:{s:s,s:s},s:s}", "numFetched", nf, "utxos", list,
                                "endIndex", "address", "", "utxo", "", "encoding", "hex");
        char *text = json_dumps(res, JSON_COMPACT);
        mock_result(out, req, text);
        free(text);
        json_decref(res);
    } else {
        mock_error(out, req, -32601, "no such method");
    }
}

static void serve_utxo(json_t *list, uint8_t txb, const uint8_t *asset, uint64_t amount,
                       unsigned owner_set)
{
    uint8_t owners[NKEYS][LX_ADDR_LEN];
    lx_xutxo v;
    make_utxo(&v, owners, txb, 0, asset, amount, 1, owner_set, 0);
    lx_utxo *u = NULL;
    assert_int_equal(lx_utxo_new(&u, &v), LX_OK);
    uint8_t buf[256];
    size_t n = 0;
    assert_int_equal(lx_utxo_encode(u, buf, sizeof buf, &n), LX_OK);
    char *h = hexcs(buf, n);
    json_array_append_new(list, json_string(h));
    free(h);
    lx_utxo_free(&u);
}

static lx_rpc *mock_client(const mock_server *m)
{
    lx_rpc_options o;
    lx_rpc_options_init(&o);
    o.prefix = LX_RPC_PREFIX_XVM;
    o.max_retries = 0;
    o.timeout_ms = 2000;
    lx_rpc *c = NULL;
    assert_int_equal(lx_rpc_new(&c, m->url, &o), LX_OK);
    return c;
}

static void test_node_calls(void **state)
{
    (void)state;
    node nd = {.own = json_array(), .atomic = json_array()};
    serve_utxo(nd.own, 0x01, asset_a, 900, 1u << 0);
    serve_utxo(nd.own, 0x02, asset_b, 80, 1u << 1);
    /* A SECP256K1MintOutput UTXO: held by nobody's wallet, skipped. */
    uint8_t mint[2 + 32 + 4 + 32 + 4 + 8 + 4 + 4 + LX_ADDR_LEN] = {0};
    memset(mint + 2, 0x03, 32);
    memcpy(mint + 2 + 32 + 4, asset_a, LX_ID_LEN);
    mint[2 + 32 + 4 + 32 + 3] = 6;             /* type ID */
    mint[2 + 32 + 4 + 32 + 4 + 8 + 3] = 1;     /* threshold */
    mint[2 + 32 + 4 + 32 + 4 + 8 + 4 + 3] = 1; /* one address */
    memcpy(mint + sizeof mint - LX_ADDR_LEN, addr[0], LX_ADDR_LEN);
    char *h = hexcs(mint, sizeof mint);
    json_array_append_new(nd.own, json_string(h));
    free(h);
    serve_utxo(nd.atomic, 0x11, asset_a, 5000, 1u << 0);
    mock_server m;
    assert_int_equal(mock_start(&m, node_handler, &nd), 0);
    lx_rpc *c = mock_client(&m);

    lx_wallet_chain wc;
    assert_int_equal(lx_wallet_chain_query(c, &wc, "X", "LUX"), LX_OK);
    assert_int_equal(wc.network_id, 12345);
    assert_memory_equal(wc.blockchain_id, chain_x, LX_ID_LEN);
    assert_memory_equal(wc.fee_asset, asset_a, LX_ID_LEN);
    assert_int_equal(wc.fee, 4242);
    nd.no_fee_method = true;
    assert_int_equal(lx_wallet_chain_query(c, &wc, "X", "LUX"), LX_OK);
    assert_int_equal(wc.fee, LX_WALLET_DEFAULT_FEE);
    assert_int_equal(lx_wallet_chain_query(c, &wc, "X", "NOPE"), LX_ERPC);

    lx_wallet *w = NULL;
    assert_int_equal(lx_wallet_new(&w, &wc), LX_OK);
    assert_int_equal(lx_wallet_fetch_own(w, NULL, c, "X", "local", NULL), LX_EINVAL); /* no key */
    assert_int_equal(lx_wallet_add_key(w, keys[0]), LX_OK);
    assert_int_equal(lx_wallet_add_key(w, keys[1]), LX_OK);
    size_t skipped = 9;
    assert_int_equal(lx_wallet_fetch_own(w, &skipped, c, "X", "local", NULL), LX_OK);
    assert_int_equal(skipped, 1);
    char want[256], a0[LX_ADDR_STR_MAX], a1[LX_ADDR_STR_MAX];
    lx_address_encode(a0, sizeof a0, "X", "local", addr[0]);
    lx_address_encode(a1, sizeof a1, "X", "local", addr[1]);
    snprintf(want, sizeof want, "%s,%s", a0, a1);
    assert_string_equal(nd.utxo_addrs, want);
    assert_string_equal(nd.source, "");
    assert_int_equal(lx_wallet_fetch_own(w, &skipped, c, "X", "local", "Y"), LX_OK);
    assert_string_equal(nd.source, "Y");
    assert_int_equal(skipped, 0);
    assert_int_equal(lx_wallet_utxo_count(w), 3);
    bool atomic = true;
    const lx_xutxo *u = lx_wallet_utxo_at(w, 0, &atomic);
    assert_false(atomic);
    assert_int_equal(u->out.amount, 900);
    u = lx_wallet_utxo_at(w, 2, &atomic);
    assert_true(atomic);
    assert_int_equal(u->out.amount, 5000);

    /* The asset cache asks once per asset, by symbol or by ID. */
    lx_asset_cache *ac = NULL;
    assert_int_equal(lx_asset_cache_new(&ac, c), LX_OK);
    const lx_rpc_asset *as = NULL;
    nd.asset_calls = 0;
    assert_int_equal(lx_asset_cache_find(ac, &as, "LUX"), LX_OK);
    assert_memory_equal(as->asset_id, asset_a, LX_ID_LEN);
    assert_int_equal(nd.asset_calls, 2); /* the alias, then the ID */
    char b58[LX_CB58_ID_MAX];
    lx_id_to_cb58(b58, asset_a);
    assert_int_equal(lx_asset_cache_find(ac, &as, b58), LX_OK);
    assert_int_equal(lx_asset_cache_find(ac, &as, "LUX"), LX_OK);
    assert_string_equal(lx_asset_cache_symbol(ac, asset_a), "LUX");
    assert_int_equal(nd.asset_calls, 2);
    assert_string_equal(lx_asset_cache_symbol(ac, asset_b), "USD");
    assert_string_equal(lx_asset_cache_symbol(ac, asset_b), "USD");
    assert_int_equal(nd.asset_calls, 3);
    uint8_t none[LX_ID_LEN];
    memset(none, 0x77, LX_ID_LEN);
    assert_null(lx_asset_cache_symbol(ac, none));
    assert_int_equal(lx_asset_cache_find(ac, &as, "NOPE"), LX_ERPC);
    assert_null(as);
    lx_asset_cache_free(&ac);
    assert_null(ac);

    lx_wallet_free(&w);
    lx_rpc_free(&c);
    mock_stop(&m);
    json_decref(nd.own);
    json_decref(nd.atomic);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_largest_first),
        cmocka_unit_test(test_ties_by_txid),
        cmocka_unit_test(test_named_utxos),
        cmocka_unit_test(test_from_owners),
        cmocka_unit_test(test_change_per_asset),
        cmocka_unit_test(test_insufficient_and_locked),
        cmocka_unit_test(test_multisig_first_threshold_keys),
        cmocka_unit_test(test_import_fee_from_imported),
        cmocka_unit_test(test_import_fee_from_own),
        cmocka_unit_test(test_export),
        cmocka_unit_test(test_keys_utxos_sums),
        cmocka_unit_test(test_parsers),
        cmocka_unit_test(test_tx_json),
        cmocka_unit_test(test_node_calls),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
