/* The batch builder's state encoding: a decoded builder closes the same
 * batches as the one encoded, re-encodes to the same bytes, and goes on
 * alike; every truncation is refused, and so is each field that no builder
 * could hold, without reading past the input (run under ASan). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lx/settlement.h"

/* Offsets in the encoding (see lx/settlement.h). */
#define OFF_NEXT_NUMBER (1 + 32 + 8 + 32 + 8)
#define OFF_NEXT_FILL (OFF_NEXT_NUMBER + 8 + 32 + 8)
#define OFF_LAST_SEQ (OFF_NEXT_FILL + 8)
#define OFF_ASSETS (OFF_LAST_SEQ + 8)

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

static lx_batch_builder *new_builder(void)
{
    lx_batch_config cfg;
    memset(&cfg, 0, sizeof cfg);
    memset(cfg.channel_id, 0xcc, 32);
    cfg.fee_account = 99;
    asset(cfg.fee_asset, 0xa0);
    cfg.tx_fee = 1000;
    cfg.next_number = 1;
    cfg.next_seq = 1;
    lx_batch_builder *b = NULL;
    assert_int_equal(lx_batch_builder_new(&b, &cfg), LX_OK);
    uint8_t id[32];
    /* engine assets 0, 1 and 4 (2 and 3 have no X-Chain ID) */
    for (uint32_t a = 0; a < 5; a++) {
        if (a == 2 || a == 3)
            continue;
        asset(id, (uint8_t)(0xa0 + a));
        assert_int_equal(lx_batch_builder_add_asset(b, a, id), LX_OK);
    }
    assert_int_equal(lx_batch_builder_add_market(b, 0, 1, 0, 10), LX_OK);
    assert_int_equal(lx_batch_builder_add_market(b, 1, 4, 0, 100), LX_OK);
    assert_int_equal(lx_batch_builder_add_market(b, 3, 2, 0, 7), LX_OK); /* assets unmapped */
    return b;
}

static lx_err dest_of(void *arg, uint8_t dest[LX_XADDR_LEN], uint64_t account, uint32_t a)
{
    (void)arg;
    memset(dest, 0x40, LX_XADDR_LEN);
    dest[0] = (uint8_t)account;
    dest[1] = (uint8_t)a;
    return LX_OK;
}

/* Blocks first..first+nblocks-1: fills in most, a deposit and a withdrawal
 * in some, one block with nothing for the batch. */
static void feed(lx_batch_builder *b, uint64_t first, size_t nblocks, uint64_t *fill_no)
{
    for (uint64_t s = first; s < first + nblocks; s++) {
        lx_event evs[6];
        size_t n = 0;
        if (s % 5 != 3)
            for (int k = 0; k < 3; k++)
                evs[n++] = fill_event((*fill_no)++);
        if (s % 4 == 1) {
            lx_event d;
            memset(&d, 0, sizeof d);
            d.type = LX_EV_BALANCE;
            d.cmd = LX_CMD_DEPOSIT;
            d.account = 3 + s % 3;
            d.market = 0; /* the asset */
            d.u.balance.amount = 1000 + s;
            evs[n++] = d;
        }
        if (s % 6 == 2) {
            lx_event w;
            memset(&w, 0, sizeof w);
            w.type = LX_EV_BALANCE;
            w.cmd = LX_CMD_WITHDRAW;
            w.account = 3 + s % 3;
            w.market = 4;
            w.u.balance.amount = 7 + s;
            evs[n++] = w;
        }
        assert_int_equal(lx_batch_builder_add_events(b, s, evs, n, dest_of, NULL), LX_OK);
    }
}

static uint8_t *enc(const lx_batch_builder *b, size_t *len)
{
    uint8_t *buf = NULL;
    assert_int_equal(lx_batch_builder_encode(b, &buf, len), LX_OK);
    assert_non_null(buf);
    return buf;
}

static lx_batch_builder *dec(const uint8_t *buf, size_t len)
{
    lx_batch_builder *b = NULL;
    assert_int_equal(lx_batch_builder_decode(&b, buf, len, 0), LX_OK);
    assert_non_null(b);
    return b;
}

/* Closes both at last_seq: the same batch, byte for byte, with the same
 * fills and net changes. */
static void same_close(lx_batch_builder *a, lx_batch_builder *b, uint64_t last_seq)
{
    lx_batch *x = NULL, *y = NULL;
    assert_int_equal(lx_batch_builder_close(a, &x, last_seq), LX_OK);
    assert_int_equal(lx_batch_builder_close(b, &y, last_seq), LX_OK);
    size_t nx = lx_batch_encoded_len(x), ny = lx_batch_encoded_len(y), w;
    assert_int_equal(nx, ny);
    uint8_t *bx = malloc(nx), *by = malloc(ny);
    assert_int_equal(lx_batch_encode(x, bx, nx, &w), LX_OK);
    assert_int_equal(lx_batch_encode(y, by, ny, &w), LX_OK);
    assert_memory_equal(bx, by, nx);
    size_t fx, fy, cx, cy;
    const lx_fill_leaf *lfx = lx_batch_fills(x, &fx), *lfy = lx_batch_fills(y, &fy);
    assert_int_equal(fx, fy);
    if (fx)
        assert_memory_equal(lfx, lfy, fx * sizeof *lfx);
    const lx_net_change *ncx = lx_batch_net_changes(x, &cx), *ncy = lx_batch_net_changes(y, &cy);
    assert_int_equal(cx, cy);
    assert_true(cx > 0);
    assert_memory_equal(ncx, ncy, cx * sizeof *ncx);
    free(bx);
    free(by);
    lx_batch_free(&x);
    lx_batch_free(&y);
}

