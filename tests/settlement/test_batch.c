/* Fill leaves and batches: the byte layouts, encode/decode round trips, the
 * validating decoder's rejections, fill proofs against a decoded batch, the
 * chain rule, what a settlement tx must pay, and a built batch rebuilt from
 * its parts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lx/settlement.h"

static lx_event fill_event(uint64_t i)
{
    lx_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = LX_EV_FILL;
    ev.cmd = LX_CMD_ORDER;
    ev.side = (uint8_t)(i % 2);
    ev.market = (uint32_t)(i % 2);
    ev.id = 1000 + i;
    ev.account = 1 + i % 7;
    ev.u.fill.maker = 5000 + i;
    ev.u.fill.maker_account = 8 + i % 5;
    ev.u.fill.price = 100 + i % 13;
    ev.u.fill.qty = 1 + i % 4;
    ev.u.fill.maker_fee = i % 3;
    ev.u.fill.taker_fee = 1 + i % 2;
    return ev;
}

static void asset(uint8_t id[32], uint8_t v)
{
    memset(id, v, 32);
}

static lx_batch_builder *new_builder(uint64_t number, const uint8_t *prev)
{
    lx_batch_config cfg;
    memset(&cfg, 0, sizeof cfg);
    memset(cfg.channel_id, 0xcc, 32);
    cfg.fee_account = 99;
    asset(cfg.fee_asset, 0xa0);
    cfg.tx_fee = 1000;
    cfg.next_number = number;
    if (prev)
        memcpy(cfg.prev_hash, prev, 32);
    cfg.next_seq = 1;
    lx_batch_builder *b = NULL;
    assert_int_equal(lx_batch_builder_new(&b, &cfg), LX_OK);
    uint8_t id[32];
    for (uint32_t a = 0; a < 3; a++) {
        asset(id, (uint8_t)(0xa0 + a));
        assert_int_equal(lx_batch_builder_add_asset(b, a, id), LX_OK);
    }
    assert_int_equal(lx_batch_builder_add_market(b, 0, 1, 0, 10), LX_OK);
    assert_int_equal(lx_batch_builder_add_market(b, 1, 2, 0, 100), LX_OK);
    return b;
}

/* A batch of nfills fills, 3 deposits and 2 withdrawals over seqs 1..9. */
static lx_batch *make_batch(size_t nfills)
{
    lx_batch_builder *b = new_builder(1, NULL);
    uint8_t dest[20];
    memset(dest, 0x44, sizeof dest);
    assert_int_equal(lx_batch_builder_add_deposit(b, 1, 3, 0, 500), LX_OK);
    assert_int_equal(lx_batch_builder_add_deposit(b, 1, 4, 1, 70), LX_OK);
    for (size_t i = 0; i < nfills; i++) {
        lx_event ev = fill_event(i);
        assert_int_equal(lx_batch_builder_add_fill(b, 2 + i / 10, &ev), LX_OK);
    }
    uint64_t s = 2 + nfills / 10;
    assert_int_equal(lx_batch_builder_add_deposit(b, s, 5, 2, 9), LX_OK);
    assert_int_equal(lx_batch_builder_add_withdrawal(b, s, 3, 0, 200, dest), LX_OK);
    assert_int_equal(lx_batch_builder_add_withdrawal(b, s + 1, 4, 0, 50, dest), LX_OK);
    lx_batch *batch = NULL;
    assert_int_equal(lx_batch_builder_close(b, &batch, s + 3), LX_OK);
    lx_batch_builder_free(&b);
    return batch;
}

static uint8_t *encode(const lx_batch *b, size_t *len)
{
    size_t n = lx_batch_encoded_len(b);
    uint8_t *buf = malloc(n + 1);
    assert_non_null(buf);
    assert_int_equal(lx_batch_encode(b, buf, n, len), LX_OK);
    assert_int_equal(*len, n);
    return buf;
}