static void test_round_trip(void **state)
{
    (void)state;
    lx_batch_builder *a = new_builder();
    uint64_t fills = 0;
    feed(a, 1, 20, &fills);
    size_t len, len2;
    uint8_t *buf = enc(a, &len);
    lx_batch_builder *b = dec(buf, len);
    uint8_t *again = enc(b, &len2);
    assert_int_equal(len, len2);
    assert_memory_equal(buf, again, len);
    assert_int_equal(lx_batch_builder_fill_count(b), fills);
    assert_int_equal(lx_batch_builder_withdrawal_count(b), lx_batch_builder_withdrawal_count(a));
    free(again);
    free(buf);
    same_close(a, b, 22);

    /* The second batch: chained, with a prev_hash and a fill offset; both
     * go on alike, also after another encode in the middle of it. */
    uint64_t fills_b = fills; /* the same events again */
    feed(a, 23, 7, &fills);
    feed(b, 23, 7, &fills_b);
    buf = enc(a, &len);
    lx_batch_builder_free(&b);
    b = dec(buf, len);
    again = enc(b, &len2);
    assert_int_equal(len, len2);
    assert_memory_equal(buf, again, len);
    free(again);
    free(buf);
    uint64_t f2 = fills;
    feed(a, 30, 4, &fills);
    feed(b, 30, 4, &f2);
    same_close(a, b, 34);
    lx_batch_builder_free(&a);
    lx_batch_builder_free(&b);

    /* A builder that holds nothing round-trips too. */
    a = new_builder();
    buf = enc(a, &len);
    b = dec(buf, len);
    again = enc(b, &len2);
    assert_int_equal(len, len2);
    assert_memory_equal(buf, again, len);
    free(again);
    free(buf);
    lx_batch_builder_free(&a);
    lx_batch_builder_free(&b);
}

static void test_bad_args(void **state)
{
    (void)state;
    uint8_t *buf = (uint8_t *)"x";
    size_t len = 1;
    lx_batch_builder *b = NULL;
    assert_int_equal(lx_batch_builder_encode(NULL, &buf, &len), LX_EINVAL);
    assert_null(buf);
    assert_int_equal(len, 0);
    assert_int_equal(lx_batch_builder_decode(NULL, buf, 0, 0), LX_EINVAL);
    assert_int_equal(lx_batch_builder_decode(&b, NULL, 5, 0), LX_EINVAL);
    assert_int_equal(lx_batch_builder_decode(&b, NULL, 0, 0), LX_EFORMAT);
    assert_null(b);
}

static lx_err try_decode(const uint8_t *buf, size_t len)
{
    lx_batch_builder *b = NULL;
    lx_err err = lx_batch_builder_decode(&b, buf, len, 0);
    if (err == LX_OK) {
        assert_non_null(b);
        lx_batch_builder_free(&b);
    } else {
        assert_null(b);
    }
    return err;
}

static void test_truncated_and_trailing(void **state)
{
    (void)state;
    lx_batch_builder *a = new_builder();
    uint64_t fills = 0;
    feed(a, 1, 9, &fills);
    size_t len;
    uint8_t *buf = enc(a, &len);
    /* Every proper prefix is refused; each copy is exactly that long, so
     * ASan catches a read past it. */
    for (size_t n = 0; n < len; n++) {
        uint8_t *cut = malloc(n ? n : 1);
        memcpy(cut, buf, n);
        lx_err err = try_decode(cut, n);
        assert_true(err == LX_EFORMAT);
        free(cut);
    }
    uint8_t *more = malloc(len + 1);
    memcpy(more, buf, len);
    more[len] = 0;
    assert_int_equal(try_decode(more, len + 1), LX_EFORMAT);
    assert_int_equal(try_decode(buf, len), LX_OK);
    free(more);
    free(buf);
    lx_batch_builder_free(&a);
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static void put64(uint8_t *p, uint64_t v)
{
    put32(p, (uint32_t)(v >> 32));
    put32(p + 4, (uint32_t)v);
}

static uint64_t get64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

static void test_bad_fields(void **state)
{
    (void)state;
    lx_batch_builder *a = new_builder();
    uint64_t fills = 0;
    feed(a, 1, 9, &fills);
    size_t len;
    uint8_t *buf = enc(a, &len), *c = malloc(len);
    /* assets: 3 entries of 36 bytes, then markets: 3 of 20, then fills */
    size_t off_markets = OFF_ASSETS + 4 + 3 * 36;
    size_t off_fills = off_markets + 4 + 3 * 20;
    size_t off_leaf0 = off_fills + 8;
    size_t off_deps = off_leaf0 + fills * LX_FILL_LEAF_LEN;
    assert_int_equal(get64(buf + off_fills), fills);
#define TRY(what, edit, want)                                                                      \
    do {                                                                                           \
        memcpy(c, buf, len);                                                                       \
        edit;                                                                                      \
        print_message("  %s\n", what);                                                             \
        assert_int_equal(try_decode(c, len), want);                                                \
    } while (0)
    TRY("version 2", c[0] = 2, LX_EFORMAT);
    TRY("next_number 0", put64(c + OFF_NEXT_NUMBER, 0), LX_EFORMAT);
    TRY("batch 2 without a prev_hash", put64(c + OFF_NEXT_NUMBER, 2), LX_EFORMAT);
    TRY("last_seq before the last block added", put64(c + OFF_LAST_SEQ, 8), LX_EFORMAT);
    TRY("assets not increasing", put32(c + OFF_ASSETS + 4 + 36, 0), LX_EFORMAT);
    TRY("an asset index over the table", put32(c + OFF_ASSETS + 4 + 72, 70000), LX_EFORMAT);
    TRY("an asset ID given twice", memset(c + OFF_ASSETS + 4 + 36 + 4, 0xa0, 32), LX_EFORMAT);
    TRY("markets not increasing", put32(c + off_markets + 4 + 20, 0), LX_EFORMAT);
    TRY("a market of one asset", put32(c + off_markets + 4 + 8, 1), LX_EFORMAT);
    TRY("a market of lot 0", put64(c + off_markets + 4 + 12, 0), LX_EFORMAT);
    TRY("an asset count over the bytes", put32(c + OFF_ASSETS, 1000), LX_EFORMAT);
    TRY("a fill count over the bytes", put64(c + off_fills, fills + 100), LX_EFORMAT);
    TRY("a fill count of 2^64 - 1", put64(c + off_fills, UINT64_MAX), LX_EFORMAT);
    TRY("a fill with another index", c[off_leaf0 + 7] ^= 1, LX_EFORMAT);
    TRY("the first fill numbered after next_fill", put64(c + OFF_NEXT_FILL, 1), LX_EFORMAT);
    TRY("a fill before the batch's first block", put64(c + off_leaf0 + 8, 0), LX_EFORMAT);
    TRY("a fill in a market without IDs", put32(c + off_leaf0 + 16, 3), LX_EFORMAT);
    TRY("a fill in an unknown market", put32(c + off_leaf0 + 16, 2), LX_EFORMAT);
    TRY("a fill with a bad side", c[off_leaf0 + 68] = 2, LX_EFORMAT);
    TRY("a deposit of an unknown asset", c[off_deps + 4 + 16] ^= 0xff, LX_EFORMAT);
    TRY("a deposit of 0", put64(c + off_deps + 4 + 48, 0), LX_EFORMAT);
    TRY("a deposit after last_seq", put64(c + off_deps + 4, 500), LX_EFORMAT);
    TRY("deposits over their cap", put32(c + off_deps, LX_BATCH_DEPOSITS_MAX + 1), LX_ETOOBIG);
    /* Withdrawals come last: the count's offset from the end. */
    size_t nw = lx_batch_builder_withdrawal_count(a);
    assert_true(nw > 0);
    size_t off_wd = len - 4 - nw * 76;
    TRY("withdrawals over their cap", put32(c + off_wd, LX_BATCH_WITHDRAWALS_MAX + 1), LX_ETOOBIG);
    TRY("a withdrawal count over the bytes", put32(c + off_wd, (uint32_t)nw + 1), LX_EFORMAT);
    TRY("the untouched bytes", (void)0, LX_OK);
#undef TRY
    free(c);
    free(buf);
    lx_batch_builder_free(&a);
}

/* Any single changed byte is refused, or decodes to a builder that
 * encodes back to exactly those bytes: nothing is half-taken. */
static void test_byte_flips(void **state)
{
    (void)state;
    lx_batch_builder *a = new_builder();
    uint64_t fills = 0;
    feed(a, 1, 6, &fills);
    size_t len;
    uint8_t *buf = enc(a, &len), *c = malloc(len);
    uint64_t r = 0x9e3779b97f4a7c15u;
    for (size_t i = 0; i < len; i++) {
        for (int k = 0; k < 2; k++) {
            r ^= r << 13, r ^= r >> 7, r ^= r << 17;
            memcpy(c, buf, len);
            c[i] ^= (uint8_t)(k == 0 ? 1 : (r | 1));
            lx_batch_builder *b = NULL;
            if (lx_batch_builder_decode(&b, c, len, 0) != LX_OK) {
                assert_null(b);
                continue;
            }
            size_t n2;
            uint8_t *again = enc(b, &n2);
            assert_int_equal(n2, len);
            assert_memory_equal(again, c, len);
            free(again);
            lx_batch_builder_free(&b);
        }
    }
    free(c);
    free(buf);
    lx_batch_builder_free(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_bad_args),
        cmocka_unit_test(test_truncated_and_trailing),
        cmocka_unit_test(test_bad_fields),
        cmocka_unit_test(test_byte_flips),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