static void test_fill_leaf(void **state)
{
    (void)state;
    lx_event ev = fill_event(3);
    lx_fill_leaf f, g;
    assert_int_equal(lx_fill_leaf_from_event(&f, 0x0102030405060708u, 77, &ev), LX_OK);
    uint8_t buf[LX_FILL_LEAF_LEN + 1];
    assert_int_equal(lx_fill_leaf_encode(buf, &f), LX_OK);
    static const uint8_t seq[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    assert_memory_equal(buf, seq, 8);
    assert_int_equal(buf[15], 77);    /* log seq */
    assert_int_equal(buf[19], 1);     /* market 3 % 2 */
    assert_int_equal(buf[27], 0x8b);  /* maker order 5003 = 0x138b */
    assert_int_equal(buf[35], 8 + 3); /* maker account */
    assert_int_equal(buf[43], 0xeb);  /* taker order 1003 = 0x3eb */
    assert_int_equal(buf[51], 4);     /* taker account */
    assert_int_equal(buf[59], 103);   /* price */
    assert_int_equal(buf[67], 4);     /* qty */
    assert_int_equal(buf[68], LX_SELL);
    assert_int_equal(buf[76], 0); /* maker fee 3 % 3 */
    assert_int_equal(buf[84], 2); /* taker fee */
    assert_int_equal(lx_fill_leaf_decode(&g, buf, LX_FILL_LEAF_LEN), LX_OK);
    assert_memory_equal(&f, &g, sizeof f);
    uint8_t h[32], want[32], pre[1 + LX_FILL_LEAF_LEN] = {0};
    memcpy(pre + 1, buf, LX_FILL_LEAF_LEN);
    assert_int_equal(lx_sha256(want, pre, sizeof pre), LX_OK);
    assert_int_equal(lx_fill_leaf_hash(h, &f), LX_OK);
    assert_memory_equal(h, want, 32);

    assert_int_equal(lx_fill_leaf_decode(&g, buf, LX_FILL_LEAF_LEN - 1), LX_EFORMAT);
    assert_int_equal(lx_fill_leaf_decode(&g, buf, LX_FILL_LEAF_LEN + 1), LX_EFORMAT);
    buf[68] = 2;
    assert_int_equal(lx_fill_leaf_decode(&g, buf, LX_FILL_LEAF_LEN), LX_EFORMAT);
    f.taker_side = 2;
    assert_int_equal(lx_fill_leaf_encode(buf, &f), LX_EINVAL);
    ev.type = LX_EV_ACCEPTED;
    assert_int_equal(lx_fill_leaf_from_event(&f, 0, 0, &ev), LX_EINVAL);
}

static void test_round_trip(void **state)
{
    (void)state;
    lx_batch *b = make_batch(57);
    size_t len, len2;
    uint8_t *buf = encode(b, &len);
    size_t nd, nw;
    lx_batch_deposits(b, &nd);
    lx_batch_withdrawals(b, &nw);
    assert_int_equal(nd, 3);
    assert_int_equal(nw, 2);
    assert_int_equal(len, LX_BATCH_HEADER_LEN + 4 + 3 * 56 + 4 + 2 * 76);
    assert_int_equal(buf[0], LX_BATCH_VERSION);

    lx_batch *d = NULL;
    assert_int_equal(lx_batch_decode(&d, buf, len), LX_OK);
    uint8_t *buf2 = encode(d, &len2);
    assert_int_equal(len2, len);
    assert_memory_equal(buf2, buf, len);
    uint8_t h1[32], h2[32], h3[32];
    assert_int_equal(lx_batch_hash(b, h1), LX_OK);
    assert_int_equal(lx_batch_hash(d, h2), LX_OK);
    assert_int_equal(lx_sha256(h3, buf, len), LX_OK);
    assert_memory_equal(h1, h2, 32);
    assert_memory_equal(h1, h3, 32);
    lx_batch_info ib, id;
    assert_int_equal(lx_batch_info_get(b, &ib), LX_OK);
    assert_int_equal(lx_batch_info_get(d, &id), LX_OK);
    assert_memory_equal(&ib, &id, sizeof ib);
    assert_int_equal(ib.fill_count, 57);
    assert_int_equal(ib.first_seq, 1);
    size_t nd2, nw2;
    const lx_transfer *wb = lx_batch_withdrawals(b, &nw), *wd = lx_batch_withdrawals(d, &nw2);
    assert_int_equal(nw, nw2);
    assert_memory_equal(wb, wd, nw * sizeof *wb);
    const lx_transfer *db = lx_batch_deposits(b, &nd), *dd = lx_batch_deposits(d, &nd2);
    assert_memory_equal(db, dd, nd * sizeof *db);
    /* A decoded batch carries no fills or net changes, and makes no proofs. */
    size_t n;
    lx_batch_fills(d, &n);
    assert_int_equal(n, 0);
    lx_batch_net_changes(d, &n);
    assert_int_equal(n, 0);
    lx_merkle_proof p;
    assert_int_equal(lx_batch_fill_proof(d, &p, 0), LX_ESTATE);

    /* Small buffers. */
    assert_int_equal(lx_batch_encode(b, buf2, len - 1, &len2), LX_EINVAL);
    free(buf);
    free(buf2);
    lx_batch_free(&b);
    lx_batch_free(&d);
    assert_null(d);
    lx_batch_free(&d);
}

static lx_err decode_rc(const uint8_t *buf, size_t len)
{
    lx_batch *d = NULL;
    lx_err err = lx_batch_decode(&d, buf, len);
    if (err == LX_OK)
        lx_batch_free(&d);
    else
        assert_null(d);
    return err;
}

static void test_decoder_rejects(void **state)
{
    (void)state;
    lx_batch *b = make_batch(20);
    size_t len;
    uint8_t *good = encode(b, &len);
    uint8_t *buf = malloc(len + 8);
    assert_non_null(buf);
    assert_int_equal(decode_rc(good, len), LX_OK);

    /* Every truncation, and a trailing byte. */
    for (size_t cut = 0; cut < len; cut++)
        assert_int_equal(decode_rc(good, cut), LX_EFORMAT);
    memcpy(buf, good, len);
    buf[len] = 0;
    assert_int_equal(decode_rc(buf, len + 1), LX_EFORMAT);

    /* Field offsets in the header. */
    const size_t o_number = 33, o_prev = 41, o_first = 73, o_last = 81, o_fcount = 97,
                 o_froot = 105, o_ncount = 137, o_ndep = LX_BATCH_HEADER_LEN;
    const size_t o_dep0 = o_ndep + 4, o_nwd = o_dep0 + 3 * 56, o_wd0 = o_nwd + 4;

#define MUTATE(stmt, want)                                                                         \
    do {                                                                                           \
        memcpy(buf, good, len);                                                                    \
        stmt;                                                                                      \
        assert_int_equal(decode_rc(buf, len), want);                                               \
    } while (0)

    MUTATE(buf[0] = 2, LX_EFORMAT);                         /* version */
    MUTATE(memset(buf + o_number, 0, 8), LX_ECANONICAL);    /* batch 0 */
    MUTATE(buf[o_number + 7] = 2, LX_ECANONICAL);           /* 2 with a zero prev */
    MUTATE(buf[o_prev] = 1, LX_ECANONICAL);                 /* 1 with a prev */
    MUTATE(buf[o_first + 7] = 0xff, LX_ECANONICAL);         /* first > last */
    MUTATE(memset(buf + o_fcount, 0, 8), LX_ECANONICAL);    /* 0 fills, root not empty */
    MUTATE(memset(buf + o_ncount, 0, 4), LX_ECANONICAL);    /* 0 changes, root not empty */
    MUTATE(buf[o_ndep + 3] = 4, LX_EFORMAT);                /* one deposit too many */
    MUTATE(buf[o_ndep + 3] = 2, LX_EFORMAT);                /* one too few */
    MUTATE(buf[o_ndep + 1] = 0x10, LX_ETOOBIG);             /* over the cap */
    MUTATE(buf[o_nwd + 3] = 3, LX_EFORMAT);                 /* withdrawals */
    MUTATE(buf[o_nwd + 2] = 1, LX_ETOOBIG);                 /* 258 > 256 */
    MUTATE(memset(buf + o_dep0 + 48, 0, 8), LX_ECANONICAL); /* zero amount */
    MUTATE(memset(buf + o_wd0 + 48, 0, 8), LX_ECANONICAL);  /* zero amount */
    MUTATE(buf[o_dep0 + 7] = 0, LX_ECANONICAL);             /* seq below the range */
    MUTATE(buf[o_wd0 + 7] = 0x7f, LX_ECANONICAL);           /* seq above the range */
    MUTATE(buf[o_dep0 + 56 + 7] = 5, LX_ECANONICAL);        /* seqs going back: 1, 5, 4 */
    MUTATE(memset(buf + o_last, 0xff, 8), LX_OK);           /* a wider range is fine */
    MUTATE(buf[o_froot] ^= 1, LX_OK); /* the root itself is not checkable here */
#undef MUTATE
    assert_int_equal(lx_batch_decode(NULL, good, len), LX_EINVAL);
    lx_batch *d = NULL;
    assert_int_equal(lx_batch_decode(&d, NULL, 5), LX_EINVAL);
    free(buf);
    free(good);
    lx_batch_free(&b);
}

static void test_fill_proofs(void **state)
{
    (void)state;
    lx_batch *b = make_batch(101);
    size_t len;
    uint8_t *buf = encode(b, &len);
    lx_batch *d = NULL;
    assert_int_equal(lx_batch_decode(&d, buf, len), LX_OK);
    size_t n;
    const lx_fill_leaf *fills = lx_batch_fills(b, &n);
    assert_int_equal(n, 101);
    for (size_t i = 0; i < n; i++) {
        lx_merkle_proof p, q;
        assert_int_equal(lx_batch_fill_proof(b, &p, i), LX_OK);
        /* An auditor holds the decoded batch, the leaf and the proof. */
        assert_int_equal(lx_batch_verify_fill(d, &fills[i], &p), LX_OK);
        lx_fill_leaf f = fills[i];
        f.qty++;
        assert_int_equal(lx_batch_verify_fill(d, &f, &p), LX_ECRYPTO);
        f = fills[i];
        f.fill_seq++;
        assert_int_equal(lx_batch_verify_fill(d, &f, &p), LX_ECRYPTO);
        q = p;
        q.count = n + 1; /* the batch says 101 */
        assert_int_equal(lx_batch_verify_fill(d, &fills[i], &q), LX_EFORMAT);
        if (i + 1 < n)
            assert_int_not_equal(lx_batch_verify_fill(d, &fills[i + 1], &p), LX_OK);
    }
    lx_merkle_proof p;
    assert_int_equal(lx_batch_fill_proof(b, &p, n), LX_EINVAL);
    free(buf);
    lx_batch_free(&b);
    lx_batch_free(&d);
}

/* A built batch rebuilt from its encoding, leaves and net changes answers
 * the same proofs; parts that are not the batch's are refused. */
static void test_rebuild(void **state)
{
    (void)state;
    lx_batch *b = make_batch(37);
    size_t len, nf, nn;
    uint8_t *buf = encode(b, &len);
    const lx_fill_leaf *fills = lx_batch_fills(b, &nf);
    const lx_net_change *net = lx_batch_net_changes(b, &nn);
    assert_true(nf == 37 && nn > 2);
    lx_batch *r = NULL;
    assert_int_equal(lx_batch_rebuild(&r, buf, len, fills, nf, net, nn), LX_OK);
    size_t rlen, n2;
    uint8_t *again = encode(r, &rlen);
    assert_int_equal(rlen, len);
    assert_memory_equal(again, buf, len);
    assert_memory_equal(lx_batch_fills(r, &n2), fills, nf * sizeof *fills);
    assert_memory_equal(lx_batch_net_changes(r, &n2), net, nn * sizeof *net);
    for (size_t i = 0; i < nf; i++) {
        lx_merkle_proof p, q;
        assert_int_equal(lx_batch_fill_proof(b, &p, i), LX_OK);
        assert_int_equal(lx_batch_fill_proof(r, &q, i), LX_OK);
        assert_memory_equal(&p, &q, sizeof p);
    }
    free(again);
    lx_batch_free(&r);

    lx_fill_leaf *f = malloc(nf * sizeof *f);
    lx_net_change *c = malloc(nn * sizeof *c);
    memcpy(f, fills, nf * sizeof *f);
    memcpy(c, net, nn * sizeof *c);
    assert_int_equal(lx_batch_rebuild(&r, buf, len, f, nf - 1, c, nn), LX_ECORRUPT);
    assert_int_equal(lx_batch_rebuild(&r, buf, len, f, nf, c, nn - 1), LX_ECORRUPT);
    f[5].price++;
    assert_int_equal(lx_batch_rebuild(&r, buf, len, f, nf, c, nn), LX_ECORRUPT);
    f[5] = fills[5];
    f[5].fill_seq++;
    assert_int_equal(lx_batch_rebuild(&r, buf, len, f, nf, c, nn), LX_ECORRUPT);
    f[5] = fills[5];
    c[1].delta++;
    assert_int_equal(lx_batch_rebuild(&r, buf, len, f, nf, c, nn), LX_ECORRUPT);
    c[1] = net[1];
    lx_net_change t = c[0];
    c[0] = c[1];
    c[1] = t; /* not canonical */
    assert_int_equal(lx_batch_rebuild(&r, buf, len, f, nf, c, nn), LX_ECORRUPT);
    c[1] = c[0];
    c[0] = t;
    assert_int_equal(lx_batch_rebuild(&r, buf, len - 1, f, nf, c, nn), LX_EFORMAT);
    assert_int_equal(lx_batch_rebuild(&r, buf, len, NULL, nf, c, nn), LX_EINVAL);
    assert_int_equal(lx_batch_rebuild(NULL, buf, len, f, nf, c, nn), LX_EINVAL);
    assert_null(r);
    assert_int_equal(lx_batch_rebuild(&r, buf, len, f, nf, c, nn), LX_OK);
    lx_batch_free(&r);
    free(f);
    free(c);
    free(buf);
    lx_batch_free(&b);
}

static void test_chain_and_needs(void **state)
{
    (void)state;
    lx_batch *a = make_batch(5);
    uint8_t ha[32];
    assert_int_equal(lx_batch_hash(a, ha), LX_OK);
    lx_batch_info ia;
    assert_int_equal(lx_batch_info_get(a, &ia), LX_OK);

    /* A builder restarted at batch 2 after a. */
    lx_batch_config cfg;
    memset(&cfg, 0, sizeof cfg);
    memset(cfg.channel_id, 0xcc, 32);
    cfg.next_number = 2;
    memcpy(cfg.prev_hash, ha, 32);
    cfg.next_seq = ia.last_seq + 1;
    cfg.next_fill = ia.first_fill + ia.fill_count;
    lx_batch_builder *bb = NULL;
    lx_batch *b = NULL;
    assert_int_equal(lx_batch_builder_new(&bb, &cfg), LX_OK);
    assert_int_equal(lx_batch_builder_close(bb, &b, cfg.next_seq), LX_OK);
    assert_int_equal(lx_batch_follows(b, a), LX_OK);
    lx_batch_builder_free(&bb);
    lx_batch_free(&b);
    /* Off by one anywhere breaks the chain. */
    cfg.next_seq++;
    assert_int_equal(lx_batch_builder_new(&bb, &cfg), LX_OK);
    assert_int_equal(lx_batch_builder_close(bb, &b, cfg.next_seq), LX_OK);
    assert_int_equal(lx_batch_follows(b, a), LX_ESTATE);
    lx_batch_builder_free(&bb);
    lx_batch_free(&b);
    cfg.next_seq--;
    cfg.next_fill++;
    assert_int_equal(lx_batch_builder_new(&bb, &cfg), LX_OK);
    assert_int_equal(lx_batch_builder_close(bb, &b, cfg.next_seq), LX_OK);
    assert_int_equal(lx_batch_follows(b, a), LX_ESTATE);
    lx_batch_builder_free(&bb);
    lx_batch_free(&b);
    cfg.next_fill--;
    cfg.channel_id[0] ^= 1;
    assert_int_equal(lx_batch_builder_new(&bb, &cfg), LX_OK);
    assert_int_equal(lx_batch_builder_close(bb, &b, cfg.next_seq), LX_OK);
    assert_int_equal(lx_batch_follows(b, a), LX_ESTATE);
    lx_batch_builder_free(&bb);
    lx_batch_free(&b);

    /* Needs: withdrawals of asset a0 (200 + 50) plus the fee in a0. */
    lx_asset_amount *needs = NULL;
    size_t n = 0;
    assert_int_equal(lx_batch_needs(a, &needs, &n), LX_OK);
    assert_int_equal(n, 1);
    uint8_t a0[32];
    asset(a0, 0xa0);
    assert_memory_equal(needs[0].asset_id, a0, 32);
    assert_int_equal(needs[0].amount, 250 + 1000);
    free(needs);
    lx_batch_free(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fill_leaf),       cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_decoder_rejects), cmocka_unit_test(test_fill_proofs),
        cmocka_unit_test(test_chain_and_needs), cmocka_unit_test(test_rebuild),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
